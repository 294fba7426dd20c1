package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// targetAgentStep is the most Interp's own work may add to one step of the
// loop, beside the model's time and the code's.
const targetAgentStep = 20 * time.Millisecond

// agentSection measures the loop's own overhead per step: a task of two
// steps (a tool call running `1+1`, then an answer) against an instant
// model on loopback, beside the same two model calls and the same cell made
// directly, without the agent.
func agentSection(ctx context.Context, cfg *config) (string, error) {
	m, rt, state, closeManager, err := benchManager("agent")
	if err != nil {
		return "", err
	}
	defer closeManager()
	s, err := m.Create(ctx, session.CreateOptions{})
	if err != nil {
		return "", err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: http.HandlerFunc(instantModel)}
	go srv.Serve(ln)
	defer srv.Close()
	p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: "http://" + ln.Addr().String() + "/v1", APIKey: "bench", Model: "instant"})
	if err != nil {
		return "", err
	}
	// Detection of imports runs before every cell, as in interp run; with
	// nothing to install, the installer is never called.
	dm, err := deps.LoadMap()
	if err != nil {
		return "", err
	}
	auto := &deps.Auto{Map: dm, Installer: &deps.Installer{UV: rt.UV, Python: rt.Executable, CacheDir: state, Map: dm}}
	ag, err := agent.New(agent.Config{Provider: p, Model: "instant", Session: s, Auto: auto, Packages: rt.Packages()})
	if err != nil {
		return "", err
	}

	n := max(cfg.N/2, 20)
	var withAgent, direct, diff []time.Duration
	steps := 0
	for i := range n + 3 {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		// Each task starts a fresh conversation: growth would be measured
		// otherwise.
		ag.SetHistory(nil)
		start := time.Now()
		res, err := ag.Run(ctx, "compute 1+1", nil)
		if err != nil {
			return "", err
		}
		if res.Stop != event.StopAnswer {
			return "", fmt.Errorf("the task did not end with an answer: %s (%s)", res.Stop, res.Reason)
		}
		ta := time.Since(start)

		start = time.Now()
		msgs := []llm.Message{{Role: llm.RoleUser, Content: "compute 1+1"}}
		if _, err := p.Stream(ctx, &llm.Request{Model: "instant", Messages: msgs}, func(llm.Delta) {}); err != nil {
			return "", err
		}
		if _, err := s.Execute(ctx, "1+1", session.ExecOptions{}, nil); err != nil {
			return "", err
		}
		msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "run_python", Arguments: `{"code": "1+1"}`}}},
			llm.Message{Role: llm.RoleTool, ToolCallID: "call_1", Content: "2"})
		if _, err := p.Stream(ctx, &llm.Request{Model: "instant", Messages: msgs}, func(llm.Delta) {}); err != nil {
			return "", err
		}
		td := time.Since(start)
		if i < 3 {
			continue // warm-up
		}
		steps = res.Steps
		withAgent = append(withAgent, ta)
		direct = append(direct, td)
		diff = append(diff, ta-td)
	}
	perStep := median(diff) / time.Duration(steps)
	var out strings.Builder
	fmt.Fprintf(&out, "A task of %d steps (a tool call running `1+1`, then an answer) against an instant model on loopback, %d times; the baseline makes the same two model calls and runs the same cell directly, without the agent.\n\n", steps, n)
	out.WriteString("| | median | p90 |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(&out, "| task through the agent | %s | %s |\n", ms(median(withAgent)), ms(percentile(withAgent, 90)))
	fmt.Fprintf(&out, "| the same calls made directly (baseline) | %s | %s |\n", ms(median(direct)), ms(percentile(direct, 90)))
	fmt.Fprintf(&out, "| difference, paired | %s | %s |\n\n", ms(median(diff)), ms(percentile(diff, 90)))
	met := "met"
	if perStep > targetAgentStep {
		met = "not met"
	}
	fmt.Fprintf(&out, "Interp's own overhead per step: **%s** (median paired difference / %d steps). Target at most %s: **%s**.\n",
		ms(perStep), steps, ms(targetAgentStep), met)
	out.WriteString("\nThe overhead is the agent's work around the model and the cell: the system prompt (which lists the workspace), import analysis in the session, building the tool result, and the bookkeeping of the loop.\n")
	return out.String(), nil
}

// instantModel answers like OpenAI's chat completions API at once: a tool
// call running `1+1` when the last message is the user's, else an answer.
func instantModel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []struct {
			Role string `json:"role"`
		} `json:"messages"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(delta map[string]any, finish any) {
		b, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "instant",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		})
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	if req.Messages[len(req.Messages)-1].Role == "tool" {
		chunk(map[string]any{"role": "assistant", "content": "The answer is 2."}, nil)
		chunk(map[string]any{}, "stop")
	} else {
		chunk(map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{
			"index": 0, "id": "call_1", "type": "function",
			"function": map[string]any{"name": "run_python", "arguments": `{"code": "1+1"}`},
		}}}, nil)
		chunk(map[string]any{}, "tool_calls")
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// benchManager starts a session manager on a real sandbox backend, with a
// state directory of its own under /var/tmp named after the section. It
// returns the runtime and the state directory too, for the agent and the
// installer beside it; closeManager shuts it all down.
func benchManager(section string) (m *session.Manager, rt *python.Runtime, state string, closeManager func(), err error) {
	rt, err = python.Find("")
	if err != nil {
		return nil, nil, "", nil, err
	}
	b, err := sandbox.NewNamespaces()
	if err != nil {
		return nil, nil, "", nil, err
	}
	state, err = os.MkdirTemp("/var/tmp", "interp-bench-"+section+"-")
	if err != nil {
		b.Close()
		return nil, nil, "", nil, err
	}
	os.Chmod(state, 0o711)
	m = session.NewManager(session.ManagerConfig{Kernel: session.Config{Backend: b, Runtime: rt, StateDir: state}, IdleTimeout: -1})
	return m, rt, state, func() {
		m.Shutdown()
		os.RemoveAll(state)
		b.Close()
	}, nil
}
