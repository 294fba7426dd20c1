// Package llamacpp runs a local GGUF model with llama.cpp's own
// llama-server, as a child process that Interp starts on first use, keeps
// loaded across steps and tasks, and stops after an idle time.
//
// llama-server speaks OpenAI's Chat Completions protocol, with the model's
// own Jinja chat template, tool-call parsing, streaming, GBNF grammars and
// JSON schemas, and it keeps the processed prompt of its slot so that a
// conversation's prefix (the system prompt, the earlier steps) is not
// processed again. Provider wraps the OpenAI provider of package llm
// around it. Interp talks to it over a Unix socket in a private
// directory, so no other user of the machine, and no sandbox, can reach it.
package llamacpp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults of Config.
const (
	DefaultIdleTimeout = 5 * time.Minute
	DefaultContextSize = 16384
	// DefaultStartTimeout bounds how long loading the model may take.
	DefaultStartTimeout = 3 * time.Minute
)

// Config configures a Server.
type Config struct {
	// Binary is the llama-server executable.
	Binary string
	// Model is the GGUF file.
	Model string
	// Threads is how many CPU threads generate; every core if zero.
	Threads int
	// ContextSize is the context window in tokens; DefaultContextSize if
	// zero.
	ContextSize int
	// IdleTimeout unloads the model after this long without a request:
	// DefaultIdleTimeout if zero, never if negative.
	IdleTimeout time.Duration
	// Listen, if set, is a loopback host:port to serve on instead of a
	// private Unix socket, for other programs to use the model.
	Listen string
	// Args are more llama-server arguments.
	Args []string
	// Log, if set, receives the server's log.
	Log io.Writer
}

// Server is a llama-server process, started when first needed. Its
// methods are safe for concurrent use.
type Server struct {
	cfg Config

	mu       sync.Mutex
	proc     *process // nil when not running
	inflight int
	idle     *time.Timer
	closed   bool
}

// process is one run of llama-server.
type process struct {
	cmd    *exec.Cmd
	dir    string // the socket's private directory, if any
	base   string // http://host/ root of the server
	client *http.Client
	done   chan struct{} // closed when it exited
	err    error         // why it exited, set before done is closed
	tail   *tailBuffer
}

// New returns a Server for cfg; nothing starts until Acquire.
func New(cfg Config) *Server {
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	if cfg.ContextSize <= 0 {
		cfg.ContextSize = DefaultContextSize
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	return &Server{cfg: cfg}
}

// Lease is the use of a running server, until Release.
type Lease struct {
	// BaseURL is the OpenAI-compatible API's root (ending in /v1).
	BaseURL string
	// Client reaches it (over the Unix socket, if any).
	Client *http.Client
	// Exited is closed if the server dies during the lease.
	Exited <-chan struct{}
	s      *Server
	p      *process
	once   sync.Once
}

// Release ends the lease; the server is stopped after the idle timeout
// once no lease is left.
func (l *Lease) Release() { l.once.Do(l.s.release) }

// Err says why the server of the lease exited, in one line.
func (l *Lease) Err() error {
	select {
	case <-l.p.done:
		return l.p.err
	default:
		return nil
	}
}

// Acquire starts the server unless it runs, waits until the model is
// loaded, and returns a lease on it.
func (s *Server) Acquire(ctx context.Context) (*Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("the local model server is shut down")
	}
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	if s.proc != nil {
		select {
		case <-s.proc.done:
			s.proc = nil // it died since: start anew
		default:
		}
	}
	if s.proc == nil {
		// Loading holds the lock: concurrent first requests wait for the
		// one load instead of starting servers of their own.
		p, err := s.start(ctx)
		if err != nil {
			return nil, err
		}
		s.proc = p
	}
	s.inflight++
	return &Lease{BaseURL: s.proc.base + "v1", Client: s.proc.client, Exited: s.proc.done, s: s, p: s.proc}, nil
}

func (s *Server) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if s.inflight > 0 || s.proc == nil || s.closed || s.cfg.IdleTimeout < 0 {
		return
	}
	p := s.proc
	s.idle = time.AfterFunc(s.cfg.IdleTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.inflight == 0 && s.proc == p {
			s.proc = nil
			go p.stop()
		}
	})
}

// Running reports whether the model is loaded.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return false
	}
	select {
	case <-s.proc.done:
		return false
	default:
		return true
	}
}

// Close stops the server and refuses new leases.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.idle != nil {
		s.idle.Stop()
	}
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
	return nil
}

// Wait blocks until the running server exits or ctx ends, and says why it
// exited; for `interp models serve`.
func (s *Server) Wait(ctx context.Context) error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// idleConnTimeout drops a kept-alive connection well before llama-server
// (cpp-httplib) closes it after 5 idle seconds: a request sent on a
// connection the server is closing fails with EOF, and a POST is not
// retried.
const idleConnTimeout = 2 * time.Second

func (s *Server) start(ctx context.Context) (*process, error) {
	if s.cfg.Model == "" {
		return nil, errors.New("no model file given to the local model server")
	}
	bin, err := exec.LookPath(s.cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("the local model runtime %s is missing: run scripts/setup, or set local.server in the config file (%w)", s.cfg.Binary, err)
	}
	p := &process{done: make(chan struct{}), tail: &tailBuffer{max: 8 << 10}}
	host := s.cfg.Listen
	if host == "" {
		// A private directory: the socket is for this process alone.
		if p.dir, err = os.MkdirTemp("", "interp-llama-"); err != nil {
			return nil, fmt.Errorf("local model server: %w", err)
		}
		sock := filepath.Join(p.dir, "llama.sock")
		host = sock
		p.base = "http://llama-server/"
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     idleConnTimeout,
		}
		p.client = &http.Client{Transport: tr}
	} else {
		p.base = "http://" + s.cfg.Listen + "/"
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.IdleConnTimeout = idleConnTimeout
		p.client = &http.Client{Transport: tr}
	}
	args := []string{
		"--model", s.cfg.Model,
		"--threads", strconv.Itoa(s.cfg.Threads),
		"--threads-batch", strconv.Itoa(s.cfg.Threads),
		"--ctx-size", strconv.Itoa(s.cfg.ContextSize),
		// One slot: its cache keeps the conversation's prefix, and on a
		// CPU, parallel slots only share the same cores.
		"--parallel", "1",
		"--jinja",
		"--no-webui",
	}
	if h, port, ok := strings.Cut(host, ":"); ok && !strings.HasSuffix(host, ".sock") {
		args = append(args, "--host", h, "--port", port)
	} else {
		args = append(args, "--host", host)
	}
	args = append(args, s.cfg.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = p.tail
	cmd.Stderr = p.tail
	if s.cfg.Log != nil {
		cmd.Stdout = io.MultiWriter(p.tail, s.cfg.Log)
		cmd.Stderr = cmd.Stdout
	}
	// The server dies with Interp, even if Interp is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("starting the local model runtime %s: %w", bin, err)
	}
	p.cmd = cmd
	go func() {
		err := cmd.Wait()
		p.err = p.exitError(err)
		p.cleanup()
		close(p.done)
	}()
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls /health until the model is loaded.
func (p *process) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultStartTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"health", nil)
		if resp, err := p.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return p.err
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the local model did not load within %s: %s", DefaultStartTimeout, p.tail.lastLine())
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// exitError turns the process's exit into one line, from its last words.
func (p *process) exitError(err error) error {
	msg := p.tail.lastError()
	if msg == "" {
		msg = "no message"
	}
	if err == nil {
		return fmt.Errorf("the local model runtime exited: %s", msg)
	}
	return fmt.Errorf("the local model runtime stopped (%v): %s", err, msg)
}

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (p *process) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) cleanup() {
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// tailBuffer keeps the last bytes of the server's log, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(b), nil
}

func (t *tailBuffer) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, l := range bytes.Split(t.buf, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (t *tailBuffer) lastLine() string {
	ls := t.lines()
	if len(ls) == 0 {
		return "it printed nothing"
	}
	return ls[len(ls)-1]
}

// lastError is the last line that reads like an error, else the last line.
func (t *tailBuffer) lastError() string {
	ls := t.lines()
	for i := len(ls) - 1; i >= 0; i-- {
		l := strings.ToLower(ls[i])
		if strings.Contains(l, "error") || strings.Contains(l, "failed") || strings.Contains(l, "abort") {
			return ls[i]
		}
	}
	if len(ls) == 0 {
		return ""
	}
	return ls[len(ls)-1]
}
