package contracts

import "github.com/faultline-harness/faultline/services/events"

// MessageMetadata is the metadata a consumer expects with a message on
// topic keyed by key: content type application/json, the topic and the
// record key (the order ID) under MetaKey.
func MessageMetadata(topic, key string) map[string]string {
	return map[string]string{MetaContentType: events.ContentType, MetaTopic: topic, MetaKey: key}
}

// RecordMetadata is the metadata a provider message handler returns for
// record m: its content-type header, its topic and its key. A record
// without a content-type header gets "" (and fails verification).
func RecordMetadata(m events.Message) map[string]any {
	return map[string]any{
		MetaContentType: m.Header(events.HeaderContentType),
		MetaTopic:       m.Topic,
		MetaKey:         m.Key,
	}
}

// ConsumedRecord is the Kafka record a consumer test hands to the real
// handler for a pact message: topic and key from the metadata, the pact's
// contents as value and the content-type header from the metadata. (The
// event-type and event-id headers are not part of the contract: no
// consumer reads them.)
func ConsumedRecord(metadata map[string]string, contents []byte) events.Message {
	return events.Message{
		Topic:   metadata[MetaTopic],
		Key:     metadata[MetaKey],
		Value:   contents,
		Headers: []events.Header{{Key: events.HeaderContentType, Value: metadata[MetaContentType]}},
	}
}
