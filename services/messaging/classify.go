package messaging

import (
	"errors"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/services/events"
)

// MaxMessageBytes is the largest record the producers send, in bytes as
// sarama counts them (ProducerMessage.ByteSize: key, value, headers and
// the per-record overhead). It maps to sarama Producer.MaxMessageBytes
// (Kafka producer max.request.size). The broker checks the whole record
// batch (this plus a 61-byte batch header) against message.max.bytes
// (broker default 1,048,588) and the topic's max.message.bytes: both must
// stay above MaxMessageBytes + 61, or the broker refuses records the
// producer accepted. 1,000,000 leaves room under Kafka's defaults (sarama's
// own default, 1 MiB, does not: a 1 MiB record is refused by a default
// broker with MESSAGE_TOO_LARGE).
const MaxMessageBytes = 1_000_000

// RecordSize returns m's size as the producer checks it against
// MaxMessageBytes (record batch format v2).
func RecordSize(m events.Message) int { return ToSarama(m).ByteSize(2) }

// ErrTooLarge is returned (wrapped, and permanent) when a record is over
// MaxMessageBytes.
var ErrTooLarge = errors.New("record larger than the producer's MaxMessageBytes")

// ErrPermanent marks an error that retrying the same record cannot fix.
// Wrap an error with Permanent to mark it.
var ErrPermanent = errors.New("permanent failure")

// Permanent returns err marked permanent (errors.Is(result, ErrPermanent)
// holds, and err stays in the chain). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() []error {
	return []error{e.err, ErrPermanent}
}

// IsPermanent reports whether err is one that retrying the same record
// will not fix, so the record must be parked or dead-lettered instead of
// retried:
//   - marked with Permanent, or wrapping events.ErrInvalid (a record that
//     breaks the schema) or ErrTooLarge;
//   - a sarama.ConfigurationError (the client refused the record itself,
//     e.g. "Attempt to produce message larger than configured
//     Producer.MaxMessageBytes");
//   - a sarama.PacketEncodingError (the record cannot be serialised);
//   - a broker error that does not change on retry: MESSAGE_TOO_LARGE,
//     RECORD_LIST_TOO_LARGE, INVALID_TOPIC_EXCEPTION, INVALID_RECORD,
//     TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
//     POLICY_VIOLATION, UNSUPPORTED_FOR_MESSAGE_FORMAT.
//
// Everything else is transient (broker down, timeouts, not leader,
// context deadlines, a closed producer): retry it with backoff, never drop
// it. nil is not permanent.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrPermanent) || errors.Is(err, events.ErrInvalid) || errors.Is(err, ErrTooLarge) {
		return true
	}
	var ce sarama.ConfigurationError
	if errors.As(err, &ce) {
		return true
	}
	var pe sarama.PacketEncodingError
	if errors.As(err, &pe) {
		return true
	}
	var ke sarama.KError
	if errors.As(err, &ke) {
		switch ke {
		case sarama.ErrMessageSizeTooLarge, sarama.ErrMessageSetSizeTooLarge, sarama.ErrInvalidTopic,
			sarama.ErrInvalidRecord, sarama.ErrTopicAuthorizationFailed, sarama.ErrClusterAuthorizationFailed,
			sarama.ErrPolicyViolation, sarama.ErrUnsupportedForMessageFormat:
			return true
		}
	}
	return false
}
