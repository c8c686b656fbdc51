package messaging

import (
	"fmt"

	"github.com/IBM/sarama"
)

// Partition returns the partition, in [0, n), that the producers' own
// partitioner (sarama.NewHashPartitioner, set in SaramaConfig: FNV-1a 32
// of the key, modulo n, negative results negated) picks for a record
// keyed key in a topic of n partitions. The outbox relay uses it to run
// one lane per partition, so its per-key ordering is Kafka's own. n <= 0
// gives 0.
func Partition(key string, n int32) int32 {
	if n <= 0 {
		return 0
	}
	p, err := sarama.NewHashPartitioner("").Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, n)
	if err != nil { // a StringEncoder never fails to encode
		return 0
	}
	return p
}

// Metadata reads topic metadata (partition counts) from the cluster with
// its own sarama client, configured like the producers (SaramaConfig:
// same brokers, route and timeouts). It is safe for concurrent use.
type Metadata struct {
	client sarama.Client
}

// NewMetadata connects a metadata client. It fails when no broker answers
// within the configured dial/read timeouts.
func NewMetadata(c Config) (*Metadata, error) {
	sc, err := SaramaConfig(c)
	if err != nil {
		return nil, err
	}
	cl, err := sarama.NewClient(c.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect kafka metadata client to %v: %w", c.Brokers, err)
	}
	return &Metadata{client: cl}, nil
}

// Partitions returns how many partitions topic has (all of them, led or
// not: the hash partitioner ignores availability), from cached metadata,
// refreshed when the topic is not known yet. It fails when the topic does
// not exist (and the broker does not create it) or no broker answers.
func (m *Metadata) Partitions(topic string) (int32, error) {
	ps, err := m.client.Partitions(topic)
	if err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	if len(ps) == 0 {
		return 0, fmt.Errorf("partitions of %s: none in the metadata", topic)
	}
	return int32(len(ps)), nil
}

// Close releases the client's connections.
func (m *Metadata) Close() error { return m.client.Close() }
