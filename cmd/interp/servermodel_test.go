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

// TestDefaultModelFromServerWithKey: with OPENAI_BASE_URL (not OpenAI's
// own) and OPENAI_API_KEY both set and no model, the server is asked
// too, with the key: its one model is used; a list with OpenAI's
// default in it keeps the default; a server that cannot be asked falls
// back to the default, saying so in one line.
func TestDefaultModelFromServerWithKey(t *testing.T) {
	for _, k := range []string{"ANTHROPIC_API_KEY", "OLLAMA_HOST", "INTERP_PROVIDER", "INTERP_MODEL"} {
		t.Setenv(k, "")
	}
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OPENAI_API_KEY", "test-key")

	// A vLLM-like server that wants the key on /v1/models as well.
	fake := llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "Hello from the keyed server."})
	fake.SetModels("Qwen/Qwen2.5-Coder-32B-Instruct")
	t.Setenv("OPENAI_BASE_URL", fake.URL)
	code, out, errOut := interp(t, "", "--no-history", "run", "--yes", "hello")
	if code != exitOK || !strings.Contains(out, "Hello from the keyed server.") {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if reqs := fake.Requests(); fake.ModelRequests() != 1 || len(reqs) == 0 || reqs[0]["model"] != "Qwen/Qwen2.5-Coder-32B-Instruct" {
		t.Errorf("asked /v1/models %d times; the chat request's model: %v", fake.ModelRequests(), reqs)
	}

	// A proxy for OpenAI lists many, the default among them.
	fake = llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "Hello from the proxy."})
	t.Setenv("OPENAI_BASE_URL", fake.URL)
	if code, out, errOut := interp(t, "", "--no-history", "run", "--yes", "hello"); code != exitOK || !strings.Contains(out, "Hello from the proxy.") {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if reqs := fake.Requests(); len(reqs) == 0 || reqs[0]["model"] != "gpt-4.1-mini" {
		t.Errorf("the chat request's model: %v", reqs)
	}

	// A server without /v1/models: the default, and one line saying why.
	fake = llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "Hello anyway."})
	target, _ := url.Parse(strings.TrimSuffix(fake.URL, "/v1"))
	chat := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			http.NotFound(w, r)
			return
		}
		chat.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("OPENAI_BASE_URL", srv.URL+"/v1")
	code, out, errOut = interp(t, "", "--no-history", "run", "--yes", "hello")
	if code != exitOK || !strings.Contains(out, "Hello anyway.") {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var notes []string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.Contains(l, "/v1/models") || strings.Contains(l, "for its models") {
			notes = append(notes, l)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "using gpt-4.1-mini; pass --model") || !strings.Contains(notes[0], "404") {
		t.Errorf("the fallback's note: %q", notes)
	}
	if reqs := fake.Requests(); len(reqs) == 0 || reqs[0]["model"] != "gpt-4.1-mini" {
		t.Errorf("the chat request's model: %v", reqs)
	}
}
