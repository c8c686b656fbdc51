# contracts/pact.mk: Pact tooling and Pact Broker verbs.
# Included from the root Makefile:  include contracts/pact.mk
#
#   make tools                 install libpact_ffi + Pact CLI into .tools/pact/
#   make contracts             consumer pacts, lint + provenance stamp, provider verification,
#                              wire check, tooling and plain contract tests (contracts/README.md)
#   make mutants               the mutant catalogue: every breaking change caught, every harmless one passes
#   make pact-publish          lint, check provenance, publish contracts/pacts to PACT_BROKER_BASE_URL
#   make pact-verify-broker    fetch + lint the broker's pacts, verify both providers against them
#   make pact-verify-changed PACT_URL=...     verify the one pact a webhook names
#   make can-i-deploy PACTICIPANT=inventory-service ENVIRONMENT=production [VERSION=<sha>]
#   make record-deployment PACTICIPANT=inventory-service ENVIRONMENT=production [VERSION=<sha>]
#   make create-environment ENVIRONMENT=staging
#   make create-webhook PACT_WEBHOOK_URL=https://api.github.com/repos/OWNER/REPO/dispatches
#
# Broker credentials come from the environment (or the make command line):
# PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD.
# scripts/pact-broker.sh and scripts/pact-verify-broker.sh document every
# variable they read and their exit codes.

# Repository root, from this file's location (read before any later include).
PACT_ROOT := $(patsubst %/,%,$(dir $(abspath $(dir $(lastword $(MAKEFILE_LIST))))))

GO ?= go

PACT_TOOLS_DIR := $(PACT_ROOT)/.tools/pact
PACT_LIB_DIR   := $(PACT_TOOLS_DIR)/lib
PACT_BIN_DIR   := $(PACT_TOOLS_DIR)/bin
# libpact_ffi.so on Linux, libpact_ffi.dylib on macOS (scripts/pact-tools.sh).
PACT_UNAME     := $(shell uname -s)
PACT_LIB       := $(PACT_LIB_DIR)/libpact_ffi.$(if $(filter Darwin,$(PACT_UNAME)),dylib,so)
PACT_TOOLS_SH  := $(PACT_ROOT)/scripts/pact-tools.sh
PACT_BROKER_SH := $(PACT_ROOT)/scripts/pact-broker.sh

PACT_DIR       ?= $(PACT_ROOT)/contracts/pacts
PACT_LOG_LEVEL ?= WARN

# Environment for anything that links pact-go (cgo + libpact_ffi) or runs the CLI.
# The rpath lets the test binary find the library at run time.
PACT_ENV = CGO_ENABLED=1 \
	CGO_LDFLAGS='-L$(PACT_LIB_DIR) -Wl,-rpath,$(PACT_LIB_DIR)' \
	$(if $(filter Darwin,$(PACT_UNAME)),DYLD_FALLBACK_LIBRARY_PATH='$(PACT_LIB_DIR)') \
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
# can-i-deploy: re-ask while verification results are unknown (the
# webhook-triggered verification may still be running).
PACT_RETRY_WHILE_UNKNOWN ?= 6
PACT_RETRY_INTERVAL      ?= 10
# Extra pact CLI arguments for the broker verbs.
PACT_BROKER_ARGS      ?=
# Every variable a broker verb reads, passed on from make's command line.
PACT_BROKER_VARS = PACT_BROKER_BASE_URL='$(PACT_BROKER_BASE_URL)' PACT_DIR='$(PACT_DIR)' \
	PACT_CONSUMER_VERSION='$(PACT_CONSUMER_VERSION)' PACT_BRANCH='$(PACT_BRANCH)' \
	PACTICIPANT='$(PACTICIPANT)' VERSION='$(VERSION)' ENVIRONMENT='$(ENVIRONMENT)' \
	PACT_RETRY_WHILE_UNKNOWN='$(PACT_RETRY_WHILE_UNKNOWN)' PACT_RETRY_INTERVAL='$(PACT_RETRY_INTERVAL)' GO='$(GO)'

PACT_MISSING_LIB_MSG := $(notdir $(PACT_LIB)) not found in .tools/pact/lib: run `make tools` (or `pact-go install` if you have GitHub access)

.PHONY: tools
tools: pact-tools ## install project-local tools (libpact_ffi, Pact CLI) into .tools/

.PHONY: pact-tools
pact-tools: ## install libpact_ffi 0.4.28 and the Pact CLI into .tools/pact/ (linux/darwin, x64/arm64; pinned, sha256-checked)
	@'$(PACT_TOOLS_SH)'

# Prerequisite for every target that runs $(PACT_GO_TEST): one clear message
# instead of a linker error when the library is missing.
.PHONY: pact-check-lib
pact-check-lib: ## fail with a clear message when libpact_ffi is not installed
	@test -f '$(PACT_LIB)' || { echo '$(PACT_MISSING_LIB_MSG)' >&2; exit 1; }

.PHONY: pact-publish
pact-publish: ## lint + provenance check (pacts of this very commit only), then publish contracts/pacts
	@$(PACT_BROKER_VARS) '$(PACT_BROKER_SH)' publish $(PACT_BROKER_ARGS)

.PHONY: can-i-deploy
can-i-deploy: ## ask the broker: PACTICIPANT=... ENVIRONMENT=... [VERSION=git SHA] (exit 1: no, 3: unreachable, 4: broker error)
	@$(PACT_BROKER_VARS) '$(PACT_BROKER_SH)' can-i-deploy $(PACT_BROKER_ARGS)

.PHONY: record-deployment
record-deployment: ## tell the broker: PACTICIPANT=... ENVIRONMENT=... [VERSION=git SHA]
	@$(PACT_BROKER_VARS) '$(PACT_BROKER_SH)' record-deployment $(PACT_BROKER_ARGS)

.PHONY: create-environment
create-environment: ## create ENVIRONMENT=... on the broker (PACT_ENVIRONMENT_PRODUCTION, PACT_ENVIRONMENT_DISPLAY_NAME)
	@$(PACT_BROKER_VARS) '$(PACT_BROKER_SH)' create-environment $(PACT_BROKER_ARGS)

.PHONY: create-webhook
create-webhook: ## create the contract_requiring_verification_published webhook of each provider: PACT_WEBHOOK_URL=...
	@$(PACT_BROKER_VARS) '$(PACT_BROKER_SH)' create-webhook $(PACT_BROKER_ARGS)

# --- contracts and mutants: the Pact phases ------------------------------
#
# scripts/pact-contracts.sh runs the phases in a pact folder of the run's
# own (two runs in one checkout do not interfere) and, for make contracts,
# installs the result into PACT_DIR under a lock. It documents every phase.

PACT_CONTRACTS_SH := $(PACT_ROOT)/scripts/pact-contracts.sh
# Pact test phases also run with the race detector: provider state and
# message handlers run on the verifier's goroutines.
PACT_RACE ?= -race
# JUnit: one file per phase in $(JUNIT_DIR) (test.mk), through gotestsum.
PACT_CONTRACTS_VARS = PACT_DIR='$(PACT_DIR)' PACT_RACE='$(PACT_RACE)' GO='$(GO)' PACT_LOG_LEVEL='$(PACT_LOG_LEVEL)' JUNIT_DIR='$(abspath $(JUNIT_DIR))'

.PHONY: contracts
contracts: pact-check-lib ## Pact: consumer phase, lint + provenance, provider phase, wire check, tooling and plain tests; installs contracts/pacts
	@$(PACT_CONTRACTS_VARS) '$(PACT_CONTRACTS_SH)' consumer lint provider wire tooling plain install

.PHONY: mutants
mutants: pact-check-lib ## the mutant catalogue (contracts/mutants): every breaking change caught, every harmless one passes (~1 min)
	@$(PACT_CONTRACTS_VARS) '$(PACT_CONTRACTS_SH)' consumer mutants

# --- pact-verify-broker: provider verification against a Pact Broker --------
#
# scripts/pact-verify-broker.sh documents every variable it reads; the broker
# credentials come from the environment only. Results are published when
# PACT_PUBLISH_VERIFICATION_RESULTS=true, or when it is empty and CI=true.

PACT_VERIFY_BROKER_SH := $(PACT_ROOT)/scripts/pact-verify-broker.sh
PACT_PROVIDER_VERSION ?= $(PACT_CONSUMER_VERSION)
PACT_PROVIDER_BRANCH  ?= $(PACT_BRANCH)
PACT_PUBLISH_VERIFICATION_RESULTS ?=
PACT_VERIFY_VARS = PACT_BROKER_BASE_URL='$(PACT_BROKER_BASE_URL)' \
	PACT_PROVIDER_VERSION='$(PACT_PROVIDER_VERSION)' PACT_PROVIDER_BRANCH='$(PACT_PROVIDER_BRANCH)' \
	PACT_PUBLISH_VERIFICATION_RESULTS='$(PACT_PUBLISH_VERIFICATION_RESULTS)' GO='$(GO)'

.PHONY: pact-verify-broker
pact-verify-broker: ## fetch + lint the broker's pacts (selectors, pending, WIP), verify both providers; publish results from CI only
	@env -u PACT_URL $(PACT_VERIFY_VARS) '$(PACT_VERIFY_BROKER_SH)'

.PHONY: pact-verify-changed
pact-verify-changed: ## webhook-triggered: verify PACT_URL=... with its provider (PACT_PROVIDER, default from the URL)
	@test -n '$(PACT_URL)' || { echo 'pact-verify-changed: PACT_URL (the $${pactbroker.pactUrl} of a contract_requiring_verification_published webhook) is required' >&2; exit 2; }
	@$(PACT_VERIFY_VARS) PACT_URL='$(PACT_URL)' PACT_PROVIDER='$(PACT_PROVIDER)' '$(PACT_VERIFY_BROKER_SH)'
