package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Startup is what Main needs of a binary's parsed settings: the settings
// struct (a pointer, for LogAttrs), the build version and the minimum log
// level.
type Startup struct {
	Settings any        // pointer to the binary's conf-tagged settings struct
	Version  string     // conf.Version.Build
	LogLevel slog.Level // the -log-level setting
}

// Main is the main function of a service binary (order-service,
// inventory-service, notification-service); it returns the exit status for
// os.Exit. parse reads args (without the program name; -h writes the usage
// to its out) into the service's config C; run serves C until its context
// ends (SIGINT or SIGTERM) and returns nil after a clean stop.
//
// Main logs JSON to stderr at the parsed level, the effective configuration
// first ("NAME starting" with version and LogAttrs). Exit status (see
// ExitCode): 0 after a clean stop, -h or --version; 2 when parse fails (the
// error, prefixed by name, goes to stderr); 1 when run fails (logged as
// "NAME failed").
func Main[C any](name string, parse func(args []string, out io.Writer) (C, Startup, error), run func(ctx context.Context, cfg C, log *slog.Logger) error) int {
	return serve(context.Background(), name, os.Args[1:], os.Stdout, os.Stderr, parse, run)
}

// serve is Main with its context, args and outputs given (for tests).
func serve[C any](ctx context.Context, name string, args []string, stdout, stderr io.Writer, parse func([]string, io.Writer) (C, Startup, error), run func(context.Context, C, *slog.Logger) error) int {
	cfg, st, err := parse(args, stdout)
	if err != nil {
		if !errors.Is(err, ErrHelp) {
			fmt.Fprintln(stderr, name+":", err)
		}
		return ExitCode(err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: st.LogLevel}))
	log.Info(name+" starting", append([]any{"version", st.Version}, LogAttrs(st.Settings)...)...)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, log)
	stop()
	if err != nil {
		log.Error(name+" failed", "err", err)
		return ExitFail
	}
	return ExitOK
}
