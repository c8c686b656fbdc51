package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

// Bad usage is rejected before any stack starts, as a usageError (exit 2).
func TestRunRejectsBadUsageBeforeStarting(t *testing.T) {
	for name, args := range map[string][]string{
		"no command":          {},
		"unknown command":     {"fly"},
		"positional scenario": {"run", "kafka-down"},
		"unknown scenario":    {"run", "--scenario", "nope"},
		"zero rate":           {"run", "--rate", "0"},
		"negative rate":       {"run", "--rate", "-5"},
		"short duration":      {"run", "--duration", "2s"},
		"zero settle":         {"run", "--settle", "0"},
		"unknown flag":        {"run", "--frobnicate"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, &out, &errOut)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("run(%q) = %v, want a usage error", args, err)
			}
			if strings.Contains(errOut.String(), "starting stack") {
				t.Fatalf("a stack was started before the usage check: %s", errOut.String())
			}
		})
	}
}

func TestListAndHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"list"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"inventory-latency", "inventory-down", "kafka-down"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("list lacks %s:\n%s", name, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"run", "-h"}, &out, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run -h = %v, want flag.ErrHelp (exit 0)", err)
	}
	if !strings.Contains(out.String(), "-duration") {
		t.Errorf("run -h does not list the flags:\n%s", out.String())
	}
}
