package llm

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseOllamaHost(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                          "http://127.0.0.1:11434",
		"127.0.0.1:11434":           "http://127.0.0.1:11434",
		"gpu-box":                   "http://gpu-box:11434",
		"gpu-box:8080":              "http://gpu-box:8080",
		":9999":                     "http://127.0.0.1:9999",
		"0.0.0.0":                   "http://127.0.0.1:11434",
		"http://example.com":        "http://example.com:80",
		"https://example.com":       "https://example.com:443",
		"https://example.com:8443/": "https://example.com:8443",
		"http://[::1]:11434":        "http://[::1]:11434",
		"http://proxy:80/ollama":    "http://proxy:80/ollama",
		"  10.0.0.2:11434 ":         "http://10.0.0.2:11434",
	}
	for in, want := range tests {
		u, err := ParseOllamaHost(in)
		if err != nil {
			t.Errorf("ParseOllamaHost(%q): %v", in, err)
			continue
		}
		if u.String() != want {
			t.Errorf("ParseOllamaHost(%q) = %s, want %s", in, u, want)
		}
	}
	if _, err := ParseOllamaHost("ftp://x"); err == nil {
		t.Error("ParseOllamaHost took ftp://")
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{}, 0},
		{http.Header{"Retry-After": {"1"}}, time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After": {"0"}}, 0},
		{http.Header{"Retry-After": {"-3"}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"1"}}, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.h); got != tt.want {
			t.Errorf("parseRetryAfter(%v) = %v, want %v", tt.h, got, tt.want)
		}
	}
	date := http.Header{"Retry-After": {time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)}}
	if got := parseRetryAfter(date); got < 25*time.Second || got > 31*time.Second {
		t.Errorf("parseRetryAfter(HTTP date in 30s) = %v", got)
	}
}

// Compatible servers stream tool calls in their own ways; the
// accumulator copes with each.
func TestToolCallAcc(t *testing.T) {
	t.Parallel()
	type frag struct {
		index          int
		id, name, args string
	}
	tests := []struct {
		name  string
		frags []frag
		want  []ToolCall
	}{
		{"openai", []frag{{0, "a", "f", ""}, {0, "", "", `{"x"`}, {0, "", "", `:1}`}, {1, "b", "g", `{}`}},
			[]ToolCall{{"a", "f", `{"x":1}`}, {"b", "g", `{}`}}},
		{"ID on every fragment", []frag{{0, "a", "f", `{"x"`}, {0, "a", "", `:1}`}},
			[]ToolCall{{"a", "f", `{"x":1}`}}},
		{"every call at index 0", []frag{{0, "a", "f", `{}`}, {0, "b", "g", `{"y":2}`}},
			[]ToolCall{{"a", "f", `{}`}, {"b", "g", `{"y":2}`}}},
		{"no arguments", []frag{{0, "a", "f", ""}},
			[]ToolCall{{"a", "f", `{}`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var deltas []ToolCallDelta
			acc := newToolCallAcc(func(d Delta) { deltas = append(deltas, *d.ToolCall) })
			for _, f := range tt.frags {
				acc.fragment(f.index, f.id, f.name, f.args)
			}
			m := acc.message()
			if len(m.ToolCalls) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", m.ToolCalls, tt.want)
			}
			for i, want := range tt.want {
				if m.ToolCalls[i] != want {
					t.Errorf("call %d: got %+v, want %+v", i, m.ToolCalls[i], want)
				}
				var args strings.Builder
				seen := false
				for _, d := range deltas {
					if d.Index != i {
						continue
					}
					if !seen && (d.ID != want.ID || d.Name != want.Name) {
						t.Errorf("call %d: first fragment %+v", i, d)
					}
					seen = true
					args.WriteString(d.Arguments)
				}
				if args.String() != want.Arguments {
					t.Errorf("call %d: fragments add up to %q", i, args.String())
				}
			}
		})
	}
	// A call that comes without an ID gets one.
	acc := newToolCallAcc(nil)
	acc.fragment(0, "", "f", "{}")
	if id := acc.message().ToolCalls[0].ID; !strings.HasPrefix(id, "call_") {
		t.Errorf("got ID %q", id)
	}
}

func TestOpenAIMaxTokens(t *testing.T) {
	t.Parallel()
	req := &Request{MaxTokens: 50, Messages: []Message{{Role: RoleUser, Content: "hi"}}}
	for base, field := range map[string]string{"": "max_completion_tokens", "http://localhost:8000/v1": "max_tokens"} {
		p, err := NewOpenAI(OpenAIConfig{BaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		params, err := p.params(req, "m")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(params)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if m[field] != 50.0 || len(m) != 4 { // model, messages, stream_options, and the bound
			t.Errorf("base %q: got %s, want %s", base, b, field)
		}
	}
}

func TestAnthropicSchema(t *testing.T) {
	t.Parallel()
	in := anthropicSchema(map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"a": map[string]any{"type": "string"}},
		"required":             []any{"a"},
		"additionalProperties": false,
	})
	b, _ := json.Marshal(in)
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	want := `{"additionalProperties":false,"properties":{"a":{"type":"string"}},"required":["a"],"type":"object"}`
	if g, _ := json.Marshal(got); string(g) != want {
		t.Errorf("got %s, want %s", g, want)
	}
}
