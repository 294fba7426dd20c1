// Package sandbox runs untrusted programs, in practice the Python
// interpreter, in an isolated environment with enforced limits.
//
// A Backend starts processes. The default backend, Namespaces, gives every
// process tree its own user, PID, mount, network, IPC, UTS and cgroup
// namespaces, a minimal read-only view of the host's system files, a private
// size-limited workspace and /tmp, a cgroup with memory, process and CPU
// limits, a seccomp filter and a Landlock domain. Its sandboxes are forked
// by a small helper process (package spawner), so that starting one costs
// the same whatever interp's own memory. A Zygote forks a Python program
// it has loaded once into sandboxes built the same way, where the program
// locks itself down as the init did before running anything. The Unsafe
// backend runs processes directly on the host and exists only for hosts
// that cannot sandbox, behind an explicit opt-in.
//
// Code inside a sandbox is treated as hostile: the environment is built from
// scratch, nothing of the host is visible unless listed in Spec, and every
// limit fails closed: if it cannot be enforced, the sandbox does not start.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/interp-dev/interp/internal/sandbox/sandboxinit"
	"github.com/interp-dev/interp/internal/sandbox/spawner"
)

// Paths inside every sandbox.
const (
	WorkspaceDir = sandboxinit.WorkspaceDir
	TmpDir       = sandboxinit.TmpDir
)

// IsInit reports whether this process was started by the Namespaces
// backend to become a sandbox's init. A program that may be used as the
// init (see Namespaces) calls it first thing in main and then RunInit.
func IsInit() bool { return sandboxinit.IsInit() || spawner.IsSpawner() }

// RunInit runs the spawner, or sets up the sandbox from inside its
// namespaces and runs the sandboxed program under it. It does not return.
func RunInit() {
	if spawner.IsSpawner() {
		spawner.Serve()
	}
	sandboxinit.Main()
}

// Backend starts processes in some form of isolation. Namespaces is the
// real one; Unsafe runs on the host. Docker, Kubernetes or gVisor backends
// can be added behind the same interface; the conformance suite
// (conformance_test.go) holds every backend to the same isolation and
// limits, and a new one is added to it.
type Backend interface {
	// Name identifies the backend in messages and metrics.
	Name() string
	// Start starts spec's program. The returned Process must be waited for.
	Start(ctx context.Context, spec *Spec) (*Process, error)
	// Close kills every process the backend started and releases its
	// resources.
	Close() error
}

// Spec describes one sandboxed program.
type Spec struct {
	// Argv is the program and its arguments. Argv[0] is looked up in the
	// sandbox's PATH when it has no slash.
	Argv []string
	// Env is the complete environment. Nothing of the host's environment is
	// inherited; see DefaultEnv.
	Env []string
	// Dir is the working directory inside the sandbox; WorkspaceDir if empty.
	Dir string
	// ReadOnly lists the host paths to show read-only at the same path:
	// the program and all it needs, including what of /usr it uses (a
	// sandbox shows nothing else of the system directories; see
	// python.Runtime.ReadOnly and Libraries). Symlinks on the way are
	// copied.
	ReadOnly []string

	// Stdin, Stdout and Stderr are connected to the program. A nil Stdin
	// reads /dev/null; nil Stdout or Stderr discard. Writers receive at most
	// Limits.Output bytes between them, followed by a truncation notice.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ExtraFiles are passed to the program as file descriptors 3, 4, ...
	ExtraFiles []*os.File
	// Files are written into the sandbox, read-only, before the program
	// starts: a way to ship helper programs without touching the host.
	Files []File

	Limits Limits
}

// File is a read-only file placed in a sandbox.
type File = sandboxinit.File

// validateFiles rejects files that would land in or over a sandbox
// directory, or not fit in its root.
func validateFiles(files []File) error {
	var total int64
	for _, f := range files {
		p := filepath.Clean(f.Path)
		if !filepath.IsAbs(p) || p != f.Path {
			return fmt.Errorf("sandbox: file path %q must be absolute and clean", f.Path)
		}
		for _, d := range []string{"/usr", "/etc", "/proc", "/dev", WorkspaceDir, TmpDir, "/bin", "/lib", "/lib64", "/sbin"} {
			if p == d || strings.HasPrefix(p, d+"/") {
				return fmt.Errorf("sandbox: file path %q is inside %s", f.Path, d)
			}
		}
		total += int64(len(f.Data))
	}
	if total > maxFiles {
		return fmt.Errorf("sandbox: files take %s in all, over the %s a sandbox's root has room for", FormatBytes(total), FormatBytes(maxFiles))
	}
	return nil
}

// maxFiles bounds Spec.Files in all: they live in the sandbox root's
// tmpfs, 1 MiB with room left for /etc.
const maxFiles = 768 << 10

// Limits bound what one sandbox may use. Zero fields take the defaults from
// DefaultLimits; a negative value means "no limit" where that is allowed.
type Limits struct {
	// Memory is the memory limit in bytes, including files in the workspace
	// and /tmp, which live in memory.
	Memory int64
	// Processes caps the number of processes and threads.
	Processes int64
	// CPUs is the CPU quota, in cores.
	CPUs float64
	// CPUTime is the budget of CPU time for the whole sandbox.
	CPUTime time.Duration
	// Timeout is the wall-clock limit. When it passes the program gets
	// SIGINT, and after Grace the whole sandbox is killed. Negative: none.
	Timeout time.Duration
	// Grace is the time between SIGINT and the kill.
	Grace time.Duration
	// Disk is the size of the workspace and of /tmp, each.
	Disk int64
	// Output caps the bytes copied to Stdout and Stderr together.
	Output int64
	// OpenFiles caps the open file descriptors of each process.
	OpenFiles int64
}

// DefaultLimits are the limits used where a Limits field is zero.
var DefaultLimits = Limits{
	Memory:    1 << 30,
	Processes: 256,
	CPUs:      1,
	CPUTime:   10 * time.Minute,
	Timeout:   60 * time.Second,
	Grace:     2 * time.Second,
	Disk:      512 << 20,
	Output:    1 << 20,
	OpenFiles: 1024,
}

// WithDefaults returns l with zero fields set from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.Processes == 0 {
		l.Processes = d.Processes
	}
	if l.CPUs == 0 {
		l.CPUs = d.CPUs
	}
	if l.CPUTime == 0 {
		l.CPUTime = d.CPUTime
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	if l.Grace == 0 {
		l.Grace = d.Grace
	}
	if l.Disk == 0 {
		l.Disk = d.Disk
	}
	if l.Output == 0 {
		l.Output = d.Output
	}
	if l.OpenFiles == 0 {
		l.OpenFiles = d.OpenFiles
	}
	return l
}

// validate rejects limits that would leave the sandbox unbounded. Only the
// wall-clock timeout and the CPU-time budget may be switched off: a
// long-lived session kernel has neither, and its cells are timed instead.
func (l Limits) validate() error {
	switch {
	case l.Memory < 16<<20:
		return fmt.Errorf("memory limit %d is too small or disabled: give at least 16 MiB", l.Memory)
	case l.Processes < 1:
		return fmt.Errorf("process limit %d must be at least 1", l.Processes)
	case l.CPUs <= 0:
		return fmt.Errorf("CPU quota %g must be positive", l.CPUs)
	case l.Disk < 1<<20:
		return fmt.Errorf("disk limit %d is too small or disabled: give at least 1 MiB", l.Disk)
	case l.Output < 0:
		return fmt.Errorf("output limit %d must not be negative", l.Output)
	case l.OpenFiles < 16:
		return fmt.Errorf("open-file limit %d must be at least 16", l.OpenFiles)
	}
	return nil
}

// DefaultEnv is a minimal environment for programs in a sandbox.
func DefaultEnv() []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + WorkspaceDir,
		"TMPDIR=" + TmpDir,
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"USER=sandbox",
	}
}

// Reason says why a sandboxed program was stopped by a limit.
type Reason string

// The reasons a program can be stopped by a limit.
const (
	ReasonNone    Reason = ""
	ReasonTimeout Reason = "timeout"
	ReasonMemory  Reason = "memory"
	ReasonCPUTime Reason = "cpu-time"
	ReasonKilled  Reason = "killed" // Kill was called or the context ended
)

// Result describes how a sandboxed program ended.
type Result struct {
	// ExitCode is the exit status, or -1 if a signal ended the program.
	ExitCode int
	// Signal is the signal that ended the program, if any.
	Signal syscall.Signal
	// Reason is set when a limit, Kill or the context stopped the program.
	Reason Reason
	// WallTime is the time from start to exit.
	WallTime time.Duration
	// CPUTime is the CPU time used by every process in the sandbox.
	CPUTime time.Duration
	// PeakMemory is the highest memory use of the sandbox, in bytes.
	PeakMemory int64
	// OutputDropped counts output bytes dropped by the Output limit.
	OutputDropped int64
	// ProcessLimitHit reports that a fork or clone failed at the process
	// limit at some point.
	ProcessLimitHit bool
}

// Success reports whether the program exited with status 0 on its own.
func (r *Result) Success() bool { return r.ExitCode == 0 && r.Reason == ReasonNone }

// Err returns nil for a successful program, and otherwise an error that
// says in one line what happened. It wraps ErrTimeout, ErrMemory or
// ErrCPUTime when a limit ended the program.
func (r *Result) Err() error {
	switch r.Reason {
	case ReasonTimeout:
		return fmt.Errorf("%w after %s", ErrTimeout, r.WallTime.Round(time.Millisecond))
	case ReasonMemory:
		return ErrMemory
	case ReasonCPUTime:
		return fmt.Errorf("%w after %s of CPU", ErrCPUTime, r.CPUTime.Round(time.Millisecond))
	case ReasonKilled:
		return ErrKilled
	}
	switch {
	case r.Signal != 0:
		return fmt.Errorf("killed by signal %d (%v)", int(r.Signal), r.Signal)
	case r.ExitCode != 0:
		return fmt.Errorf("exit status %d", r.ExitCode)
	}
	return nil
}

// Errors that describe why a program was stopped.
var (
	ErrTimeout = errors.New("time limit exceeded")
	ErrMemory  = errors.New("memory limit exceeded")
	ErrCPUTime = errors.New("CPU time limit exceeded")
	ErrKilled  = errors.New("sandbox killed")
)

// ErrUnsupported is returned when this host cannot run sandboxes. The
// message of the wrapping error says why and what to do.
var ErrUnsupported = errors.New("this host cannot run sandboxes")
