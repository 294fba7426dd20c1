package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/interp-dev/interp/internal/sandbox"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Kernel is the configuration of every session's kernel.
	Kernel Config
	// MaxSessions caps the sessions open at once.
	MaxSessions int
	// IdleTimeout closes sessions unused for this long. Negative: never.
	IdleTimeout time.Duration
	// Pool configures the warm pool.
	Pool PoolConfig
}

// Errors from a Manager.
var (
	ErrNotFound    = errors.New("no such session")
	ErrTooMany     = errors.New("too many sessions")
	ErrManagerDown = errors.New("session manager is shut down")
)

// Manager creates, finds and reaps sessions.
type Manager struct {
	cfg  ManagerConfig
	pool *Pool

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool
	stop     chan struct{}
	reaped   sync.WaitGroup
}

// NewManager starts a manager, its warm pool and its idle reaper.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 64
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	SweepStale(cfg.Kernel.StateDir)
	m := &Manager{
		cfg:      cfg,
		sessions: make(map[string]*Session),
		stop:     make(chan struct{}),
	}
	m.pool = newPool(cfg.Kernel, cfg.Pool, m.running)
	if cfg.IdleTimeout > 0 {
		m.reaped.Add(1)
		go m.reap(max(min(cfg.IdleTimeout/4, time.Minute), 10*time.Millisecond))
	}
	return m
}

// Session is one persistent Python session.
type Session struct {
	ID      string
	Created time.Time
	m       *Manager
	cfg     Config

	mu       sync.Mutex
	kernel   *Kernel
	lastUsed time.Time
	busy     int
	closed   bool
}

// CreateOptions tune a new session.
type CreateOptions struct {
	// Limits replaces the kernel's sandbox limits. Sessions with their own
	// limits cannot come from the warm pool.
	Limits *sandbox.Limits
	// Env adds KEY=VALUE variables to the sandbox's environment (see
	// CheckEnv). Sessions with variables of their own cannot come from
	// the warm pool either.
	Env []string
	// Owner names whom the session is for, such as a user of the server.
	// Sessions forked from a zygote share it only with the same owner's
	// (PoolConfig.Fork).
	Owner string
}

// Create starts a session, from the warm pool when it can.
func (m *Manager) Create(ctx context.Context, opts CreateOptions) (*Session, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrManagerDown
	}
	if len(m.sessions) >= m.cfg.MaxSessions {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %d are open, the limit; close one first", ErrTooMany, m.cfg.MaxSessions)
	}
	// Reserve the place so concurrent creates cannot overshoot.
	id := newID()
	s := &Session{ID: id, Created: time.Now(), m: m, cfg: m.cfg.Kernel, lastUsed: time.Now()}
	m.sessions[id] = s
	m.mu.Unlock()

	var k *Kernel
	var err error
	if opts.Limits != nil || len(opts.Env) > 0 {
		if opts.Limits != nil {
			s.cfg.Limits = *opts.Limits
		}
		s.cfg.Env = append(append([]string(nil), s.cfg.Env...), opts.Env...)
		k, err = Start(ctx, s.cfg)
	} else {
		k, err = m.pool.get(ctx, opts.Owner)
	}
	if err != nil {
		m.mu.Lock()
		delete(m.sessions, id)
		m.mu.Unlock()
		return nil, err
	}
	s.mu.Lock()
	s.kernel, s.lastUsed = k, time.Now()
	s.mu.Unlock()
	return s, nil
}

// Open starts a session of its own, outside any Manager, for a single
// user such as the CLI; it restarts as a managed one does.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	k, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &Session{ID: newID(), Created: now, cfg: cfg, kernel: k, lastUsed: now}, nil
}

// running counts the cells running in the manager's sessions.
func (m *Manager) running() int {
	m.mu.Lock()
	sessions := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.Unlock()
	n := 0
	for _, s := range sessions {
		s.mu.Lock()
		if s.busy > 0 {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

// Get returns an open session.
func (m *Manager) Get(id string) (*Session, error) {
	m.mu.Lock()
	s, ok := m.sessions[id]
	m.mu.Unlock()
	if !ok || s.Kernel() == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return s, nil
}

// List returns the open sessions, oldest first.
func (m *Manager) List() []*Session {
	m.mu.Lock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	m.mu.Unlock()
	ready := out[:0]
	for _, s := range out {
		if s.Kernel() != nil { // still starting otherwise
			ready = append(ready, s)
		}
	}
	out = ready
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Pool returns the manager's warm pool.
func (m *Manager) Pool() *Pool { return m.pool }

// CloseSession closes and forgets a session.
func (m *Manager) CloseSession(id string) error {
	s, err := m.Get(id)
	if err != nil {
		return err
	}
	return s.Close()
}

// Shutdown closes every session and the pool.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.stop)
	sessions := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.Unlock()
	m.reaped.Wait()
	for _, s := range sessions {
		s.Close()
	}
	m.pool.Close()
}

// reap closes sessions idle for longer than the idle timeout.
func (m *Manager) reap(every time.Duration) {
	defer m.reaped.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			for _, s := range m.List() {
				if s.idleSince(now) > m.cfg.IdleTimeout {
					s.Close()
				}
			}
		}
	}
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "s_" + hex.EncodeToString(b[:])
}

// Kernel returns the session's current kernel.
func (s *Session) Kernel() *Kernel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kernel
}

// LastUsed returns when the session last finished or started a cell.
func (s *Session) LastUsed() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastUsed
}

func (s *Session) idleSince(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy > 0 {
		return 0
	}
	return now.Sub(s.lastUsed)
}

func (s *Session) touch(delta int) {
	s.mu.Lock()
	s.busy += delta
	s.lastUsed = time.Now()
	s.mu.Unlock()
}

// Hold marks the session in use until release is called, so that the
// idle reaper leaves it alone between the steps of one cell (installs,
// the run, a reactive install).
func (s *Session) Hold() (release func()) {
	s.touch(1)
	return func() { s.touch(-1) }
}

// Execute runs a cell; see Kernel.Execute.
func (s *Session) Execute(ctx context.Context, code string, opts ExecOptions, emit func(Event)) (Event, error) {
	k := s.Kernel()
	if k == nil {
		return Event{}, ErrClosed
	}
	s.touch(1)
	defer s.touch(-1)
	return k.Execute(ctx, code, opts, emit)
}

// ReadFile reads a file of the session's workspace, at most max bytes:
// the current one's, after a restart too. It makes a Session the files
// of a history recorder.
func (s *Session) ReadFile(path string, max int64) ([]byte, error) {
	k := s.Kernel()
	if k == nil || k.Workspace() == nil {
		return nil, ErrClosed
	}
	return k.Workspace().Read(path, max)
}

// Interrupt interrupts the running cell.
func (s *Session) Interrupt() error {
	k := s.Kernel()
	if k == nil {
		return ErrClosed
	}
	return k.Interrupt()
}

// Restart gives the session a fresh Python process: all variables are
// lost, files in the workspace are kept. A live process restarts in place;
// after a crash a new sandbox takes over the old workspace's files.
func (s *Session) Restart(ctx context.Context) error {
	s.touch(1)
	defer s.touch(-1)
	s.mu.Lock()
	old := s.kernel
	closed := s.closed
	s.mu.Unlock()
	if closed || old == nil {
		return ErrClosed
	}
	if old.Alive() {
		err := old.restart(ctx)
		if err == nil {
			return nil
		}
	}
	// A new sandbox takes over the old one's files and packages.
	cfg := s.cfg
	cfg.siteDir = old.SiteDir()
	k, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	if err := copyWorkspace(old.Workspace(), k.Workspace()); err != nil {
		k.Close()
		return fmt.Errorf("restart: keep workspace files: %w", err)
	}
	k.cfg.siteDir = "" // the new kernel owns it now
	old.keepSite = true
	s.mu.Lock()
	s.kernel = k
	s.mu.Unlock()
	old.Close()
	return nil
}

// Close ends the session and its sandbox.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	k := s.kernel
	s.mu.Unlock()
	var err error
	if k != nil {
		err = k.Close()
	}
	// Forget the session only once its sandbox is gone, so that whoever
	// sees it vanish can count on that.
	if s.m != nil {
		s.m.mu.Lock()
		delete(s.m.sessions, s.ID)
		s.m.mu.Unlock()
	}
	return err
}
