// Command pactlint checks the pact files the consumer tests wrote against
// the registry in package contracts, the one list of interactions the
// consumer tests define. It fails on:
//
//   - a stale interaction: in a pact file but defined by no current test
//     (pact-go merges into existing files, so a renamed or deleted test
//     leaves its old interaction behind), or a stale pact file;
//   - an interaction whose kind or provider states differ from the registry;
//   - an interaction that appears twice;
//   - a message interaction without content;
//   - a registered interaction missing from the pact files.
//
// Usage:
//
//	go run ./contracts/pactlint [-dir contracts/pacts]
//
// The folder defaults to $PACT_DIR, else contracts/pacts. Exit status: 0
// clean, 1 problems found, 2 the folder or a file could not be read.
// Plain Go: no cgo, no pact library.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/faultline-harness/faultline/contracts"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pactlint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("PACT_DIR")
	if def == "" {
		def = "contracts/pacts"
	}
	dir := fs.String("dir", def, "folder of pact files (default $PACT_DIR, else contracts/pacts)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pactlint: unexpected arguments %q\n", fs.Args())
		return 2
	}
	problems, stats, err := Lint(*dir, contracts.Pacts())
	if err != nil {
		fmt.Fprintf(stderr, "pactlint: %v\n", err)
		return 2
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "pactlint: %d problem(s) in %s:\n", len(problems), *dir)
		for _, p := range problems {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return 1
	}
	fmt.Fprintf(stdout, "pactlint: %s: %d pact files, %d interactions, all registered, every message has content\n", *dir, stats.Files, stats.Interactions)
	return 0
}
