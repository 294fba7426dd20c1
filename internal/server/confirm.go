package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/agent"
)

// Confirm-before-run: a task started with confirm set asks before each
// step's code runs, as interp run does on a terminal. The stream sends a
// confirm event with the code, and the agent waits until the owner
// answers through POST /v1/conversations/{id}/confirm: run it, run an
// edited version, or skip it (the model is told, the task goes on).
// Interrupting the session, or the task's time limit, declines and ends
// the task.

// ConfirmEvent asks whether to run a step's code. Nothing runs until POST
// /v1/conversations/{id}/confirm answers.
type ConfirmEvent struct {
	Type string `json:"type" enum:"confirm" doc:"confirm."`
	ID   string `json:"id" doc:"The question's ID: give it back with the answer, so that an answer cannot go to a later question."`
	Code string `json:"text" doc:"The code waiting to run, whole."`
	Step int    `json:"step" doc:"The model's step, from 1."`
}

// ConfirmBody answers a confirm event.
type ConfirmBody struct {
	ID     string `json:"id,omitempty" maxLength:"64" doc:"The confirm event's ID; when given, an answer to another question is refused with 409."`
	Action string `json:"action" enum:"run,skip" doc:"run: run the code (or code, if given); skip: do not run it, tell the model, and go on."`
	Code   string `json:"code,omitempty" maxLength:"1000000" doc:"With run: the code to run instead of the model's, edited by the person."`
}

type confirmInput struct {
	ID   string `path:"id" maxLength:"64" doc:"A conversation ID."`
	Body ConfirmBody
}

// pendingConfirm is a question waiting for its answer.
type pendingConfirm struct {
	id    string
	reply chan agent.Verdict // buffered: one answer
}

// reviewer returns the agent's Review for a task of conversation convID
// whose stream send writes to: it sends a confirm event and waits.
func (s *Server) reviewer(convID string, step *int, send func(typ string, v any)) func(context.Context, string) (agent.Verdict, error) {
	return func(ctx context.Context, code string) (agent.Verdict, error) {
		p := &pendingConfirm{id: "cfm_" + newRequestID(), reply: make(chan agent.Verdict, 1)}
		s.mu.Lock()
		s.confirms[convID] = p
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if s.confirms[convID] == p {
				delete(s.confirms, convID)
			}
			s.mu.Unlock()
		}()
		send("confirm", ConfirmEvent{Type: "confirm", ID: p.id, Code: code, Step: *step})
		select {
		case v := <-p.reply:
			return v, nil
		case <-ctx.Done():
			return agent.Verdict{}, ctx.Err()
		}
	}
}

func (s *Server) confirm(ctx context.Context, in *confirmInput) (*struct{}, error) {
	if err := s.ownConversation(ctx, in.ID); err != nil {
		return nil, err
	}
	if in.Body.Action == "skip" && in.Body.Code != "" {
		return nil, huma.Error422UnprocessableEntity("code goes with action run (an edit), not skip")
	}
	s.mu.Lock()
	p := s.confirms[in.ID]
	if p != nil && (in.Body.ID == "" || in.Body.ID == p.id) {
		delete(s.confirms, in.ID)
	}
	s.mu.Unlock()
	switch {
	case p == nil:
		return nil, huma.Error409Conflict(fmt.Sprintf("no code of conversation %s is waiting for an answer", in.ID))
	case in.Body.ID != "" && in.Body.ID != p.id:
		return nil, huma.Error409Conflict(fmt.Sprintf("confirm %s was answered already; the code waiting now is %s's", in.Body.ID, p.id))
	}
	p.reply <- agent.Verdict{Skip: in.Body.Action == "skip", Code: in.Body.Code}
	return nil, nil
}

func (s *Server) registerConfirm() {
	op := s.op("confirm-code", http.MethodPost, "/v1/conversations/{id}/confirm", "Answer a confirm event: run, edit or skip the code", "tasks", idErrors,
		http.StatusConflict)
	op.DefaultStatus = http.StatusNoContent
	op.MaxBodyBytes = s.codeBodyBytes()
	op.Description = "Answers the confirm event of a task started with confirm: run the code as it is, run an edited version (code), or skip it: " +
		"its cell ends as declined, the model is told, and the task goes on. To stop the task instead, interrupt the session. 409 when no code waits."
	huma.Register(s.api, op, s.confirm)
}
