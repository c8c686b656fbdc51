# Resilience verbs: fuzzing, the soak of the chaos suite, the resilience
# scenarios. Included from the root Makefile (which sets GO, GINKGO, OUT,
# DURATION, RATE); the defaults below make it usable alone too:
#   make -f chaos/resilience.mk fuzz
GO       ?= go
GINKGO   ?= $(GO) tool ginkgo
OUT      ?= out
DURATION ?= 20s
RATE     ?= 20

# fuzz: every fuzz target, FUZZTIME each. Seed corpora live next to each
# target in testdata/fuzz/<Target>/ and also run with plain `go test`.
FUZZTIME ?= 10s
FUZZ_TARGETS ?= \
	./services/events:FuzzDecode \
	./services/web:FuzzDecode \
	./services/order:FuzzCreateOrder \
	./services/order:FuzzHandleStockOutcome \
	./services/inventory:FuzzPostReservation \
	./services/inventory:FuzzHandleOrderPlaced

# soak: the chaos specs N times in a row (ginkgo runs 1+repeat times),
# randomized, stopping at the first failure, in SUITE_PROCS processes and
# with SUITE_RACE as `make test` runs them (both set in test.mk: 4
# processes, no race detector), so the soak proves that parallelism safe.
# SOAK_FLAGS adds flags.
N           ?= 10
SOAK_FLAGS  ?=

RESILIENCE_SCENARIOS ?= inventory-blackhole,inventory-blackhole-breaker,inventory-blackhole-pileup,inventory-blackhole-bulkhead

.PHONY: fuzz fuzz-seeds soak resilience

fuzz: ## run every fuzz target for FUZZTIME each (default 10s; make fuzz FUZZTIME=1m)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== fuzz $$pkg $$fn for $(FUZZTIME)"; \
		$(GO) test $$pkg -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME); \
	done

fuzz-seeds: ## run the fuzz targets on their seed corpora only (fast; part of the unit tests too)
	$(GO) test -count=1 -run='^Fuzz' ./services/...

soak: ## the chaos suite N times in a row, randomized, in SUITE_PROCS processes, failing on the first flake (make soak N=20)
	@test $(N) -ge 1 || { echo "N must be >= 1"; exit 2; }
	$(GINKGO) --repeat=$$(( $(N) - 1 )) --randomize-all -p --procs=$(SUITE_PROCS) $(SUITE_RACE) --label-filter=chaos $(SOAK_FLAGS) ./suites/...

resilience: ## the resilience scenarios (blackhole without and with breaker, pile-up without and with bulkhead)
	@mkdir -p $(OUT)
	$(GO) run ./cmd/faultline run --scenario $(RESILIENCE_SCENARIOS) --duration $(DURATION) --rate $(RATE) --json $(OUT)/resilience.json --no-fail
