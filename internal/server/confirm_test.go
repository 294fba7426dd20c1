package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// A task with confirm asks before each step's code: the first is skipped
// (the task goes on), the second edited (the edit runs, and is what the
// history keeps), the third stopped by an interrupt.
func TestConfirmBeforeRun(t *testing.T) {
	e := newEnv(t, nil)
	fake := llmtest.NewOpenAIServer(t,
		llmtest.Turn{ToolCalls: []llmtest.Call{call("open('skipped.txt', 'w').write('x')")}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("print('from the model')")}},
		llmtest.Turn{Text: "Done."},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("print('never')")}},
	)
	p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: fake.URL, APIKey: "k", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	e.llm.set(p)
	a := e.alice.key
	var conv string
	confirms := 0
	res, evs := follow(context.Background(), t, "POST", e.ts.URL+"/v1/tasks", a, map[string]any{"prompt": "two steps", "confirm": true}, func(ev sseEvent) bool {
		if ev.event != "confirm" {
			return false
		}
		confirms++
		id, _ := ev.data["id"].(string)
		if conv == "" {
			// The stream's headers are not at hand here: the list has it.
			list := e.do(a, "GET", "/v1/conversations", nil).want(t, 200).obj(t)["conversations"].([]any)
			conv = list[0].(map[string]any)["id"].(string)
		}
		switch confirms {
		case 1:
			if ev.data["text"] != "open('skipped.txt', 'w').write('x')" || ev.data["step"] != float64(1) {
				t.Errorf("first confirm %v", ev.data)
			}
			// Someone else cannot answer; a wrong ID is refused.
			e.do(e.bob.key, "POST", "/v1/conversations/"+conv+"/confirm", map[string]any{"action": "run"}).want(t, 404)
			e.do(a, "POST", "/v1/conversations/"+conv+"/confirm", map[string]any{"action": "run", "id": "cfm_other"}).want(t, 409)
			e.do(a, "POST", "/v1/conversations/"+conv+"/confirm", map[string]any{"action": "skip", "id": id}).want(t, 204)
			// Answered once only.
			e.do(a, "POST", "/v1/conversations/"+conv+"/confirm", map[string]any{"action": "run", "id": id}).want(t, 409)
		case 2:
			e.do(a, "POST", "/v1/conversations/"+conv+"/confirm", map[string]any{"action": "run", "id": id, "code": "print('edited')"}).want(t, 204)
		}
		return false
	})
	if res == nil || res.Header.Get("X-Conversation-ID") != conv {
		t.Fatalf("the task's conversation is not the one answered (%s)", conv)
	}
	last := evs[len(evs)-1]
	if confirms != 2 || last.event != "result" || last.data["stop"] != "answer" {
		t.Fatalf("%d confirms, events %s, result %v", confirms, types(evs), last.data)
	}
	if out := text(evs, "stdout"); out != "edited\n" {
		t.Errorf("stdout %q: want the edited code's only", out)
	}
	if !strings.Contains(types(evs), "tool,confirm,done,") {
		t.Errorf("events %s: want the skipped step's done after its confirm", types(evs))
	}
	sid := last.data["session_id"].(string)
	if ls := e.do(a, "GET", "/v1/sessions/"+sid+"/files", nil).want(t, 200).obj(t)["files"]; ls != nil && len(ls.([]any)) != 0 {
		t.Errorf("the skipped code ran: files %v", ls)
	}
	// The history keeps what ran: the skipped cell declined, the edit.
	c := e.do(a, "GET", "/v1/conversations/"+conv, nil).want(t, 200).obj(t)
	cells := c["cells"].([]any)
	if len(cells) != 2 || cells[0].(map[string]any)["status"] != "declined" || cells[1].(map[string]any)["code"] != "print('edited')" {
		t.Errorf("recorded cells %s", mustJSON(cells))
	}

	// Stop while code waits: nothing runs, the task ends as stopped.
	done := make(chan []sseEvent, 1)
	go func() {
		_, evs := follow(context.Background(), t, "POST", e.ts.URL+"/v1/tasks", a, map[string]any{"prompt": "again", "conversation_id": conv, "confirm": true}, func(ev sseEvent) bool {
			if ev.event == "confirm" {
				e.do(a, "POST", "/v1/sessions/"+sid+"/interrupt", nil).want(t, 200)
			}
			return false
		})
		done <- evs
	}()
	select {
	case evs := <-done:
		if r := evs[len(evs)-1]; r.event != "result" || r.data["stop"] != "stopped" || strings.Contains(text(evs, "stdout"), "never") {
			t.Errorf("stopped while waiting: %s %v", types(evs), r.data)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the interrupt did not end the waiting task")
	}
	// No code waits now.
	e.do(a, "POST", "/v1/conversations/"+conv+"/confirm", map[string]any{"action": "run"}).want(t, 409)
}
