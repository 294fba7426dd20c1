package llmtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// NewAnthropicServer starts a fake Anthropic Messages API server that
// answers with script. It wants a key (x-api-key, or Authorization:
// Bearer, which the v2 SDK sends), the anthropic-version header,
// max_tokens, and a streamed request.
func NewAnthropicServer(t testing.TB, script ...Turn) *Server {
	t.Helper()
	return newServer(t, anthropicProto{}, "", script)
}

type anthropicProto struct{}

func (anthropicProto) path() string { return "/v1/messages" }

func (anthropicProto) contentType() string { return "text/event-stream; charset=utf-8" }

var anthropicImageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func (anthropicProto) check(h http.Header, body map[string]any) (int, string) {
	key := h.Get("X-Api-Key")
	if key == "" {
		key, _ = bearer(h)
	}
	switch {
	case key == "":
		return http.StatusUnauthorized, "x-api-key header is required"
	case key == BadKey:
		return http.StatusUnauthorized, "invalid x-api-key"
	}
	if h.Get("Anthropic-Version") == "" {
		return errorf("anthropic-version: header is required")
	}
	if m, _ := str(body["model"]); m == "" {
		return errorf("model: Field required")
	}
	switch mt, ok := body["max_tokens"].(float64); {
	case !ok:
		return errorf("max_tokens: Field required")
	case mt < 1 || mt != float64(int64(mt)):
		return errorf("max_tokens: Input should be a valid integer greater than or equal to 1")
	}
	if body["stream"] != true {
		return errorf("llmtest: this fake server only streams: set stream")
	}
	switch sys := body["system"].(type) {
	case nil, string:
	case []any:
		for i, b := range sys {
			block, _ := obj(b)
			if block["type"] != "text" {
				return errorf("system.%d.type: Input should be 'text'", i)
			}
			if t, _ := str(block["text"]); t == "" {
				return errorf("system: text content blocks must be non-empty")
			}
		}
	default:
		return errorf("system: Input should be a valid string or list")
	}
	msgs, ok := list(body["messages"])
	if !ok || len(msgs) == 0 {
		return errorf("messages: Field required")
	}
	var prevToolUses map[string]bool // the tool_use ids of the previous message
	for i, v := range msgs {
		m, _ := obj(v)
		role, _ := str(m["role"])
		if role != "user" && role != "assistant" {
			return errorf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if i == 0 && role != "user" {
			return errorf("messages: first message must use the \"user\" role")
		}
		if i > 0 {
			prev, _ := obj(msgs[i-1])
			if prev["role"] == role {
				return errorf("messages: roles must alternate between \"user\" and \"assistant\", but found multiple %q roles in a row", role)
			}
		}
		var blocks []any
		switch c := m["content"].(type) {
		case string:
			if c == "" && !(role == "assistant" && i == len(msgs)-1) {
				return errorf("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
			}
		case []any:
			if len(c) == 0 {
				return errorf("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
			}
			blocks = c
		default:
			return errorf("messages.%d.content: Input should be a valid string or list", i)
		}
		toolUses := map[string]bool{}
		answered := map[string]bool{}
		for j, b := range blocks {
			block, _ := obj(b)
			switch typ, _ := str(block["type"]); typ {
			case "text":
				if t, _ := str(block["text"]); t == "" {
					return errorf("messages.%d.content.%d: text content blocks must be non-empty", i, j)
				}
			case "image":
				if status, msg := checkAnthropicImage(block, fmt.Sprintf("messages.%d.content.%d", i, j)); status != 0 {
					return status, msg
				}
			case "tool_use":
				if role != "assistant" {
					return errorf("messages.%d.content.%d: tool_use blocks are only allowed in assistant messages", i, j)
				}
				id, _ := str(block["id"])
				name, _ := str(block["name"])
				if _, ok := obj(block["input"]); !ok || id == "" || name == "" {
					return errorf("messages.%d.content.%d.tool_use: want id, name and an input object", i, j)
				}
				toolUses[id] = true
			case "tool_result":
				if role != "user" {
					return errorf("messages.%d.content.%d: tool_result blocks are only allowed in user messages", i, j)
				}
				id, _ := str(block["tool_use_id"])
				if !prevToolUses[id] {
					return errorf("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, id)
				}
				answered[id] = true
				if content, ok := list(block["content"]); ok {
					for k, cb := range content {
						cblock, _ := obj(cb)
						switch cblock["type"] {
						case "text":
						case "image":
							if status, msg := checkAnthropicImage(cblock, fmt.Sprintf("messages.%d.content.%d.content.%d", i, j, k)); status != 0 {
								return status, msg
							}
						default:
							return errorf("messages.%d.content.%d.content.%d.type: Input should be 'text' or 'image'", i, j, k)
						}
					}
				}
			default:
				return errorf("messages.%d.content.%d.type: unknown block type %q", i, j, typ)
			}
		}
		var missing []string
		for id := range prevToolUses {
			if !answered[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return errorf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i-1, strings.Join(missing, ", "))
		}
		prevToolUses = toolUses
	}
	if len(prevToolUses) > 0 {
		return errorf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after", len(msgs)-1)
	}
	tools, _ := list(body["tools"])
	for i, v := range tools {
		tool, _ := obj(v)
		name, _ := str(tool["name"])
		schema, ok := obj(tool["input_schema"])
		if !toolName.MatchString(name) {
			return errorf("tools.%d.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'", i)
		}
		if !ok || schema["type"] != "object" {
			return errorf("tools.%d.input_schema.type: Field required", i)
		}
	}
	return 0, ""
}

func checkAnthropicImage(block map[string]any, where string) (int, string) {
	src, _ := obj(block["source"])
	mt, _ := str(src["media_type"])
	data, _ := str(src["data"])
	if src["type"] != "base64" || data == "" {
		return errorf("%s.source: want a base64 source with data", where)
	}
	if !anthropicImageTypes[mt] {
		return errorf("%s.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", where)
	}
	return 0, ""
}

func (anthropicProto) errorBody(status int, msg string) any {
	typ := "invalid_request_error"
	switch {
	case status == http.StatusUnauthorized:
		typ = "authentication_error"
	case status == http.StatusForbidden:
		typ = "permission_error"
	case status == http.StatusNotFound:
		typ = "not_found_error"
	case status == http.StatusRequestEntityTooLarge:
		typ = "request_too_large"
	case status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case status == 529 || status == http.StatusServiceUnavailable:
		typ = "overloaded_error"
	case status >= 500:
		typ = "api_error"
	}
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}, "request_id": "req_llmtest"}
}

func (anthropicProto) answer(e *events, turn Turn, body map[string]any, n int) {
	e.w.Header().Set("Content-Type", anthropicProto{}.contentType())
	e.w.Header().Set("Cache-Control", "no-cache")
	e.w.Header().Set("Request-Id", fmt.Sprintf("req_llmtest%d", n))
	startOut := 0
	if turn.Usage != (Usage{}) {
		startOut = 1
	}
	e.sse("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": fmt.Sprintf("msg_llmtest%d", n), "type": "message", "role": "assistant", "model": body["model"],
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": turn.Usage.InputTokens, "cache_creation_input_tokens": 0,
			"cache_read_input_tokens": 0, "output_tokens": startOut},
	}})
	index := 0
	if turn.Text != "" {
		e.sse("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "text", "text": ""}})
		e.sse("ping", map[string]any{"type": "ping"})
		for _, tok := range tokens(turn.Text) {
			e.sse("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "text_delta", "text": tok}})
		}
		if turn.StreamError != "" {
			e.sse("error", map[string]any{"type": "error", "error": map[string]any{"type": "overloaded_error", "message": turn.StreamError}})
			return
		}
		e.sse("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	if turn.StreamError != "" {
		e.sse("error", map[string]any{"type": "error", "error": map[string]any{"type": "overloaded_error", "message": turn.StreamError}})
		return
	}
	for i, c := range turn.ToolCalls {
		id := c.ID
		if id == "" {
			id = fmt.Sprintf("toolu_llmtest%d_%d", n, i)
		}
		e.sse("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "tool_use", "id": id, "name": c.Name, "input": map[string]any{}}})
		e.sse("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
			"delta": map[string]any{"type": "input_json_delta", "partial_json": ""}})
		for _, p := range pieces(c.Arguments, 4) {
			e.sse("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": p}})
		}
		e.sse("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	stop := turn.StopReason
	if stop == "" {
		stop = "end_turn"
		if len(turn.ToolCalls) > 0 {
			stop = "tool_use"
		}
	}
	e.sse("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": turn.Usage.OutputTokens}})
	e.sse("message_stop", map[string]any{"type": "message_stop"})
}
