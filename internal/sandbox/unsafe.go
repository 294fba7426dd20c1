package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Unsafe runs programs directly on the host, with no isolation at all:
// the program sees every file, the network and other processes. It exists
// for hosts that cannot sandbox, behind an explicit opt-in, and enforces
// only the wall-clock timeout and the output limit. Paths under
// WorkspaceDir in a Spec are not remapped; the program runs in a fresh
// temporary directory instead.
type Unsafe struct {
	mu    sync.Mutex
	procs map[*Process]struct{}
}

// NewUnsafe returns the unsafe backend.
func NewUnsafe() *Unsafe { return &Unsafe{procs: make(map[*Process]struct{})} }

// Name implements Backend.
func (*Unsafe) Name() string { return "unsafe" }

// Start implements Backend.
func (u *Unsafe) Start(ctx context.Context, spec *Spec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("sandbox: empty command")
	}
	limits := spec.Limits.WithDefaults()
	dir, err := os.MkdirTemp("", "interp-unsafe-")
	if err != nil {
		return nil, err
	}
	if err := validateFiles(spec.Files); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	argv := append([]string{}, spec.Argv...)
	for _, f := range spec.Files {
		// Files go under the temporary directory, and so do mentions of
		// them in the command.
		host := filepath.Join(dir, ".interp-files", f.Path)
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.WriteFile(host, f.Data, 0o444); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		for i, a := range argv {
			if a == f.Path {
				argv[i] = host
			}
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := make([]string, 0, len(spec.Env))
	for _, kv := range spec.Env {
		// Point the sandbox's well-known directories at the temporary one.
		kv = strings.ReplaceAll(kv, "="+WorkspaceDir, "="+dir)
		env = append(env, kv)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         env,
		Dir:         dir,
		ExtraFiles:  spec.ExtraFiles,
		SysProcAttr: unsafeSysProcAttr(),
	}
	p := &Process{
		proc:      cmdProc{cmd},
		limits:    limits,
		workspace: dir,
		uid:       os.Getuid(),
		gid:       os.Getgid(),
		exited:    make(chan struct{}),
		done:      make(chan struct{}),
		started:   time.Now(),
	}
	cmd.Stdin = spec.Stdin
	cmd.Stdout, cmd.Stderr = p.outputs(spec)
	// Orphans may hold the pipes open.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sandbox: start: %w", err)
	}
	p.cleanup = func() {
		// The whole process group goes, orphans included.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		os.RemoveAll(dir)
		u.mu.Lock()
		delete(u.procs, p)
		u.mu.Unlock()
	}
	u.mu.Lock()
	u.procs[p] = struct{}{}
	u.mu.Unlock()
	go p.supervise(ctx)
	return p, nil
}

// Close implements Backend.
func (u *Unsafe) Close() error {
	u.mu.Lock()
	procs := make([]*Process, 0, len(u.procs))
	for p := range u.procs {
		procs = append(procs, p)
	}
	u.mu.Unlock()
	for _, p := range procs {
		p.Kill()
		<-p.done
	}
	return nil
}
