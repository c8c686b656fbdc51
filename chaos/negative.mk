# chaos/negative.mk: negative controls for the chaos specs (issue 11), as
# the contract mutants are for the Pact tests. Included from the root
# Makefile:  include chaos/negative.mk
#
#   make negative-controls                         every neutralisation, ~8 min on 2 cores
#   make negative-controls NEGATIVE_CONTROLS=down  one of them
#
# Each neutralisation (internal/negativecontrol) turns one fault or one
# mitigation into a no-op that still reports success: down, latency,
# timeout, reset_peer, bandwidth, broker_stop, breaker, bulkhead,
# outbox_bypass. The suite is built once with the build tag
# `negativecontrol` (never in a normal build); then, per neutralisation N,
# the chaos specs labelled nc-N run with FAULTLINE_NEGATIVE_CONTROL=N and
# every one of them must go RED for a reason of its own (the fault did
# not take effect, or the system did not behave as the spec says), not
# because the harness failed. ncverdict reads the Ginkgo JSON reports and
# prints the table; the target fails when a neutralisation left a spec
# green or turned none red. Logs and reports: $(NC_OUT).

GO      ?= go
GINKGO  ?= $(GO) tool ginkgo
OUT     ?= out
NC_OUT  ?= $(OUT)/negative-controls
# Specs of one neutralisation run in NC_PROCS Ginkgo processes (each spec
# has its own stack on the embedded lane).
NC_PROCS ?= 2
NEGATIVE_CONTROLS ?= down latency timeout reset_peer bandwidth broker_stop breaker bulkhead outbox_bypass

.PHONY: negative-controls

negative-controls: ## neutralise each fault and mitigation in turn; the chaos specs depending on it must go red (~8 min)
	@rm -rf $(NC_OUT) && mkdir -p $(NC_OUT)
	$(GINKGO) build --tags negativecontrol -o $(abspath $(NC_OUT))/suites.test ./suites
	@set -e; for n in $(NEGATIVE_CONTROLS); do \
		echo "== negative control $$n: specs labelled nc-$$n must go red"; \
		start=$$(date +%s); \
		FAULTLINE_NEGATIVE_CONTROL=$$n $(GINKGO) --label-filter="nc-$$n" -p --procs=$(NC_PROCS) --no-color \
			--json-report=$$n.json --output-dir=$(abspath $(NC_OUT)) $(abspath $(NC_OUT))/suites.test \
			> $(NC_OUT)/$$n.log 2>&1 || true; \
		echo "   $$(( $$(date +%s) - start ))s, log $(NC_OUT)/$$n.log"; \
	done
	$(GO) run ./internal/negativecontrol/ncverdict $(NC_OUT) $(NEGATIVE_CONTROLS)
