package llmtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// post sends body to url with headers, and returns the status and the
// body decoded, or as a string if it is not one JSON value.
func post(t *testing.T, url string, headers map[string]string, body string) (int, any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var v any
	if json.Unmarshal(b, &v) != nil {
		return res.StatusCode, string(b)
	}
	return res.StatusCode, v
}

func TestChecks(t *testing.T) {
	openAIKey := map[string]string{"Authorization": "Bearer k"}
	anthropicKey := map[string]string{"X-Api-Key": "k", "Anthropic-Version": "2023-06-01"}
	tests := []struct {
		name    string
		server  func(testing.TB, ...llmtest.Turn) *llmtest.Server
		path    string
		headers map[string]string
		body    string
		status  int
		want    string // in the error body
	}{
		{"openai/no key", llmtest.NewOpenAIServer, "/chat/completions", nil,
			`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, 401, "didn't provide an API key"},
		{"openai/bad key", llmtest.NewOpenAIServer, "/chat/completions", map[string]string{"Authorization": "Bearer bad-key"},
			`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, 401, "Incorrect API key"},
		{"openai/no model", llmtest.NewOpenAIServer, "/chat/completions", openAIKey,
			`{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"openai/orphan tool result", llmtest.NewOpenAIServer, "/chat/completions", openAIKey,
			`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"c","content":"x"}]}`, 400, "must be a response"},
		{"openai/unanswered tool call", llmtest.NewOpenAIServer, "/chat/completions", openAIKey,
			`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"and?"}]}`, 400, "must be followed by tool messages"},
		{"openai/image in tool message", llmtest.NewOpenAIServer, "/chat/completions", openAIKey,
			`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`, 400, "only allowed for messages with role 'user'"},
		{"anthropic/no key", llmtest.NewAnthropicServer, "/v1/messages", map[string]string{"Anthropic-Version": "2023-06-01"},
			`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, 401, "x-api-key header is required"},
		{"anthropic/no version", llmtest.NewAnthropicServer, "/v1/messages", map[string]string{"X-Api-Key": "k"},
			`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, 400, "anthropic-version"},
		{"anthropic/no max_tokens", llmtest.NewAnthropicServer, "/v1/messages", anthropicKey,
			`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, 400, "max_tokens: Field required"},
		{"anthropic/empty text", llmtest.NewAnthropicServer, "/v1/messages", anthropicKey,
			`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`, 400, "non-empty"},
		{"anthropic/unanswered tool_use", llmtest.NewAnthropicServer, "/v1/messages", anthropicKey,
			`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":"and?"}]}`, 400, "without `tool_result`"},
		{"anthropic/system role", llmtest.NewAnthropicServer, "/v1/messages", anthropicKey,
			`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"system","content":"be nice"},{"role":"user","content":"hi"}]}`, 400, "'user' or 'assistant'"},
		{"ollama/no model", llmtest.NewOllamaServer, "/api/chat", nil,
			`{"messages":[{"role":"user","content":"hi"}]}`, 400, "model is required"},
		{"ollama/bad image", llmtest.NewOllamaServer, "/api/chat", nil,
			`{"model":"m","messages":[{"role":"user","content":"hi","images":["%%%"]}]}`, 400, "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.server(t, llmtest.Turn{Text: "ok"})
			status, body := post(t, srv.URL+tt.path, tt.headers, tt.body)
			if status != tt.status {
				t.Errorf("got status %d, want %d", status, tt.status)
			}
			if b, _ := json.Marshal(body); !strings.Contains(string(b), tt.want) {
				t.Errorf("the error %s does not say %q", b, tt.want)
			}
			if len(srv.Requests()) != 1 || srv.Served() != 0 {
				t.Errorf("got %d requests recorded and %d served, want 1 and 0", len(srv.Requests()), srv.Served())
			}
		})
	}
}

func TestErrorFormats(t *testing.T) {
	turn := llmtest.Turn{Status: 429, RetryAfter: "7", ErrorMessage: "slow down"}
	tests := []struct {
		name    string
		server  func(testing.TB, ...llmtest.Turn) *llmtest.Server
		path    string
		headers map[string]string
		body    string
		want    string
	}{
		{"openai", llmtest.NewOpenAIServer, "/chat/completions", map[string]string{"Authorization": "Bearer k"},
			`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			`{"error":{"code":"rate_limit_exceeded","message":"slow down","param":null,"type":"requests"}}`},
		{"anthropic", llmtest.NewAnthropicServer, "/v1/messages", map[string]string{"X-Api-Key": "k", "Anthropic-Version": "2023-06-01"},
			`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			`{"error":{"message":"slow down","type":"rate_limit_error"},"request_id":"req_llmtest","type":"error"}`},
		{"ollama", llmtest.NewOllamaServer, "/api/chat", nil,
			`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			`{"error":"slow down"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.server(t, turn)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 429 || res.Header.Get("Retry-After") != "7" || strings.TrimSpace(string(b)) != tt.want {
				t.Errorf("got %d, Retry-After %q, body %s; want 429, 7, %s", res.StatusCode, res.Header.Get("Retry-After"), b, tt.want)
			}
		})
	}
}

// recordingTB notes the errors reported instead of failing.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestScriptOverrun(t *testing.T) {
	tb := &recordingTB{TB: t}
	srv := llmtest.NewOllamaServer(tb, llmtest.Turn{Text: "only once"})
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	if status, _ := post(t, srv.URL+"/api/chat", nil, body); status != 200 {
		t.Fatalf("got status %d", status)
	}
	if status, _ := post(t, srv.URL+"/api/chat", nil, body); status != 500 {
		t.Errorf("got status %d past the script, want 500", status)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "only 1 turns") {
		t.Errorf("got errors %q, want one about the script being over", tb.errs)
	}
}

func TestOpenAIStreamFormat(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.Turn{
		Text:      "Hi you",
		ToolCalls: []llmtest.Call{{Name: "f", Arguments: `{"a":1}`}},
		Usage:     llmtest.Usage{InputTokens: 3, OutputTokens: 2},
	})
	_, body := post(t, srv.URL+"/chat/completions", map[string]string{"Authorization": "Bearer k"},
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	s, _ := body.(string)
	for _, want := range []string{
		`"content":"Hi "`, `"content":"you"`,
		`"id":"call_llmtest1_0"`, `"name":"f"`, `"finish_reason":"tool_calls"`,
		`"usage":{"completion_tokens":2,"prompt_tokens":3,"total_tokens":5}`,
		"data: [DONE]\n\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the stream lacks %s:\n%s", want, s)
		}
	}
}
