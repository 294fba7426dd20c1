package llamacpp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm"
)

// realRuntime returns the llama-server and default model that
// scripts/setup installs; without them the test is skipped, except on CI.
//
// The tests that use it do not run in parallel: each starts llama-server
// with a thread per core, and two at once would only share the cores.
func realRuntime(t *testing.T) (bin, model string) {
	t.Helper()
	home := os.Getenv("INTERP_HOME")
	if home == "" {
		home = "/opt/interp"
	}
	bin = filepath.Join(home, "bin", "llama-server")
	model = filepath.Join(home, "models", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
	for _, p := range []string{bin, model} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: scripts/setup installs it (%v)", p, err)
			}
			t.Skipf("%s is missing: run scripts/setup (%v)", p, err)
		}
	}
	return bin, model
}

func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Binary, cfg.Model = realRuntime(t)
	if cfg.ContextSize == 0 {
		cfg.ContextSize = 4096
	}
	s := New(cfg)
	t.Cleanup(func() { s.Close() })
	return s
}

func ask(text string, maxTokens int) *llm.Request {
	return &llm.Request{
		System:    "You are a helpful assistant. Answer briefly.",
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: text}},
		MaxTokens: maxTokens,
	}
}

func TestStreamsAndKeepsTheModelLoaded(t *testing.T) {
	srv := newTestServer(t, Config{})
	p := NewProvider(srv, "qwen2.5-coder-0.5b")
	var deltas int
	var text strings.Builder
	resp, err := p.Stream(context.Background(), ask("What is 6 times 7? Answer with the number only.", 16), func(d llm.Delta) {
		deltas++
		text.WriteString(d.Text)
	})
	if err != nil {
		t.Fatal(err)
	}
	if deltas < 1 || !strings.Contains(resp.Message.Content, "42") || text.String() != resp.Message.Content {
		t.Fatalf("answer %q in %d deltas (streamed %q), want 42 streamed", resp.Message.Content, deltas, text.String())
	}
	if resp.Usage.OutputTokens == 0 || resp.Usage.InputTokens == 0 {
		t.Errorf("usage = %+v, want tokens counted", resp.Usage)
	}
	pid := srv.proc.cmd.Process.Pid
	// Every core generates.
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	args := strings.Split(string(cmdline), "\x00")
	if i := indexOf(args, "--threads"); i < 0 || args[i+1] != strconv.Itoa(runtime.NumCPU()) {
		t.Errorf("llama-server args %q, want --threads %d", args, runtime.NumCPU())
	}
	if _, err := p.Stream(context.Background(), ask("Say hi.", 4), func(llm.Delta) {}); err != nil {
		t.Fatal(err)
	}
	if srv.proc.cmd.Process.Pid != pid {
		t.Error("the second request started another server: the model was not kept loaded")
	}
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// The second step of a conversation processes only what is new: the
// system prompt and the first step come from the slot's cache.
func TestPromptPrefixIsCached(t *testing.T) {
	srv := newTestServer(t, Config{})
	lease, err := srv.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	system := "You are a data analyst. " + strings.Repeat("Write short, correct Python with pandas. ", 40)
	msgs := []map[string]string{{"role": "system", "content": system}, {"role": "user", "content": "Say one word."}}
	first := chatTimings(t, lease, msgs)
	msgs = append(msgs, map[string]string{"role": "assistant", "content": "Word."}, map[string]string{"role": "user", "content": "Another one."})
	second := chatTimings(t, lease, msgs)
	if first.PromptTokens < 300 || second.PromptTokens*4 > first.PromptTokens {
		t.Errorf("prompt tokens processed: first %d, second %d; want the second to reuse the cached prefix", first.PromptTokens, second.PromptTokens)
	}
}

func chatTimings(t *testing.T, lease *Lease, msgs []map[string]string) Speed {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"messages": msgs, "max_tokens": 4, "temperature": 0})
	resp, err := lease.Client.Post(lease.BaseURL+"/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Timings Speed `json:"timings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("chat: %s, %v", resp.Status, err)
	}
	return out.Timings
}

func TestCrashIsAOneLineError(t *testing.T) {
	srv := newTestServer(t, Config{})
	p := NewProvider(srv, "qwen2.5-coder-0.5b")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var once sync.Once
	_, err := p.Stream(ctx, ask("Count from 1 to 1000, one number per line.", 2000), func(llm.Delta) {
		once.Do(func() { srv.proc.cmd.Process.Signal(syscall.SIGKILL) })
	})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("after a crash: %v (context: %v), want an error at once", err, ctx.Err())
	}
	if !llm.IsKind(err, llm.ErrServer) || !strings.Contains(err.Error(), "local model runtime") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q, want one line saying the runtime stopped", err)
	}
	// The next request starts a new server.
	if _, err := p.Stream(context.Background(), ask("Say hi.", 4), func(llm.Delta) {}); err != nil {
		t.Fatalf("after a crash, the next request: %v", err)
	}
}

func TestCancelStopsGeneration(t *testing.T) {
	srv := newTestServer(t, Config{})
	p := NewProvider(srv, "qwen2.5-coder-0.5b")
	ctx, cancel := context.WithCancel(context.Background())
	var n int
	_, err := p.Stream(ctx, ask("Count from 1 to 1000, one number per line.", 2000), func(llm.Delta) {
		if n++; n == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled stream: %v, want context.Canceled", err)
	}
	// The server is still there and answers the next request.
	if !srv.Running() {
		t.Fatal("cancelling a request stopped the server")
	}
	if _, err := p.Stream(context.Background(), ask("Say hi.", 4), func(llm.Delta) {}); err != nil {
		t.Fatal(err)
	}
}

func TestUnloadsWhenIdle(t *testing.T) {
	srv := newTestServer(t, Config{IdleTimeout: 50 * time.Millisecond})
	lease, err := srv.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done := lease.Exited
	lease.Release()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the server is still running long after its idle timeout")
	}
	if srv.Running() {
		t.Error("Running after the idle timeout")
	}
	// It loads again when needed.
	lease, err = srv.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lease.Release()
}

func TestStartFailures(t *testing.T) {
	bin, _ := realRuntime(t)
	notGGUF := filepath.Join(t.TempDir(), "broken.gguf")
	os.WriteFile(notGGUF, []byte("GGUF but not really a model"), 0o644)
	tests := []struct {
		name        string
		bin, model  string
		wantInError string
	}{
		{"no runtime", filepath.Join(t.TempDir(), "llama-server"), notGGUF, "run scripts/setup"},
		{"broken model", bin, notGGUF, "local model runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := New(Config{Binary: tt.bin, Model: tt.model})
			defer srv.Close()
			p := NewProvider(srv, "broken")
			_, err := p.Stream(context.Background(), ask("hi", 4), func(llm.Delta) {})
			if err == nil || !strings.Contains(err.Error(), tt.wantInError) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q, want one line with %q", err, tt.wantInError)
			}
		})
	}
}

func TestGrammarConstrainsTheAnswer(t *testing.T) {
	srv := newTestServer(t, Config{})
	p := NewProvider(srv, "qwen2.5-coder-0.5b")
	req := ask("Write a poem about the sea.", 32)
	req.Grammar = `root ::= "yes" | "no"`
	resp, err := p.Stream(context.Background(), req, func(llm.Delta) {})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Message.Content; c != "yes" && c != "no" {
		t.Errorf("grammar-constrained answer %q, want yes or no", c)
	}
	req = ask("Give the sum of 2 and 3.", 64)
	req.JSONSchema = map[string]any{"type": "object", "properties": map[string]any{"sum": map[string]any{"type": "integer"}}, "required": []string{"sum"}}
	resp, err = p.Stream(context.Background(), req, func(llm.Delta) {})
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Sum *int `json:"sum"`
	}
	if err := json.Unmarshal([]byte(resp.Message.Content), &v); err != nil || v.Sum == nil {
		t.Errorf("schema-constrained answer %q: %v, want {\"sum\": N}", resp.Message.Content, err)
	}
}
