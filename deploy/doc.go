// Package deploy holds what runs the system outside the test process:
// docker-compose.yml's Toxiproxy configuration (toxiproxy.json) and the
// Maven pom of the local Kafka broker (kafka-local/pom.xml). Its test
// checks that docker-compose.yml agrees with them, with the Makefile, the
// README and the services' flags.
package deploy
