package kafkalocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one background program tracked by a PID file. It is only ever
// signalled by the PID in its file, and only when /proc/PID/cmdline still
// contains match (so a recycled PID is never signalled).
type process struct {
	name    string   // for messages
	argv    []string // program and arguments
	env     []string // extra environment (KEY=value)
	pidFile string
	logFile string
	match   string // a substring of the command line that identifies this process

	mu     sync.Mutex
	exited chan struct{} // closed when a child started by this value has been reaped
}

// pid returns the PID from the PID file when that process is alive and is
// this program; 0 otherwise.
func (p *process) pid() int {
	b, err := os.ReadFile(p.pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(p.match)) || !alive(pid) {
		return 0
	}
	return pid
}

// alive reports whether pid exists and has not exited: a zombie (Z) or
// dead (X) process is gone. An exiting process loses its command line
// before it closes its sockets, so waiting uses this, not pid.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	return stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// launch starts the program in its own session (it outlives this process,
// and a terminal's Ctrl-C does not reach it), appends its output to the
// log file and writes the PID file.
func (p *process) launch() (int, error) {
	logf, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open %s log: %w", p.name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n=== %s starting at %s: %s\n", p.name, time.Now().Format(time.RFC3339), strings.Join(p.argv, " "))
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), p.env...)
	attr, err := newSession()
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", p.name, err)
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // reap it if it dies while we live
	p.mu.Lock()
	p.exited = exited
	p.mu.Unlock()
	if err := os.WriteFile(p.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("write %s: %w", p.pidFile, err)
	}
	if err := p.waitExeced(cmd.Process.Pid, exited, execTimeout); err != nil {
		_ = cmd.Process.Kill()
		return 0, err
	}
	return cmd.Process.Pid, nil
}

// execTimeout bounds how long launch waits for a started child's command
// line to show in /proc.
const execTimeout = 5 * time.Second

// waitExeced polls until /proc/PID/cmdline shows this program. cmd.Start
// returns once execve has closed the child's close-on-exec pipe, but the
// kernel sets the new command line (mm->arg_start) only later in execve: a
// read in between sees an empty one, and pid() would report 0 for a child
// that is starting fine. It returns an error when the child exits first or
// after timeout.
func (p *process) waitExeced(pid int, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if p.pid() == pid {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s (pid %d) exited at start:\n%s", p.name, pid, p.tail(10))
		case <-deadline.C:
			return fmt.Errorf("%s (pid %d): command line without %q after %s", p.name, pid, p.match, timeout)
		case <-time.After(time.Millisecond):
		}
	}
}

// signal sends sig to the process of the PID file and waits until it is
// gone or ctx ends. It returns whether a process was signalled.
func (p *process) signal(ctx context.Context, sig syscall.Signal) (bool, error) {
	pid := p.pid()
	if pid == 0 {
		return false, nil
	}
	if err := kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("signal %s (pid %d): %w", p.name, pid, err)
	}
	if err := p.waitGone(ctx, pid); err != nil {
		return true, err
	}
	return true, nil
}

// waitGone polls until pid no longer runs this program.
func (p *process) waitGone(ctx context.Context, pid int) error {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if !alive(pid) {
			if exited != nil {
				// Our own child: wait for the reaper so no zombie keeps the PID.
				select {
				case <-exited:
				case <-time.After(time.Second):
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s (pid %d) still running: %w", p.name, pid, ctx.Err())
		case <-exited:
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILL. It removes the PID
// file. It returns whether a process was running.
func (p *process) stop(ctx context.Context, grace time.Duration) (bool, error) {
	tctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	was, err := p.signal(tctx, syscall.SIGTERM)
	if err != nil && ctx.Err() == nil {
		_, err = p.signal(ctx, syscall.SIGKILL)
	}
	if err == nil {
		_ = os.Remove(p.pidFile)
	}
	return was, err
}

// tail returns the last n lines of the log file, for error messages.
func (p *process) tail(n int) string {
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
