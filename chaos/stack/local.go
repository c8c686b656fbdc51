package stack

import (
	"context"
	"fmt"

	"github.com/faultline-harness/faultline/chaos/kafkalocal"
)

// localBroker opens the kafka-local broker of dir as a BrokerControl. When
// its state cannot be read, the control reports why on first use instead
// (ConfigFromEnv returns no error).
func localBroker(dir string) BrokerControl {
	b, err := kafkalocal.Open(dir)
	if err != nil {
		return brokenControl{fmt.Errorf("KAFKA_LOCAL_DIR=%s: %w", dir, err)}
	}
	return b
}

type brokenControl struct{ err error }

func (b brokenControl) Kill(context.Context) error  { return b.err }
func (b brokenControl) Start(context.Context) error { return b.err }
