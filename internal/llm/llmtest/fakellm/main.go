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
// complaints are logged, and there is nothing to clean up, since the
// server lives as long as the process.
type tb struct{ testing.TB }

func (tb) Helper()                        {}
func (tb) Errorf(format string, a ...any) { log.Printf("fakellm: "+format, a...) }
func (tb) Logf(format string, a ...any)   { log.Printf("fakellm: "+format, a...) }
func (tb) Cleanup(func())                 {}
func (tb) Fatalf(format string, a ...any) { log.Fatalf("fakellm: "+format, a...) }

// fake is one scripted server for the life of the process, reached
// through a proxy that adds the /_script and /_requests endpoints. The
// server is never replaced: closing an httptest server closes
// http.DefaultTransport's idle connections and cuts connections still in
// use, which broke answers streaming at the time.
type fake struct {
	srv   *llmtest.Server
	proxy *httputil.ReverseProxy

	mu   sync.Mutex
	base int // how many requests came before the current script
}

func newFake() *fake {
	srv := llmtest.NewOpenAIServer(tb{})
	u, _ := url.Parse(srv.URL)
	u.Path = ""
	proxy := httputil.NewSingleHostReverseProxy(u)
	// A connection per request to the scripted server: a client that
	// closes an answer's stream once it has what it needs (interp does, at
	// the finish reason) cancels the proxied request, and that cancel
	// could close the upstream connection after it went back to the pool
	// and on to the next request, whose answer then broke off
	// ("use of closed network connection" here, "unexpected EOF" in
	// interp): the SDK tests failed so, now and then.
	proxy.Transport = &http.Transport{DisableKeepAlives: true}
	return &fake{srv: srv, proxy: proxy}
}

func (f *fake) setScript(turns []turn) {
	script := make([]llmtest.Turn, len(turns))
	for i, tn := range turns {
		script[i] = llmtest.Turn{Text: tn.Text, Usage: llmtest.Usage{InputTokens: tn.Usage.InputTokens, OutputTokens: tn.Usage.OutputTokens}}
		for _, c := range tn.ToolCalls {
			script[i].ToolCalls = append(script[i].ToolCalls, llmtest.Call{Name: c.Name, Arguments: c.Arguments})
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.srv.Script(script...)
	f.base = len(f.srv.Requests())
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
		reqs := f.srv.Requests()[f.base:]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(reqs)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	f := newFake()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s/v1\n", l.Addr())
	log.Fatal(http.Serve(l, f))
}
