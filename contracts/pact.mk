# contracts/pact.mk: Pact tooling and Pact Broker verbs.
# Included from the root Makefile:  include contracts/pact.mk
#
#   make tools                                   install libpact_ffi + Pact CLI into .tools/pact/
#   make contracts                               consumer pacts, lint, provider verification, wire and
#                                                mutation checks, plain contract tests (see contracts/README.md)
#   make pact-publish                            publish contracts/pacts to PACT_BROKER_BASE_URL
#   make pact-verify-broker                      verify both providers against the broker's pacts
#   make can-i-deploy PACTICIPANT=inventory-service ENVIRONMENT=production [VERSION=<sha>]
#   make record-deployment PACTICIPANT=inventory-service ENVIRONMENT=production [VERSION=<sha>]
#
# Broker credentials come from the environment (or the make command line):
# PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD.
# scripts/pact-broker.sh documents every variable it reads.

# Repository root, from this file's location (read before any later include).
PACT_ROOT := $(patsubst %/,%,$(dir $(abspath $(dir $(lastword $(MAKEFILE_LIST))))))

GO ?= go

PACT_TOOLS_DIR := $(PACT_ROOT)/.tools/pact
PACT_LIB_DIR   := $(PACT_TOOLS_DIR)/lib
PACT_BIN_DIR   := $(PACT_TOOLS_DIR)/bin
PACT_LIB       := $(PACT_LIB_DIR)/libpact_ffi.so
PACT_TOOLS_SH  := $(PACT_ROOT)/scripts/pact-tools.sh
PACT_BROKER_SH := $(PACT_ROOT)/scripts/pact-broker.sh

PACT_DIR       ?= $(PACT_ROOT)/contracts/pacts
PACT_LOG_LEVEL ?= WARN

# Environment for anything that links pact-go (cgo + libpact_ffi) or runs the CLI.
# The rpath lets the test binary find the library at run time.
PACT_ENV = CGO_ENABLED=1 \
	CGO_LDFLAGS='-L$(PACT_LIB_DIR) -Wl,-rpath,$(PACT_LIB_DIR)' \
	PACT_LOG_LEVEL=$(PACT_LOG_LEVEL) PACT_DO_NOT_TRACK=true \
	PATH='$(PACT_BIN_DIR)':"$$PATH"

# Prefix for pact tests: $(PACT_GO_TEST) ./contracts/... in a recipe of a target
# that depends on pact-check-lib. Pact tests carry the build tag `pact`, so
# go build ./... and go test ./... never need the library. -count=1: Go's test
# cache cannot see pact files, which native code reads and writes.
PACT_GO_TEST = $(PACT_ENV) $(GO) test -tags pact -count=1

# Broker verbs (scripts/pact-broker.sh says what is missing when these are empty).
PACT_CONSUMER_VERSION ?= $(shell git -C '$(PACT_ROOT)' rev-parse HEAD 2>/dev/null)
PACT_BRANCH           ?= $(shell git -C '$(PACT_ROOT)' branch --show-current 2>/dev/null)
PACTICIPANT           ?=
VERSION               ?= $(PACT_CONSUMER_VERSION)
ENVIRONMENT           ?=
# Extra pact CLI arguments, e.g. PACT_BROKER_ARGS='--retry-while-unknown 12 --retry-interval 10'
PACT_BROKER_ARGS      ?=

PACT_MISSING_LIB_MSG := libpact_ffi not found in .tools/pact/lib: run `make tools` (or `pact-go install` if you have GitHub access)

.PHONY: tools
tools: pact-tools ## install project-local tools (libpact_ffi, Pact CLI) into .tools/

.PHONY: pact-tools
pact-tools: ## install libpact_ffi 0.4.28 and the Pact CLI into .tools/pact/ (pinned, sha256-checked)
	@'$(PACT_TOOLS_SH)'

# Prerequisite for every target that runs $(PACT_GO_TEST): one clear message
# instead of a linker error when the library is missing.
.PHONY: pact-check-lib
pact-check-lib: ## fail with a clear message when libpact_ffi is not installed
	@test -f '$(PACT_LIB)' || { echo '$(PACT_MISSING_LIB_MSG)' >&2; exit 1; }

.PHONY: pact-publish
pact-publish: ## publish contracts/pacts to PACT_BROKER_BASE_URL (version: git SHA, branch: git branch)
	@PACT_BROKER_BASE_URL='$(PACT_BROKER_BASE_URL)' PACT_DIR='$(PACT_DIR)' \
		PACT_CONSUMER_VERSION='$(PACT_CONSUMER_VERSION)' PACT_BRANCH='$(PACT_BRANCH)' \
		'$(PACT_BROKER_SH)' publish $(PACT_BROKER_ARGS)

.PHONY: can-i-deploy
can-i-deploy: ## ask the broker: PACTICIPANT=... ENVIRONMENT=... [VERSION=git SHA]
	@PACT_BROKER_BASE_URL='$(PACT_BROKER_BASE_URL)' \
		PACTICIPANT='$(PACTICIPANT)' VERSION='$(VERSION)' ENVIRONMENT='$(ENVIRONMENT)' \
		'$(PACT_BROKER_SH)' can-i-deploy $(PACT_BROKER_ARGS)

.PHONY: record-deployment
record-deployment: ## tell the broker: PACTICIPANT=... ENVIRONMENT=... [VERSION=git SHA]
	@PACT_BROKER_BASE_URL='$(PACT_BROKER_BASE_URL)' \
		PACTICIPANT='$(PACTICIPANT)' VERSION='$(VERSION)' ENVIRONMENT='$(ENVIRONMENT)' \
		'$(PACT_BROKER_SH)' record-deployment $(PACT_BROKER_ARGS)

# --- contracts: the Pact phases ---------------------------------------------
#
# Consumer phase (one process: it writes every pact file), lint, provider
# phase, wire check and mutation checks are separate `go test` runs of the
# two cgo packages contracts/consumer and contracts/provider; the plain
# contract packages (registry, pactlint, degraded, brokerwire) run with the
# race detector like any unit test.

# Pact tests also run with the race detector: provider state and message
# handlers run on the verifier's goroutines.
PACT_RACE ?= -race
# Provider test binaries run in a loopback-only network namespace when the
# machine allows one (scripts/pact-netns.sh): pact-go's verifier proxy
# listens on all interfaces. PACT_NETNS=off runs them directly.
PACT_NETNS_EXEC = -exec '$(PACT_ROOT)/scripts/pact-netns.sh'
# Local pact files only: a broker URL in the developer's environment must not
# turn `make contracts` into a broker verification.
PACT_LOCAL = env -u PACT_BROKER_BASE_URL -u PACT_URL PACT_DIR='$(PACT_DIR)'
PACT_PROVIDER_TESTS = ^(TestInventoryProvider|TestOrderProvider)$$

.PHONY: contracts
contracts: pact-check-lib ## Pact: consumer phase, lint, provider phase, wire + mutation checks, plain contract tests
	@start=$$(date +%s); set -e; cd '$(PACT_ROOT)'; \
	echo "== [$$(( $$(date +%s) - start ))s] contracts: clear $(PACT_DIR)"; \
	rm -rf '$(PACT_DIR)'; mkdir -p '$(PACT_DIR)'; \
	echo "== [$$(( $$(date +%s) - start ))s] contracts: consumer phase (order-service, inventory-service as consumers) -> $(PACT_DIR)"; \
	$(PACT_LOCAL) $(PACT_GO_TEST) $(PACT_RACE) ./contracts/consumer; \
	echo "== [$$(( $$(date +%s) - start ))s] contracts: lint (stale interactions, messages without content)"; \
	$(PACT_LOCAL) $(GO) run ./contracts/pactlint; \
	echo "== [$$(( $$(date +%s) - start ))s] contracts: provider phase (inventory-service HTTP + messages, order-service messages)"; \
	$(PACT_LOCAL) $(PACT_GO_TEST) $(PACT_RACE) $(PACT_NETNS_EXEC) -run '$(PACT_PROVIDER_TESTS)' ./contracts/provider; \
	echo "== [$$(( $$(date +%s) - start ))s] contracts: wire check (outbox relay -> kfake -> sarama -> order-placed pact)"; \
	$(PACT_LOCAL) $(PACT_GO_TEST) $(PACT_RACE) $(PACT_NETNS_EXEC) -run '^TestOrderPlacedOnTheWire$$' ./contracts/provider; \
	echo "== [$$(( $$(date +%s) - start ))s] contracts: mutation checks (broken providers must fail verification)"; \
	$(PACT_LOCAL) $(PACT_GO_TEST) $(PACT_RACE) $(PACT_NETNS_EXEC) -v -run '^TestMutantsFailVerification$$' ./contracts/provider; \
	echo "== [$$(( $$(date +%s) - start ))s] contracts: plain contract tests (registry, pactlint, degraded, brokerwire)"; \
	$(GO) test -race -count=1 ./contracts/...; \
	echo "== contracts: all green in $$(( $$(date +%s) - start ))s"

# --- pact-verify-broker: provider verification against a Pact Broker --------
#
# scripts/pact-verify-broker.sh documents every variable it reads; the broker
# credentials come from the environment only.

PACT_VERIFY_BROKER_SH := $(PACT_ROOT)/scripts/pact-verify-broker.sh
PACT_PROVIDER_VERSION ?= $(PACT_CONSUMER_VERSION)
PACT_PROVIDER_BRANCH  ?= $(PACT_BRANCH)
# true publishes the verification results (CI); false only verifies.
PACT_PUBLISH_VERIFICATION_RESULTS ?= true

.PHONY: pact-verify-broker
pact-verify-broker: ## verify both providers against PACT_BROKER_BASE_URL's pacts (selectors, pending) and publish the results
	@PACT_BROKER_BASE_URL='$(PACT_BROKER_BASE_URL)' \
		PACT_PROVIDER_VERSION='$(PACT_PROVIDER_VERSION)' PACT_PROVIDER_BRANCH='$(PACT_PROVIDER_BRANCH)' \
		PACT_PUBLISH_VERIFICATION_RESULTS='$(PACT_PUBLISH_VERIFICATION_RESULTS)' GO='$(GO)' \
		'$(PACT_VERIFY_BROKER_SH)'
