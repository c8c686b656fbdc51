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
# make demo shows the comparison and reports deviations without failing
# (--no-fail); `make demo DEMO_FLAGS=` or `faultline run` gate on them.
DEMO_FLAGS ?= --no-fail
.DEFAULT_GOAL := help

include test.mk
include contracts/pact.mk
include chaos/lanes.mk
include chaos/report.mk
include chaos/resilience.mk
include chaos/negative.mk

.PHONY: help demo list build chaos clean up down

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

demo: ## the sync-vs-async chaos comparison on embedded Kafka and Toxiproxy (~1.5 min)
	@mkdir -p $(OUT)
	$(GO) run ./cmd/faultline run --scenario $(SCENARIO) --duration $(DURATION) --rate $(RATE) --json $(OUT)/demo.json --journal-dir $(OUT) --report $(OUT) --service-log $(OUT)/services.log $(DEMO_FLAGS) $(RUN_FLAGS)

list: ## list the chaos scenarios (make list LIST_FLAGS=--json: with their schedules and parameters)
	$(GO) run ./cmd/faultline list $(LIST_FLAGS)

build: ## build the CLI and the services into out/bin
	$(GO) build -o $(OUT)/bin/ ./cmd/...

chaos: ## only the chaos specs
	$(GINKGO) --label-filter=chaos ./suites/...

up: ## docker compose: Kafka, Toxiproxy, Pact Broker, both services
	docker compose up -d --build

down: ## stop docker compose and drop its volumes
	docker compose down -v

clean: ## remove run outputs
	rm -rf $(OUT)
