# The user's verbs. `make help` lists them.
GO       ?= go
GINKGO   ?= $(GO) tool ginkgo
OUT      ?= out
DURATION ?= 20s
RATE     ?= 20
# Extra `faultline run` flags, e.g. RUN_FLAGS=--no-fail: report only, exit 0 whatever the hypotheses found.
RUN_FLAGS ?=
# The main comparison; `make demo SCENARIO=all` runs every scenario (~6 min).
SCENARIO ?= inventory-latency,inventory-down,kafka-down
GINKGO_FLAGS ?= --race --randomize-all --keep-going --junit-report=junit.xml --json-report=report.json --output-dir=$(OUT)/ginkgo

include contracts/pact.mk
include chaos/lanes.mk
include chaos/report.mk
include chaos/resilience.mk
include chaos/negative.mk

.PHONY: help demo list build vet unit suites chaos test clean up down

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

demo: ## the sync-vs-async chaos comparison on embedded Kafka and Toxiproxy (~1.5 min)
	@mkdir -p $(OUT)
	$(GO) run ./cmd/faultline run --scenario $(SCENARIO) --duration $(DURATION) --rate $(RATE) --json $(OUT)/demo.json --journal-dir $(OUT) --report $(OUT) --service-log $(OUT)/services.log $(RUN_FLAGS)

list: ## list the chaos scenarios (make list LIST_FLAGS=--json: with their schedules and parameters)
	$(GO) run ./cmd/faultline list $(LIST_FLAGS)

build: ## build the CLI and the services into out/bin
	$(GO) build -o $(OUT)/bin/ ./cmd/...

vet: ## go vet
	$(GO) vet ./...

unit: ## unit and integration tests of services/, chaos/, cmd/, contracts/ (no cgo), deploy/ with the race detector
	$(GO) test -race -count=1 ./services/... ./chaos/... ./cmd/... ./contracts/... ./deploy/...

suites: ## all Ginkgo suites (happy path and chaos), with JUnit and JSON reports in $(OUT)/ginkgo
	@mkdir -p $(OUT)/ginkgo
	$(GINKGO) $(GINKGO_FLAGS) ./suites/...

chaos: ## only the chaos specs
	$(GINKGO) --label-filter=chaos ./suites/...

test: tools vet unit suites contracts report-check ## what CI runs: tools, vet, unit tests, suites, Pact contracts, report render check

up: ## docker compose: Kafka, Toxiproxy, Pact Broker, both services
	docker compose up -d --build

down: ## stop docker compose and drop its volumes
	docker compose down -v

clean: ## remove run outputs
	rm -rf $(OUT)
