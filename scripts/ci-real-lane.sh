#!/usr/bin/env bash
# The chaos suite on the real lane: starts Toxiproxy and Apache Kafka as
# local processes (scripts/kafka-local.sh up), runs the bypass proof and the
# Ginkgo chaos specs with KAFKA_BROKERS, TOXIPROXY_URL and KAFKA_LOCAL_DIR
# set, then stops both (trap), unless they were already running before.
#
#   scripts/ci-real-lane.sh                 # what CI runs after the embedded lane
#   GINKGO_FLAGS="--race" scripts/ci-real-lane.sh
#
# Bounded: the suite has a 20-minute timeout; the broker starts in under a
# minute once the jars are cached (the first fetch takes ~45 s more).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
OUT=${OUT:-out}
GINKGO_FLAGS=${GINKGO_FLAGS:---race --keep-going --junit-report=junit-real.xml --json-report=report-real.json --output-dir=$OUT/ginkgo-real}
LANE=scripts/kafka-local.sh

was_running=false
if [ -x .tools/bin/kafka-local ] && .tools/bin/kafka-local status 2>/dev/null | grep -q '^kafka running'; then
	was_running=true
fi
stop_lane() {
	local rc=$?
	if ! $was_running; then
		"$LANE" down || true
	fi
	exit "$rc"
}
trap stop_lane EXIT

t0=$SECONDS
"$LANE" up
echo "== real lane up in $((SECONDS - t0))s"
eval "$("$LANE" env)"
echo "== $KAFKA_BROKERS via $TOXIPROXY_URL (KAFKA_LOCAL_DIR=$KAFKA_LOCAL_DIR)"
mkdir -p "$OUT/ginkgo-real"

t1=$SECONDS
echo "== bypass proof and broker routing on the real lane"
"$GO" test -race -count=1 -run 'Bypass|Advertise|OneBroker' ./chaos/stack
echo "== chaos suite on the real lane"
# shellcheck disable=SC2086 # GINKGO_FLAGS is a list of flags
"$GO" tool ginkgo $GINKGO_FLAGS --timeout=20m --label-filter=chaos ./suites/...
echo "== real lane: tests took $((SECONDS - t1))s"
