//go:build unix

package kafkalocal

import "syscall"

// newSession returns the attributes that start a child in its own session
// (setsid(2)): it outlives this process, and a terminal's Ctrl-C does not
// reach it.
func newSession() (*syscall.SysProcAttr, error) {
	return &syscall.SysProcAttr{Setsid: true}, nil
}

// kill sends sig to pid (kill(2)); syscall.ESRCH when pid is gone.
func kill(pid int, sig syscall.Signal) error {
	return syscall.Kill(pid, sig)
}
