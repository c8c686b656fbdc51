// Package config is the one flag-and-environment mechanism of the
// services' binaries (order-service, inventory-service,
// notification-service): github.com/ardanlabs/conf/v3 over one tagged
// struct per binary, with the same help output, the same exit statuses and
// the same errors everywhere.
//
// Every field of the struct names its flag and its environment variable in
// its tag, with its default and help:
//
//	RelayBatch int `conf:"default:100,flag:relay-batch,env:ORDER_RELAY_BATCH,help:outbox rows per read"`
//
// A value comes from the default, then the environment variable, then the
// flag (the flag wins). Flags are written -name value, -name=value or
// --name=value; a value that starts with '-' (a negative number) needs the
// '=' form. conf splits tags on commas: help texts and defaults hold none.
// An environment variable that is set, even to "", is a value: "" for a
// number or a duration is an error, not the default.
//
// The faultline CLI keeps the standard flag package: its flags belong to
// subcommands (run, report, bench), which conf does not model, and its
// environment (KAFKA_BROKERS, TOXIPROXY_URL, KAFKA_LOCAL_DIR) is the
// stack's (stack.ConfigFromEnv), shared with the suites. It follows the
// same conventions: -h exits 0, bad usage exits 2 naming the flag.
//
// Main is the three services' main function: parse, log the effective
// configuration, run until SIGINT or SIGTERM, exit with the status below.
//
// Exit statuses of the binaries (ExitCode): 0 after -h/--help or
// --version, 2 on a bad flag or value (the error names the flag and the
// environment variable), 1 when the service itself fails.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/ardanlabs/conf/v3"
)

// ErrHelp is returned by Parse after it wrote the usage (-h, --help) or the
// version (--version): the binary exits 0.
var ErrHelp = errors.New("help requested")

// Exit statuses.
const (
	ExitOK    = 0 // clean stop, -h, --version
	ExitFail  = 1 // the service failed while running
	ExitUsage = 2 // bad flag, bad environment value, invalid setting
)

// Error is a setting that could not be used: its flag, its environment
// variable, the value given and why it was refused.
type Error struct {
	Flag, Env, Value, Reason string
}

func (e *Error) Error() string {
	if e.Flag == "" {
		return e.Reason
	}
	return fmt.Sprintf("invalid value %q for -%s (env %s): %s", e.Value, e.Flag, e.Env, e.Reason)
}

// ExitCode is the exit status for Parse's or Validate's error: 0 for nil
// and ErrHelp, 2 for anything else (all are usage errors).
func ExitCode(err error) int {
	if err == nil || errors.Is(err, ErrHelp) {
		return ExitOK
	}
	return ExitUsage
}

// argsMu serialises Parse: conf reads os.Args, which Parse sets for the
// call.
var argsMu sync.Mutex

// Parse fills cfg, a pointer to a struct whose fields carry conf tags, from
// the defaults, the process environment and args (without the program
// name). name is the binary's name, for the usage. -h or --help writes the
// usage to out and returns ErrHelp; --version writes the version (a
// conf.Version field's Build) and returns ErrHelp. An unknown flag, a
// positional argument or a value that does not parse is an *Error naming
// the flag and the environment variable.
func Parse(name string, args []string, cfg any, out io.Writer) error {
	argsMu.Lock()
	saved := os.Args
	os.Args = append([]string{name}, joinEmptyValues(args)...)
	text, err := conf.ParseWithOptions("", cfg, conf.WithStrictFlags())
	os.Args = saved
	argsMu.Unlock()

	switch {
	case errors.Is(err, conf.ErrHelpWanted):
		fmt.Fprintln(out, strings.TrimRight(text, "\n"))
		return ErrHelp
	case errors.Is(err, conf.ErrVersionWanted):
		fmt.Fprintln(out, name, strings.TrimPrefix(text, "Version: "))
		return ErrHelp
	case err != nil:
		return explain(cfg, err)
	}
	if extra := argsOf(cfg); len(extra) > 0 {
		return &Error{Reason: fmt.Sprintf("unexpected argument %q: every setting is a flag (-h lists them)", extra[0])}
	}
	return nil
}

// joinEmptyValues turns "-name" "" into "-name=": conf would take the
// empty argument for the end of the flags.
func joinEmptyValues(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "--" && !strings.Contains(a, "=") && i+1 < len(args) && args[i+1] == "" {
			out = append(out, a+"=")
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

var (
	fieldErr   = regexp.MustCompile(`error assigning to field (\w+): converting '(.*)' to type \S+\. details: (.*)$`)
	unknownErr = regexp.MustCompile(`unrecognized flags?: (.*)$`)
)

// explain turns conf's errors, which name Go fields, into *Error naming
// the flag and the environment variable.
func explain(cfg any, err error) error {
	msg := err.Error()
	if m := fieldErr.FindStringSubmatch(msg); m != nil {
		if s, ok := settingByField(cfg, m[1]); ok {
			reason := m[3]
			if m[2] == "" {
				reason += "; no value given (a value starting with '-' needs the form -" + s.flag + "=VALUE)"
			}
			return &Error{Flag: s.flag, Env: s.env, Value: m[2], Reason: reason}
		}
	}
	if m := unknownErr.FindStringSubmatch(msg); m != nil {
		return &Error{Reason: "unknown flag " + strings.ReplaceAll(m[1], "--", "-") + " (-h lists the flags)"}
	}
	return &Error{Reason: msg}
}

// Invalid is the error for a setting that parsed but is out of range:
// flag is its flag name (without '-'), reason what is wanted ("must be at
// least 1"). Use it in the binaries' validation.
func Invalid(cfg any, flag, reason string) error {
	for _, s := range settings(cfg) {
		if s.flag == flag {
			return &Error{Flag: flag, Env: s.env, Value: fmt.Sprint(s.value.Interface()), Reason: reason}
		}
	}
	return &Error{Flag: flag, Env: "?", Reason: reason}
}

// EnvNames lists the environment variables cfg reads (for tests that
// clear them).
func EnvNames(cfg any) []string {
	var names []string
	for _, s := range settings(cfg) {
		names = append(names, s.env)
	}
	return names
}

// LogAttrs is cfg's effective configuration as slog attributes keyed by
// flag name, for the start-up log line; fields tagged mask show as
// "xxxxxx" (or a URL with its user:password masked), noprint fields not at
// all (conf.String).
func LogAttrs(cfg any) []any {
	text, err := conf.String(cfg)
	if err != nil {
		return []any{slog.String("config_error", err.Error())}
	}
	var attrs []any
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		k = strings.TrimPrefix(k, "--")
		if k == "args" || k == "version-build" || k == "version-desc" {
			continue
		}
		attrs = append(attrs, slog.String(k, v))
	}
	return attrs
}

type setting struct {
	field, flag, env string
	value            reflect.Value
}

// settings reads the flag and env names from cfg's tags (its embedded
// structs flattened, as conf reads them).
func settings(cfg any) []setting {
	return fieldsOf(reflect.ValueOf(cfg).Elem())
}

// fieldsOf lists the tagged fields of the struct v, those of its
// anonymous struct fields (such as KafkaFetch) included, as conf
// flattens them.
func fieldsOf(v reflect.Value) []setting {
	t := v.Type()
	var out []setting
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, fieldsOf(v.Field(i))...)
			continue
		}
		s := setting{field: t.Field(i).Name, value: v.Field(i)}
		for _, part := range strings.Split(t.Field(i).Tag.Get("conf"), ",") {
			k, val, _ := strings.Cut(part, ":")
			switch k {
			case "flag":
				s.flag = val
			case "env":
				s.env = val
			}
		}
		if s.flag != "" {
			out = append(out, s)
		}
	}
	return out
}

func settingByField(cfg any, field string) (setting, bool) {
	for _, s := range settings(cfg) {
		if s.field == field {
			return s, true
		}
	}
	return setting{}, false
}

// argsOf returns cfg's conf.Args field (the positional arguments), if any.
func argsOf(cfg any) conf.Args {
	v := reflect.ValueOf(cfg).Elem()
	for i := 0; i < v.NumField(); i++ {
		if a, ok := v.Field(i).Interface().(conf.Args); ok {
			return a
		}
	}
	return nil
}
