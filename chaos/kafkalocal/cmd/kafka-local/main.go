// Command kafka-local starts and stops the real lane's processes: a
// Toxiproxy server and a single-node Apache Kafka broker advertised through
// a Toxiproxy proxy (package chaos/kafkalocal). scripts/kafka-local.sh and
// the kafka-local make targets call it; the jars must have been fetched.
//
//	kafka-local toxiproxy-start | toxiproxy-stop
//	kafka-local start | stop | kill | status | env
//
// Every setting is a flag whose default comes from the environment:
//
//	-dir             KAFKA_LOCAL_DIR         .tools/kafka
//	-listen          KAFKA_LOCAL_LISTEN      127.0.0.1:9092   broker client listener
//	-controller      KAFKA_LOCAL_CONTROLLER  127.0.0.1:9093   KRaft controller listener
//	-advertised      KAFKA_LOCAL_ADVERTISED  127.0.0.1:19092  the "kafka" proxy (KAFKA_BROKERS)
//	-toxiproxy-url   TOXIPROXY_URL           http://127.0.0.1:8474
//	-toxiproxy-bin   TOXIPROXY_BIN           .tools/bin/toxiproxy-server
//	-toxiproxy-dir   TOXIPROXY_DIR           .tools/toxiproxy
//	-java            JAVA                    java
//
// Exit status: 0 done, 1 failed, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-harness/faultline/chaos/kafkalocal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "kafka-local:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "kafka-local:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	env := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("kafka-local", flag.ContinueOnError)
	var cfg kafkalocal.Config
	fs.StringVar(&cfg.Dir, "dir", env("KAFKA_LOCAL_DIR", ".tools/kafka"), "state folder: libs/, data/, run/")
	fs.StringVar(&cfg.Listen, "listen", env("KAFKA_LOCAL_LISTEN", kafkalocal.DefaultListen), "broker client listener")
	fs.StringVar(&cfg.Controller, "controller", env("KAFKA_LOCAL_CONTROLLER", kafkalocal.DefaultController), "KRaft controller listener")
	fs.StringVar(&cfg.Advertised, "advertised", env("KAFKA_LOCAL_ADVERTISED", kafkalocal.DefaultAdvertised), "advertised address: the Toxiproxy proxy clients must use")
	fs.StringVar(&cfg.ToxiproxyURL, "toxiproxy-url", env("TOXIPROXY_URL", kafkalocal.DefaultToxiproxy), "Toxiproxy API")
	fs.StringVar(&cfg.Java, "java", env("JAVA", "java"), "java binary (17+)")
	toxBin := fs.String("toxiproxy-bin", env("TOXIPROXY_BIN", ".tools/bin/toxiproxy-server"), "toxiproxy-server binary")
	toxDir := fs.String("toxiproxy-dir", env("TOXIPROXY_DIR", ".tools/toxiproxy"), "folder of toxiproxy.pid and toxiproxy.log")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one command: toxiproxy-start, toxiproxy-stop, start, stop, kill, status, env")}
	}

	switch cmd := fs.Arg(0); cmd {
	case "toxiproxy-start", "toxiproxy-stop":
		t, err := kafkalocal.NewToxiproxy(*toxBin, *toxDir, strings.TrimPrefix(cfg.ToxiproxyURL, "http://"))
		if err != nil {
			return usageError{err}
		}
		if cmd == "toxiproxy-stop" {
			was, err := t.Stop(ctx)
			if err == nil {
				fmt.Fprintln(out, map[bool]string{true: "toxiproxy stopped", false: "toxiproxy was not running"}[was])
			}
			return err
		}
		began := time.Now()
		if err := t.Start(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "toxiproxy up at %s in %.1fs (pid %d)\n  log: %s\n  pid: %s\n", t.URL(), time.Since(began).Seconds(), t.PID(), t.LogPath(), t.PIDPath())
		return nil
	}

	b, err := kafkalocal.New(cfg)
	if err != nil {
		return usageError{err}
	}
	c := b.Config()
	switch fs.Arg(0) {
	case "start":
		began := time.Now()
		if err := b.Start(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "kafka up in %.1fs (pid %d): listener %s, advertised %s = toxiproxy proxy %q on %s\n  log: %s\n  pid: %s\n",
			time.Since(began).Seconds(), b.PID(), c.Listen, c.Advertised, c.ProxyName, c.ToxiproxyURL, b.LogPath(), b.PIDPath())
		fmt.Fprintf(out, "point the harness at it:\n  %s\n", envLine(c))
	case "stop":
		was, err := b.Stop(ctx)
		if err == nil {
			fmt.Fprintln(out, map[bool]string{true: "kafka stopped", false: "kafka was not running"}[was])
		}
		return err
	case "kill":
		return b.Kill(ctx)
	case "status":
		if pid := b.PID(); pid != 0 {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			state := "answering"
			if err := kafkalocal.Probe(pctx, c.Listen, c.Advertised); err != nil {
				state = "not answering: " + err.Error()
			}
			fmt.Fprintf(out, "kafka running (pid %d), %s; log %s\n", pid, state, b.LogPath())
		} else {
			fmt.Fprintln(out, "kafka not running")
		}
	case "env":
		fmt.Fprintln(out, envLine(c))
	default:
		return usageError{fmt.Errorf("unknown command %q", fs.Arg(0))}
	}
	return nil
}

// envLine is the shell line that points the harness at this broker.
func envLine(c kafkalocal.Config) string {
	dir, _ := filepath.Abs(c.Dir)
	return fmt.Sprintf("export KAFKA_BROKERS=%s TOXIPROXY_URL=%s KAFKA_LOCAL_DIR=%s", c.Advertised, c.ToxiproxyURL, dir)
}
