package contracts

import "github.com/faultline-harness/faultline/services/events"

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
