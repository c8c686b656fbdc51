// Command pactlint checks pact files against the registry in package
// contracts, the one list of interactions the consumer tests define.
//
// On the pact files the consumer tests wrote (the default) it fails on:
//
//   - a stale interaction: in a pact file but defined by no current test
//     (pact-go merges into existing files, so a renamed or deleted test
//     leaves its old interaction behind), or a stale pact file;
//   - an interaction whose kind or provider states differ from the registry;
//   - an interaction that appears twice;
//   - a message interaction without content;
//   - a registered interaction missing from the pact files.
//
// With -stamp it then records which tree produced them (the commit, whether
// the tree had uncommitted changes, a hash of each file) in the folder's
// .pact-provenance; with -provenance it checks that record against the
// tree as it is now, so pact-publish refuses pacts that were not produced
// from exactly the commit they would be published as.
//
// With -broker (or -pact-url) it fetches what a provider verification is
// about to verify, writes it into -dir and lints it with the rules of
// fetched pacts (see Fetched): an interaction this tree does not register
// is a warning, a provider state without a handler, an unknown pair, a
// duplicate or a message without content is a problem, and problems of a
// pending pact are warnings.
//
// Usage:
//
//	go run ./contracts/pactlint [-dir DIR] [-stamp | -provenance] [-repo .]
//	go run ./contracts/pactlint -broker URL -provider NAME [-branch B] [-wip-since YYYY-MM-DD] -dir OUT
//	go run ./contracts/pactlint -pact-url URL [-provider NAME] -dir OUT
//
// The folder defaults to $PACT_DIR, else contracts/pacts. Broker
// credentials come from the environment only: PACT_BROKER_TOKEN, or
// PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD.
//
// Exit status: 0 clean; 1 problems found (lint or provenance); 2 usage, or
// a folder or file that cannot be read; 3 the broker cannot be reached
// (after -retries); 4 the broker answered with an error (authentication,
// not found, 5xx after -retries).
//
// Plain Go: no cgo, no pact library.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline-harness/faultline/contracts"
)

// Exit codes.
const (
	exitClean       = 0
	exitProblems    = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitBrokerError = 4
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
	dir := fs.String("dir", def, "folder of pact files (default $PACT_DIR, else contracts/pacts); with -broker or -pact-url, where the fetched pacts are written")
	stamp := fs.Bool("stamp", false, "after a clean lint, record which tree produced the pacts (.pact-provenance)")
	provenance := fs.Bool("provenance", false, "after a clean lint, fail unless the pacts were produced from the tree as it is now")
	repo := fs.String("repo", ".", "the git checkout the pacts come from (-stamp, -provenance)")
	brokerURL := fs.String("broker", "", "fetch the pacts this Pact Broker selects for -provider, and lint them")
	pactURL := fs.String("pact-url", "", "fetch this one pact (a webhook's ${pactbroker.pactUrl}), and lint it")
	providerName := fs.String("provider", "", "the provider being verified (-broker, -pact-url)")
	branch := fs.String("branch", "", "the provider's branch (-broker: matchingBranch and WIP pacts select by it)")
	wipSince := fs.String("wip-since", "", "include work-in-progress pacts published since this date, YYYY-MM-DD (-broker)")
	retries := fs.Uint("retries", 2, "retries of a broker request after a transport error or a 5xx/408/429 answer (backoff from 500 ms)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound of each broker request")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pactlint: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if *brokerURL != "" || *pactURL != "" {
		return runFetched(fetchOptions{
			dir: *dir, brokerURL: *brokerURL, pactURL: *pactURL, provider: *providerName, branch: *branch,
			wipSince: *wipSince, retries: *retries, timeout: *timeout,
		}, stdout, stderr)
	}
	if *stamp && *provenance {
		fmt.Fprintln(stderr, "pactlint: -stamp and -provenance exclude each other")
		return exitUsage
	}
	problems, stats, err := Lint(*dir, contracts.Pacts())
	if err != nil {
		fmt.Fprintf(stderr, "pactlint: %v\n", err)
		return exitUsage
	}
	if len(problems) > 0 {
		printProblems(stderr, fmt.Sprintf("%d problem(s) in %s", len(problems), *dir), problems)
		return exitProblems
	}
	fmt.Fprintf(stdout, "pactlint: %s: %d pact files, %d interactions, all registered, every message has content\n", *dir, stats.Files, stats.Interactions)
	switch {
	case *stamp:
		p, err := Stamp(*dir, *repo)
		if err != nil {
			fmt.Fprintf(stderr, "pactlint: stamp: %v\n", err)
			return exitUsage
		}
		state := "clean tree"
		if !p.Clean {
			state = fmt.Sprintf("%d uncommitted change(s): not publishable", len(p.Dirty))
		}
		fmt.Fprintf(stdout, "pactlint: stamped %s: commit %s, %s\n", filepath.Join(*dir, ProvenanceFile), orNone(p.Commit), state)
	case *provenance:
		problems, err := CheckProvenance(*dir, *repo)
		if err != nil {
			fmt.Fprintf(stderr, "pactlint: provenance: %v\n", err)
			return exitUsage
		}
		if len(problems) > 0 {
			printProblems(stderr, fmt.Sprintf("the pacts in %s were not produced from the current tree", *dir), problems)
			return exitProblems
		}
		fmt.Fprintf(stdout, "pactlint: %s: produced from the current tree\n", *dir)
	}
	return exitClean
}

type fetchOptions struct {
	dir, brokerURL, pactURL, provider, branch, wipSince string
	retries                                             uint
	timeout                                             time.Duration
}

// runFetched fetches what a verification is about to verify, writes it
// into o.dir, and lints it in Fetched mode.
func runFetched(o fetchOptions, stdout, stderr io.Writer) int {
	if o.brokerURL != "" && o.pactURL != "" {
		fmt.Fprintln(stderr, "pactlint: -broker and -pact-url exclude each other")
		return exitUsage
	}
	if o.pactURL != "" && o.provider == "" {
		o.provider = providerFromPactURL(o.pactURL)
	}
	if o.provider == "" {
		fmt.Fprintln(stderr, "pactlint: -provider is required with -broker (and with a -pact-url that does not name one)")
		return exitUsage
	}
	var since *time.Time
	if o.wipSince != "" {
		ts, err := time.Parse(time.DateOnly, o.wipSince)
		if err != nil {
			fmt.Fprintf(stderr, "pactlint: -wip-since %q: want a date, YYYY-MM-DD\n", o.wipSince)
			return exitUsage
		}
		since = &ts
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "pactlint: %v\n", err)
		return exitUsage
	}
	b := &Broker{
		BaseURL: o.brokerURL, Token: os.Getenv("PACT_BROKER_TOKEN"),
		User: os.Getenv("PACT_BROKER_USERNAME"), Password: os.Getenv("PACT_BROKER_PASSWORD"),
		Retries: o.retries, HTTP: &http.Client{Timeout: o.timeout},
	}
	if b.Token != "" {
		b.User, b.Password = "", ""
	}
	ctx := context.Background()
	var fetched []FetchedPact
	var err error
	where := o.brokerURL
	if o.pactURL != "" {
		where = o.pactURL
		b.BaseURL = o.pactURL
		var f FetchedPact
		if f, err = b.Pact(ctx, o.pactURL); err == nil {
			fetched = []FetchedPact{f}
		}
	} else {
		fetched, err = b.ForVerification(ctx, o.provider, contracts.ConsumerVersionSelectors(), o.branch, since)
	}
	var berr *BrokerError
	switch {
	case errors.Is(err, ErrUnreachable):
		fmt.Fprintf(stderr, "pactlint: %v\n", err)
		return exitUnreachable
	case errors.As(err, &berr):
		fmt.Fprintf(stderr, "pactlint: %v\n", err)
		return exitBrokerError
	case err != nil:
		fmt.Fprintf(stderr, "pactlint: fetch from %s: %v\n", where, err)
		return exitBrokerError
	}
	if len(fetched) == 0 {
		fmt.Fprintf(stderr, "pactlint: %s selected no pacts for %s: nothing to verify (the verification fails too: FailIfNoPactsFound)\n", where, o.provider)
		return exitProblems
	}
	var sources []Source
	for i, f := range fetched {
		name := fmt.Sprintf("fetched-%02d.json", i+1)
		if err := os.WriteFile(filepath.Join(o.dir, name), f.Data, 0o644); err != nil {
			fmt.Fprintf(stderr, "pactlint: %v\n", err)
			return exitUsage
		}
		label := name + " (" + f.URL
		if f.Pending {
			label += ", pending"
		}
		if f.WIP {
			label += ", work in progress"
		}
		sources = append(sources, Source{Name: label + ")", Data: f.Data, Pending: f.Pending})
	}
	problems, warnings, stats, err := Check(sources, contracts.Pacts(), Fetched, o.provider)
	if err != nil {
		fmt.Fprintf(stderr, "pactlint: %v\n", err)
		return exitProblems
	}
	if len(warnings) > 0 {
		printProblems(stderr, fmt.Sprintf("%d warning(s)", len(warnings)), warnings)
	}
	if len(problems) > 0 {
		printProblems(stderr, fmt.Sprintf("%d problem(s) in the pacts %s selected for %s", len(problems), where, o.provider), problems)
		return exitProblems
	}
	fmt.Fprintf(stdout, "pactlint: %s: %d pact(s) for %s, %d interactions, every state handled, every message has content (copies in %s)\n",
		where, stats.Files, o.provider, stats.Interactions, o.dir)
	return exitClean
}

// providerFromPactURL reads the provider from a broker pact URL,
// .../pacts/provider/NAME/consumer/....
func providerFromPactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.EscapedPath(), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "provider" && i > 0 && parts[i-1] == "pacts" {
			name, err := url.PathUnescape(parts[i+1])
			if err != nil {
				return ""
			}
			return name
		}
	}
	return ""
}

func printProblems(w io.Writer, title string, ps []Problem) {
	fmt.Fprintf(w, "pactlint: %s:\n", title)
	for _, p := range ps {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none: not a git checkout)"
	}
	return s
}
