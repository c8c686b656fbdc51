# test.mk: `make test` as steps, the hygiene checks, JUnit reports, the
# flake hunts. Included from the root Makefile:  include test.mk
#
#   make test                  every step of TEST_STEPS, each run even when an earlier one
#                              failed, timed; prints step -> seconds -> result, fails at the end
#   make test TEST_STEPS="fmt-check unit"      only some steps
#   make tidy-check fmt-check vet staticcheck vulncheck actionlint cross-build
#   make unit | suites | contracts | report-check   the test steps, each writing JUnit into $(JUNIT_DIR)
#   make flake-check [FLAKE_COUNT=5]   every package's tests FLAKE_COUNT times, with the race detector
#   make soak N=20             the chaos suite N times (chaos/resilience.mk)
#
# JUnit: $(JUNIT_DIR)/unit.xml, suites.xml, contracts-PHASE.xml,
# report-check-*.xml, and make-test.xml (one test case per step, hygiene
# steps included), written by every step that ran, whatever failed before
# it. Step logs and the summary table: $(OUT)/test-steps/.

GO        ?= go
GINKGO    ?= $(GO) tool ginkgo
OUT       ?= out
JUNIT_DIR ?= $(OUT)/junit
# gotestsum runs `go test -json` and writes JUnit; pinned as a tool in go.mod.
GOTESTSUM ?= $(GO) tool gotestsum --format pkgname-and-test-fails \
	--junitfile-testsuite-name relative --junitfile-testcase-classname relative

# A+B runs A and B at the same time (scripts/test-steps.sh). The suites
# run alone: their thresholds are latencies. contracts (~1.3 cores: -race
# links, the Pact CLI, provider builds) and report-check (a short run
# rendered in Chromium; it checks the drawing, not timings) measure no
# latency and share no file.
TEST_STEPS ?= tools tidy-check fmt-check vet staticcheck vulncheck actionlint cross-build unit suites contracts+report-check

# Unit and integration tests with the race detector. ./contracts/... runs in
# the contracts step (its plain phase, -count=1: native code and scripts
# read files Go's test cache cannot see). These packages read only what
# the test cache tracks (their own files, env), so a warm run reuses the
# results of unchanged packages; `make flake-check` always reruns.
UNIT_PKGS ?= ./services/... ./chaos/... ./cmd/... ./deploy/... ./internal/...
UNIT_FLAGS ?= -race

# Ginkgo suites: the embedded-lane specs each start their own stack on
# random ports, so they run in SUITE_PROCS processes (on the real lane,
# which shares one broker and one Toxiproxy, every chaos spec is Serial).
# A spec is mostly waiting: 10 req/s per mode for 8 s. One process in
# two: 45 CPU-seconds in 128 s; four: the same 45 in 58 s, 0.78 of one
# core (2026-12-03, 2 cores). The suites check latency, lag and
# success-rate thresholds, so they run WITHOUT the race detector
# (SUITE_RACE empty): under -race, two specs at once on 2 cores pushed
# baseline p99s past the steady-state thresholds (2026-12-03: 1-2 of 22
# red). Data races are hunted where they do not skew a measurement: the
# unit step (-race, the services, the scenario engine and the stacks it
# builds), make flake-check (-race, every package FLAKE_COUNT times) and
# the real lane in CI (--race, serial). `make soak N=20` runs the chaos
# specs with these same settings: the proof that SUITE_PROCS processes
# keep the thresholds. SUITE_PROCS=1 SUITE_RACE=--race gives a serial
# race run.
SUITE_PROCS  ?= 4
SUITE_RACE   ?=
# junit.xml is written by the suite itself for CI (suites/suites_suite_test.go):
# failures with their whole output, passed specs without timeline or captured
# output; report.json keeps everything.
GINKGO_FLAGS ?= $(SUITE_RACE) --randomize-all --keep-going -p --procs=$(SUITE_PROCS) \
	--junit-report=junit.xml --json-report=report.json --output-dir=$(OUT)/ginkgo

# The CLI's target platforms (CGO_ENABLED=0; the real Kafka lane is Linux-only):
# one per OS besides this machine's own build. Each is a full build of the
# dependency tree the first time (minutes on 2 cores), cached after; add
# more with CROSS_PLATFORMS="linux/amd64 darwin/amd64 ...". The platforms
# build at the same time, linked without symbol table and DWARF (-s -w: a
# full link, less to write): warm, 3 s instead of 15 s on 2 cores.
CROSS_PLATFORMS ?= linux/arm64 darwin/arm64 windows/amd64

# govulncheck needs its online database; pinned, run with `go run` (not a
# tool in go.mod: a machine without the database never downloads it). The
# step first asks the database's index (curl, 10 s) and skips, saying so,
# when it does not answer.
GOVULNCHECK ?= $(GO) run golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULN_DB     ?= https://vuln.go.dev

# flake-check: every package's tests FLAKE_COUNT times in a row, race
# detector on, no cache. 5 fits in ~15 min on 2 cores; CI may raise it.
FLAKE_COUNT ?= 5
FLAKE_PKGS  ?= $(UNIT_PKGS) ./contracts/...

.PHONY: test tidy-check fmt-check vet staticcheck vulncheck actionlint cross-build unit suites flake-check

test: ## what CI runs: every step of TEST_STEPS (each one even after a failure), a timing table, JUnit in out/junit
	@MAKE='$(MAKE)' OUT='$(OUT)' JUNIT_DIR='$(JUNIT_DIR)' scripts/test-steps.sh $(TEST_STEPS)

tidy-check: ## go.mod and go.sum are tidy (go mod tidy -diff)
	$(GO) mod tidy -diff

fmt-check: ## gofmt -l prints nothing
	@files=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt -l: not formatted:"; echo "$$files"; exit 1; fi; \
	echo "gofmt: every file formatted"

vet: ## go vet
	$(GO) vet ./...

staticcheck: ## staticcheck (honnef.co/go/tools, pinned in go.mod)
	$(GO) tool staticcheck ./...

vulncheck: ## govulncheck when its database answers; skipped, and said so, when it does not
	@mkdir -p $(OUT)/test-steps
	@if ! curl -fsS -m 10 -o /dev/null $(VULN_DB)/index/db.json 2>/dev/null; then \
		echo "skipped: vuln.go.dev unreachable"; echo "vuln.go.dev unreachable" > $(OUT)/test-steps/vulncheck.skipped; exit 0; fi; \
	$(GOVULNCHECK) ./...

actionlint: ## lint the GitHub workflows (actionlint, pinned in go.mod; uses shellcheck when installed)
	$(GO) tool actionlint .github/workflows/*.yml

cross-build: ## build the CLI for every platform of CROSS_PLATFORMS (embedded lane; CGO_ENABLED=0), in parallel
	@pids=""; for p in $(CROSS_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; echo "go build ./cmd/faultline for $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -ldflags='-s -w' -o /dev/null ./cmd/faultline & pids="$$pids $$!"; \
	done; rc=0; for pid in $$pids; do wait $$pid || rc=1; done; exit $$rc

unit: ## unit and integration tests (race detector; JUnit $(JUNIT_DIR)/unit.xml)
	@mkdir -p $(JUNIT_DIR)
	$(GOTESTSUM) --junitfile $(JUNIT_DIR)/unit.xml -- $(UNIT_FLAGS) $(UNIT_PKGS)

suites: ## all Ginkgo suites (happy path and chaos), JUnit $(JUNIT_DIR)/suites.xml and JSON in $(OUT)/ginkgo
	@mkdir -p $(OUT)/ginkgo $(JUNIT_DIR)
	@rc=0; $(GINKGO) $(GINKGO_FLAGS) ./suites/... || rc=$$?; \
	if [ -f $(OUT)/ginkgo/junit.xml ]; then cp $(OUT)/ginkgo/junit.xml $(JUNIT_DIR)/suites.xml; fi; \
	exit $$rc

flake-check: ## every package's tests FLAKE_COUNT times (-race, no cache); JUnit $(JUNIT_DIR)/flake-check.xml
	@mkdir -p $(JUNIT_DIR)
	$(GOTESTSUM) --junitfile $(JUNIT_DIR)/flake-check.xml -- -race -count=$(FLAKE_COUNT) $(FLAKE_PKGS)
