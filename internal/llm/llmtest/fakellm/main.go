// Command fakellm runs llmtest's scripted fake OpenAI server on its own,
// for tests written in other languages (the SDKs'). It prints its base
// URL (ending in /v1) on the first line of stdout and serves until killed.
//
// POST /_script with a JSON array of turns sets what the next requests
// get, replacing any script left; GET /_requests returns the bodies of
// the requests the current script received. A turn is
// {"text": "...", "tool_calls": [{"name": "run_python", "arguments": "{...}"}],
// "usage": {"input_tokens": 1, "output_tokens": 1}}.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/interp-dev/interp/internal/llm/llmtest"
)

type turn struct {
	Text      string `json:"text"`
	ToolCalls []struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"tool_calls"`
	Usage struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

// tb is the part of testing.TB that llmtest uses, outside a test: its
// complaints are logged, and cleanups run when the script is replaced.
type tb struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func (t *tb) Helper()                        {}
func (t *tb) Errorf(format string, a ...any) { log.Printf("fakellm: "+format, a...) }
func (t *tb) Logf(format string, a ...any)   { log.Printf("fakellm: "+format, a...) }
func (t *tb) Cleanup(f func())               { t.mu.Lock(); t.cleanups = append(t.cleanups, f); t.mu.Unlock() }
func (t *tb) Fatalf(format string, a ...any) { log.Fatalf("fakellm: "+format, a...) }
func (t *tb) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

type fake struct {
	mu  sync.Mutex
	t   *tb
	srv *llmtest.Server
}

func (f *fake) setScript(turns []turn) {
	script := make([]llmtest.Turn, len(turns))
	for i, tn := range turns {
		script[i] = llmtest.Turn{Text: tn.Text, Usage: llmtest.Usage{InputTokens: tn.Usage.InputTokens, OutputTokens: tn.Usage.OutputTokens}}
		for _, c := range tn.ToolCalls {
			script[i].ToolCalls = append(script[i].ToolCalls, llmtest.Call{Name: c.Name, Arguments: c.Arguments})
		}
	}
	t := &tb{}
	srv := llmtest.NewOpenAIServer(t, script...)
	f.mu.Lock()
	old := f.t
	f.t, f.srv = t, srv
	f.mu.Unlock()
	if old != nil {
		old.close()
	}
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_script":
		var turns []turn
		if err := json.NewDecoder(r.Body).Decode(&turns); err != nil {
			http.Error(w, "a JSON array of turns: "+err.Error(), http.StatusBadRequest)
			return
		}
		f.setScript(turns)
		w.WriteHeader(http.StatusNoContent)
		return
	case "/_requests":
		f.mu.Lock()
		srv := f.srv
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(srv.Requests())
		return
	}
	f.mu.Lock()
	srv := f.srv
	f.mu.Unlock()
	u, _ := url.Parse(srv.URL)
	u.Path = ""
	httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
}

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	f := &fake{}
	f.setScript(nil)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s/v1\n", l.Addr())
	log.Fatal(http.Serve(l, f))
}
