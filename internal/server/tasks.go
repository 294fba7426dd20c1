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

// task runs one task: checks first (answered as JSON errors), then the
// stream.
func (s *Server) task(ctx context.Context, in *taskInput) (*taskOutput, error) {
	u := userFrom(ctx)
	st := s.d.Store
	if s.d.LLM == nil {
		return nil, huma.Error503ServiceUnavailable("no language model is configured on this server")
	}
	convID := in.Body.ConversationID
	if convID != "" {
		owner, kind, err := st.ConversationUser(ctx, convID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && owner != u.ID) {
			return nil, errNoConversation(convID)
		}
		if err != nil {
			return nil, err
		}
		if kind != store.KindChat {
			return nil, huma.Error409Conflict(fmt.Sprintf("conversation %s records executions, not tasks: start a new conversation", convID))
		}
	}
	var e *sessionEntry
	if in.Body.SessionID != "" {
		var err error
		if e, err = s.lookup(u, in.Body.SessionID); err != nil {
			return nil, err
		}
	}
	if err := s.checkWorkspace(ctx, u, in.Body.SessionID); err != nil {
		return nil, err
	}
	left, err := s.tokensLeft(ctx, u)
	if err != nil {
		return nil, err
	}
	prefs, err := s.userSettings(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	model, err := s.modelOf(ctx, prefs)
	if err != nil {
		s.log.Error("language model", "err", err)
		s.metrics.errors.WithLabelValues("llm").Inc()
		return nil, huma.Error503ServiceUnavailable("the language model is not available: " + err.Error())
	}
	// The task goes on when the client goes away, so that it can resume
	// the stream; interrupt stops it.
	wctx, done, err := s.startWork(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			done()
		}
	}()
	if convID != "" {
		if !s.lockConversation(convID) {
			return nil, huma.Error409Conflict("the conversation already has a task running")
		}
		defer func() {
			if !ok {
				s.unlockConversation(convID)
			}
		}()
		if e == nil {
			s.mu.Lock()
			sid := s.convSession[convID]
			s.mu.Unlock()
			if sid != "" {
				e, _ = s.lookup(u, sid)
			}
		}
	}
	if e == nil {
		longRequest(ctx, 2*time.Minute)
		memory, timeout := s.sessionDefaults(prefs)
		if e, err = s.newSession(ctx, u, memory, timeout, nil); err != nil {
			return nil, err
		}
	}
	if e.sess.Kernel() == nil {
		return nil, huma.Error409Conflict("the session is closed: create another (POST /v1/sessions)")
	}
	rctx, err := e.tryRun(wctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			e.endRun()
		}
	}()
	if convID == "" {
		if convID, err = st.NewConversation(ctx, store.ConversationInfo{Kind: store.KindChat, Source: store.SourceServe, Provider: model.Name, Model: model.Model, UserID: u.ID}); err != nil {
			return nil, err
		}
		if !s.lockConversation(convID) {
			return nil, huma.Error409Conflict("the conversation already has a task running")
		}
		defer func() {
			if !ok {
				s.unlockConversation(convID)
			}
		}()
	}
	history, err := st.LoadHistory(ctx, convID)
	if err != nil {
		return nil, err
	}
	lim := s.cfg.Agent
	if lim.TokenBudget == 0 {
		lim.TokenBudget = agent.DefaultLimits.TokenBudget
	}
	if left >= 0 && left < int64(lim.TokenBudget) {
		lim.TokenBudget = int(left)
	}
	if lim.CellTimeout == 0 {
		lim.CellTimeout = agent.DefaultLimits.CellTimeout
	}
	lim.CellTimeout = min(lim.CellTimeout, e.timeout)
	// With confirm, the agent's questions go out on the stream, which
	// exists only once the body runs: send is set there.
	var send func(typ string, v any)
	var step int
	var review func(context.Context, string) (agent.Verdict, error)
	if in.Body.Confirm {
		review = s.reviewer(convID, &step, func(typ string, v any) { send(typ, v) })
	}
	ag, err := agent.New(agent.Config{
		Review:   review,
		Provider: model.Provider, Model: model.Model, Session: e.sess, Auto: s.d.Auto, Limits: lim,
		Vision: s.cfg.Vision, NoTools: s.cfg.NoTools, Packages: s.d.Kernel.Runtime.Packages(),
		Temperature: model.Temperature, SmallModel: model.SmallModel,
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
		return nil, err
	}
	ag.SetHistory(history)
	rec, err := st.StartTask(ctx, convID, in.Body.Prompt, &store.RecorderOptions{Files: e.sess})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.convSession[convID] = e.id
	s.mu.Unlock()

	ok = true
	s.auditOK(ctx, store.AuditTaskStart, convID+" "+e.id, "task "+rec.TaskID())
	prompt := in.Body.Prompt
	return &taskOutput{ConversationID: convID, SessionID: e.id, Body: func(hctx huma.Context) {
		defer done()
		defer s.unlockConversation(convID)
		defer e.endRun()
		w := s.startStream(hctx, u.ID)
		defer w.close()
		send = w.send
		s.setRunning(convID, w.j)
		defer s.setRunning(convID, nil)
		recOK := true
		tctx, cancel := context.WithTimeout(rctx, s.cfg.TaskTimeout)
		defer cancel()
		res, err := ag.Run(tctx, prompt, func(ev agent.Event) {
			step = ev.Step
			s.countEvent(ev.Event)
			if ev.Type == event.Done {
				s.metrics.executions.WithLabelValues(ev.Status).Inc()
				s.metrics.execDuration.Observe(ev.Duration)
			}
			// Recorded first, then sent: what a client saw is in the
			// history.
			if recOK {
				if err := rec.Event(ev); err != nil {
					s.historyError(err)
					recOK = false
				}
			}
			w.send(ev.Type, ev)
		})
		out := TaskResult{Type: "result", ConversationID: convID, TaskID: rec.TaskID(), SessionID: e.id}
		bg := context.WithoutCancel(rctx)
		if err != nil {
			out.Stop, out.Reason = "failed", err.Error()
			_ = rec.Fail(bg, err, ag.History())
		} else {
			out.Stop, out.Reason, out.Answer, out.Steps, out.Usage = res.Stop, res.Reason, res.Answer, res.Steps, res.Usage
			if res.Stop == event.StopUser && errors.Is(tctx.Err(), context.DeadlineExceeded) && rctx.Err() == nil {
				out.Reason = fmt.Sprintf("the task ran over its time limit of %s", s.cfg.TaskTimeout)
			}
			_ = rec.Finish(bg, &store.TaskResult{Answer: res.Answer, Stop: res.Stop, Reason: res.Reason, Steps: res.Steps, Usage: res.Usage}, ag.History())
			if res.Stop == event.StopProvider {
				s.metrics.errors.WithLabelValues("llm").Inc()
			}
			s.metrics.tokens.WithLabelValues("input").Add(float64(res.Usage.InputTokens))
			s.metrics.tokens.WithLabelValues("output").Add(float64(res.Usage.OutputTokens))
			if n := int64(res.Usage.InputTokens + res.Usage.OutputTokens); n > 0 {
				if err := st.AddTokenUsage(bg, u.ID, store.Day(s.now()), n); err != nil {
					s.historyError(err)
				}
			}
		}
		if err := rec.Err(); err != nil && recOK {
			s.historyError(err)
		}
		s.metrics.tasks.WithLabelValues(out.Stop).Inc()
		w.send("result", out)
	}}, nil
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
