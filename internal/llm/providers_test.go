package llm_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// backend ties a provider to its fake server.
type backend struct {
	name string
	// server starts the fake server.
	server func(testing.TB, ...llmtest.Turn) *llmtest.Server
	// provider makes the provider under test, talking to srv.
	provider func(t *testing.T, srv *llmtest.Server, o opts) llm.Provider
	// stop and toolStop are the stop reasons of a text answer and of one
	// with tool calls.
	stop, toolStop string
	// fragmented says whether tool call arguments arrive in pieces.
	fragmented bool
}

// opts are the settings a test changes.
type opts struct {
	key        string
	maxRetries int
	timeout    time.Duration
}

var backends = []backend{
	{
		name:   "openai",
		server: llmtest.NewOpenAIServer,
		provider: func(t *testing.T, srv *llmtest.Server, o opts) llm.Provider {
			p, err := llm.NewOpenAI(llm.OpenAIConfig{APIKey: o.key, BaseURL: srv.URL, Model: "gpt-test",
				MaxRetries: o.maxRetries, Timeout: o.timeout})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		stop: "stop", toolStop: "tool_calls", fragmented: true,
	},
	{
		name:   "anthropic",
		server: llmtest.NewAnthropicServer,
		provider: func(t *testing.T, srv *llmtest.Server, o opts) llm.Provider {
			p, err := llm.NewAnthropic(llm.AnthropicConfig{APIKey: o.key, BaseURL: srv.URL, Model: "claude-test",
				MaxRetries: o.maxRetries, Timeout: o.timeout})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		stop: "end_turn", toolStop: "tool_use", fragmented: true,
	},
	{
		name:   "ollama",
		server: llmtest.NewOllamaServer,
		provider: func(t *testing.T, srv *llmtest.Server, o opts) llm.Provider {
			p, err := llm.NewOllama(llm.OllamaConfig{Host: srv.URL, Model: "qwen-test",
				MaxRetries: o.maxRetries, Timeout: o.timeout})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		stop: "stop", toolStop: "stop",
	},
}

// eachBackend runs f for every provider, in parallel.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// setup starts b's fake server with script and a provider for it, with
// quick settings unless o says otherwise.
func setup(t *testing.T, b backend, o opts, script ...llmtest.Turn) (*llmtest.Server, llm.Provider) {
	if o.key == "" {
		o.key = "test-key"
	}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	srv := b.server(t, script...)
	return srv, b.provider(t, srv, o)
}

// recording is what a Stream emitted.
type recording struct {
	texts []string
	calls []llm.ToolCallDelta
}

func (r *recording) text() string { return strings.Join(r.texts, "") }

// args joins the argument fragments of call i.
func (r *recording) args(i int) string {
	var s strings.Builder
	for _, d := range r.calls {
		if d.Index == i {
			s.WriteString(d.Arguments)
		}
	}
	return s.String()
}

func stream(ctx context.Context, t *testing.T, p llm.Provider, req *llm.Request) (*llm.Response, *recording, error) {
	t.Helper()
	rec := &recording{}
	resp, err := p.Stream(ctx, req, func(d llm.Delta) {
		if d.Text != "" {
			rec.texts = append(rec.texts, d.Text)
		}
		if d.ToolCall != nil {
			rec.calls = append(rec.calls, *d.ToolCall)
		}
	})
	if err != nil {
		var e *llm.Error
		if !errors.As(err, &e) {
			t.Fatalf("Stream returned %T (%v), not an *llm.Error", err, err)
		}
		if e.Provider != p.Name() || e.Message == "" || strings.Contains(e.Message, "\n") {
			t.Errorf("the error is not a one-line message from %s: %#v", p.Name(), e)
		}
	}
	return resp, rec, err
}

func hello() *llm.Request {
	return &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "Hello?"}}}
}

func wantKind(t *testing.T, err error, kind string) *llm.Error {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want an *llm.Error of kind %s", err, kind)
	}
	if e.Kind != kind {
		t.Fatalf("got error kind %s (%v), want %s", e.Kind, e, kind)
	}
	t.Logf("%s error: %v", kind, e)
	return e
}

func wantRequests(t *testing.T, srv *llmtest.Server, n int) {
	t.Helper()
	if got := len(srv.Requests()); got != n {
		t.Errorf("the server got %d requests, want %d", got, n)
	}
}

func TestStreamText(t *testing.T) {
	t.Parallel()
	const text = "Hello there! Streaming works, character by character: supercalifragilistic, ünïcödé too."
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{}, llmtest.Turn{Text: text})
		resp, rec, err := stream(context.Background(), t, p, hello())
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.texts) < 5 {
			t.Errorf("got %d text deltas, want the text in many pieces", len(rec.texts))
		}
		if rec.text() != text {
			t.Errorf("the deltas add up to %q, want %q", rec.text(), text)
		}
		if resp.Message.Role != llm.RoleAssistant || resp.Message.Content != text || len(resp.Message.ToolCalls) != 0 {
			t.Errorf("got message %+v", resp.Message)
		}
		if resp.StopReason != b.stop {
			t.Errorf("got stop reason %q, want %q", resp.StopReason, b.stop)
		}
		if resp.Usage != (llm.Usage{}) {
			t.Errorf("got usage %+v from a server that reported none", resp.Usage)
		}
		wantRequests(t, srv, 1)
		body := srv.Requests()[0]
		if body["stream"] != true || body["model"] == "" {
			t.Errorf("the request did not ask for a stream from a model: %v", body)
		}
	})
}

func TestStreamToolCalls(t *testing.T) {
	t.Parallel()
	calls := []llmtest.Call{
		{Name: "get_weather", Arguments: `{"city":"Paris","days":3,"units":{"temp":"celsius"}}`},
		{ID: "call_given", Name: "get_time", Arguments: `{"tz":"Europe/Paris"}`},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		_, p := setup(t, b, opts{}, llmtest.Turn{Text: "Let me look that up.", ToolCalls: calls})
		req := hello()
		req.Tools = []llm.Tool{
			{Name: "get_weather", Description: "The weather in a city.", Parameters: map[string]any{
				"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []any{"city"}}},
			{Name: "get_time", Description: "The time in a time zone."},
		}
		resp, rec, err := stream(context.Background(), t, p, req)
		if err != nil {
			t.Fatal(err)
		}
		if rec.text() != "Let me look that up." || resp.Message.Content != "Let me look that up." {
			t.Errorf("got text %q, content %q", rec.text(), resp.Message.Content)
		}
		if resp.StopReason != b.toolStop {
			t.Errorf("got stop reason %q, want %q", resp.StopReason, b.toolStop)
		}
		if len(resp.Message.ToolCalls) != len(calls) {
			t.Fatalf("got tool calls %+v, want %d", resp.Message.ToolCalls, len(calls))
		}
		for i, want := range calls {
			got := resp.Message.ToolCalls[i]
			if got.Name != want.Name || got.ID == "" || (want.ID != "" && got.ID != want.ID) {
				t.Errorf("call %d: got %+v, want name %s and ID %q", i, got, want.Name, want.ID)
			}
			if !jsonEqual(got.Arguments, want.Arguments) {
				t.Errorf("call %d: got arguments %s, want %s", i, got.Arguments, want.Arguments)
			}
			if args := rec.args(i); args != got.Arguments || !json.Valid([]byte(args)) {
				t.Errorf("call %d: the fragments add up to %q, want the arguments %q", i, args, got.Arguments)
			}
			var frags []llm.ToolCallDelta
			for _, d := range rec.calls {
				if d.Index == i {
					frags = append(frags, d)
				}
			}
			if len(frags) == 0 || frags[0].ID != got.ID || frags[0].Name != got.Name {
				t.Fatalf("call %d: the first fragment %+v lacks the ID and name of %+v", i, frags, got)
			}
			for _, f := range frags[1:] {
				if f.ID != "" || f.Name != "" {
					t.Errorf("call %d: a later fragment repeats the ID or name: %+v", i, f)
				}
			}
			if b.fragmented && len(frags) < 3 {
				t.Errorf("call %d: got %d fragments, want the arguments in pieces", i, len(frags))
			}
			if !b.fragmented && len(frags) != 1 {
				t.Errorf("call %d: got %d fragments, want the whole call in one", i, len(frags))
			}
		}
	})
}

func jsonEqual(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

// A tiny PNG, 1x1.
var pngData, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

// conversation is a multi-turn conversation, up to the results of two
// tool calls, one with an image.
func conversation() *llm.Request {
	img := llm.Image{MIME: "image/png", Data: pngData}
	return &llm.Request{
		System:    "You are a careful assistant.",
		MaxTokens: 100,
		Tools: []llm.Tool{{Name: "screenshot", Description: "Takes a screenshot.",
			Parameters: map[string]any{"type": "object", "properties": map[string]any{"window": map[string]any{"type": "string"}}}}},
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: "What is on my screen? Here is my desk.", Images: []llm.Image{img}},
			{Role: llm.RoleAssistant, Content: "Let me look.", ToolCalls: []llm.ToolCall{
				{ID: "call_1", Name: "screenshot", Arguments: `{"window":"main"}`},
				{ID: "call_2", Name: "screenshot", Arguments: `{"window":"side"}`},
			}},
			{Role: llm.RoleTool, ToolCallID: "call_1", Content: "main window captured", Images: []llm.Image{img}},
			{Role: llm.RoleTool, ToolCallID: "call_2", Content: "side window is empty"},
		},
	}
}

func TestConversationShape(t *testing.T) {
	t.Parallel()
	pngURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngData)
	pngB64 := base64.StdEncoding.EncodeToString(pngData)
	checks := map[string]func(t *testing.T, body map[string]any, h http.Header){
		"openai": func(t *testing.T, body map[string]any, h http.Header) {
			want := []any{
				map[string]any{"role": "system", "content": "You are a careful assistant."},
				map[string]any{"role": "user", "content": []any{
					map[string]any{"type": "text", "text": "What is on my screen? Here is my desk."},
					map[string]any{"type": "image_url", "image_url": map[string]any{"url": pngURL}},
				}},
				map[string]any{"role": "assistant", "content": "Let me look.", "tool_calls": []any{
					map[string]any{"id": "call_1", "type": "function", "function": map[string]any{"name": "screenshot", "arguments": `{"window":"main"}`}},
					map[string]any{"id": "call_2", "type": "function", "function": map[string]any{"name": "screenshot", "arguments": `{"window":"side"}`}},
				}},
				map[string]any{"role": "tool", "tool_call_id": "call_1", "content": "main window captured"},
				map[string]any{"role": "tool", "tool_call_id": "call_2", "content": "side window is empty"},
				// Tool messages take no images: they follow in a user message.
				map[string]any{"role": "user", "content": []any{
					map[string]any{"type": "text", "text": "The images that tool call call_1 returned:"},
					map[string]any{"type": "image_url", "image_url": map[string]any{"url": pngURL}},
				}},
			}
			deepEqual(t, "messages", body["messages"], want)
			deepEqual(t, "tools", body["tools"], []any{map[string]any{"type": "function", "function": map[string]any{
				"name": "screenshot", "description": "Takes a screenshot.",
				"parameters": map[string]any{"type": "object", "properties": map[string]any{"window": map[string]any{"type": "string"}}},
			}}})
			deepEqual(t, "stream_options", body["stream_options"], map[string]any{"include_usage": true})
			// Compatible servers know max_tokens; OpenAI's own gets max_completion_tokens.
			deepEqual(t, "max_tokens", body["max_tokens"], 100.0)
			if h.Get("Authorization") != "Bearer test-key" {
				t.Errorf("got Authorization %q", h.Get("Authorization"))
			}
		},
		"anthropic": func(t *testing.T, body map[string]any, h http.Header) {
			image := map[string]any{"type": "image", "source": map[string]any{"type": "base64", "media_type": "image/png", "data": pngB64}}
			want := []any{
				map[string]any{"role": "user", "content": []any{
					map[string]any{"type": "text", "text": "What is on my screen? Here is my desk."},
					image,
				}},
				map[string]any{"role": "assistant", "content": []any{
					map[string]any{"type": "text", "text": "Let me look."},
					map[string]any{"type": "tool_use", "id": "call_1", "name": "screenshot", "input": map[string]any{"window": "main"}},
					map[string]any{"type": "tool_use", "id": "call_2", "name": "screenshot", "input": map[string]any{"window": "side"}},
				}},
				// Both results in one user message.
				map[string]any{"role": "user", "content": []any{
					map[string]any{"type": "tool_result", "tool_use_id": "call_1", "content": []any{
						map[string]any{"type": "text", "text": "main window captured"}, image}},
					map[string]any{"type": "tool_result", "tool_use_id": "call_2", "content": []any{
						map[string]any{"type": "text", "text": "side window is empty"}}},
				}},
			}
			deepEqual(t, "messages", body["messages"], want)
			deepEqual(t, "system", body["system"], []any{map[string]any{"type": "text", "text": "You are a careful assistant."}})
			deepEqual(t, "tools", body["tools"], []any{map[string]any{
				"name": "screenshot", "description": "Takes a screenshot.",
				"input_schema": map[string]any{"type": "object", "properties": map[string]any{"window": map[string]any{"type": "string"}}},
			}})
			deepEqual(t, "max_tokens", body["max_tokens"], 100.0)
			if h.Get("Anthropic-Version") == "" {
				t.Error("no anthropic-version header")
			}
		},
		"ollama": func(t *testing.T, body map[string]any, h http.Header) {
			want := []any{
				map[string]any{"role": "system", "content": "You are a careful assistant."},
				map[string]any{"role": "user", "content": "What is on my screen? Here is my desk.", "images": []any{pngB64}},
				map[string]any{"role": "assistant", "content": "Let me look.", "tool_calls": []any{
					map[string]any{"id": "call_1", "function": map[string]any{"index": 0.0, "name": "screenshot", "arguments": map[string]any{"window": "main"}}},
					map[string]any{"id": "call_2", "function": map[string]any{"index": 1.0, "name": "screenshot", "arguments": map[string]any{"window": "side"}}},
				}},
				map[string]any{"role": "tool", "content": "main window captured", "tool_call_id": "call_1", "tool_name": "screenshot", "images": []any{pngB64}},
				map[string]any{"role": "tool", "content": "side window is empty", "tool_call_id": "call_2", "tool_name": "screenshot"},
			}
			deepEqual(t, "messages", body["messages"], want)
			deepEqual(t, "tools", body["tools"], []any{map[string]any{"type": "function", "function": map[string]any{
				"name": "screenshot", "description": "Takes a screenshot.",
				"parameters": map[string]any{"type": "object", "properties": map[string]any{"window": map[string]any{"type": "string"}}},
			}}})
			deepEqual(t, "options", body["options"], map[string]any{"num_predict": 100.0})
		},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{}, llmtest.Turn{Text: "Your desk is tidy."})
		resp, _, err := stream(context.Background(), t, p, conversation())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Content != "Your desk is tidy." {
			t.Errorf("got %q", resp.Message.Content)
		}
		wantRequests(t, srv, 1)
		checks[b.name](t, srv.Requests()[0], srv.Headers()[0])
	})
}

func deepEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func TestAnthropicDefaultMaxTokens(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewAnthropicServer(t, llmtest.Turn{Text: "ok"})
	p, err := llm.NewAnthropic(llm.AnthropicConfig{APIKey: "k", BaseURL: srv.URL, Model: "claude-test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := stream(context.Background(), t, p, hello()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0]["max_tokens"]; got != 4096.0 {
		t.Errorf("got max_tokens %v, want 4096", got)
	}
}

func TestAuthError(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		// Ollama has no keys: its server answers 401 when told to.
		o, script := opts{key: llmtest.BadKey}, []llmtest.Turn{}
		if b.name == "ollama" {
			o.key, script = "", []llmtest.Turn{{Status: http.StatusUnauthorized, ErrorMessage: "unauthorized"}}
		}
		srv, p := setup(t, b, o, script...)
		_, _, err := stream(context.Background(), t, p, hello())
		e := wantKind(t, err, llm.ErrAuth)
		if e.Status != http.StatusUnauthorized {
			t.Errorf("got status %d", e.Status)
		}
		wantRequests(t, srv, 1) // not retried
	})
}

func TestRateLimitRetried(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{},
			llmtest.Turn{Status: http.StatusTooManyRequests, RetryAfter: "0"},
			llmtest.Turn{Text: "made it"})
		resp, _, err := stream(context.Background(), t, p, hello())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Content != "made it" {
			t.Errorf("got %q", resp.Message.Content)
		}
		wantRequests(t, srv, 2)
	})
}

func TestRateLimitExhausted(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{maxRetries: 1},
			llmtest.Turn{Status: http.StatusTooManyRequests, RetryAfter: "1", Repeat: true})
		start := time.Now()
		_, _, err := stream(context.Background(), t, p, hello())
		e := wantKind(t, err, llm.ErrRateLimit)
		if e.RetryAfter != time.Second || e.Status != http.StatusTooManyRequests {
			t.Errorf("got RetryAfter %v and status %d, want 1s and 429", e.RetryAfter, e.Status)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("retried after %v: Retry-After was not honoured", d)
		}
		wantRequests(t, srv, 2)
	})
}

func TestServerErrorRetried(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		// No Retry-After: the client backs off on its own, half a second.
		srv, p := setup(t, b, opts{},
			llmtest.Turn{Status: http.StatusInternalServerError},
			llmtest.Turn{Text: "back up"})
		resp, _, err := stream(context.Background(), t, p, hello())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Content != "back up" {
			t.Errorf("got %q", resp.Message.Content)
		}
		wantRequests(t, srv, 2)
	})
}

func TestServerErrorExhausted(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{maxRetries: -1}, llmtest.Turn{Status: http.StatusBadGateway})
		_, _, err := stream(context.Background(), t, p, hello())
		if e := wantKind(t, err, llm.ErrServer); e.Status != http.StatusBadGateway {
			t.Errorf("got status %d", e.Status)
		}
		wantRequests(t, srv, 1)
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{}, llmtest.Turn{Status: http.StatusNotFound, ErrorMessage: "model not found"})
		_, _, err := stream(context.Background(), t, p, hello())
		e := wantKind(t, err, llm.ErrRequest)
		if !strings.Contains(e.Message, "model not found") {
			t.Errorf("the message does not say what the server said: %q", e.Message)
		}
		wantRequests(t, srv, 1)
	})
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{timeout: 200 * time.Millisecond, maxRetries: -1},
			llmtest.Turn{Delay: 10 * time.Second, Text: "too late"})
		start := time.Now()
		_, _, err := stream(context.Background(), t, p, hello())
		wantKind(t, err, llm.ErrTimeout)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("gave up after %v", d)
		}
		wantRequests(t, srv, 1)
	})
}

func TestContextDeadline(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		_, p := setup(t, b, opts{}, llmtest.Turn{Delay: 10 * time.Second, Text: "too late"})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, _, err := stream(ctx, t, p, hello())
		wantKind(t, err, llm.ErrTimeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v is not context.DeadlineExceeded", err)
		}
	})
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		_, p := setup(t, b, opts{}, llmtest.Turn{Delay: 10 * time.Second, Text: "too late"})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, _, err := stream(ctx, t, p, hello())
		wantKind(t, err, llm.ErrOther)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v is not context.Canceled", err)
		}
	})
}

func TestBrokenStream(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{}, llmtest.Turn{Text: "one two three four five six seven", BreakAfter: 4})
		_, rec, err := stream(context.Background(), t, p, hello())
		wantKind(t, err, llm.ErrBrokenReply)
		if len(rec.texts) == 0 || !strings.HasPrefix("one two three four five six seven", rec.text()) {
			t.Errorf("got deltas %q before the break, want the start of the text", rec.texts)
		}
		wantRequests(t, srv, 1) // the answer had started: not retried
	})
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	providers := map[string]func() (llm.Provider, error){
		"openai": func() (llm.Provider, error) {
			return llm.NewOpenAI(llm.OpenAIConfig{BaseURL: addr + "/v1", Model: "m", MaxRetries: -1})
		},
		"anthropic": func() (llm.Provider, error) {
			return llm.NewAnthropic(llm.AnthropicConfig{BaseURL: addr, Model: "m", APIKey: "k", MaxRetries: -1})
		},
		"ollama": func() (llm.Provider, error) {
			return llm.NewOllama(llm.OllamaConfig{Host: addr, Model: "m", MaxRetries: -1})
		},
	}
	for name, mk := range providers {
		t.Run(name, func(t *testing.T) {
			p, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = stream(context.Background(), t, p, hello())
			if e := wantKind(t, err, llm.ErrOther); !strings.Contains(e.Message, "cannot reach") {
				t.Errorf("got %q", e.Message)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		_, p := setup(t, b, opts{}, llmtest.Turn{Text: "Counted.", Usage: llmtest.Usage{InputTokens: 42, OutputTokens: 7}})
		resp, _, err := stream(context.Background(), t, p, hello())
		if err != nil {
			t.Fatal(err)
		}
		if want := (llm.Usage{InputTokens: 42, OutputTokens: 7}); resp.Usage != want {
			t.Errorf("got usage %+v, want %+v", resp.Usage, want)
		}
	})
}

// A model that never stops calling tools: the script repeats its turn.
func TestRepeatingModel(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{}, llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "again", Arguments: `{}`}}, Repeat: true})
		req := hello()
		req.Tools = []llm.Tool{{Name: "again"}}
		for i := range 3 {
			resp, _, err := stream(context.Background(), t, p, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Message.ToolCalls) != 1 {
				t.Fatalf("round %d: got %+v", i, resp.Message)
			}
			call := resp.Message.ToolCalls[0]
			req.Messages = append(req.Messages, resp.Message,
				llm.Message{Role: llm.RoleTool, ToolCallID: call.ID, Content: "done"})
		}
		wantRequests(t, srv, 3)
		if got := len(srv.Requests()[2]["messages"].([]any)); got < 5 {
			t.Errorf("the last request has %d messages, want the whole conversation", got)
		}
	})
}

func TestStall(t *testing.T) {
	t.Parallel()
	const text = "one two three four five six seven eight"
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{timeout: 300 * time.Millisecond}, llmtest.Turn{Text: text, StallAfter: 5})
		start := time.Now()
		_, rec, err := stream(context.Background(), t, p, hello())
		e := wantKind(t, err, llm.ErrTimeout)
		if !strings.Contains(e.Message, "stalled") {
			t.Errorf("the message does not say the answer stalled: %q", e.Message)
		}
		if len(rec.texts) == 0 || !strings.HasPrefix(text, rec.text()) {
			t.Errorf("got deltas %q before the stall, want the start of the text", rec.texts)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("gave up after %v", d)
		}
		wantRequests(t, srv, 1) // the answer had started: not retried
	})
}

func TestStreamError(t *testing.T) {
	t.Parallel()
	// Ollama's client hands an error line over as a bare error, like a
	// line that is not JSON: the stream broke, then.
	want := map[string]string{"openai": llm.ErrServer, "anthropic": llm.ErrServer, "ollama": llm.ErrBrokenReply}
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{}, llmtest.Turn{Text: "I was saying", StreamError: "the model crashed"})
		_, rec, err := stream(context.Background(), t, p, hello())
		e := wantKind(t, err, want[b.name])
		if !strings.Contains(e.Message, "the model crashed") {
			t.Errorf("the message does not say what the server said: %q", e.Message)
		}
		if rec.text() != "I was saying" {
			t.Errorf("got text %q before the error", rec.text())
		}
		wantRequests(t, srv, 1)
	})
}

func TestMalformedStream(t *testing.T) {
	t.Parallel()
	raw := map[string]string{
		"openai":    "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {this is not JSON\n\n",
		"anthropic": "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{}}}\n\nevent: content_block_delta\ndata: {oops\n\n",
		"ollama":    "{\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n{oops\n",
	}
	eachBackend(t, func(t *testing.T, b backend) {
		_, p := setup(t, b, opts{}, llmtest.Turn{Raw: raw[b.name]})
		_, _, err := stream(context.Background(), t, p, hello())
		wantKind(t, err, llm.ErrBrokenReply)
	})
}

// A stream that ends cleanly, but before the model finished, is broken.
func TestTruncatedStream(t *testing.T) {
	t.Parallel()
	raw := map[string]string{
		"openai":    "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n",
		"anthropic": "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{}}}\n\n",
		"ollama":    "{\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n",
	}
	eachBackend(t, func(t *testing.T, b backend) {
		_, p := setup(t, b, opts{}, llmtest.Turn{Raw: raw[b.name]})
		_, _, err := stream(context.Background(), t, p, hello())
		wantKind(t, err, llm.ErrBrokenReply)
	})
}

// The caller decides keys and URLs: the SDKs must not read theirs from the
// environment.
func TestEnvironmentIgnored(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "env-key")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("ANTHROPIC_API_KEY", "env-key")
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			srv := b.server(t)
			var p llm.Provider
			var err error
			if b.name == "openai" {
				p, err = llm.NewOpenAI(llm.OpenAIConfig{BaseURL: srv.URL, Model: "m"})
			} else {
				p, err = llm.NewAnthropic(llm.AnthropicConfig{BaseURL: srv.URL, Model: "m"})
			}
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = stream(context.Background(), t, p, hello())
			wantKind(t, err, llm.ErrAuth)
			wantRequests(t, srv, 1)
			if h := srv.Headers()[0]; h.Get("Authorization") != "" || h.Get("X-Api-Key") != "" {
				t.Errorf("a key from the environment was sent: %v", h)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		srv, p := setup(t, b, opts{})
		for _, req := range []*llm.Request{
			nil,
			{Model: "", Messages: []llm.Message{{Role: "narrator", Content: "Once upon a time"}}},
		} {
			_, _, err := stream(context.Background(), t, p, req)
			wantKind(t, err, llm.ErrRequest)
		}
		wantRequests(t, srv, 0)
	})
}

func TestOpenAIGrammarAndSchema(t *testing.T) {
	t.Parallel()
	schema := map[string]any{"type": "object", "properties": map[string]any{"code": map[string]any{"type": "string"}}}
	tests := []struct {
		name    string
		grammar string
		schema  map[string]any
		want    map[string]any // extra fields in the body; nil means none
	}{
		{"none", "", nil, nil},
		{"grammar", `root ::= "yes" | "no"`, nil, map[string]any{"grammar": `root ::= "yes" | "no"`}},
		{"schema", "", schema, map[string]any{"json_schema": schema}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "yes"})
			p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: srv.URL, APIKey: "k", Model: "local"})
			if err != nil {
				t.Fatal(err)
			}
			req := hello()
			req.Grammar, req.JSONSchema = tt.grammar, tt.schema
			if _, _, err := stream(context.Background(), t, p, req); err != nil {
				t.Fatal(err)
			}
			body := srv.Requests()[0]
			for _, k := range []string{"grammar", "json_schema"} {
				got, ok := body[k]
				want, wantOK := tt.want[k]
				if ok != wantOK {
					t.Errorf("%s sent: %v, want %v", k, ok, wantOK)
				} else if ok && !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
		})
	}
}
