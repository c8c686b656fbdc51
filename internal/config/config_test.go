package config

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ardanlabs/conf/v3"

	"github.com/faultline-harness/faultline/internal/testkit"
)

type sample struct {
	conf.Version
	Addr     string        `conf:"default:127.0.0.1:8080,flag:http-addr,env:SAMPLE_HTTP_ADDR,help:HTTP listen address"`
	Batch    int           `conf:"default:100,flag:relay-batch,env:SAMPLE_RELAY_BATCH,help:rows per read"`
	Grace    time.Duration `conf:"default:10s,flag:shutdown-grace,env:SAMPLE_SHUTDOWN_GRACE,help:graceful shutdown time"`
	Breaker  bool          `conf:"default:false,flag:breaker,env:SAMPLE_BREAKER,help:circuit breaker"`
	Level    slog.Level    `conf:"default:info,flag:log-level,env:LOG_LEVEL,help:minimum 'level': debug|info|warn|error"`
	Password string        `conf:"flag:password,env:SAMPLE_PASSWORD,mask,help:a secret"`
	Args     conf.Args
}

// clearEnv unsets the sample's variables for the test (t.Setenv restores
// them after).
func clearEnv(t *testing.T) {
	testkit.SetEnv(t, EnvNames(&sample{}), nil)
}

func parse(t *testing.T, args ...string) (sample, string, error) {
	t.Helper()
	var s sample
	var out bytes.Buffer
	err := Parse("sample", args, &s, &out)
	return s, out.String(), err
}

func TestDefaultsEnvThenFlags(t *testing.T) {
	clearEnv(t)
	s, _, err := parse(t)
	if err != nil || s.Addr != "127.0.0.1:8080" || s.Batch != 100 || s.Grace != 10*time.Second || s.Breaker || s.Level != slog.LevelInfo {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	t.Setenv("SAMPLE_RELAY_BATCH", "7")
	t.Setenv("LOG_LEVEL", "debug")
	t.Setenv("SAMPLE_HTTP_ADDR", "127.0.0.1:1")
	s, _, err = parse(t, "-http-addr", "127.0.0.1:2", "--shutdown-grace=250ms", "-password", "", "-breaker")
	if err != nil {
		t.Fatal(err)
	}
	if s.Batch != 7 || s.Level != slog.LevelDebug || s.Addr != "127.0.0.1:2" || s.Grace != 250*time.Millisecond || !s.Breaker || s.Password != "" {
		t.Errorf("env then flags: %+v", s)
	}
}

func TestHelpAndVersion(t *testing.T) {
	clearEnv(t)
	_, out, err := parse(t, "-h")
	if !errors.Is(err, ErrHelp) || ExitCode(err) != 0 {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"Usage: sample", "--http-addr", "SAMPLE_HTTP_ADDR", "--relay-batch", "default: 100", "LOG_LEVEL", "rows per read"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
	s := sample{Version: conf.Version{Build: "v1.2.3 (revision abc)"}}
	var buf bytes.Buffer
	if err := Parse("sample", []string{"--version"}, &s, &buf); !errors.Is(err, ErrHelp) || !strings.Contains(buf.String(), "sample v1.2.3 (revision abc)") {
		t.Errorf("--version: %v, %q", err, buf.String())
	}
}

func TestBadValuesNameTheSetting(t *testing.T) {
	clearEnv(t)
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want []string
	}{
		"bad int flag":          {[]string{"-relay-batch=lots"}, nil, []string{`"lots"`, "-relay-batch", "SAMPLE_RELAY_BATCH"}},
		"negative without =":    {[]string{"-relay-batch", "-5"}, nil, []string{"-relay-batch", "needs the form -relay-batch=VALUE"}},
		"bad duration env":      {nil, map[string]string{"SAMPLE_SHUTDOWN_GRACE": "soon"}, []string{`"soon"`, "-shutdown-grace", "SAMPLE_SHUTDOWN_GRACE"}},
		"empty duration env":    {nil, map[string]string{"SAMPLE_SHUTDOWN_GRACE": ""}, []string{"SAMPLE_SHUTDOWN_GRACE"}},
		"bad bool":              {[]string{"-breaker=maybe"}, nil, []string{"-breaker", "SAMPLE_BREAKER"}},
		"bad level":             {[]string{"-log-level=loud"}, nil, []string{"-log-level", "LOG_LEVEL"}},
		"unknown flag":          {[]string{"-frobnicate"}, nil, []string{"unknown flag -frobnicate"}},
		"positional argument":   {[]string{"extra"}, nil, []string{`unexpected argument "extra"`}},
		"argument after a flag": {[]string{"-breaker", "extra"}, nil, []string{`unexpected argument "extra"`}},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, _, err := parse(t, tc.args...)
			var ce *Error
			if !errors.As(err, &ce) || ExitCode(err) != ExitUsage {
				t.Fatalf("Parse(%q) = %v, want a *config.Error (exit 2)", tc.args, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestInvalidAndLogAttrs(t *testing.T) {
	clearEnv(t)
	s, _, err := parse(t, "-relay-batch=-5", "-password=hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if err := Invalid(&s, "relay-batch", "must be at least 1"); err.Error() != `invalid value "-5" for -relay-batch (env SAMPLE_RELAY_BATCH): must be at least 1` {
		t.Errorf("Invalid: %v", err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("effective configuration", LogAttrs(&s)...)
	line := buf.String()
	for _, want := range []string{"http-addr=127.0.0.1:8080", "relay-batch=-5", "shutdown-grace=10s", "log-level=INFO", "password=xxxxxx"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(line, "hunter2") || strings.Contains(line, "version-build") {
		t.Errorf("log line shows a secret or the build fields: %s", line)
	}
}
