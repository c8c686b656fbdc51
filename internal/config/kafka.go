package config

import (
	"fmt"
	"time"
)

// KafkaFetch is a Kafka consumer's fetch batching, the trade between a
// lone record's latency and the records per fetch under load. A binary
// embeds it in its settings struct (anonymous field: the flags are the
// binary's own, -kafka-fetch-min-bytes and -kafka-fetch-max-wait) and
// copies it into messaging.Config.FetchMinBytes and FetchMaxWait. The
// defaults are messaging.DefaultFetchMinBytes and DefaultFetchMaxWait.
type KafkaFetch struct {
	// FetchMinBytes: bytes of records a fetch waits for (Kafka
	// fetch.min.bytes; sarama Consumer.Fetch.Min), >= 1.
	FetchMinBytes int32 `conf:"default:16384,flag:kafka-fetch-min-bytes,env:KAFKA_FETCH_MIN_BYTES,help:bytes of records a consumer's fetch waits for (Kafka fetch.min.bytes); 1 answers as soon as one record waits: lowest latency and the most fetches; >= 1"`
	// FetchMaxWait: the longest a fetch waits for FetchMinBytes (Kafka
	// fetch.max.wait.ms; sarama Consumer.MaxWaitTime), whole
	// milliseconds from 1ms to 1s.
	FetchMaxWait time.Duration `conf:"default:20ms,flag:kafka-fetch-max-wait,env:KAFKA_FETCH_MAX_WAIT,help:the longest a consumer's fetch waits for kafka-fetch-min-bytes (Kafka fetch.max.wait.ms): the most a lone record waits per hop; whole milliseconds from 1ms to 1s"`
}

// maxFetchWait bounds KafkaFetch.FetchMaxWait: twice Kafka's and sarama's
// default (500 ms), and well under the consumers' read deadline
// (messaging.Config.ReadTimeout, 5 s, sarama Net.ReadTimeout), which a
// fetch waiting on an idle partition must not reach: sarama does not add
// the wait to it, and a fetch past it drops the connection.
const maxFetchWait = time.Second

// Check returns a *Error naming the flag and the environment variable of
// the first value out of range; cfg is the binary's settings struct
// (a pointer) that embeds k.
func (k KafkaFetch) Check(cfg any) error {
	switch {
	case k.FetchMinBytes < 1:
		return Invalid(cfg, "kafka-fetch-min-bytes", "must be a whole number of bytes >= 1")
	case k.FetchMaxWait < time.Millisecond || k.FetchMaxWait > maxFetchWait:
		return Invalid(cfg, "kafka-fetch-max-wait", fmt.Sprintf("must be a duration from 1ms to %s", maxFetchWait))
	case k.FetchMaxWait%time.Millisecond != 0:
		return Invalid(cfg, "kafka-fetch-max-wait", "must be whole milliseconds (Kafka's fetch.max.wait.ms)")
	}
	return nil
}
