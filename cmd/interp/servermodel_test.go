package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// TestDefaultModelFromServer: with only OPENAI_BASE_URL set, interp run
// uses the one model the server lists (not gpt-4.1-mini), and refuses
// with one line listing them when it serves several.
func TestDefaultModelFromServer(t *testing.T) {
	for _, k := range []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_HOST", "INTERP_PROVIDER", "INTERP_MODEL"} {
		t.Setenv(k, "")
	}
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	fake := llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "Hello from the server's model."})
	target, _ := url.Parse(strings.TrimSuffix(fake.URL, "/v1"))
	models := []string{"qwen2.5-coder-7b"}
	// A keyless server: /v1/models lists models; chat goes to the fake,
	// which wants a key.
	chat := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			w.Header().Set("Content-Type", "application/json")
			var data []string
			for _, m := range models {
				data = append(data, fmt.Sprintf(`{"id": %q, "object": "model", "created": 0, "owned_by": "me"}`, m))
			}
			fmt.Fprintf(w, `{"object": "list", "data": [%s]}`, strings.Join(data, ","))
			return
		}
		r.Header.Set("Authorization", "Bearer test-key")
		chat.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("OPENAI_BASE_URL", srv.URL+"/v1")

	code, out, errOut := interp(t, "", "--no-history", "run", "--yes", "hello")
	if code != exitOK || !strings.Contains(out, "Hello from the server's model.") {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if reqs := fake.Requests(); len(reqs) == 0 || reqs[0]["model"] != "qwen2.5-coder-7b" {
		t.Errorf("the chat request's model: %v", reqs)
	}

	models = []string{"llama-3-8b", "qwen2.5-coder-7b"}
	code, _, errOut = interp(t, "", "--no-history", "run", "--yes", "hello")
	if code != exitUsage || !strings.Contains(errOut, "pass --model with one of llama-3-8b, qwen2.5-coder-7b") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Errorf("several models: exit %d, stderr %q", code, errOut)
	}
}
