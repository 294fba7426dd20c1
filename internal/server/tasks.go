package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/store"
)

// TaskBody is one turn of a conversation.
type TaskBody struct {
	Prompt         string `json:"prompt" minLength:"1" maxLength:"200000" doc:"The task, in plain language."`
	ConversationID string `json:"conversation_id,omitempty" maxLength:"64" doc:"The conversation to continue; a new one if absent."`
	SessionID      string `json:"session_id,omitempty" maxLength:"64" doc:"The session to run code in; if absent, the conversation's last session while it is open, else a new one (which counts against the session quota)."`
	Confirm        bool   `json:"confirm,omitempty" doc:"Ask before each step's code runs: the stream sends a confirm event, and the code waits for POST /v1/conversations/{id}/confirm (run, edit or skip)."`
}

type taskInput struct {
	Body TaskBody
}

// TaskResult ends a task's stream, as its result event (ResultEvent in
// the document).
type TaskResult struct {
	Type           string    `json:"type"`
	ConversationID string    `json:"conversation_id"`
	TaskID         string    `json:"task_id,omitempty"`
	SessionID      string    `json:"session_id"`
	Stop           string    `json:"stop" doc:"Why the task ended: answer, max_steps, max_failures, repeated_error, token_budget, stopped, refused (a quota, such as the workspace's, refused more code), provider_error, or failed."`
	Reason         string    `json:"reason,omitempty"`
	Answer         string    `json:"answer,omitempty"`
	Steps          int       `json:"steps"`
	Usage          llm.Usage `json:"usage"`
}

type taskOutput struct {
	ConversationID string `header:"X-Conversation-ID" doc:"The conversation the task is recorded in."`
	SessionID      string `header:"X-Session-ID" doc:"The session its code runs in."`
	Body           func(huma.Context)
}

// taskRun is one task of a conversation, from its checks to the end of
// its stream: what it works with, and what it holds until it ends.
type taskRun struct {
	u      *store.User
	body   TaskBody
	convID string
	e      *sessionEntry
	model  *LLM
	prefs  UserSettings    // the user's settings: model, new sessions' limits
	left   int64           // the user's tokens left today; negative: no limit
	rctx   context.Context // the run's: ends with an interrupt or a shutdown
	ag     *agent.Agent
	rec    *store.Recorder
	// send is the stream's, once it exists; step is the step running. The
	// confirm events of a task with confirm use both.
	send func(typ string, v any)
	step int
	// release lets go of what the task holds, in reverse order.
	release []func()
}

func (t *taskRun) hold(release func()) { t.release = append(t.release, release) }

func (t *taskRun) releaseAll() {
	for i := len(t.release) - 1; i >= 0; i-- {
		t.release[i]()
	}
	t.release = nil
}

// task runs one task: checks first (answered as JSON errors), then the
// stream.
func (s *Server) task(ctx context.Context, in *taskInput) (*taskOutput, error) {
	t := &taskRun{u: userFrom(ctx), body: in.Body, convID: in.Body.ConversationID}
	if err := s.admitTask(ctx, t); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			t.releaseAll()
		}
	}()
	if err := s.claimTask(ctx, t); err != nil {
		return nil, err
	}
	if err := s.prepareTask(ctx, t); err != nil {
		return nil, err
	}
	ok = true
	s.auditOK(ctx, store.AuditTaskStart, t.convID+" "+t.e.id, "task "+t.rec.TaskID())
	return &taskOutput{ConversationID: t.convID, SessionID: t.e.id, Body: func(hctx huma.Context) {
		s.streamTask(hctx, t)
	}}, nil
}

// admitTask checks what the task asks for, holding nothing: a model, the
// user's conversation and session, the workspace and token quotas.
func (s *Server) admitTask(ctx context.Context, t *taskRun) error {
	if s.d.LLM == nil {
		return huma.Error503ServiceUnavailable("no language model is configured on this server")
	}
	if t.convID != "" {
		owner, kind, err := s.d.Store.ConversationUser(ctx, t.convID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && owner != t.u.ID) {
			return errNoConversation(t.convID)
		}
		if err != nil {
			return err
		}
		if kind != store.KindChat {
			return huma.Error409Conflict(fmt.Sprintf("conversation %s records executions, not tasks: start a new conversation", t.convID))
		}
	}
	if t.body.SessionID != "" {
		var err error
		if t.e, err = s.lookup(t.u, t.body.SessionID); err != nil {
			return err
		}
	}
	if err := s.checkWorkspace(ctx, t.u, t.body.SessionID); err != nil {
		return err
	}
	var err error
	if t.left, err = s.tokensLeft(ctx, t.u); err != nil {
		return err
	}
	if t.prefs, err = s.userSettings(ctx, t.u.ID); err != nil {
		return err
	}
	if t.model, err = s.modelOf(ctx, t.prefs); err != nil {
		s.log.Error("language model", "err", err)
		s.metrics.errors.WithLabelValues("llm").Inc()
		return huma.Error503ServiceUnavailable("the language model is not available: " + err.Error())
	}
	return nil
}

// claimTask takes what the task runs with, each held until it ends: the
// server's work, the conversation (one task at a time), and a session (the
// one asked for, else the conversation's, else a new one) to run in.
func (s *Server) claimTask(ctx context.Context, t *taskRun) error {
	// The task goes on when the client goes away, so that it can resume
	// the stream; interrupt stops it.
	wctx, done, err := s.startWork(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	t.hold(done)
	if t.convID != "" {
		if err := s.claimConversation(t, t.convID); err != nil {
			return err
		}
		if t.e == nil {
			s.mu.Lock()
			sid := s.convSession[t.convID]
			s.mu.Unlock()
			if sid != "" {
				t.e, _ = s.lookup(t.u, sid)
			}
		}
	}
	if t.e == nil {
		longRequest(ctx, 2*time.Minute)
		memory, timeout := s.sessionDefaults(t.prefs)
		if t.e, err = s.newSession(ctx, t.u, memory, timeout, nil); err != nil {
			return err
		}
	}
	if t.e.sess.Kernel() == nil {
		return huma.Error409Conflict("the session is closed: create another (POST /v1/sessions)")
	}
	if t.rctx, err = t.e.tryRun(wctx); err != nil {
		return err
	}
	t.hold(t.e.endRun)
	if t.convID == "" {
		id, err := s.d.Store.NewConversation(ctx, store.ConversationInfo{Kind: store.KindChat, Source: store.SourceServe,
			Provider: t.model.Name, Model: t.model.Model, UserID: t.u.ID})
		if err != nil {
			return err
		}
		return s.claimConversation(t, id)
	}
	return nil
}

// claimConversation makes id the task's conversation, which runs one task
// at a time.
func (s *Server) claimConversation(t *taskRun, id string) error {
	if !s.lockConversation(id) {
		return huma.Error409Conflict("the conversation already has a task running")
	}
	t.convID = id
	t.hold(func() { s.unlockConversation(id) })
	return nil
}

// prepareTask makes the task's agent, with the conversation's memory, and
// starts recording the task.
func (s *Server) prepareTask(ctx context.Context, t *taskRun) error {
	history, err := s.d.Store.LoadHistory(ctx, t.convID)
	if err != nil {
		return err
	}
	// With confirm, the agent's questions go out on the stream, which
	// exists only once the body runs: send is set there.
	var review func(context.Context, string) (agent.Verdict, error)
	if t.body.Confirm {
		review = s.reviewer(t.convID, &t.step, func(typ string, v any) { t.send(typ, v) })
	}
	u, e := t.u, t.e
	t.ag, err = agent.New(agent.Config{
		Review:   review,
		Provider: t.model.Provider, Model: t.model.Model, Session: e.sess, Auto: s.d.Auto, Limits: s.taskLimits(t),
		Vision: s.cfg.Vision, NoTools: s.cfg.NoTools, Packages: s.d.Kernel.Runtime.Packages(),
		Temperature: t.model.Temperature, SmallModel: t.model.SmallModel,
		// The workspace quota holds at every step, not only at the start:
		// one task's code can fill the workspace.
		Admit: func(ctx context.Context) error {
			if msg, over := s.workspaceExceeded(u); over {
				s.audit(context.WithValue(context.WithoutCancel(ctx), userKey, u), &store.AuditEntry{
					Action: store.AuditQuotaExceeded, Target: e.id, Detail: msg, Result: store.ResultDenied})
				return errors.New(msg)
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	t.ag.SetHistory(history)
	if t.rec, err = s.d.Store.StartTask(ctx, t.convID, t.body.Prompt, &store.RecorderOptions{Files: e.sess}); err != nil {
		return err
	}
	s.mu.Lock()
	s.convSession[t.convID] = e.id
	s.mu.Unlock()
	return nil
}

// taskLimits are the server's agent limits, within what the user's token
// quota has left and the session's time limit.
func (s *Server) taskLimits(t *taskRun) agent.Limits {
	lim := s.cfg.Agent
	if lim.TokenBudget == 0 {
		lim.TokenBudget = agent.DefaultLimits.TokenBudget
	}
	if t.left >= 0 && t.left < int64(lim.TokenBudget) {
		lim.TokenBudget = int(t.left)
	}
	if lim.CellTimeout == 0 {
		lim.CellTimeout = agent.DefaultLimits.CellTimeout
	}
	lim.CellTimeout = min(lim.CellTimeout, t.e.timeout)
	return lim
}

// streamTask runs the task, streaming its events and then its result,
// and lets go of what it held.
func (s *Server) streamTask(hctx huma.Context, t *taskRun) {
	defer t.releaseAll()
	w := s.startStream(hctx, t.u.ID)
	defer w.close()
	t.send = w.send
	s.setRunning(t.convID, w.j)
	defer s.setRunning(t.convID, nil)
	tctx, cancel := context.WithTimeout(t.rctx, s.cfg.TaskTimeout)
	defer cancel()
	// Each event is recorded, then sent: what a client saw is in the
	// history.
	res, err := t.rec.RunTask(tctx, t.ag, func(ev agent.Event) {
		t.step = ev.Step
		s.countEvent(ev.Event)
		if ev.Type == event.Done {
			s.metrics.executions.WithLabelValues(ev.Status).Inc()
			s.metrics.execDuration.Observe(ev.Duration)
		}
		w.send(ev.Type, ev)
	})
	if err := t.rec.Err(); err != nil {
		s.historyError(err)
	}
	w.send("result", s.taskResult(tctx, t, res, err))
}

// taskResult is how the task ended, for its stream's result event; it
// counts the task in the metrics and its tokens against the user's quota.
func (s *Server) taskResult(tctx context.Context, t *taskRun, res *agent.Result, err error) TaskResult {
	out := TaskResult{Type: "result", ConversationID: t.convID, TaskID: t.rec.TaskID(), SessionID: t.e.id}
	if err != nil {
		out.Stop, out.Reason = "failed", err.Error()
	} else {
		out.Stop, out.Reason, out.Answer, out.Steps, out.Usage = res.Stop, res.Reason, res.Answer, res.Steps, res.Usage
		if res.Stop == event.StopUser && errors.Is(tctx.Err(), context.DeadlineExceeded) && t.rctx.Err() == nil {
			out.Reason = fmt.Sprintf("the task ran over its time limit of %s", s.cfg.TaskTimeout)
		}
		if res.Stop == event.StopProvider {
			s.metrics.errors.WithLabelValues("llm").Inc()
		}
		s.metrics.tokens.WithLabelValues("input").Add(float64(res.Usage.InputTokens))
		s.metrics.tokens.WithLabelValues("output").Add(float64(res.Usage.OutputTokens))
		if n := int64(res.Usage.InputTokens + res.Usage.OutputTokens); n > 0 {
			if err := s.d.Store.AddTokenUsage(context.WithoutCancel(t.rctx), t.u.ID, store.Day(s.now()), n); err != nil {
				s.historyError(err)
			}
		}
	}
	s.metrics.tasks.WithLabelValues(out.Stop).Inc()
	return out
}

func (s *Server) lockConversation(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.convBusy[id] {
		return false
	}
	s.convBusy[id] = true
	return true
}

func (s *Server) unlockConversation(id string) {
	s.mu.Lock()
	delete(s.convBusy, id)
	s.mu.Unlock()
}

func errNoConversation(id string) error {
	return huma.Error404NotFound(fmt.Sprintf("no conversation %q", id))
}
