#!/usr/bin/env bash
# The real lane, without Docker: Apache Kafka 4 (KRaft, Java 17) from jars
# that Maven fetches from Maven Central, and a Toxiproxy server built from
# the module's pinned github.com/Shopify/toxiproxy/v2, both on 127.0.0.1,
# tracked by PID files (never stopped by name). The broker ADVERTISES the
# Toxiproxy proxy "kafka" (127.0.0.1:19092 -> 127.0.0.1:9092), which
# `start` creates, so clients cannot bypass Toxiproxy.
#
#   scripts/kafka-local.sh up          fetch (once) + build + start Toxiproxy + start Kafka
#   scripts/kafka-local.sh down        stop Kafka, then Toxiproxy
#   scripts/kafka-local.sh fetch       jars into .tools/kafka/libs (pinned in deploy/kafka-local/pom.xml)
#   scripts/kafka-local.sh toxiproxy-build | toxiproxy-start | toxiproxy-stop
#   scripts/kafka-local.sh start | stop | kill | status | env
#
# Environment (all optional): KAFKA_LOCAL_DIR (.tools/kafka), KAFKA_LOCAL_LISTEN
# (127.0.0.1:9092), KAFKA_LOCAL_CONTROLLER (127.0.0.1:9093), KAFKA_LOCAL_ADVERTISED
# (127.0.0.1:19092), TOXIPROXY_URL (http://127.0.0.1:8474), JAVA, GO, MVN.
# Files: .tools/kafka/run/{kafka.log,kafka.pid,server.properties}, .tools/kafka/data,
# .tools/toxiproxy/{toxiproxy.log,toxiproxy.pid}.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
MVN=${MVN:-mvn}
export KAFKA_LOCAL_DIR=${KAFKA_LOCAL_DIR:-$ROOT/.tools/kafka}
export TOXIPROXY_BIN=${TOXIPROXY_BIN:-$ROOT/.tools/bin/toxiproxy-server}
export TOXIPROXY_DIR=${TOXIPROXY_DIR:-$ROOT/.tools/toxiproxy}
POM=$ROOT/deploy/kafka-local/pom.xml
CTL=$ROOT/.tools/bin/kafka-local
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

log() { echo "kafka-local: $*" >&2; }

fetch() {
	local libs=$KAFKA_LOCAL_DIR/libs stamp
	stamp=$libs/.fetched-$KAFKA_VERSION-$(sha256sum "$POM" | cut -c1-12)
	[ -f "$stamp" ] && return 0
	command -v "$MVN" >/dev/null || { log "mvn (Maven) not found: apt-get install maven"; exit 1; }
	log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $libs (once)..."
	local t0=$SECONDS
	rm -rf "$libs"
	"$MVN" -B -q -f "$POM" -Dmaven.repo.local="$KAFKA_LOCAL_DIR/m2" \
		"$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$libs"
	touch "$stamp"
	log "fetched $(ls "$libs" | wc -l) jars ($(du -sh "$libs" | cut -f1)) in $((SECONDS - t0))s"
}

build() {
	mkdir -p "$(dirname "$CTL")"
	# Both cached by the Go build cache: about a second when nothing changed.
	"$GO" build -o "$TOXIPROXY_BIN" github.com/Shopify/toxiproxy/v2/cmd/server
	"$GO" build -o "$CTL" ./chaos/kafkalocal/cmd/kafka-local
}

ctl() { "$CTL" "$@"; }

case "${1:-}" in
fetch) fetch ;;
toxiproxy-build) build ;;
toxiproxy-start | toxiproxy-stop | start | stop | kill | status | env)
	[ -x "$CTL" ] || build
	ctl "$1"
	;;
up)
	fetch
	build
	ctl toxiproxy-start
	ctl start
	;;
down)
	[ -x "$CTL" ] || build
	ctl stop
	ctl toxiproxy-stop
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
