// Package server is Interp as a multi-user HTTP service (interp serve).
//
// The API lives under /v1 and is described by an OpenAPI 3.1 document that
// huma generates from the handlers' types (/openapi.json, /openapi.yaml,
// docs at /docs, an embedded viewer of it: docs.go). Every /v1 request carries an API key (Authorization:
// Bearer ik_...); a user sees only their own sessions, files and
// conversations: any other ID is answered 404, as if it did not exist.
//
// Handlers are thin: sessions come from a session.Manager, code runs with
// deps.Auto installing what it imports, tasks run an agent.Agent, and the
// history (with users, keys and token usage) is a store.Store. Cell and
// agent events stream as Server-Sent Events with the same JSON as the CLI's
// --json output.
//
// Each user is held to quotas (sessions open at once, executions per
// minute, model tokens per UTC day, bytes of workspace files; 429 with
// Retry-After past them), every
// request to a body size, and every stage to a timeout. A Server has no
// global state: its Prometheus registry is its own.
//
// Users have a role: admins also reach /v1/admin, to manage users and keys
// and read the audit log (others get 403), but see no one else's sessions.
// What matters for security (refused keys, keys and users made, sessions,
// files, tasks, quotas refusing) goes to the store's audit log.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// Config tunes a Server. Zero fields take DefaultConfig's values.
type Config struct {
	// MaxSessions caps the sessions open at once, all users together.
	MaxSessions int
	// SessionIdleTimeout closes sessions unused for this long.
	SessionIdleTimeout time.Duration
	// PoolSize is how many sessions with the default limits are kept
	// ready; negative disables the pool. PoolPreload lists the modules
	// they import in advance.
	PoolSize    int
	PoolPreload []string
	// PoolMax is how many the pool may grow to while sessions are asked
	// for faster than it refills, within PoolMemory bytes for all of
	// them; it shrinks back to PoolSize when quiet.
	PoolMax    int
	PoolMemory int64
	// NoFork starts the sessions the pool cannot serve from nothing,
	// rather than forking them from a template of their user's (see
	// session.PoolConfig.Fork).
	NoFork bool

	// DefaultMemory is a session's memory limit when it asks for none;
	// MaxMemory the most it may ask for.
	DefaultMemory, MaxMemory int64
	// DefaultCellTimeout bounds one execution when the session asks for
	// nothing else; MaxCellTimeout is the most a session may ask for.
	DefaultCellTimeout, MaxCellTimeout time.Duration
	// InstallTimeout bounds the package installs before one execution.
	InstallTimeout time.Duration

	// MaxBodyBytes caps a request's JSON body, MaxUploadBytes an uploaded
	// file, MaxDownloadBytes a downloaded one.
	MaxBodyBytes, MaxUploadBytes, MaxDownloadBytes int64

	// ReadHeaderTimeout and ReadTimeout bound reading a request's headers
	// and its body; WriteTimeout writing a response that does not stream
	// (streams get it per event, and executions their time limit on top);
	// IdleTimeout bounds an idle keep-alive connection.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration

	// Quotas hold each user back.
	Quotas Quotas

	// MetricsToken, when set, is the bearer token GET /metrics requires;
	// otherwise /metrics is open, for a scraper on a private network.
	MetricsToken string

	// TaskTimeout bounds one task, the model's time and the code's.
	TaskTimeout time.Duration
	// Agent bounds the agent loop of tasks; Vision and NoTools are as in
	// agent.Config.
	Agent   agent.Limits
	Vision  bool
	NoTools bool

	// NoRecordExecutions keeps executions out of the history; by default
	// each session records its executions in an exec conversation.
	NoRecordExecutions bool

	// Version is the API's version in the OpenAPI document.
	Version string

	// UIToken, if set, signs one browser in as the user UIUser (an ID or
	// a name)
	// when it opens /?token=UIToken, once: interp ui's local mode.
	UIToken, UIUser string
}

// Quotas are per-user limits. Zero takes the default; negative means none.
type Quotas struct {
	// Sessions is how many sessions a user may have open at once.
	Sessions int
	// ExecutionsPerMinute is how many executions a user may start in any
	// minute.
	ExecutionsPerMinute int
	// TokensPerDay is how many model tokens (input and output) a user's
	// tasks may use in a UTC day.
	TokensPerDay int64
	// WorkspaceBytes caps the files of all a user's sessions' workspaces
	// together. Uploads past it are refused (413 if the file alone is
	// larger, else 429), and once an execution leaves the user over it,
	// further executions and tasks are refused until files are deleted.
	// It also caps each sandbox's disk.
	WorkspaceBytes int64
}

// minMemory is the least memory a session may ask for.
const minMemory = 64 << 20

// DefaultConfig returns the defaults: those of internal/config's
// settings, and the server's own.
func DefaultConfig() Config {
	c := ConfigFrom(config.Defaults())
	c.PoolPreload = []string{"numpy", "pandas", "matplotlib.pyplot"}
	c.InstallTimeout = 3 * time.Minute
	c.Version = "1.0.0"
	return c
}

// ConfigFrom is the configuration the settings give (the config file's
// server section, the environment and flags); New gives the fields they
// do not set their defaults.
func ConfigFrom(s *config.Settings) Config {
	v := s.Server
	return Config{
		MaxSessions: v.MaxSessions, SessionIdleTimeout: v.SessionIdleTimeout,
		PoolSize: v.PoolSize, PoolMax: v.PoolMax, PoolMemory: v.PoolMemory, NoFork: !v.PoolFork,
		DefaultMemory: v.DefaultMemory, MaxMemory: v.MaxMemory,
		DefaultCellTimeout: v.DefaultCellTimeout, MaxCellTimeout: v.MaxCellTimeout,
		MaxBodyBytes: v.MaxBody, MaxUploadBytes: v.MaxUpload, MaxDownloadBytes: v.MaxDownload,
		ReadHeaderTimeout: v.ReadHeaderTimeout, ReadTimeout: v.ReadTimeout, WriteTimeout: v.WriteTimeout, IdleTimeout: v.IdleTimeout,
		Quotas: Quotas{Sessions: v.Quotas.Sessions, ExecutionsPerMinute: v.Quotas.ExecutionsPerMinute,
			TokensPerDay: v.Quotas.TokensPerDay, WorkspaceBytes: v.Quotas.WorkspaceBytes},
		MetricsToken: v.MetricsToken,
		TaskTimeout:  v.TaskTimeout,
		Agent:        agent.LimitsFrom(s),
		Vision:       s.Vision,
		NoTools:      s.NoTools,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set64 := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&c.MaxSessions, d.MaxSessions)
	setDur(&c.SessionIdleTimeout, d.SessionIdleTimeout)
	setInt(&c.PoolSize, d.PoolSize)
	setInt(&c.PoolMax, d.PoolMax)
	set64(&c.PoolMemory, d.PoolMemory)
	if c.PoolPreload == nil {
		c.PoolPreload = d.PoolPreload
	}
	set64(&c.DefaultMemory, d.DefaultMemory)
	set64(&c.MaxMemory, max(d.MaxMemory, c.DefaultMemory))
	setDur(&c.DefaultCellTimeout, d.DefaultCellTimeout)
	setDur(&c.MaxCellTimeout, max(d.MaxCellTimeout, c.DefaultCellTimeout))
	setDur(&c.InstallTimeout, d.InstallTimeout)
	setDur(&c.TaskTimeout, d.TaskTimeout)
	set64(&c.MaxBodyBytes, d.MaxBodyBytes)
	set64(&c.MaxUploadBytes, d.MaxUploadBytes)
	set64(&c.MaxDownloadBytes, d.MaxDownloadBytes)
	setDur(&c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	setDur(&c.ReadTimeout, d.ReadTimeout)
	setDur(&c.WriteTimeout, d.WriteTimeout)
	setDur(&c.IdleTimeout, d.IdleTimeout)
	setInt(&c.Quotas.Sessions, d.Quotas.Sessions)
	setInt(&c.Quotas.ExecutionsPerMinute, d.Quotas.ExecutionsPerMinute)
	set64(&c.Quotas.TokensPerDay, d.Quotas.TokensPerDay)
	set64(&c.Quotas.WorkspaceBytes, d.Quotas.WorkspaceBytes)
	if c.Version == "" {
		c.Version = d.Version
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.DefaultMemory < minMemory:
		return fmt.Errorf("server: default memory %d is under the minimum of %d bytes", c.DefaultMemory, minMemory)
	case c.MaxMemory < c.DefaultMemory:
		return fmt.Errorf("server: max memory %d is under the default memory %d", c.MaxMemory, c.DefaultMemory)
	case c.DefaultCellTimeout < 0 || c.MaxCellTimeout < c.DefaultCellTimeout:
		return fmt.Errorf("server: max cell timeout %s is under the default %s", c.MaxCellTimeout, c.DefaultCellTimeout)
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("server: max body %d is under 1 KiB", c.MaxBodyBytes)
	case c.MaxUploadBytes < 1 || c.MaxDownloadBytes < 1:
		return errors.New("server: max upload and download must be positive")
	}
	return nil
}

// LLM is a language model to run tasks with.
type LLM struct {
	Provider llm.Provider
	// Name is the provider's name and Model the model, as recorded in the
	// history.
	Name, Model string
	// Temperature and SmallModel are as in agent.Config.
	Temperature *float64
	SmallModel  bool
}

// LLMFactory returns the model a task runs with. It is called for each
// task; an error is reported to the client as 503.
type LLMFactory func(ctx context.Context) (*LLM, error)

// Deps are what a Server runs on.
type Deps struct {
	// Store is the history, users and keys. Required; the caller closes it
	// after Shutdown.
	Store *store.Store
	// Kernel configures every session's kernel: Backend and Runtime are
	// required. Its memory limit and cell timeout are the Config's
	// defaults. The caller closes the backend after Shutdown.
	Kernel session.Config
	// Auto installs what code imports; nil turns installs off.
	Auto *deps.Auto
	// LLM gives the model of tasks; nil makes tasks answer 503.
	LLM LLMFactory
	// Models are the models users may choose in their settings, the
	// default first, and ModelFor gives one of them; without ModelFor,
	// every task uses LLM.
	Models   []ModelChoice
	ModelFor ModelFactory
	// Logger gets one JSON line per request, and errors. Default: JSON on
	// stderr.
	Logger *slog.Logger
	// CheckSandbox tells readiness whether sandboxes can start. Default:
	// start `true` in one (remembered for 30 seconds).
	CheckSandbox func(ctx context.Context) error
	// Now is the clock, for quotas. Default time.Now.
	Now func() time.Time
	// UI serves the web UI at / (and at every path the API leaves); nil
	// answers 404 there.
	UI http.Handler
}

// Server is the HTTP service.
type Server struct {
	cfg     Config
	d       Deps
	log     *slog.Logger
	now     func() time.Time
	api     huma.API
	mux     *http.ServeMux
	handler http.Handler
	routes  []string
	manager *session.Manager
	metrics *metrics
	execs   *rateLimiter

	mu          sync.Mutex
	sessions    map[string]*sessionEntry
	pending     map[string]int             // user -> sessions being created
	convBusy    map[string]bool            // conversations with a task running
	convSession map[string]string          // conversation -> the session its tasks use
	convStream  map[string]*journal        // conversation -> its running task's stream
	confirms    map[string]*pendingConfirm // conversation -> code waiting for an answer
	streams     streamRegistry             // the journals of streams, for resuming

	// work counts running executions and tasks; workCtx ends them when
	// Shutdown runs out of time.
	work       tracker
	workCtx    context.Context
	cancelWork context.CancelFunc
	draining   atomic.Bool
	shutdown   sync.Once

	httpMu  sync.Mutex
	httpSrv *http.Server

	readyMu  sync.Mutex
	readyAt  time.Time
	readyErr error

	// Whether interp ui's one-time token is still unused.
	webMu       sync.Mutex
	uiTokenLeft bool
}

// New builds a Server; its warm pool starts filling at once.
func New(cfg Config, d Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if d.Store == nil {
		return nil, errors.New("server: a store is required")
	}
	if d.Kernel.Backend == nil || d.Kernel.Runtime == nil {
		return nil, errors.New("server: the kernel config needs a sandbox backend and a Python runtime")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	kcfg := d.Kernel
	kcfg.Limits.Memory = cfg.DefaultMemory
	kcfg.CellTimeout = cfg.DefaultCellTimeout
	if q := cfg.Quotas.WorkspaceBytes; q > 0 {
		// No session's disk may hold more than the user's whole quota.
		kcfg.Limits.Disk = min(kcfg.Limits.WithDefaults().Disk, max(q, 1<<20))
	}
	d.Kernel = kcfg
	pool := session.PoolConfig{Size: max(cfg.PoolSize, 0), Preload: cfg.PoolPreload, Fork: !cfg.NoFork}
	if pool.Size > 0 {
		pool.Max, pool.MemoryBudget = cfg.PoolMax, cfg.PoolMemory
	}
	s := &Server{
		cfg:         cfg,
		d:           d,
		log:         d.Logger,
		now:         d.Now,
		sessions:    make(map[string]*sessionEntry),
		pending:     make(map[string]int),
		convBusy:    make(map[string]bool),
		convSession: make(map[string]string),
		execs:       newRateLimiter(cfg.Quotas.ExecutionsPerMinute, time.Minute, d.Now),
		uiTokenLeft: cfg.UIToken != "",
		convStream:  make(map[string]*journal),
		confirms:    make(map[string]*pendingConfirm),
	}
	s.workCtx, s.cancelWork = context.WithCancel(context.Background())
	s.manager = session.NewManager(session.ManagerConfig{
		Kernel: kcfg, MaxSessions: cfg.MaxSessions, IdleTimeout: cfg.SessionIdleTimeout, Pool: pool,
	})
	s.metrics = newMetrics(func() float64 { return float64(len(s.manager.List())) }, s.manager.Pool())
	s.mux = http.NewServeMux()
	s.api = humago.New(&recordingMux{ServeMux: s.mux, routes: &s.routes}, s.humaConfig())
	s.register()
	s.handler = s.middleware(s.mux)
	return s, nil
}

// recordingMux remembers the patterns registered on it, so that tests can
// compare the router with the OpenAPI document.
type recordingMux struct {
	*http.ServeMux
	routes *[]string
}

func (m *recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	*m.routes = append(*m.routes, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// API returns the huma API, for its OpenAPI document.
func (s *Server) API() huma.API { return s.api }

// Routes returns every "METHOD /path" pattern the router serves, sorted.
func (s *Server) Routes() []string {
	out := append([]string(nil), s.routes...)
	sort.Strings(out)
	return out
}

// Manager returns the session manager.
func (s *Server) Manager() *session.Manager { return s.manager }

// Serve accepts connections on l with the configured timeouts until
// Shutdown. It returns http.ErrServerClosed after a Shutdown.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		// Body and write deadlines are set per request: uploads and
		// streams need other ones than the rest.
		IdleTimeout:    s.cfg.IdleTimeout,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.Background() },
	}
	s.httpMu.Lock()
	if s.draining.Load() {
		s.httpMu.Unlock()
		return http.ErrServerClosed
	}
	s.httpSrv = hs
	s.httpMu.Unlock()
	return hs.Serve(l)
}

// Shutdown stops the service gracefully: it stops accepting connections
// and requests (answering 503 to any that still arrive), lets running
// executions and tasks finish until ctx ends, then interrupts those left,
// and closes every session. The store and the sandbox backend are the
// caller's to close afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutdown.Do(func() {
		s.draining.Store(true)
		s.log.Info("shutting down", "running", s.work.count())
		s.httpMu.Lock()
		hs := s.httpSrv
		s.httpMu.Unlock()
		httpDone := make(chan error, 1)
		if hs != nil {
			go func() { httpDone <- hs.Shutdown(ctx) }()
		} else {
			httpDone <- nil
		}
		if !s.work.wait(ctx) {
			s.log.Warn("shutdown deadline: interrupting running work", "running", s.work.count())
			s.cancelWork()
			grace, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.work.wait(grace)
			cancel()
		}
		err = <-httpDone
		if err != nil && hs != nil {
			// The interrupted handlers are ending their responses: let
			// them, briefly, before cutting connections.
			grace, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if hs.Shutdown(grace) != nil {
				hs.Close()
			}
			cancel()
		}
		s.cancelWork()
		s.mu.Lock()
		entries := make([]*sessionEntry, 0, len(s.sessions))
		for _, e := range s.sessions {
			entries = append(entries, e)
		}
		s.sessions = map[string]*sessionEntry{}
		s.mu.Unlock()
		s.manager.Shutdown()
		for _, e := range entries {
			e.finish()
		}
		s.log.Info("shut down")
	})
	return err
}

// tracker counts running work and waits for it to end.
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0
}

func (t *tracker) add() {
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		close(t.idle)
	}
	t.mu.Unlock()
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// wait waits until no work runs, or ctx ends; it reports which.
func (t *tracker) wait(ctx context.Context) bool {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return true
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}

// startWork registers running work and returns a context that ends with
// ctx or when Shutdown gives up waiting, and the function that ends the
// work. It fails once the server is shutting down.
func (s *Server) startWork(ctx context.Context) (context.Context, func(), error) {
	if s.draining.Load() {
		return nil, nil, errShuttingDown()
	}
	s.work.add()
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.workCtx, cancel)
	return ctx, func() {
		stop()
		cancel()
		s.work.done()
	}, nil
}

func errShuttingDown() error {
	return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("the server is shutting down"),
		http.Header{"Retry-After": {"5"}, "Connection": {"close"}})
}

// checkSandbox tells whether a sandbox can start, remembering the answer
// for a while: readiness probes come often.
func (s *Server) checkSandbox(ctx context.Context) error {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if !s.readyAt.IsZero() && s.now().Sub(s.readyAt) < 30*time.Second {
		return s.readyErr
	}
	check := s.d.CheckSandbox
	if check == nil {
		check = s.startTrue
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s.readyErr = check(ctx)
	s.readyAt = s.now()
	return s.readyErr
}

// startTrue runs `true` in a sandbox that shows the sessions' runtime.
func (s *Server) startTrue(ctx context.Context) error {
	var ro []string
	if s.d.Kernel.Runtime != nil {
		ro = s.d.Kernel.Runtime.ReadOnly
	}
	p, err := s.d.Kernel.Backend.Start(ctx, &sandbox.Spec{
		Argv:     []string{"true"},
		Env:      sandbox.DefaultEnv(),
		ReadOnly: ro,
		Limits:   sandbox.Limits{Memory: 64 << 20, Timeout: 10 * time.Second},
	})
	if err != nil {
		return err
	}
	res, err := p.Wait()
	if err != nil {
		return err
	}
	if !res.Success() {
		return fmt.Errorf("a sandboxed `true` failed: exit %d %s", res.ExitCode, res.Reason)
	}
	return nil
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
