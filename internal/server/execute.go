package server

import (
	"context"
	"fmt"
	"path"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/cell"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// ExecuteBody is code to run.
type ExecuteBody struct {
	Code    string  `json:"code" doc:"Python code: the next cell of the session. Its last expression is displayed."`
	Timeout float64 `json:"timeout,omitempty" minimum:"0" doc:"Time limit in seconds, at least 0.001; the session's cell_timeout if absent or 0, and at most that."`
	Install *bool   `json:"install,omitempty" doc:"Install the packages the code imports and lacks (and %pip lines) first. Default true."`
}

type executeInput struct {
	ID   string `path:"id" maxLength:"64" doc:"A session ID."`
	Body ExecuteBody
}

// ExecuteResult is every event of an execution, the done event last.
type ExecuteResult struct {
	Status string          `json:"status" enum:"ok,error,interrupted,timeout,died" doc:"How the cell ended: its done event's status."`
	Events []session.Event `json:"events" doc:"Every event, in order, as the CLI's --json prints them: install, stdout, stderr, display, error, file, and done last."`
}

type executeOutput struct {
	Body ExecuteResult
}

// execution is an execution that passed its checks, ready to run.
type execution struct {
	u       *store.User
	e       *sessionEntry
	code    string
	timeout time.Duration
	install bool
	ctx     context.Context
	end     func()
}

// prepareExecution checks a request to execute code: the session, the
// quota, that nothing else runs, the time limit. On success the session
// is held for the execution until end.
func (s *Server) prepareExecution(ctx context.Context, in *executeInput) (*execution, error) {
	u := userFrom(ctx)
	e, err := s.lookup(u, in.ID)
	if err != nil {
		return nil, err
	}
	if n := int64(len(in.Body.Code)); n > s.cfg.MaxBodyBytes {
		return nil, huma.Error413RequestEntityTooLarge(fmt.Sprintf("the code is %d bytes, over the limit of %d", n, s.cfg.MaxBodyBytes))
	}
	timeout := e.timeout
	if in.Body.Timeout != 0 {
		if timeout, err = seconds(in.Body.Timeout, e.timeout, "timeout"); err != nil {
			return nil, err
		}
	}
	if e.sess.Kernel() == nil {
		return nil, huma.Error409Conflict("the session is closed: create another (POST /v1/sessions)")
	}
	if err := s.checkWorkspace(ctx, u, e.id); err != nil {
		return nil, err
	}
	ctx, done, err := s.startWork(ctx)
	if err != nil {
		return nil, err
	}
	rctx, err := e.tryRun(ctx)
	if err != nil {
		done()
		return nil, err
	}
	// Counted last: a refused request uses none of the quota.
	if err := s.checkExecution(ctx, u, e.id); err != nil {
		e.endRun()
		done()
		return nil, err
	}
	return &execution{
		u: u, e: e, code: in.Body.Code, timeout: timeout, install: in.Body.Install == nil || *in.Body.Install,
		ctx: rctx, end: func() { e.endRun(); done() },
	}, nil
}

// run runs the execution, calling emit with each event, the done event
// last, and returns the done event.
func (s *Server) run(x *execution, emit func(session.Event)) session.Event {
	e := x.e
	rec := s.execRecorder(x.ctx, e)
	if rec != nil && rec.StartCell(x.code) != nil {
		// The conversation was deleted, as a rule: start another.
		e.dropRecorder(rec)
		if rec = s.execRecorder(x.ctx, e); rec != nil && rec.StartCell(x.code) != nil {
			s.historyError(rec.Err())
			e.dropRecorder(rec)
			rec = nil
		}
	}
	// Recorded first, then shown: what a client saw is in the history.
	out := func(ev session.Event) {
		s.countEvent(ev)
		if rec != nil {
			if err := rec.SessionEvent(ev); err != nil {
				s.log.Warn("history: recording stopped", "session", e.id, "err", err)
				e.dropRecorder(rec)
				rec = nil
			}
		}
		emit(ev)
	}
	runner := cell.Runner{Auto: s.d.Auto, InstallTimeout: s.cfg.InstallTimeout}
	res, _ := runner.Run(x.ctx, e.sess, x.code, cell.Options{
		Timeout: x.timeout, NoInstall: !x.install,
		MissingFile: func(name string) string {
			if path.IsAbs(name) {
				return "" // an upload lands in the workspace, not there
			}
			return fmt.Sprintf("upload it with POST /v1/sessions/%s/files (path %s), then run the code again", e.id, name)
		},
		BeforeDone: func(done event.Event, emit func(event.Event)) {
			s.metrics.executions.WithLabelValues(done.Status).Inc()
			s.metrics.execDuration.Observe(done.Duration)
			if ev, over := s.workspaceAfterRun(x); over {
				emit(ev)
			}
		},
	}, out)
	return res.Done
}

// EWorkspaceQuota is the ename of the error event that says an execution
// left the user's workspaces over their quota.
const EWorkspaceQuota = "WorkspaceQuotaExceeded"

// workspaceAfterRun checks the user's workspaces after code ran: over the
// quota, it returns an error event to send before done (the cell itself
// keeps its status), and records it in the audit log. Further executions
// are refused until files are deleted.
func (s *Server) workspaceAfterRun(x *execution) (session.Event, bool) {
	q := s.cfg.Quotas.WorkspaceBytes
	if q < 0 || x.u == nil {
		return session.Event{}, false
	}
	used := s.workspaceUsage(x.u)
	if used <= q {
		return session.Event{}, false
	}
	msg := workspaceOver(q) + "; the workspaces hold " + itoa64(used) + " bytes, and no more code runs until files are deleted"
	ctx := context.WithValue(context.WithoutCancel(x.ctx), userKey, x.u)
	s.audit(ctx, &store.AuditEntry{Action: store.AuditQuotaExceeded, Target: x.e.id, Detail: msg, Result: store.ResultDenied})
	return session.Event{Type: event.Error, EName: EWorkspaceQuota, EValue: msg}, true
}

// countEvent counts what metrics want to know of an event.
func (s *Server) countEvent(ev session.Event) {
	if ev.Type == event.Install && (ev.Phase == event.PhaseInstalled || ev.Phase == event.PhaseFailed) {
		s.metrics.installs.WithLabelValues(ev.Phase).Inc()
	}
}

func (s *Server) historyError(err error) {
	s.metrics.errors.WithLabelValues("history").Inc()
	s.log.Error("history", "err", err)
}

// execRecorder returns the recorder of the session's executions, creating
// its conversation the first time; nil when executions are not recorded
// or the history failed.
func (s *Server) execRecorder(ctx context.Context, e *sessionEntry) *store.Recorder {
	if s.cfg.NoRecordExecutions {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec != nil {
		return e.rec
	}
	ctx = context.WithoutCancel(ctx)
	st := s.d.Store
	rec, err := st.StartExec(ctx, "", &store.RecorderOptions{Files: e.sess,
		New: store.ConversationInfo{Source: store.SourceServe, Title: "session " + e.id, UserID: e.user}})
	if err != nil {
		s.historyError(err)
		return nil
	}
	e.rec, e.convID = rec, rec.ConversationID()
	return rec
}

func (s *Server) execute(ctx context.Context, in *executeInput) (*executeOutput, error) {
	x, err := s.prepareExecution(ctx, in)
	if err != nil {
		return nil, err
	}
	defer x.end()
	// The response is written once the code ran: its deadline covers the
	// installs, the cell, the interrupt's grace, and the write itself.
	longRequest(ctx, s.cfg.InstallTimeout*2+x.timeout+10*time.Second+s.cfg.WriteTimeout)
	events := []session.Event{}
	done := s.run(x, func(ev session.Event) { events = append(events, ev) })
	return &executeOutput{Body: ExecuteResult{Status: done.Status, Events: events}}, nil
}

// executeStream streams an execution's events. The execution goes on
// when the client goes away, so that it can resume the stream; interrupt
// stops it.
func (s *Server) executeStream(ctx context.Context, in *executeInput) (*huma.StreamResponse, error) {
	x, err := s.prepareExecution(context.WithoutCancel(ctx), in)
	if err != nil {
		return nil, err
	}
	u := userFrom(ctx)
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer x.end()
		es := s.startStream(hctx, u.ID)
		defer es.close()
		s.run(x, func(ev session.Event) { es.send(ev.Type, ev) })
	}}, nil
}

// schemaOf returns the schema of v's type, registering it, for the doc.
func (s *Server) schemaOf(v any) *huma.Schema {
	return s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(v), true, "")
}
