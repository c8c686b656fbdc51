package messaging

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
	"modernc.org/sqlite"

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
// The relay and the consumers sort the rest further with Classify:
// IsTransient errors retry without limit, the unclassified ones a bounded
// number of times (then parked or dead-lettered). nil is not permanent.
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

// ErrTransient marks an error that retrying the same record can fix once
// an outage ends. Wrap an error with Transient to mark it.
var ErrTransient = errors.New("transient failure")

// Transient returns err marked transient (errors.Is(result, ErrTransient)
// holds, and err stays in the chain). Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

type transientError struct{ err error }

func (e transientError) Error() string { return e.err.Error() }
func (e transientError) Unwrap() []error {
	return []error{e.err, ErrTransient}
}

// ErrorClass is how a consumer treats a handler error.
type ErrorClass int

const (
	// ClassTransient: an outage the record waits out; retried with
	// backoff, without limit, never dropped.
	ClassTransient ErrorClass = iota
	// ClassPermanent: retrying cannot fix it (IsPermanent); dead-lettered
	// after ConsumerConfig.MaxAttempts attempts.
	ClassPermanent
	// ClassUnclassified: neither; nobody foresaw it, so it may be
	// deterministic. Dead-lettered after
	// ConsumerConfig.MaxUnclassifiedAttempts attempts, so one record never
	// holds its partition for ever.
	ClassUnclassified
)

func (c ErrorClass) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassPermanent:
		return "permanent"
	default:
		return "unclassified"
	}
}

// SQLite result codes (primary: the low byte of an extended code) that
// mean another connection holds the database: SQLITE_BUSY, SQLITE_LOCKED.
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// transientKErrors are broker answers that change once the cluster heals
// (Kafka marks them retriable), plus the ones that leave a produce
// ambiguous (the record may be written: CORRUPT_MESSAGE, a CRC failure on
// the way, and OUT_OF_ORDER_SEQUENCE_NUMBER of the idempotent producer):
// giving such a record up would park or dead-letter one that may have
// been delivered, so they are waited out, never bounded.
var transientKErrors = map[sarama.KError]bool{
	sarama.ErrInvalidMessage: true, sarama.ErrOutOfOrderSequenceNumber: true,
	sarama.ErrNotLeaderForPartition: true, sarama.ErrLeaderNotAvailable: true, sarama.ErrRequestTimedOut: true,
	sarama.ErrBrokerNotAvailable: true, sarama.ErrReplicaNotAvailable: true, sarama.ErrNetworkException: true,
	sarama.ErrNotEnoughReplicas: true, sarama.ErrNotEnoughReplicasAfterAppend: true, sarama.ErrKafkaStorageError: true,
	sarama.ErrUnknownTopicOrPartition: true, sarama.ErrOffsetsLoadInProgress: true, sarama.ErrConsumerCoordinatorNotAvailable: true,
	sarama.ErrNotCoordinatorForConsumer: true, sarama.ErrRebalanceInProgress: true, sarama.ErrNotController: true,
	sarama.ErrFencedLeaderEpoch: true, sarama.ErrUnknownLeaderEpoch: true, sarama.ErrOffsetNotAvailable: true,
	sarama.ErrPreferredLeaderNotAvailable: true, sarama.ErrEligibleLeadersNotAvailable: true, sarama.ErrThrottlingQuotaExceeded: true,
	sarama.ErrConcurrentTransactions: true,
}

// IsTransient reports whether err is a known outage that retrying the same
// record fixes once it ends, so it must be retried without limit and
// never dropped:
//   - marked with Transient;
//   - a context deadline or cancellation (a publish bounded while Kafka
//     is down, a session ending);
//   - the broker or network unreachable: any net.Error (dial refused,
//     i/o timeout), io.EOF and io.ErrUnexpectedEOF (a connection closed
//     mid-request), ECONNREFUSED, ECONNRESET, EPIPE, ECONNABORTED,
//     EHOSTUNREACH, ENETUNREACH, ETIMEDOUT; sarama's ErrOutOfBrokers,
//     ErrNotConnected, ErrClosedClient, ErrShuttingDown and its partition
//     producer's open circuit breaker; our producer closed (ErrClosed);
//   - an ambiguous produce, where the record may have been written:
//     sarama's ErrIncompleteResponse, CORRUPT_MESSAGE,
//     OUT_OF_ORDER_SEQUENCE_NUMBER;
//   - a retriable broker answer (not leader, leader not available,
//     request timed out, not enough replicas, coordinator moving,
//     rebalance in progress, ...);
//   - SQLite busy or locked (SQLITE_BUSY, SQLITE_LOCKED and their
//     extended codes): another writer holds the database, a commit
//     included.
//
// A permanent error (IsPermanent) is never transient: Classify checks
// that first. nil is not transient.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range []error{
		ErrTransient, context.DeadlineExceeded, context.Canceled, ErrClosed,
		io.EOF, io.ErrUnexpectedEOF, os.ErrDeadlineExceeded, net.ErrClosed,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT,
		sarama.ErrOutOfBrokers, sarama.ErrNotConnected, sarama.ErrClosedClient, sarama.ErrShuttingDown, sarama.ErrIncompleteResponse,
		breaker.ErrBreakerOpen,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ke sarama.KError
	if errors.As(err, &ke) && transientKErrors[ke] {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteBusy, sqliteLocked:
			return true
		}
	}
	return false
}

// Classify returns err's class: ClassPermanent when IsPermanent, else
// ClassTransient when IsTransient, else ClassUnclassified. nil is
// ClassTransient (and never asked).
func Classify(err error) ErrorClass {
	switch {
	case IsPermanent(err):
		return ClassPermanent
	case err == nil || IsTransient(err):
		return ClassTransient
	default:
		return ClassUnclassified
	}
}
