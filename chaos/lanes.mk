# chaos/lanes.mk: the real lane (Apache Kafka 4 + Toxiproxy as local
# processes on 127.0.0.1, no Docker) and the docker-compose check.
# Included from the root Makefile:  include chaos/lanes.mk
#
#   make kafka-local          Toxiproxy + Kafka up (jars fetched once), prints log/PID files and the env line
#   make kafka-local-stop     stop both (PID files)
#   make chaos-real           the chaos suite on the real lane (starts and stops both)
#   make chaos-lanes          the chaos suite on the embedded lane, then on the real lane
#   make demo-real            `make demo` against a running kafka-local
#   make compose-check        docker-compose.yml agrees with the Makefile, README and the services' flags

LANES_ROOT := $(patsubst %/,%,$(dir $(abspath $(dir $(lastword $(MAKEFILE_LIST))))))
GO         ?= go
KAFKA_LOCAL_SH := $(LANES_ROOT)/scripts/kafka-local.sh
# The real lane's addresses (the same as docker-compose.yml publishes).
REAL_LANE_ENV = KAFKA_BROKERS=127.0.0.1:19092 TOXIPROXY_URL=http://127.0.0.1:8474 KAFKA_LOCAL_DIR=$(LANES_ROOT)/.tools/kafka

.PHONY: kafka-jars toxiproxy-server toxiproxy-local toxiproxy-local-stop kafka-local kafka-local-stop kafka-local-status chaos-real chaos-lanes demo-real compose-check

kafka-jars: ## fetch the pinned Apache Kafka jars from Maven Central into .tools/kafka/libs
	$(KAFKA_LOCAL_SH) fetch

toxiproxy-server: ## build .tools/bin/toxiproxy-server from the pinned Toxiproxy module
	$(KAFKA_LOCAL_SH) toxiproxy-build

toxiproxy-local: toxiproxy-server ## start only the Toxiproxy server on 127.0.0.1:8474 (PID file)
	$(KAFKA_LOCAL_SH) toxiproxy-start

toxiproxy-local-stop: ## stop the Toxiproxy server (PID file)
	$(KAFKA_LOCAL_SH) toxiproxy-stop

kafka-local: ## real lane up: Toxiproxy + Apache Kafka 4 (KRaft) on 127.0.0.1, advertised through the "kafka" proxy
	$(KAFKA_LOCAL_SH) up

kafka-local-stop: ## stop the local Kafka broker, then Toxiproxy (PID files)
	$(KAFKA_LOCAL_SH) down

kafka-local-status: ## is the local broker running and answering?
	$(KAFKA_LOCAL_SH) status

chaos-real: ## the chaos suite on the real lane (starts and stops Toxiproxy and Kafka)
	$(LANES_ROOT)/scripts/ci-real-lane.sh

chaos-lanes: chaos chaos-real ## the chaos suite on both lanes: embedded, then real Kafka

demo-real: ## make demo against a running kafka-local (make kafka-local first)
	$(REAL_LANE_ENV) $(MAKE) demo

compose-check: ## docker-compose.yml agrees with the Makefile, README and the services' flags
	$(GO) test -count=1 ./deploy/
