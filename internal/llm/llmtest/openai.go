package llmtest

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"
)

// NewOpenAIServer starts a fake OpenAI Chat Completions server that
// answers with script. Its URL ends in /v1, like OpenAI's base URL. It
// wants "Authorization: Bearer <key>", and a streamed request.
func NewOpenAIServer(t testing.TB, script ...Turn) *Server {
	t.Helper()
	return newServer(t, openAIProto{}, "/v1", script)
}

type openAIProto struct{}

func (openAIProto) path() string { return "/v1/chat/completions" }

func (openAIProto) contentType() string { return "text/event-stream; charset=utf-8" }

var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func (openAIProto) check(h http.Header, body map[string]any) (int, string) {
	key, ok := bearer(h)
	switch {
	case !ok || key == "":
		return http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
	case key == BadKey:
		return http.StatusUnauthorized, "Incorrect API key provided: " + key + ". You can find your API key at https://platform.openai.com/account/api-keys."
	}
	if m, _ := str(body["model"]); m == "" {
		return errorf("you must provide a model parameter")
	}
	if body["stream"] != true {
		if _, ok := body["stream_options"]; ok {
			return errorf("The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		}
		return errorf("llmtest: this fake server only streams: set stream")
	}
	if _, ok := body["max_tokens"]; ok {
		if _, ok := body["max_completion_tokens"]; ok {
			return errorf("max_tokens and max_completion_tokens cannot both be set")
		}
	}
	msgs, ok := list(body["messages"])
	if !ok || len(msgs) == 0 {
		return errorf("[] is too short - 'messages'")
	}
	var pending map[string]bool // tool calls awaiting their results
	for i, v := range msgs {
		m, ok := obj(v)
		if !ok {
			return errorf("Invalid type for 'messages[%d]': expected an object", i)
		}
		role, _ := str(m["role"])
		if role != "tool" && len(pending) > 0 {
			return errorf("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %v", keys(pending))
		}
		switch role {
		case "system", "developer":
			if _, ok := str(m["content"]); !ok {
				if status, msg := checkParts(m["content"], i, false); status != 0 {
					return status, msg
				}
			}
		case "user":
			if _, ok := str(m["content"]); !ok {
				if status, msg := checkParts(m["content"], i, true); status != 0 {
					return status, msg
				}
			}
		case "assistant":
			calls, _ := list(m["tool_calls"])
			if m["content"] == nil && len(calls) == 0 {
				return errorf("Invalid value for 'content': expected a string, got null.")
			}
			pending = map[string]bool{}
			for j, c := range calls {
				call, _ := obj(c)
				id, _ := str(call["id"])
				fn, _ := obj(call["function"])
				name, _ := str(fn["name"])
				_, argsOK := str(fn["arguments"])
				if id == "" || call["type"] != "function" || name == "" || !argsOK {
					return errorf("Invalid 'messages[%d].tool_calls[%d]': want id, type function, function.name and function.arguments", i, j)
				}
				pending[id] = true
			}
		case "tool":
			id, _ := str(m["tool_call_id"])
			if pending == nil {
				//nolint:misspell // OpenAI's own message, its typo included
				return errorf("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.")
			}
			if !pending[id] {
				return errorf("Invalid parameter: 'tool_call_id' of '%s' not found in 'tool_calls' of previous message.", id)
			}
			delete(pending, id)
			if _, ok := str(m["content"]); !ok {
				if status, msg := checkParts(m["content"], i, false); status != 0 {
					return status, msg
				}
			}
		default:
			return errorf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.", role)
		}
		if role != "assistant" && role != "tool" {
			pending = nil
		}
	}
	if len(pending) > 0 {
		return errorf("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %v", keys(pending))
	}
	tools, _ := list(body["tools"])
	for i, v := range tools {
		tool, _ := obj(v)
		fn, _ := obj(tool["function"])
		name, _ := str(fn["name"])
		if tool["type"] != "function" || !toolName.MatchString(name) {
			return errorf("Invalid 'tools[%d]': want type function and a function.name matching ^[a-zA-Z0-9_-]{1,64}$", i)
		}
		if p, ok := fn["parameters"]; ok {
			if _, ok := obj(p); !ok {
				return errorf("Invalid 'tools[%d].function.parameters': expected an object", i)
			}
		}
	}
	return 0, ""
}

// checkParts checks a content array; only user messages may hold images.
func checkParts(v any, i int, images bool) (int, string) {
	parts, ok := list(v)
	if !ok {
		return errorf("Invalid type for 'messages[%d].content': expected a string or an array of content parts", i)
	}
	for j, p := range parts {
		part, _ := obj(p)
		switch part["type"] {
		case "text":
			if _, ok := str(part["text"]); !ok {
				return errorf("Missing required parameter: 'messages[%d].content[%d].text'.", i, j)
			}
		case "image_url":
			if !images {
				return errorf("Invalid 'messages[%d]'. Image URLs are only allowed for messages with role 'user', but this message has another role.", i)
			}
			iu, _ := obj(part["image_url"])
			u, _ := str(iu["url"])
			if !checkImageURL(u) {
				return errorf("Invalid 'messages[%d].content[%d].image_url.url': expected a URL or a base64 data URL of an image", i, j)
			}
		default:
			return errorf("Invalid value: 'messages[%d].content[%d].type'.", i, j)
		}
	}
	return 0, ""
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (openAIProto) errorBody(status int, msg string) any {
	typ, code := "invalid_request_error", any(nil)
	switch {
	case status == http.StatusUnauthorized:
		code = "invalid_api_key"
	case status == http.StatusNotFound:
		code = "model_not_found"
	case status == http.StatusTooManyRequests:
		typ, code = "requests", "rate_limit_exceeded"
	case status >= 500:
		typ = "server_error"
	}
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}}
}

func (openAIProto) answer(e *events, turn Turn, body map[string]any, n int) {
	e.w.Header().Set("Content-Type", openAIProto{}.contentType())
	e.w.Header().Set("Cache-Control", "no-cache")
	opts, _ := obj(body["stream_options"])
	withUsage := opts["include_usage"] == true
	id := fmt.Sprintf("chatcmpl-llmtest%d", n)
	created := time.Now().Unix()
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": body["model"],
			"system_fingerprint": "fp_llmtest",
			"choices":            []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
		if withUsage {
			c["usage"] = nil
		}
		return c
	}
	e.sse("", chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil))
	for _, tok := range tokens(turn.Text) {
		e.sse("", chunk(map[string]any{"content": tok}, nil))
	}
	if turn.StreamError != "" {
		e.sse("", map[string]any{"error": map[string]any{"message": turn.StreamError, "type": "server_error", "param": nil, "code": 500}})
		return
	}
	for i, c := range turn.ToolCalls {
		callID := c.ID
		if callID == "" {
			callID = fmt.Sprintf("call_llmtest%d_%d", n, i)
		}
		e.sse("", chunk(map[string]any{"tool_calls": []any{map[string]any{
			"index": i, "id": callID, "type": "function",
			"function": map[string]any{"name": c.Name, "arguments": ""},
		}}}, nil))
		for _, p := range pieces(c.Arguments, 4) {
			e.sse("", chunk(map[string]any{"tool_calls": []any{map[string]any{
				"index": i, "function": map[string]any{"arguments": p},
			}}}, nil))
		}
	}
	finish := turn.StopReason
	if finish == "" {
		finish = "stop"
		if len(turn.ToolCalls) > 0 {
			finish = "tool_calls"
		}
	}
	e.sse("", chunk(map[string]any{}, finish))
	if withUsage && turn.Usage != (Usage{}) {
		e.sse("", map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": body["model"],
			"choices": []any{},
			"usage": map[string]any{
				"prompt_tokens":     turn.Usage.InputTokens,
				"completion_tokens": turn.Usage.OutputTokens,
				"total_tokens":      turn.Usage.InputTokens + turn.Usage.OutputTokens,
			},
		})
	}
	e.send("data: [DONE]\n\n")
}
