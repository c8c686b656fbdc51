# chaos/report.mk: journals, HTML reports, their render check, benchmarks.
# Included from the root Makefile:  include chaos/report.mk
#
#   make report          render every journal in $(OUT) into $(OUT)/report.html
#   make report-check    render a fixture report and a real short run's report in headless
#                        Chromium (installed with apt when missing and root): every chart must
#                        draw a canvas; the screenshots land in $(OUT)/report-check/, JUnit in
#                        $(JUNIT_DIR)/report-check-{fixture,run}.xml
#   make report-assets   fetch echarts.min.js again from npm (pinned) and check its SHA-256
#   make bench           Go benchmarks (loopback, bounded) and `faultline bench` ratios (~1 min)

GO       ?= go
OUT      ?= out
CHROMIUM ?= /usr/bin/chromium

# The chart library inlined in every report (see chaos/report/assets.go).
ECHARTS_VERSION := 5.6.0
ECHARTS_SHA256  := bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1
ECHARTS_ASSETS  := chaos/report/assets

BENCH_TIME   ?= 1s
BENCH_FLAGS  ?=
REPORT_CHECK := $(OUT)/report-check

.PHONY: report report-check report-assets chromium bench

report: ## render every journal in $(OUT) as one HTML page: $(OUT)/report.html
	$(GO) run ./cmd/faultline report $(wildcard $(OUT)/journal-*.json) -o $(OUT)/report.html

chromium: ## install headless Chromium (apt) when missing; needs root
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "$(CHROMIUM) missing: run 'apt-get install -y chromium' as root" >&2; exit 1; fi; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

report-check: chromium ## render reports in headless Chromium and check every chart drew; screenshots in $(OUT)/report-check
	@rm -rf $(REPORT_CHECK) && mkdir -p $(REPORT_CHECK)
	@mkdir -p $(JUNIT_DIR)
	$(GOTESTSUM) --junitfile $(JUNIT_DIR)/report-check-fixture.xml -- -count=1 -run TestReportRendersInChromium ./chaos/report \
		-args -screenshot=$(abspath $(REPORT_CHECK))/fixture.png
	$(GO) run ./cmd/faultline run --scenario inventory-down --duration 8s --rate 10 --journal-dir $(REPORT_CHECK) --report $(REPORT_CHECK) --no-fail
	$(GOTESTSUM) --junitfile $(JUNIT_DIR)/report-check-run.xml -- -count=1 -run TestReportRendersInChromium ./chaos/report -args \
		-report-html=$$(ls $(abspath $(REPORT_CHECK))/report-*.html | head -1) \
		-screenshot=$(abspath $(REPORT_CHECK))/inventory-down.png

report-assets: ## fetch echarts $(ECHARTS_VERSION) from npm into $(ECHARTS_ASSETS) and check its SHA-256
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent echarts@$(ECHARTS_VERSION) >/dev/null && \
	 tar -xzf echarts-$(ECHARTS_VERSION).tgz package/dist/echarts.min.js package/LICENSE package/NOTICE) && \
	echo "$(ECHARTS_SHA256)  $$tmp/package/dist/echarts.min.js" | sha256sum -c --quiet && \
	cp "$$tmp/package/dist/echarts.min.js" $(ECHARTS_ASSETS)/echarts.min.js && \
	cp "$$tmp/package/LICENSE" $(ECHARTS_ASSETS)/echarts.LICENSE && \
	cp "$$tmp/package/NOTICE" $(ECHARTS_ASSETS)/echarts.NOTICE && \
	echo "$(ECHARTS_ASSETS)/echarts.min.js: echarts $(ECHARTS_VERSION), sha256 ok"

bench: ## Go benchmarks plus `faultline bench`: Toxiproxy, Kafka, placement and outbox ratios (~1 min)
	$(GO) test -run '^$$' -bench . -benchtime $(BENCH_TIME) -count 1 ./chaos/bench
	$(GO) run ./cmd/faultline bench $(BENCH_FLAGS)
