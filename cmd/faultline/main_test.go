package main

import (
	"bytes"
	"context"
	"encoding/json"
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
		"zero broker down":    {"run", "--broker-down", "0"},
		"unknown flag":        {"run", "--frobnicate"},
		"list: unknown flag":  {"list", "--frobnicate"},
		"list: argument":      {"list", "kafka-down"},
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

// list --json shows every scenario with its schedule and parameters.
func TestListJSON(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"list", "--json"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Name   string `json:"name"`
		Window struct {
			Start float64 `json:"start_fraction"`
			End   float64 `json:"end_fraction"`
		} `json:"window"`
		Actions []struct {
			Fault struct {
				Type       string           `json:"type"`
				Hops       []string         `json:"hops"`
				Attributes map[string]int64 `json:"attributes"`
			} `json:"fault"`
			ForMs int64           `json:"for_ms"`
			Flap  *map[string]any `json:"flap"`
			Ramp  *map[string]any `json:"ramp"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("list --json is not a JSON array: %v\n%s", err, out.String())
	}
	by := map[string]int{}
	for i, s := range got {
		by[s.Name] = i
		if len(s.Actions) == 0 || s.Actions[0].Fault.Type == "" || len(s.Actions[0].Fault.Hops) == 0 || s.Window.Start != 0.25 || s.Window.End != 0.65 {
			t.Errorf("%s: no fault in %+v", s.Name, s.Actions)
		}
	}
	for _, name := range []string{"inventory-latency", "inventory-flapping", "kafka-bandwidth", "kafka-slow-consumer", "inventory-slow-retries", "inventory-slow-retry-budget", "kafka-broker-restart"} {
		if _, ok := by[name]; !ok {
			t.Errorf("list --json lacks %s", name)
		}
	}
	if a := got[by["inventory-latency"]].Actions[0]; a.Fault.Attributes["latency"] != 2000 || a.Fault.Attributes["jitter"] != 100 {
		t.Errorf("inventory-latency parameters: %+v", a.Fault)
	}
	if a := got[by["kafka-broker-restart"]].Actions[0]; a.Fault.Type != "broker_stop" || a.ForMs != 5000 {
		t.Errorf("kafka-broker-restart: %+v, want broker_stop for 5000 ms", a)
	}
	if got[by["inventory-flapping"]].Actions[0].Flap == nil || got[by["kafka-slow-consumer"]].Actions[0].Ramp == nil {
		t.Error("flapping or ramp not shown")
	}
}
