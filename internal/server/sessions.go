package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// sessionEntry is a session and what the server knows about it.
type sessionEntry struct {
	id      string
	user    string
	sess    *session.Session
	memory  int64
	timeout time.Duration
	created time.Time

	// run is held while code runs in the session, an execution or a task:
	// one at a time.
	run  sync.Mutex
	busy atomic.Bool
	// life is held while the session restarts or closes: the session
	// package leaves concurrent restarts, and a close during a restart,
	// to its callers.
	life sync.Mutex

	mu     sync.Mutex
	cancel context.CancelFunc // ends what runs now
	rec    *store.Recorder    // records executions; nil until the first
	convID string
}

// tryRun takes the session for running code, or says it is busy. The
// context it returns ends with ctx, or when the session is interrupted.
func (e *sessionEntry) tryRun(ctx context.Context) (context.Context, error) {
	if !e.run.TryLock() {
		return nil, huma.Error409Conflict("the session is busy running other code: wait for it, or interrupt it (POST /v1/sessions/" + e.id + "/interrupt)")
	}
	ctx, cancel := context.WithCancel(ctx)
	e.mu.Lock()
	e.cancel = cancel
	e.mu.Unlock()
	e.busy.Store(true)
	return ctx, nil
}

func (e *sessionEntry) endRun() {
	e.mu.Lock()
	if e.cancel != nil {
		e.cancel()
		e.cancel = nil
	}
	e.mu.Unlock()
	e.busy.Store(false)
	e.run.Unlock()
}

// interrupt stops what runs in the session: installs, the cell (with
// KeyboardInterrupt, as Ctrl-C would) or a task. It reports whether
// anything ran.
func (e *sessionEntry) interrupt() bool {
	e.mu.Lock()
	cancel := e.cancel
	e.mu.Unlock()
	if cancel == nil {
		return false
	}
	cancel()
	return true
}

// finish closes the session's recorder.
func (e *sessionEntry) finish() {
	e.mu.Lock()
	rec := e.rec
	e.rec = nil
	e.mu.Unlock()
	if rec != nil {
		_ = rec.Finish(context.Background(), nil, nil)
	}
}

// dropRecorder forgets a recorder that failed, so that the next execution
// records into a new conversation.
func (e *sessionEntry) dropRecorder(rec *store.Recorder) {
	e.mu.Lock()
	if e.rec == rec {
		e.rec, e.convID = nil, ""
	}
	e.mu.Unlock()
	_ = rec.Finish(context.Background(), nil, nil)
}

func errNoSession(id string) error {
	return huma.Error404NotFound(fmt.Sprintf("no session %q", id))
}

// lookup returns the user's session id; any other is not found.
func (s *Server) lookup(u *store.User, id string) (*sessionEntry, error) {
	s.mu.Lock()
	e := s.sessions[id]
	s.mu.Unlock()
	if e == nil || e.user != u.ID {
		return nil, errNoSession(id)
	}
	if _, err := s.manager.Get(id); err != nil {
		// Closed: reaped when idle, or shut down.
		s.forget(e)
		return nil, errNoSession(id)
	}
	return e, nil
}

// forget drops a closed session.
func (s *Server) forget(e *sessionEntry) {
	s.mu.Lock()
	if s.sessions[e.id] == e {
		delete(s.sessions, e.id)
	}
	for conv, id := range s.convSession {
		if id == e.id {
			delete(s.convSession, conv)
		}
	}
	s.mu.Unlock()
	e.finish()
}

// lockWithin locks mu, waiting at most d.
func lockWithin(mu *sync.Mutex, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// userSessions returns the user's open sessions, oldest first, forgetting
// those closed meanwhile.
func (s *Server) userSessions(u *store.User) []*sessionEntry {
	s.mu.Lock()
	var mine []*sessionEntry
	for _, e := range s.sessions {
		if e.user == u.ID {
			mine = append(mine, e)
		}
	}
	s.mu.Unlock()
	open := mine[:0]
	for _, e := range mine {
		if _, err := s.manager.Get(e.id); err != nil {
			s.forget(e)
			continue
		}
		open = append(open, e)
	}
	sort.Slice(open, func(i, j int) bool { return open[i].created.Before(open[j].created) })
	return open
}

// newSession starts a session for u, within the user's quota and the
// server's limits.
func (s *Server) newSession(ctx context.Context, u *store.User, memory int64, timeout time.Duration, env []string) (*sessionEntry, error) {
	if s.draining.Load() {
		return nil, errShuttingDown()
	}
	s.userSessions(u) // forgets those closed meanwhile
	s.mu.Lock()
	open := 0
	for _, e := range s.sessions {
		if e.user == u.ID {
			open++
		}
	}
	if q := s.cfg.Quotas.Sessions; q >= 0 && open+s.pending[u.ID] >= q {
		s.mu.Unlock()
		return nil, s.quotaRefused(ctx, "", tooMany(fmt.Sprintf("quota exceeded: at most %d sessions open at once; close one first (DELETE /v1/sessions/{id})", q), 30*time.Second))
	}
	s.pending[u.ID]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.pending[u.ID]--; s.pending[u.ID] <= 0 {
			delete(s.pending, u.ID)
		}
		s.mu.Unlock()
	}()

	opts := session.CreateOptions{Env: env, Owner: u.ID}
	if memory != s.cfg.DefaultMemory {
		// Sessions with limits of their own do not come from the pool.
		l := s.d.Kernel.Limits
		l.Memory = memory
		opts.Limits = &l
	}
	ss, err := s.manager.Create(ctx, opts)
	switch {
	case errors.Is(err, session.ErrTooMany):
		return nil, huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("the server has as many sessions open as it can: try again later"),
			map[string][]string{"Retry-After": {"30"}})
	case errors.Is(err, session.ErrManagerDown):
		return nil, errShuttingDown()
	case errors.Is(err, sandbox.ErrUnsupported):
		s.log.Error("create session", "err", err)
		return nil, huma.Error503ServiceUnavailable("this host cannot start sandboxes")
	case err != nil:
		if ctx.Err() != nil {
			return nil, huma.Error400BadRequest("the request was cancelled")
		}
		s.log.Error("create session", "user", u.Name, "err", err)
		return nil, huma.Error500InternalServerError("the session could not start")
	}
	e := &sessionEntry{id: ss.ID, user: u.ID, sess: ss, memory: memory, timeout: timeout, created: ss.Created}
	s.mu.Lock()
	closing := s.draining.Load()
	if !closing {
		s.sessions[ss.ID] = e
	}
	s.mu.Unlock()
	if closing {
		ss.Close()
		return nil, errShuttingDown()
	}
	s.auditOK(ctx, store.AuditSessionCreate, e.id, "")
	return e, nil
}

// SessionInfo describes a session.
type SessionInfo struct {
	ID         string    `json:"id" doc:"The session's ID."`
	Status     string    `json:"status" enum:"idle,busy,dead" doc:"idle: ready for code; busy: running code; dead: its Python process ended (restart it)."`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	Memory     int64     `json:"memory" doc:"Memory limit in bytes, workspace files included."`
	// CellTimeout is in seconds.
	CellTimeout    float64 `json:"cell_timeout" doc:"Time limit of one execution, in seconds."`
	Python         string  `json:"python,omitempty" doc:"The Python version."`
	ConversationID string  `json:"conversation_id,omitempty" doc:"The history conversation its executions are recorded in, once it ran code."`
}

func (e *sessionEntry) info() SessionInfo {
	in := SessionInfo{
		ID: e.id, Status: "idle", CreatedAt: e.created, LastUsedAt: e.sess.LastUsed(),
		Memory: e.memory, CellTimeout: e.timeout.Seconds(),
	}
	if k := e.sess.Kernel(); k != nil {
		in.Python, _ = k.Python()
		if !k.Alive() {
			in.Status = "dead"
		}
	}
	if e.busy.Load() {
		in.Status = "busy"
	}
	e.mu.Lock()
	in.ConversationID = e.convID
	e.mu.Unlock()
	return in
}

// CreateSessionBody asks for a session's limits.
type CreateSessionBody struct {
	Memory      int64             `json:"memory,omitempty" minimum:"67108864" doc:"Memory limit in bytes (at least 64 MiB); the server's default if absent, and at most its maximum."`
	CellTimeout float64           `json:"cell_timeout,omitempty" minimum:"0" doc:"Time limit of one execution, in seconds, at least 0.001; the server's default if absent or 0, and at most its maximum."`
	Env         map[string]string `json:"env,omitempty" maxProperties:"100" doc:"Environment variables of the sandbox, beside Interp's own (which cannot be replaced); the server's own never go in."`
}

type createSessionInput struct {
	Body *CreateSessionBody
}

type sessionOutput struct {
	Location string `header:"Location"`
	Body     SessionInfo
}

type sessionIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"A session ID."`
}

type sessionInfoOutput struct {
	Body SessionInfo
}

// SessionList lists sessions.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

type sessionListOutput struct {
	Body SessionList
}

// InterruptResult says whether code was interrupted.
type InterruptResult struct {
	Interrupted bool `json:"interrupted" doc:"Whether code was running and got KeyboardInterrupt."`
}

type interruptOutput struct {
	Body InterruptResult
}

func (s *Server) createSession(ctx context.Context, in *createSessionInput) (*sessionOutput, error) {
	u := userFrom(ctx)
	prefs, err := s.userSettings(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	memory, timeout := s.sessionDefaults(prefs)
	var env []string
	if b := in.Body; b != nil {
		for k, v := range b.Env {
			env = append(env, k+"="+v)
		}
		slices.Sort(env)
		if err := session.CheckEnv(env); err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		if err := s.cfg.checkLimits(b.Memory, b.CellTimeout); err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		if b.Memory != 0 {
			memory = b.Memory
		}
		if b.CellTimeout != 0 {
			timeout = time.Duration(b.CellTimeout * float64(time.Second))
		}
	}
	// Starting a sandbox takes a moment, more without the warm pool.
	longRequest(ctx, 2*time.Minute)
	e, err := s.newSession(ctx, u, memory, timeout, env)
	if err != nil {
		return nil, err
	}
	return &sessionOutput{Location: "/v1/sessions/" + e.id, Body: e.info()}, nil
}

// seconds converts a client's seconds into a duration of at most max.
func seconds(v float64, max time.Duration, name string) (time.Duration, error) {
	if v < 0 || v > max.Seconds() {
		return 0, huma.Error422UnprocessableEntity(fmt.Sprintf("%s %g s is not between 0 and the maximum of %g s", name, v, max.Seconds()))
	}
	// Smaller values would round to nothing, or to a limit no cell meets.
	if v < minSeconds {
		return 0, huma.Error422UnprocessableEntity(fmt.Sprintf("%s %g s is under the minimum of %g s (0 or absent means the default)", name, v, minSeconds))
	}
	return time.Duration(v * float64(time.Second)), nil
}

// minSeconds is the smallest time limit a request may set.
const minSeconds = 0.001

func (s *Server) listSessions(ctx context.Context, _ *struct{}) (*sessionListOutput, error) {
	out := &sessionListOutput{Body: SessionList{Sessions: []SessionInfo{}}}
	for _, e := range s.userSessions(userFrom(ctx)) {
		out.Body.Sessions = append(out.Body.Sessions, e.info())
	}
	return out, nil
}

func (s *Server) getSession(ctx context.Context, in *sessionIDInput) (*sessionInfoOutput, error) {
	e, err := s.lookup(userFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &sessionInfoOutput{Body: e.info()}, nil
}

func (s *Server) deleteSession(ctx context.Context, in *sessionIDInput) (*struct{}, error) {
	e, err := s.lookup(userFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	longRequest(ctx, 2*time.Minute)
	e.life.Lock()
	_ = e.sess.Close()
	e.life.Unlock()
	s.forget(e)
	s.auditOK(ctx, store.AuditSessionDelete, e.id, "")
	return nil, nil
}

func (s *Server) restartSession(ctx context.Context, in *sessionIDInput) (*sessionInfoOutput, error) {
	e, err := s.lookup(userFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	ctx, done, err := s.startWork(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	longRequest(ctx, 2*time.Minute)
	if !e.life.TryLock() {
		return nil, huma.Error409Conflict("the session is already restarting")
	}
	defer e.life.Unlock()
	// What runs is stopped first, and nothing starts meanwhile: a task's
	// agent restarts the session itself after a crash, and two restarts
	// must not overlap.
	if !e.run.TryLock() {
		e.interrupt()
		if !lockWithin(&e.run, 30*time.Second) {
			return nil, huma.Error409Conflict("the session is busy and did not stop: try again")
		}
	}
	defer e.run.Unlock()
	if _, err := s.manager.Get(e.id); err != nil {
		return nil, errNoSession(in.ID) // closed meanwhile
	}
	if err := e.sess.Restart(ctx); err != nil {
		if errors.Is(err, session.ErrClosed) {
			return nil, errNoSession(in.ID)
		}
		s.log.Error("restart session", "session", e.id, "err", err)
		return nil, huma.Error500InternalServerError("the session could not restart")
	}
	return &sessionInfoOutput{Body: e.info()}, nil
}

func (s *Server) interruptSession(ctx context.Context, in *sessionIDInput) (*interruptOutput, error) {
	e, err := s.lookup(userFrom(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	return &interruptOutput{Body: InterruptResult{Interrupted: e.interrupt()}}, nil
}
