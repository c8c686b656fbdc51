//go:build !unix

package kafkalocal

import (
	"errors"
	"syscall"
)

// errUnsupported is what every process operation of the real lane returns
// on a platform without sessions, kill(2) and /proc (Windows): the CLI and
// the embedded lane build and run there, the real lane does not.
var errUnsupported = errors.New("kafkalocal: the real Kafka lane runs on Linux only (it needs setsid, kill(2) and /proc); use the embedded lane")

func newSession() (*syscall.SysProcAttr, error) { return nil, errUnsupported }

func kill(int, syscall.Signal) error { return errUnsupported }
