package server

import (
	"context"
	"sync"
	"time"

	"github.com/interp-dev/interp/internal/store"
)

// rateLimiter allows each key limit events in any window (a sliding log).
type rateLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	hits map[string][]time.Time
}

func newRateLimiter(limit int, window time.Duration, now func() time.Time) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, now: now, hits: make(map[string][]time.Time)}
}

// allow counts an event for key if the limit allows it, and otherwise
// says how long until it would.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	if l.limit < 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.recent(key, now)
	if len(h) >= l.limit {
		if len(h) == 0 {
			return false, l.window
		}
		return false, h[0].Add(l.window).Sub(now)
	}
	l.hits[key] = append(h, now)
	return true, 0
}

// used returns how many events key had in the window.
func (l *rateLimiter) used(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, l.now()))
}

func (l *rateLimiter) recent(key string, now time.Time) []time.Time {
	h := l.hits[key]
	i := 0
	for i < len(h) && now.Sub(h[i]) >= l.window {
		i++
	}
	h = h[i:]
	if len(h) == 0 {
		delete(l.hits, key)
		return nil
	}
	l.hits[key] = h
	return h
}

// checkExecution counts an execution against the user's quota.
func (s *Server) checkExecution(ctx context.Context, u *store.User, target string) error {
	if ok, retry := s.execs.allow(u.ID); !ok {
		return s.quotaRefused(ctx, target, tooMany("quota exceeded: at most "+itoa(s.cfg.Quotas.ExecutionsPerMinute)+" executions per minute", retry))
	}
	return nil
}

// workspaceUsage returns the bytes of the files in all the user's
// sessions' workspaces.
func (s *Server) workspaceUsage(u *store.User) int64 {
	var n int64
	for _, e := range s.userSessions(u) {
		k := e.sess.Kernel()
		if k == nil {
			continue
		}
		if used, err := k.Workspace().Usage(); err == nil {
			n += used
		}
	}
	return n
}

// workspaceRetry is the Retry-After of the workspace quota: it frees up
// only when files are deleted.
const workspaceRetry = time.Minute

func workspaceOver(q int64) string {
	return "workspace quota of " + itoa64(q) + " bytes exceeded: delete files first (DELETE /v1/sessions/{id}/file?path=...)"
}

// checkWorkspace refuses code to run while the user's workspaces hold
// more than the quota.
func (s *Server) checkWorkspace(ctx context.Context, u *store.User, target string) error {
	if msg, over := s.workspaceExceeded(u); over {
		return s.quotaRefused(ctx, target, tooMany(msg, workspaceRetry))
	}
	return nil
}

// workspaceExceeded says whether the user's workspaces hold more than the
// quota, and by how much.
func (s *Server) workspaceExceeded(u *store.User) (string, bool) {
	q := s.cfg.Quotas.WorkspaceBytes
	if q < 0 {
		return "", false
	}
	if used := s.workspaceUsage(u); used > q {
		return workspaceOver(q) + "; the workspaces hold " + itoa64(used) + " bytes", true
	}
	return "", false
}

// tokensLeft returns how many model tokens the user may still use today,
// -1 for no limit, or a 429 when none are left.
func (s *Server) tokensLeft(ctx context.Context, u *store.User) (int64, error) {
	q := s.cfg.Quotas.TokensPerDay
	if q < 0 {
		return -1, nil
	}
	now := s.now()
	used, err := s.d.Store.TokenUsage(ctx, u.ID, store.Day(now))
	if err != nil {
		return 0, err
	}
	if used >= q {
		y, m, d := now.UTC().Date()
		midnight := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
		return 0, s.quotaRefused(ctx, "", tooMany("quota exceeded: "+itoa64(used)+" model tokens used today, of "+itoa64(q)+" a day (UTC)", midnight.Sub(now)))
	}
	return q - used, nil
}
