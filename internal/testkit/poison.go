package testkit

import (
	"bytes"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

// NearLimitPoison returns a poison record for topic (a non-JSON value of
// 'x' bytes, key key, one header "trace: poison") whose size as the
// producer counts it (messaging.RecordSize) is 16 bytes under
// messaging.MaxMessageBytes: the producer sends it, a default broker
// (message.max.bytes 1,048,588) stores it, but its dead-letter copy with
// the dlq-* headers is over the producer limit, so it can only be
// dead-lettered as an envelope.
func NearLimitPoison(topic, key string) events.Message {
	m := events.Message{Topic: topic, Key: key, Headers: []events.Header{{Key: "trace", Value: "poison"}}}
	n := messaging.MaxMessageBytes - 16
	for range 3 { // varint lengths shift the overhead by a byte or two
		m.Value = bytes.Repeat([]byte("x"), n)
		n += messaging.MaxMessageBytes - 16 - messaging.RecordSize(m)
	}
	m.Value = bytes.Repeat([]byte("x"), n)
	return m
}
