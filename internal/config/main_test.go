package config

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func parseSample(args []string, out io.Writer) (string, Startup, error) {
	var s sample
	err := Parse("sample", args, &s, out)
	return s.Addr, Startup{Settings: &s, Version: s.Build, LogLevel: s.Level}, err
}

func TestMainExitStatusesAndLogs(t *testing.T) {
	clearEnv(t)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name       string
		args       []string
		runErr     error
		want       int
		wantStdout string
		wantStderr []string
		notStderr  string
	}{
		{name: "clean stop", args: []string{"-http-addr", "127.0.0.1:1"}, want: ExitOK,
			wantStderr: []string{`"msg":"sample starting"`, `"http-addr":"127.0.0.1:1"`}, notStderr: "sample failed"},
		{name: "run fails", runErr: boom, want: ExitFail,
			wantStderr: []string{`"msg":"sample starting"`, `"msg":"sample failed"`, `"err":"boom"`}},
		{name: "bad flag", args: []string{"-relay-batch", "x"}, want: ExitUsage,
			wantStderr: []string{"sample: invalid value \"x\" for -relay-batch (env SAMPLE_RELAY_BATCH)"}, notStderr: "starting"},
		{name: "help", args: []string{"-h"}, want: ExitOK, wantStdout: "relay-batch", notStderr: "sample"},
		{name: "log level", args: []string{"-log-level", "error"}, want: ExitOK, notStderr: "starting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ran := false
			run := func(ctx context.Context, addr string, log *slog.Logger) error {
				ran = true
				if ctx.Err() != nil {
					t.Errorf("run's context ended before run: %v", ctx.Err())
				}
				return tc.runErr
			}
			got := serve(t.Context(), "sample", tc.args, &stdout, &stderr, parseSample, run)
			if got != tc.want {
				t.Fatalf("exit status %d, want %d; stderr %s", got, tc.want, stderr.String())
			}
			if wantRun := tc.want != ExitUsage && tc.wantStdout == ""; ran != wantRun {
				t.Errorf("run called %v, want %v", ran, wantRun)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tc.wantStdout)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			if tc.notStderr != "" && strings.Contains(stderr.String(), tc.notStderr) {
				t.Errorf("stderr %q has %q", stderr.String(), tc.notStderr)
			}
		})
	}
}

func TestMainRunContextEndsWithParent(t *testing.T) {
	clearEnv(t)
	parent, cancel := context.WithCancel(t.Context())
	run := func(ctx context.Context, _ string, _ *slog.Logger) error {
		cancel()
		<-ctx.Done() // a signal ends it the same way; the parent is the testable path
		return nil
	}
	if got := serve(parent, "sample", nil, io.Discard, io.Discard, parseSample, run); got != ExitOK {
		t.Fatalf("exit status %d, want %d", got, ExitOK)
	}
}
