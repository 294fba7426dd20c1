// Package session runs persistent Python sessions: one long-lived Python
// process in one sandbox that keeps its state between cells, like a Jupyter
// kernel. It streams each cell's output, rich displays, errors and file
// changes as events, manages files in the session's workspace, and keeps a
// warm pool of ready sessions. Sessions the pool cannot serve are forked
// from a zygote of their owner's, a runner that has loaded the pool's
// modules once (see zygotes).
//
// The Python side is runner.py, embedded in the binary and written into
// each sandbox. The two sides speak a framed JSON protocol over a pair of
// pipes; see runner.py for the reference. Everything the runner sends is
// treated as untrusted: it shares its process with the user's code.
package session

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
)

//go:embed runner.py
var runnerSource []byte

// runnerPath is where the runner lives inside every sandbox.
const runnerPath = "/.interp/runner.py"

// Config describes the kernels to start.
type Config struct {
	Backend sandbox.Backend
	Runtime *python.Runtime
	// Limits for the kernel's sandbox. The wall-clock and CPU-time limits
	// apply to cells, not to the long-lived kernel: see CellTimeout.
	Limits sandbox.Limits
	// CellTimeout is the default time limit of one cell.
	CellTimeout time.Duration
	// MaxOutput caps a cell's text output; past it the head and the tail
	// are kept and the middle dropped, with a notice.
	MaxOutput int64
	// MaxImage caps one display's size.
	MaxImage int64
	// Env adds variables to the sandbox's environment.
	Env []string
	// StateDir holds host-side state of kernels, such as the directories
	// of packages installed per session. Default: a directory in TMPDIR.
	StateDir string
	// PrepareSite, if set, is called with a new kernel's package
	// directory before its process starts, to put packages there (the
	// prewarmed ones of the package store); an error fails the start.
	PrepareSite func(ctx context.Context, site string) error
	// siteDir, when set, is an existing package directory to reuse.
	siteDir string
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.CellTimeout == 0 {
		d.CellTimeout = 5 * time.Minute
	}
	if d.MaxOutput == 0 {
		d.MaxOutput = 256 << 10
	}
	if d.MaxImage == 0 {
		d.MaxImage = 10 << 20
	}
	if d.StateDir == "" {
		d.StateDir = DefaultStateDir()
	}
	d.Limits.Timeout = -1
	d.Limits.CPUTime = -1
	return d
}

// Errors from a kernel.
var (
	ErrDead   = errors.New("the Python process has ended: restart the session")
	ErrClosed = errors.New("session closed")
)

// Kernel is one Python process in one sandbox. Cells run one at a time.
type Kernel struct {
	cfg   Config
	proc  *sandbox.Process
	reqW  *os.File // requests to the runner
	evR   *os.File // events from the runner
	ws    *Workspace
	hello message
	// site is the host directory of packages installed for this kernel,
	// seen read-only inside; keepSite hands it on to a successor.
	site     string
	keepSite bool

	frames chan message // from the runner and from raw stdout/stderr
	closed chan struct{}
	// readerDone is closed when the event pipe reached EOF or failed.
	readerDone chan struct{}
	// watched is closed once the process is reaped and reason is set.
	watched chan struct{}
	readErr error

	run     sync.Mutex // held while a cell runs
	cellSeq atomic.Int64
	// nextCount numbers the next cell, then is cleared (NumberFrom).
	nextCount atomic.Int64

	mu     sync.Mutex
	dead   bool
	reason string // why the process ended
}

// Start starts a kernel and waits until the runner has said hello.
func Start(ctx context.Context, cfg Config) (*Kernel, error) {
	return start(ctx, cfg, nil)
}

// start starts a kernel: its runner executed in a new sandbox, or forked
// into one from z, where it has already loaded what z prepared.
func start(ctx context.Context, cfg Config, z *sandbox.Zygote) (*Kernel, error) {
	cfg = cfg.withDefaults()
	if cfg.Backend == nil || cfg.Runtime == nil {
		return nil, errors.New("session: config needs a backend and a Python runtime")
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	site, err := newSiteDir(cfg)
	if err != nil {
		reqR.Close()
		reqW.Close()
		evR.Close()
		evW.Close()
		return nil, err
	}
	if cfg.PrepareSite != nil && cfg.siteDir == "" {
		if err := cfg.PrepareSite(ctx, site); err != nil {
			reqR.Close()
			reqW.Close()
			evR.Close()
			evW.Close()
			os.RemoveAll(site)
			return nil, fmt.Errorf("session: prepare the package directory: %w", err)
		}
	}
	k := &Kernel{
		site:       site,
		cfg:        cfg,
		reqW:       reqW,
		evR:        evR,
		frames:     make(chan message, 256),
		closed:     make(chan struct{}),
		readerDone: make(chan struct{}),
		watched:    make(chan struct{}),
	}
	env := append(kernelEnv(cfg), "INTERP_SITE="+site)
	env = append(env, cfg.Env...)
	runner, code := runnerFile(ctx, cfg.Runtime.Executable)
	startProc := cfg.Backend.Start
	if z != nil {
		startProc = z.Start
	}
	proc, err := startProc(context.WithoutCancel(ctx), &sandbox.Spec{
		Argv:       []string{cfg.Runtime.Executable, "-I", "-B", runner},
		Env:        env,
		ReadOnly:   append(append([]string{}, cfg.Runtime.ReadOnly...), site),
		ExtraFiles: []*os.File{reqR, evW},
		Files:      []sandbox.File{{Path: runner, Data: code}},
		Stdout:     &rawStream{k: k, name: event.Stdout},
		Stderr:     &rawStream{k: k, name: event.Stderr},
		Limits:     cfg.Limits,
	})
	reqR.Close()
	evW.Close()
	if err != nil {
		reqW.Close()
		evR.Close()
		k.removeSite()
		return nil, err
	}
	k.proc = proc
	go k.readFrames()
	go k.watch()

	if err := k.awaitHello(ctx); err != nil {
		k.Close()
		return nil, err
	}
	ws, err := openWorkspace(proc)
	if err != nil {
		k.Close()
		return nil, err
	}
	k.ws = ws
	return k, nil
}

// kernelEnv is the environment every kernel's runner starts with, before
// its own package directory and the configured variables.
func kernelEnv(cfg Config) []string {
	env := append(sandbox.DefaultEnv(), "MPLBACKEND=Agg", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
		// Caches go to /tmp, not into the user's workspace.
		"XDG_CACHE_HOME=/tmp/.cache", "MPLCONFIGDIR=/tmp/.cache/matplotlib")
	if cfg.Runtime.Env != "" {
		seed := filepath.Join(cfg.Runtime.Env, "share", "interp-mpl")
		if _, err := os.Stat(seed); err == nil {
			env = append(env, "INTERP_MPL_SEED="+seed)
		}
	}
	return env
}

// awaitHello waits for the runner's hello and checks its protocol version.
func (k *Kernel) awaitHello(ctx context.Context) error {
	var early []byte // raw output before the hello, kept for the error
	for {
		select {
		case m := <-k.frames:
			if m.Type != "hello" {
				if m.ID == rawID && len(early) < 4096 {
					early = append(early, m.Text...)
				}
				continue
			}
			if m.Protocol != ProtocolVersion {
				return fmt.Errorf("session: runner speaks protocol %d, want %d", m.Protocol, ProtocolVersion)
			}
			k.hello = m
			return nil
		case <-k.readerDone:
			// Raw output may still be on its way.
			time.Sleep(10 * time.Millisecond)
			for drained := false; !drained && len(early) < 4096; {
				select {
				case m := <-k.frames:
					early = append(early, m.Text...)
				default:
					drained = true
				}
			}
			msg := strings.TrimSpace(string(early))
			if len(msg) > 4096 {
				msg = msg[len(msg)-4096:]
			}
			if msg != "" {
				msg = ": " + msg
			}
			return fmt.Errorf("session: the Python runner failed to start: %s%s", k.deathReason(), msg)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// readFrames moves the runner's frames to k.frames until EOF.
func (k *Kernel) readFrames() {
	defer close(k.readerDone)
	for {
		var m message
		if err := readFrame(k.evR, &m); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				k.readErr = err
				// A runner that breaks the protocol cannot be trusted
				// to carry on.
				k.proc.Kill()
			}
			return
		}
		select {
		case k.frames <- m:
		case <-k.closed:
			return
		}
	}
}

// watch marks the kernel dead when its process ends.
func (k *Kernel) watch() {
	res, err := k.proc.Wait()
	reason := describeExit(res, err)
	if k.readErr != nil {
		reason = k.readErr.Error()
	}
	k.mu.Lock()
	k.dead = true
	if k.reason == "" {
		k.reason = reason
	}
	k.mu.Unlock()
	close(k.watched)
}

func describeExit(res *sandbox.Result, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case res.Reason == sandbox.ReasonMemory:
		return event.ReasonMemory
	case res.Reason == sandbox.ReasonCPUTime:
		return event.ReasonCPUTime
	case res.Reason == sandbox.ReasonKilled:
		return "killed"
	case res.Signal == syscall.SIGSEGV:
		return "the Python process crashed (segmentation fault)"
	case res.Signal != 0:
		return fmt.Sprintf("the Python process was killed by signal %d (%v)", int(res.Signal), res.Signal)
	default:
		return "the Python process exited with status " + strconv.Itoa(res.ExitCode)
	}
}

// deathReason waits briefly for the process to be reaped and says why it
// ended.
func (k *Kernel) deathReason() string {
	// The watcher sets the reason once the sandbox is reaped; waiting on
	// the process alone would race it.
	select {
	case <-k.watched:
	case <-time.After(2 * time.Second):
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reason
}

// Alive reports whether the Python process is running.
func (k *Kernel) Alive() bool {
	select {
	case <-k.proc.Exited():
		return false
	default:
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.dead
}

// Python returns the runner's Python version and whether IPython is used.
func (k *Kernel) Python() (version string, ipython bool) { return k.hello.Python, k.hello.IPython }

// Workspace returns the kernel's workspace.
func (k *Kernel) Workspace() *Workspace { return k.ws }

// Pid returns the host PID of the kernel's Python process.
func (k *Kernel) Pid() int { return k.proc.Pid() }

// Usage reports the kernel sandbox's CPU time and peak memory so far.
func (k *Kernel) Usage() (time.Duration, int64) { return k.proc.Usage() }

// Interrupt raises KeyboardInterrupt in the running cell.
func (k *Kernel) Interrupt() error { return k.proc.Interrupt() }

// Close kills the kernel and releases its sandbox.
func (k *Kernel) Close() error {
	select {
	case <-k.closed:
		return nil
	default:
	}
	close(k.closed)
	k.mu.Lock()
	if k.reason == "" {
		k.reason = "closed"
	}
	k.mu.Unlock()
	k.proc.Kill()
	_, _ = k.proc.Wait()
	k.reqW.Close()
	k.evR.Close()
	if k.ws != nil {
		k.ws.Close()
	}
	k.removeSite()
	return nil
}

// Sandbox returns the backend and Python runtime the kernel runs on, for
// work that needs a sandbox of its own beside it, such as building a
// package from source.
func (k *Kernel) Sandbox() (sandbox.Backend, *python.Runtime) { return k.cfg.Backend, k.cfg.Runtime }

// SiteDir returns the host directory of the packages installed for this
// kernel. Whatever is put there is importable from the next cell on.
func (k *Kernel) SiteDir() string { return k.site }

func (k *Kernel) removeSite() {
	if !k.keepSite && k.cfg.siteDir == "" {
		os.RemoveAll(k.site)
	}
}

// Analyze finds the imports of code without running it, and whether the
// kernel can satisfy each; pip lists the arguments of %pip install lines.
func (k *Kernel) Analyze(ctx context.Context, code string) (imports []Import, pip [][]string, err error) {
	k.run.Lock()
	defer k.run.Unlock()
	id := "a" + strconv.FormatInt(k.cellSeq.Add(1), 10)
	if err := k.send(&message{Type: "analyze", ID: id, Code: code}); err != nil {
		return nil, nil, err
	}
	for {
		select {
		case m := <-k.frames:
			if m.ID != id {
				continue
			}
			if m.Type == "protocol_error" {
				return nil, nil, fmt.Errorf("session: analyze: %s", m.Message)
			}
			if m.Error != "" {
				return nil, nil, fmt.Errorf("cannot find imports: %s", m.Error)
			}
			return m.Imports, m.Pip, nil
		case <-k.readerDone:
			return nil, nil, fmt.Errorf("%w (%s)", ErrDead, k.deathReason())
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// Complete returns what the session's namespace offers to complete code at
// cursor (a byte offset): matches replace code[start:cursor].
func (k *Kernel) Complete(ctx context.Context, code string, cursor int) (matches []string, start int, err error) {
	cursor = max(0, min(cursor, len(code)))
	k.run.Lock()
	defer k.run.Unlock()
	id := "c" + strconv.FormatInt(k.cellSeq.Add(1), 10)
	// The runner counts characters, not bytes.
	runes := utf8.RuneCountInString(code[:cursor])
	if err := k.send(&message{Type: "complete", ID: id, Code: code, Cursor: runes}); err != nil {
		return nil, 0, err
	}
	for {
		select {
		case m := <-k.frames:
			if m.ID != id {
				continue
			}
			if m.Type == "protocol_error" {
				return nil, 0, fmt.Errorf("session: complete: %s", m.Message)
			}
			if m.Error != "" {
				return nil, 0, fmt.Errorf("session: complete: %s", m.Error)
			}
			// Back from characters to bytes, bounded: the runner is untrusted.
			back := runes - min(max(m.CursorStart, 0), runes)
			start = cursor
			for ; back > 0 && start > 0; back-- {
				_, size := utf8.DecodeLastRuneInString(code[:start])
				start -= size
			}
			return m.Matches, start, nil
		case <-k.readerDone:
			return nil, 0, fmt.Errorf("%w (%s)", ErrDead, k.deathReason())
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// send writes a request to the runner.
func (k *Kernel) send(m *message) error {
	if err := writeFrame(k.reqW, m); err != nil {
		return fmt.Errorf("%w (%s)", ErrDead, k.deathReason())
	}
	return nil
}

// rawStream turns output the process writes straight to file descriptors
// 1 and 2 (C extensions, subprocesses) into stream frames of the current
// cell.
type rawStream struct {
	k    *Kernel
	name string
}

func (s *rawStream) Write(b []byte) (int, error) {
	select {
	case s.k.frames <- message{Type: "stream", Name: s.name, Text: string(b), ID: rawID}:
	case <-s.k.closed:
	}
	return len(b), nil
}

// rawID marks frames that belong to whatever cell is running.
const rawID = "\x00raw"

// restart asks the runner to replace itself with a fresh interpreter in the
// same sandbox, and waits for its hello.
func (k *Kernel) restart(ctx context.Context) error {
	if !k.run.TryLock() {
		// A cell is running: stop it first.
		_ = k.Interrupt()
		k.run.Lock()
	}
	defer k.run.Unlock()
	if err := k.send(&message{Type: "restart"}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return k.awaitHello(ctx)
}

// preload imports modules in the kernel without binding any name.
func (k *Kernel) preload(ctx context.Context, modules []string) error {
	k.run.Lock()
	defer k.run.Unlock()
	const id = "preload"
	if err := k.send(&message{Type: "preload", ID: id, Modules: modules}); err != nil {
		return err
	}
	for {
		select {
		case m := <-k.frames:
			if m.ID == id && m.Type == "done" {
				if m.Status != event.StatusOK {
					return fmt.Errorf("session: preload %v: %s", modules, m.Message)
				}
				return nil
			}
		case <-k.readerDone:
			return fmt.Errorf("session: preload %v: %s", modules, k.deathReason())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// envReserved are variables a sandbox's Python and the runner depend on.
var envReserved = map[string]bool{
	"PATH": true, "HOME": true, "MPLBACKEND": true, "MPLCONFIGDIR": true, "XDG_CACHE_HOME": true,
	"LD_PRELOAD": true, "LD_LIBRARY_PATH": true, "PYTHONUNBUFFERED": true, "PYTHONDONTWRITEBYTECODE": true,
}

// CheckEnv checks variables given for a sandbox's environment: each
// KEY=VALUE with a plain name, none that the sandbox's Python or the
// runner depend on, 64 KiB in all. Only what is given goes in, never a
// host's variable.
func CheckEnv(env []string) error {
	total := 0
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("environment variable %q: give NAME=VALUE (the host's own variables never go into a sandbox)", kv)
		}
		if !validEnvName(name) {
			return fmt.Errorf("environment variable %q: a name is letters, digits and _, not starting with a digit", name)
		}
		if envReserved[name] || strings.HasPrefix(name, "INTERP_") {
			return fmt.Errorf("environment variable %s is set by Interp itself and cannot be given", name)
		}
		if strings.ContainsRune(value, 0) {
			return fmt.Errorf("environment variable %s: the value holds a NUL byte", name)
		}
		if total += len(kv); total > 64<<10 {
			return errors.New("environment variables: over 64 KiB in all")
		}
	}
	return nil
}

func validEnvName(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
