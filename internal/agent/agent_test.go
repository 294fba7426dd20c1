package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/session"
)

func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	os.Exit(m.Run())
}

// fake is a scripted model server with a real SDK-based provider.
type fake struct {
	name     string
	server   *llmtest.Server
	provider llm.Provider
}

var providers = []string{"openai", "anthropic", "ollama"}

func newFake(t *testing.T, name string, script ...llmtest.Turn) *fake {
	t.Helper()
	var srv *llmtest.Server
	var p llm.Provider
	var err error
	switch name {
	case "openai":
		srv = llmtest.NewOpenAIServer(t, script...)
		p, err = llm.NewOpenAI(llm.OpenAIConfig{BaseURL: srv.URL, APIKey: "test-key", Model: "gpt-test", MaxRetries: 1, Timeout: 5 * time.Second})
	case "anthropic":
		srv = llmtest.NewAnthropicServer(t, script...)
		p, err = llm.NewAnthropic(llm.AnthropicConfig{BaseURL: srv.URL, APIKey: "test-key", Model: "claude-test", MaxRetries: 1, Timeout: 5 * time.Second})
	case "ollama":
		srv = llmtest.NewOllamaServer(t, script...)
		p, err = llm.NewOllama(llm.OllamaConfig{Host: srv.URL, Model: "qwen-test", MaxRetries: 1, Timeout: 5 * time.Second})
	}
	if err != nil {
		t.Fatal(err)
	}
	return &fake{name: name, server: srv, provider: p}
}

// newSession starts a real sandboxed session.
func newSession(t *testing.T) *session.Session {
	t.Helper()
	b := sandboxtest.Backend(t)
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	m := session.NewManager(session.ManagerConfig{Kernel: session.Config{Backend: b, Runtime: rt}, IdleTimeout: -1})
	t.Cleanup(m.Shutdown)
	s, err := m.Create(context.Background(), session.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newAgent(t *testing.T, f *fake, s *session.Session, mod func(*agent.Config)) *agent.Agent {
	t.Helper()
	cfg := agent.Config{Provider: f.provider, Model: "test-model", Session: s}
	if mod != nil {
		mod(&cfg)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func call(code string) llmtest.Call {
	b, _ := json.Marshal(map[string]string{"code": code})
	return llmtest.Call{Name: "run_python", Arguments: string(b)}
}

type recorded struct {
	events []agent.Event
}

func (r *recorded) add(ev agent.Event) { r.events = append(r.events, ev) }

func (r *recorded) text(typ string) string {
	var b strings.Builder
	for _, ev := range r.events {
		if ev.Type == typ {
			b.WriteString(ev.Text)
		}
	}
	return b.String()
}

func (r *recorded) types() string {
	var out []string
	for _, ev := range r.events {
		if n := len(out); n > 0 && out[n-1] == ev.Type {
			continue // collapse streamed runs
		}
		out = append(out, ev.Type)
	}
	return strings.Join(out, ",")
}

// requestText flattens a recorded request body for searching.
func requestText(t *testing.T, f *fake, i int) string {
	t.Helper()
	reqs := f.server.Requests()
	if i >= len(reqs) {
		t.Fatalf("only %d requests were made", len(reqs))
	}
	b, _ := json.Marshal(reqs[i])
	return string(b)
}

func TestOneStep(t *testing.T) {
	t.Parallel()
	for _, name := range providers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, name,
				llmtest.Turn{Text: "Let me compute.", ToolCalls: []llmtest.Call{call("x = 6 * 7\nprint(x)")}, Usage: llmtest.Usage{InputTokens: 100, OutputTokens: 20}},
				llmtest.Turn{Text: "The answer is **42**.", Usage: llmtest.Usage{InputTokens: 150, OutputTokens: 10}},
			)
			s := newSession(t)
			a := newAgent(t, f, s, nil)
			var rec recorded
			res, err := a.Run(context.Background(), "What is 6 times 7?", rec.add)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != event.StopAnswer || res.Answer != "The answer is **42**." || res.Steps != 2 {
				t.Errorf("result %+v", res)
			}
			if got := rec.text(event.Stdout); got != "42\n" {
				t.Errorf("stdout %q", got)
			}
			if got := rec.text(event.Code); name != "ollama" && got != "x = 6 * 7\nprint(x)" {
				t.Errorf("streamed code %q", got)
			}
			if got := rec.types(); !strings.HasPrefix(got, "message,") || !strings.HasSuffix(got, "done,message,answer") || !strings.Contains(got, "tool,stdout") {
				t.Errorf("event order %s", got)
			}
			if res.Usage.InputTokens != 250 || res.Usage.OutputTokens != 30 {
				t.Errorf("usage %+v", res.Usage)
			}
			// The result went back to the model, and the prompt told it
			// the truth about the environment.
			second := requestText(t, f, 1)
			if !strings.Contains(second, "42") || !strings.Contains(second, "[status: ok]") {
				t.Errorf("second request lacks the result: %s", second)
			}
			first := requestText(t, f, 0)
			for _, want := range []string{"Python 3.", "/workspace", "no internet", "run_python"} {
				if !strings.Contains(first, want) {
					t.Errorf("system prompt lacks %q", want)
				}
			}
		})
	}
}

func TestErrorThenFix(t *testing.T) {
	t.Parallel()
	for _, name := range providers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, name,
				llmtest.Turn{ToolCalls: []llmtest.Call{call("data = [1, 2, 3]\nprint(sum(data) / 0)")}},
				llmtest.Turn{ToolCalls: []llmtest.Call{call("print(sum(data) / len(data))")}},
				llmtest.Turn{Text: "The mean is 2."},
			)
			a := newAgent(t, f, newSession(t), nil)
			var rec recorded
			res, err := a.Run(context.Background(), "mean of 1,2,3", rec.add)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != event.StopAnswer || res.Steps != 3 {
				t.Errorf("result %+v", res)
			}
			fed := requestText(t, f, 1)
			for _, want := range []string{"ZeroDivisionError", agent.ClassRuntime, "guidance"} {
				if !strings.Contains(fed, want) {
					t.Errorf("the error fed back lacks %q: %s", want, fed)
				}
			}
			if got := rec.text(event.Stdout); got != "2.0\n" {
				t.Errorf("stdout %q", got)
			}
		})
	}
}

func TestMissingPackageInstalledThenUsed(t *testing.T) {
	t.Parallel()
	rt, err := python.Find("")
	if err != nil || rt.UV == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("uv missing on CI")
		}
		t.Skip("uv is not installed: run scripts/setup")
	}
	idx := pypitest.NewIndex(t, pypitest.Package{Name: "tinypkg", Version: "1.0", Modules: map[string]string{"tinypkg/__init__.py": "VALUE = 42\n"}})
	cache := filepath.Join("/var/tmp", fmt.Sprintf("interp-test-cache-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(cache) })
	m, err := deps.LoadMap()
	if err != nil {
		t.Fatal(err)
	}
	auto := &deps.Auto{Map: m, Installer: &deps.Installer{UV: rt.UV, Python: rt.Executable, CacheDir: cache, IndexURL: idx.URL(), Map: m}}
	f := newFake(t, "openai",
		llmtest.Turn{ToolCalls: []llmtest.Call{call("import tinypkg\nprint(tinypkg.VALUE)")}},
		llmtest.Turn{Text: "It is 42."},
	)
	a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.Auto = auto })
	var rec recorded
	res, err := a.Run(context.Background(), "use tinypkg", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopAnswer || rec.text(event.Stdout) != "42\n" {
		t.Errorf("result %+v, stdout %q", res, rec.text(event.Stdout))
	}
	var installed bool
	for _, ev := range rec.events {
		if ev.Type == event.Install && ev.Phase == event.PhaseInstalled && ev.Package == "tinypkg" {
			installed = true
		}
	}
	if !installed {
		t.Errorf("no install event: %s", rec.types())
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		turn   llmtest.Turn
		limits agent.Limits
		stop   string
		reason string
	}{
		{"never stops", llmtest.Turn{ToolCalls: []llmtest.Call{call("print('again')")}, Repeat: true}, agent.Limits{MaxSteps: 3}, event.StopMaxSteps, "3 steps"},
		{"same error forever", llmtest.Turn{ToolCalls: []llmtest.Call{call("1/0")}, Repeat: true}, agent.Limits{MaxSteps: 10}, event.StopRepeatedError, "ZeroDivisionError"},
		{"token budget", llmtest.Turn{ToolCalls: []llmtest.Call{call("print(1)")}, Usage: llmtest.Usage{InputTokens: 600, OutputTokens: 100}, Repeat: true}, agent.Limits{TokenBudget: 1000}, event.StopTokenBudget, "budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "openai", tt.turn)
			a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.Limits = tt.limits })
			var rec recorded
			res, err := a.Run(context.Background(), "loop", rec.add)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != tt.stop || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("stop %q (%s), want %q with %q", res.Stop, res.Reason, tt.stop, tt.reason)
			}
			if last := rec.events[len(rec.events)-1]; last.Type != event.Stop || last.Reason != res.Reason {
				t.Errorf("the bound was not reported as the last event: %+v", last)
			}
		})
	}
}

func TestConsecutiveFailures(t *testing.T) {
	t.Parallel()
	f := newFake(t, "openai",
		llmtest.Turn{ToolCalls: []llmtest.Call{call("1/0")}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("[][1]")}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("{}['k']")}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("undefined_name")}},
	)
	a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.Limits = agent.Limits{MaxFailures: 3} })
	res, err := a.Run(context.Background(), "fail", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopMaxFailures || res.Steps != 3 {
		t.Errorf("result %+v", res)
	}
}

func TestTolerantCodeExtraction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		turns   []llmtest.Turn
		noTools bool
		stdout  string
	}{
		{
			name: "raw newlines in JSON",
			turns: []llmtest.Turn{
				{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: "{\"code\": \"x = 2\nprint(x * 3)\"}"}}},
				{Text: "6"},
			},
			stdout: "6\n",
		},
		{
			name: "malformed arguments, then fixed",
			turns: []llmtest.Turn{
				{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "print(5)`}}},
				{ToolCalls: []llmtest.Call{call("print(5)")}},
				{Text: "5"},
			},
			stdout: "5\n",
		},
		{
			name:    "fenced code only",
			noTools: true,
			turns: []llmtest.Turn{
				{Text: "Sure:\n```python\nimport math\nprint(math.factorial(5))\n```\n"},
				{Text: "120"},
			},
			stdout: "120\n",
		},
		{
			name: "an answer that shows code is not run",
			turns: []llmtest.Turn{
				{Text: "Use this:\n```python\nprint('example only')\n```\n"},
			},
			stdout: "",
		},
		{
			name: "tool call printed as text",
			turns: []llmtest.Turn{
				{Text: "<tool_call>\n{\"name\": \"run_python\", \"arguments\": {\"code\": \"print('via text')\"}}\n</tool_call>"},
				{Text: "done"},
			},
			stdout: "via text\n",
		},
		{
			// What Qwen2.5-Coder-1.5B printed: a fenced JSON block with
			// the code in a Python triple-quoted string, not JSON.
			name: "tool call as fenced JSON with a triple-quoted string",
			turns: []llmtest.Turn{
				{Text: "```json\n{\n  \"name\": \"run_python\",\n  \"arguments\": {\n    \"code\": \"\"\"\nimport math\nprint(\"root\", math.sqrt(16))\n\"\"\"\n  }\n}\n```"},
				{Text: "4"},
			},
			stdout: "root 4.0\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "openai", tt.turns...)
			a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.NoTools = tt.noTools })
			var rec recorded
			res, err := a.Run(context.Background(), "go", rec.add)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != event.StopAnswer || rec.text(event.Stdout) != tt.stdout {
				t.Errorf("result %+v, stdout %q", res, rec.text(event.Stdout))
			}
			if tt.noTools && strings.Contains(requestText(t, f, 0), `"tools"`) {
				t.Error("tools were offered to a model without tool support")
			}
		})
	}
}

func TestProviderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		turns  []llmtest.Turn
		stop   string
		reason string
	}{
		{"bad key", []llmtest.Turn{{Status: 401}}, event.StopProvider, "401"},
		{"rate limited then fine", []llmtest.Turn{{Status: 429, RetryAfter: "0"}, {Text: "ok"}}, event.StopAnswer, ""},
		{"server error then fine", []llmtest.Turn{{Status: 500}, {Text: "ok"}}, event.StopAnswer, ""},
		{"broken stream", []llmtest.Turn{{Text: "partial answer that is cut", BreakAfter: 2}}, event.StopProvider, "openai"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "openai", tt.turns...)
			a := newAgent(t, f, newSession(t), nil)
			res, err := a.Run(context.Background(), "hi", nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != tt.stop || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("stop %q (%s), want %q with %q", res.Stop, res.Reason, tt.stop, tt.reason)
			}
		})
	}
}

func TestUserStopsTheLoop(t *testing.T) {
	t.Parallel()
	f := newFake(t, "openai", llmtest.Turn{ToolCalls: []llmtest.Call{call("import time\nprint('working', flush=True)\ntime.sleep(60)")}})
	a := newAgent(t, f, newSession(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	res, err := a.Run(ctx, "long job", func(ev agent.Event) {
		if ev.Type == event.Stdout {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopUser {
		t.Errorf("stop %q, want %q", res.Stop, event.StopUser)
	}
}

func TestDeclinedCodeDoesNotRun(t *testing.T) {
	t.Parallel()
	f := newFake(t, "openai", llmtest.Turn{ToolCalls: []llmtest.Call{call("open('never.txt', 'w').write('x')")}})
	s := newSession(t)
	asked := 0
	a := newAgent(t, f, s, func(c *agent.Config) {
		c.Confirm = func(context.Context, string) (bool, error) { asked++; return false, nil }
	})
	res, err := a.Run(context.Background(), "write a file", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopDeclined || asked != 1 {
		t.Errorf("stop %q, asked %d", res.Stop, asked)
	}
	if files, _ := s.Kernel().Workspace().List(); len(files) != 0 {
		t.Errorf("declined code ran: %v", files)
	}
}

// TestReviewSkipsAndEdits: a person skips the first step's code (it does
// not run, the task goes on) and edits the second's (the edit runs, and the
// model is told).
func TestReviewSkipsAndEdits(t *testing.T) {
	f := newFake(t, "openai",
		llmtest.Turn{ToolCalls: []llmtest.Call{call("open('skipped.txt', 'w').write('x')")}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("print('model')")}},
		llmtest.Turn{Text: "Done."},
	)
	s := newSession(t)
	var asked []string
	a := newAgent(t, f, s, func(c *agent.Config) {
		c.Review = func(_ context.Context, code string) (agent.Verdict, error) {
			asked = append(asked, code)
			if len(asked) == 1 {
				return agent.Verdict{Skip: true}, nil
			}
			return agent.Verdict{Code: "print('edited')"}, nil
		}
	})
	var rec recorded
	res, err := a.Run(context.Background(), "two steps", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopAnswer || len(asked) != 2 {
		t.Fatalf("stop %q, asked %q", res.Stop, asked)
	}
	if files, _ := s.Kernel().Workspace().List(); len(files) != 0 {
		t.Errorf("skipped code ran: %v", files)
	}
	if out := rec.text(event.Stdout); out != "edited\n" {
		t.Errorf("stdout %q, want the edited code's", out)
	}
	var dones, tools []string
	for _, ev := range rec.events {
		switch ev.Type {
		case event.Done:
			dones = append(dones, ev.Status)
		case event.Tool:
			tools = append(tools, ev.Text)
		}
	}
	if strings.Join(dones, ",") != "declined,ok" {
		t.Errorf("done statuses %v, want declined then ok", dones)
	}
	if len(tools) != 3 || tools[2] != "print('edited')" {
		t.Errorf("tool events %q: want the edited code last", tools)
	}
	if !strings.Contains(requestText(t, f, 1), "skipped this code") || !strings.Contains(requestText(t, f, 2), "edited your code") {
		t.Errorf("the model was not told of the skip and the edit")
	}
}

// TestAdmitRefuses: a limit outside the agent refuses the second step's
// code; the first ran, the second did not, and the task says why.
func TestAdmitRefuses(t *testing.T) {
	f := newFake(t, "openai",
		llmtest.Turn{ToolCalls: []llmtest.Call{call("open('first.txt', 'w').write('x')")}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("open('second.txt', 'w').write('x')")}},
	)
	s := newSession(t)
	steps := 0
	a := newAgent(t, f, s, func(c *agent.Config) {
		c.Admit = func(context.Context) error {
			if steps++; steps > 1 {
				return errors.New("workspace quota exceeded")
			}
			return nil
		}
	})
	res, err := a.Run(context.Background(), "write two files", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopRefused || !strings.Contains(res.Reason, "workspace quota") {
		t.Errorf("stop %q (%s)", res.Stop, res.Reason)
	}
	var names []string
	files, _ := s.Kernel().Workspace().List()
	for _, f := range files {
		names = append(names, f.Path)
	}
	if strings.Join(names, " ") != "first.txt" {
		t.Errorf("files: %v, want only first.txt", names)
	}
}

func TestMemoryAcrossTurns(t *testing.T) {
	t.Parallel()
	f := newFake(t, "anthropic",
		llmtest.Turn{ToolCalls: []llmtest.Call{call("secret = 'blue'")}},
		llmtest.Turn{Text: "Stored."},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("print(secret)")}},
		llmtest.Turn{Text: "It was blue."},
	)
	a := newAgent(t, f, newSession(t), nil)
	if _, err := a.Run(context.Background(), "remember the colour blue", nil); err != nil {
		t.Fatal(err)
	}
	var rec recorded
	res, err := a.Run(context.Background(), "what colour was it?", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer != "It was blue." || rec.text(event.Stdout) != "blue\n" {
		t.Errorf("second turn: %+v %q", res, rec.text(event.Stdout))
	}
	third := requestText(t, f, 2)
	if !strings.Contains(third, "remember the colour blue") || !strings.Contains(third, "Stored.") {
		t.Errorf("the second task's request lacks the first: %s", third)
	}
}

func TestContextIsTrimmedOldestOutputFirst(t *testing.T) {
	t.Parallel()
	big := "print('x' * 3000)"
	f := newFake(t, "openai",
		llmtest.Turn{ToolCalls: []llmtest.Call{call(big)}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call(big)}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call(big)}},
		llmtest.Turn{Text: "done"},
	)
	a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.Limits = agent.Limits{ContextTokens: 1500} })
	task := "THE-TASK " + strings.Repeat("keep me ", 20)
	if _, err := a.Run(context.Background(), task, nil); err != nil {
		t.Fatal(err)
	}
	last := requestText(t, f, 3)
	if !strings.Contains(last, "THE-TASK") {
		t.Error("the current task was trimmed")
	}
	if !strings.Contains(last, "older output trimmed") {
		t.Error("old outputs were not trimmed")
	}
}
