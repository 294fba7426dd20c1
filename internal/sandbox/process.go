package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// group is the resource-control side of a sandbox: its cgroup, or nothing
// for the unsafe backend.
type group interface {
	// add moves a process into the group.
	add(pid int) error
	// usage reports CPU time and peak memory so far.
	usage() (cpu time.Duration, peak int64)
	// oomKilled reports whether the memory limit killed a process.
	oomKilled() bool
	// pidsLimitHit reports whether a fork failed at the process limit.
	pidsLimitHit() bool
	// kill kills every process in the group.
	kill()
	// destroy removes the group; every process must be gone.
	destroy() error
}

// proc is a sandbox's first process, however it was started.
type proc interface {
	// pid is the sandbox's first process.
	pid() int
	// signal signals the program.
	signal(sig syscall.Signal) error
	// interrupt sends SIGINT to the program's main thread.
	interrupt() error
	// kill ends the whole sandbox.
	kill() error
	// wait waits for the process to exit and for its output to be copied.
	// Rusage is nil where the backend does not report it.
	wait() (syscall.WaitStatus, *syscall.Rusage, error)
}

// cmdProc is a process os/exec started, for the unsafe backend.
type cmdProc struct{ cmd *exec.Cmd }

func (c cmdProc) pid() int { return c.cmd.Process.Pid }

func (c cmdProc) signal(sig syscall.Signal) error { return c.cmd.Process.Signal(sig) }

func (c cmdProc) interrupt() error { return interruptMain(c.cmd.Process.Pid) }

func (c cmdProc) kill() error { return c.cmd.Process.Kill() }

func (c cmdProc) wait() (syscall.WaitStatus, *syscall.Rusage, error) {
	err := c.cmd.Wait()
	var exitErr *exec.ExitError
	// The program's own end is the result. Its output pipes may outlive it
	// (an orphan, or another fork of this process that has not yet reached
	// exec, holds them), and after WaitDelay they are closed: that is no
	// failure of the program's.
	if errors.As(err, &exitErr) || errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	ps := c.cmd.ProcessState
	if ps == nil {
		return 0, nil, err
	}
	st, _ := ps.Sys().(syscall.WaitStatus)
	ru, _ := ps.SysUsage().(*syscall.Rusage)
	return st, ru, err
}

// Process is a running sandboxed program.
type Process struct {
	proc      proc
	limits    Limits
	started   time.Time
	group     group
	workspace string // host path of the workspace
	uid, gid  int    // host IDs of the sandbox user
	cleanup   func() // runs once after exit

	output *outputLimiter

	mu     sync.Mutex
	reason Reason

	exited chan struct{} // closed when the program has exited
	done   chan struct{} // closed when result is ready
	result Result
	err    error
}

// Pid returns the host PID of the sandbox's first process: its init, or
// the program itself on the unsafe backend.
func (p *Process) Pid() int { return p.proc.pid() }

// Workspace returns the host path through which the sandbox's workspace can
// be reached while the process runs. Callers must open paths under it with
// care: the sandbox controls its contents, symlinks included.
func (p *Process) Workspace() string { return p.workspace }

// HostIDs returns the host user and group IDs that the sandbox user maps
// to: files the host writes into the workspace should belong to them.
func (p *Process) HostIDs() (uid, gid int) { return p.uid, p.gid }

// Signal sends sig to the program.
func (p *Process) Signal(sig os.Signal) error {
	select {
	case <-p.exited:
		return os.ErrProcessDone
	default:
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("sandbox: unsupported signal %v", sig)
	}
	return p.proc.signal(s)
}

// Interrupt sends SIGINT to the main thread of the program. Sent to the
// process as a whole, the kernel may pick another
// thread, and a main thread blocked in a system call (Python's time.sleep,
// say) would never notice.
func (p *Process) Interrupt() error {
	select {
	case <-p.exited:
		return os.ErrProcessDone
	default:
	}
	return p.proc.interrupt()
}

// Kill kills every process in the sandbox. Wait reports ReasonKilled unless
// another reason came first.
func (p *Process) Kill() { p.stop(ReasonKilled) }

// Exited is closed when the sandbox's first process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Usage reports the CPU time and peak memory of the sandbox so far.
func (p *Process) Usage() (cpu time.Duration, peakMemory int64) {
	if p.group == nil {
		return 0, 0
	}
	return p.group.usage()
}

// Wait waits for the program to exit and its resources to be released.
func (p *Process) Wait() (*Result, error) {
	<-p.done
	r := p.result
	return &r, p.err
}

// outputs returns the writers the program's standard output and error are
// copied to, through the shared output budget.
func (p *Process) outputs(spec *Spec) (stdout, stderr io.Writer) {
	p.output = newOutputLimiter(p.limits.Output)
	stdout, stderr = spec.Stdout, spec.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	return p.output.writer(stdout), p.output.writer(stderr)
}

func (p *Process) stop(why Reason) {
	p.mu.Lock()
	if p.reason == ReasonNone {
		p.reason = why
	}
	p.mu.Unlock()
	if p.group != nil {
		p.group.kill()
	}
	// Killing the first process takes the whole PID namespace with it.
	_ = p.proc.kill()
}

// supervise enforces the wall-clock and CPU-time limits and the context,
// then collects the result. It runs in its own goroutine.
func (p *Process) supervise(ctx context.Context) {
	type exit struct {
		status syscall.WaitStatus
		rusage *syscall.Rusage
		err    error
	}
	waited := make(chan exit, 1)
	go func() {
		st, ru, err := p.proc.wait()
		close(p.exited)
		waited <- exit{st, ru, err}
	}()

	var timeout, grace <-chan time.Time
	if p.limits.Timeout > 0 {
		t := time.NewTimer(p.limits.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var tick <-chan time.Time
	if p.group != nil && p.limits.CPUTime > 0 {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	ctxDone := ctx.Done()
	var e exit
loop:
	for {
		select {
		case e = <-waited:
			break loop
		case <-ctxDone:
			ctxDone = nil
			p.stop(ReasonKilled)
		case <-timeout:
			timeout = nil
			p.mu.Lock()
			if p.reason == ReasonNone {
				p.reason = ReasonTimeout
			}
			p.mu.Unlock()
			_ = p.proc.interrupt()
			g := time.NewTimer(p.limits.Grace)
			defer g.Stop()
			grace = g.C
		case <-grace:
			grace = nil
			p.stop(ReasonTimeout)
		case <-tick:
			if cpu, _ := p.group.usage(); cpu > p.limits.CPUTime {
				tick = nil
				p.stop(ReasonCPUTime)
			}
		}
	}
	p.finish(e.status, e.rusage, e.err)
}

func (p *Process) finish(st syscall.WaitStatus, ru *syscall.Rusage, waitErr error) {
	r := Result{WallTime: time.Since(p.started)}
	if p.group != nil {
		// Orphans may outlive the first process on the unsafe backend;
		// in a PID namespace they are already dead.
		p.group.kill()
	}
	if p.output != nil {
		r.OutputDropped = p.output.dropped()
	}
	switch {
	case st.Signaled():
		r.ExitCode, r.Signal = -1, st.Signal()
	default:
		r.ExitCode = st.ExitStatus()
	}
	if waitErr != nil {
		p.err = fmt.Errorf("sandbox: %w", waitErr)
	}
	if p.group != nil {
		r.CPUTime, r.PeakMemory = p.group.usage()
		r.ProcessLimitHit = p.group.pidsLimitHit()
		if p.group.oomKilled() {
			p.mu.Lock()
			// Memory is the root cause even when a timeout fired while
			// the kernel was reclaiming.
			if p.reason == ReasonNone || p.reason == ReasonTimeout {
				p.reason = ReasonMemory
			}
			p.mu.Unlock()
		}
		if err := p.group.destroy(); err != nil && p.err == nil {
			p.err = err
		}
	} else if ru != nil {
		r.CPUTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.PeakMemory = ru.Maxrss * 1024
	}
	p.mu.Lock()
	r.Reason = p.reason
	p.mu.Unlock()
	if p.cleanup != nil {
		p.cleanup()
	}
	p.result = r
	close(p.done)
}
