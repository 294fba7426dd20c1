package llmtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// NewOllamaServer starts a fake Ollama server (/api/chat) that answers
// with script. It wants no key, as Ollama; tool calls are sent whole, one
// NDJSON line each, with their arguments as an object.
func NewOllamaServer(t testing.TB, script ...Turn) *Server {
	t.Helper()
	return newServer(t, ollamaProto{t: t}, "", script)
}

type ollamaProto struct{ t testing.TB }

func (ollamaProto) path() string { return "/api/chat" }

func (ollamaProto) contentType() string { return "application/x-ndjson" }

func (ollamaProto) check(h http.Header, body map[string]any) (int, string) {
	if key, _ := bearer(h); key == BadKey {
		return http.StatusUnauthorized, "unauthorized"
	}
	if m, _ := str(body["model"]); m == "" {
		return errorf("model is required")
	}
	if s, ok := body["stream"]; ok && s != true {
		return errorf("llmtest: this fake server only streams: leave stream out or set it")
	}
	msgs, ok := list(body["messages"])
	if !ok && body["messages"] != nil {
		return errorf("messages: expected an array")
	}
	for i, v := range msgs {
		m, _ := obj(v)
		switch m["role"] {
		case "system", "user", "assistant", "tool":
		default:
			return errorf("messages[%d]: invalid role %v", i, m["role"])
		}
		if _, ok := m["content"].(string); !ok && m["content"] != nil {
			return errorf("messages[%d].content: expected a string", i)
		}
		imgs, _ := list(m["images"])
		for j, img := range imgs {
			s, _ := str(img)
			if _, err := base64.StdEncoding.DecodeString(s); err != nil || s == "" {
				return errorf("messages[%d].images[%d]: illegal base64 data", i, j)
			}
		}
		calls, _ := list(m["tool_calls"])
		for j, c := range calls {
			call, _ := obj(c)
			fn, _ := obj(call["function"])
			name, _ := str(fn["name"])
			if _, ok := obj(fn["arguments"]); !ok || name == "" {
				return errorf("messages[%d].tool_calls[%d]: want function.name and function.arguments as an object", i, j)
			}
		}
	}
	tools, _ := list(body["tools"])
	for i, v := range tools {
		tool, _ := obj(v)
		fn, _ := obj(tool["function"])
		if name, _ := str(fn["name"]); name == "" || tool["type"] != "function" {
			return errorf("tools[%d]: want type function and a function.name", i)
		}
	}
	return 0, ""
}

func (ollamaProto) errorBody(status int, msg string) any {
	return map[string]any{"error": msg}
}

func (p ollamaProto) answer(e *events, turn Turn, body map[string]any, n int) {
	e.w.Header().Set("Content-Type", p.contentType())
	line := func(v map[string]any) {
		v["model"] = body["model"]
		v["created_at"] = time.Now().UTC().Format(time.RFC3339Nano)
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		e.send(string(b) + "\n")
	}
	for _, tok := range tokens(turn.Text) {
		line(map[string]any{"message": map[string]any{"role": "assistant", "content": tok}, "done": false})
	}
	if turn.StreamError != "" {
		b, _ := json.Marshal(map[string]any{"error": turn.StreamError})
		e.send(string(b) + "\n")
		return
	}
	for i, c := range turn.ToolCalls {
		var args map[string]any
		if err := json.Unmarshal([]byte(c.Arguments), &args); err != nil || args == nil {
			p.t.Errorf("llmtest: Ollama sends tool arguments as an object, and %q is not one", c.Arguments)
			args = map[string]any{}
		}
		call := map[string]any{"function": map[string]any{"index": i, "name": c.Name, "arguments": args}}
		if c.ID != "" {
			call["id"] = c.ID
		}
		line(map[string]any{"message": map[string]any{"role": "assistant", "content": "", "tool_calls": []any{call}}, "done": false})
	}
	stop := turn.StopReason
	if stop == "" {
		stop = "stop"
	}
	last := map[string]any{"message": map[string]any{"role": "assistant", "content": ""}, "done": true, "done_reason": stop,
		"total_duration": 1_000_000, "load_duration": 100_000}
	if turn.Usage != (Usage{}) {
		last["prompt_eval_count"] = turn.Usage.InputTokens
		last["prompt_eval_duration"] = 200_000
		last["eval_count"] = turn.Usage.OutputTokens
		last["eval_duration"] = 700_000
	}
	line(last)
}
