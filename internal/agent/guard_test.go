package agent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// The behaviours below are those a real small model showed (issue 19),
// replayed by a scripted server.

func TestIdenticalSyntaxErrorIsARepeat(t *testing.T) {
	// Each run's SyntaxError names its own cell (Cell In[1], Cell In[2]...):
	// the same code must still count as a repeat. It runs once; each
	// time it is sent again it is not run, and the task stops after
	// MaxRepeats (2) such re-sends.
	f := newFake(t, "openai", llmtest.Turn{ToolCalls: []llmtest.Call{call("d = {'a': 1}}\nprint(d)")}, Repeat: true})
	a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.Limits = agent.Limits{MaxSteps: 10} })
	var rec recorded
	res, err := a.Run(context.Background(), "go", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopRepeatedError || res.Steps != 4 || !strings.Contains(res.Reason, "SyntaxError") {
		t.Errorf("result %+v, want a repeated_error stop after 4 steps", res)
	}
	if strings.Contains(res.Reason, "Cell In[") || strings.Contains(res.Reason, "<cell 1>") {
		t.Errorf("the reason names a cell: %s", res.Reason)
	}
	if n := strings.Count(rec.types(), event.Done); n != 1 {
		t.Errorf("the code ran %d times, want once: %s", n, rec.types())
	}
}

func TestSameErrorFromDifferentCodeHintsFirst(t *testing.T) {
	keyError := []llmtest.Call{
		call("d = {'site': 1}\nd['site_id']"),
		call("rows = {'site': 2}\nprint(rows['site_id'])"),
		call("x = dict(site=3)\nx['site_id']"),
		call("y = {'s': 4}\ny['site_id']"),
	}
	t.Run("the model changes approach", func(t *testing.T) {
		f := newFake(t, "openai",
			llmtest.Turn{ToolCalls: keyError[:1]},
			llmtest.Turn{ToolCalls: keyError[1:2]},
			llmtest.Turn{ToolCalls: []llmtest.Call{call("print(sorted({'site': 1}))")}},
			llmtest.Turn{Text: "The key is site."},
		)
		a := newAgent(t, f, newSession(t), nil)
		res, err := a.Run(context.Background(), "go", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stop != event.StopAnswer || res.Steps != 4 {
			t.Fatalf("result %+v: the task should go on after the same error from new code", res)
		}
		if strings.Contains(requestText(t, f, 1), "approach is wrong") {
			t.Error("the hint came after the first error")
		}
		if !strings.Contains(requestText(t, f, 2), "approach is wrong") {
			t.Error("the model was not told its approach is wrong")
		}
	})
	t.Run("the error keeps coming", func(t *testing.T) {
		var script []llmtest.Turn
		for _, c := range keyError {
			script = append(script, llmtest.Turn{ToolCalls: []llmtest.Call{c}})
		}
		f := newFake(t, "openai", append(script, llmtest.Turn{Text: "never reached"})...)
		a := newAgent(t, f, newSession(t), nil)
		res, err := a.Run(context.Background(), "go", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stop != event.StopRepeatedError || res.Steps != 4 || !strings.Contains(res.Reason, "KeyError") {
			t.Errorf("result %+v, want a repeated_error stop after 4 steps", res)
		}
	})
}

func TestUsageAskedForOrEstimated(t *testing.T) {
	t.Run("reported", func(t *testing.T) {
		f := newFake(t, "openai", llmtest.Turn{Text: "hi", Usage: llmtest.Usage{InputTokens: 50, OutputTokens: 3}})
		res, err := newAgent(t, f, newSession(t), nil).Run(context.Background(), "go", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(requestText(t, f, 0), `"include_usage":true`) {
			t.Error("the request did not ask for usage in the stream")
		}
		if res.Usage.InputTokens != 50 || res.Usage.OutputTokens != 3 || res.Usage.Estimated {
			t.Errorf("usage %+v", res.Usage)
		}
	})
	t.Run("none reported", func(t *testing.T) {
		for _, name := range providers {
			t.Run(name, func(t *testing.T) {
				f := newFake(t, name, llmtest.Turn{ToolCalls: []llmtest.Call{call("print(1)")}}, llmtest.Turn{Text: "The answer is one."})
				res, err := newAgent(t, f, newSession(t), nil).Run(context.Background(), "go", nil)
				if err != nil {
					t.Fatal(err)
				}
				if name == "anthropic" {
					// Anthropic always reports usage, zeros here.
					return
				}
				if res.Usage.InputTokens == 0 || res.Usage.OutputTokens == 0 || !res.Usage.Estimated {
					t.Errorf("usage %+v, want an estimate", res.Usage)
				}
			})
		}
	})
	t.Run("the budget triggers on estimates", func(t *testing.T) {
		f := newFake(t, "openai", llmtest.Turn{ToolCalls: []llmtest.Call{call("print('x' * 10)")}, Repeat: true})
		a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.Limits = agent.Limits{TokenBudget: 1500, MaxSteps: 50} })
		res, err := a.Run(context.Background(), "go", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stop != event.StopTokenBudget {
			t.Errorf("result %+v, want a token_budget stop", res)
		}
	})
}

func TestSamplingSettingsAreSent(t *testing.T) {
	zero := 0.0
	tests := []struct {
		name    string
		mod     func(*agent.Config)
		want    []string // in the first request
		wantNot []string // in the second
	}{
		{"defaults", nil, []string{`"max_tokens":4096`, `"temperature":0.2`}, []string{`"tool_choice"`}},
		{"configured", func(c *agent.Config) { c.Temperature = &zero; c.Limits.StepTokens = 300 }, []string{`"max_tokens":300`, `"temperature":0`}, nil},
		// Until code has run without error, a small model must call the tool.
		{"small model", func(c *agent.Config) { c.SmallModel = true }, []string{`"max_tokens":1024`, `"temperature":0`, `"tool_choice":"required"`}, []string{`"tool_choice"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "openai", llmtest.Turn{ToolCalls: []llmtest.Call{call("print(1)")}}, llmtest.Turn{Text: "1"})
			if _, err := newAgent(t, f, newSession(t), tt.mod).Run(context.Background(), "go", nil); err != nil {
				t.Fatal(err)
			}
			first, second := requestText(t, f, 0), requestText(t, f, 1)
			for _, w := range tt.want {
				if !strings.Contains(first, w) {
					t.Errorf("the first request lacks %s: %s", w, first)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(second, w) {
					t.Errorf("the second request has %s", w)
				}
			}
		})
	}
}

func TestRunawayAnswerIsCut(t *testing.T) {
	loop := "Let me think. " + strings.Repeat("The mean is 42. ", 400)
	f := newFake(t, "openai", llmtest.Turn{Text: loop}, llmtest.Turn{Text: "The mean is 42."})
	var rec recorded
	res, err := newAgent(t, f, newSession(t), nil).Run(context.Background(), "go", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopAnswer || res.Answer != "The mean is 42." || res.Steps != 2 {
		t.Fatalf("result %+v", res)
	}
	if streamed := rec.text(event.Message); len(streamed) >= len(loop) {
		t.Errorf("the whole runaway answer streamed (%d bytes): it was not cut", len(streamed))
	}
	if !strings.Contains(requestText(t, f, 1), "kept repeating") {
		t.Error("the model was not told its answer was cut")
	}
	if !strings.Contains(rec.text(event.Stderr), "cut") {
		t.Error("the user was not told the answer was cut")
	}
}

func TestStuckAfterAPrintedCallRunsTheCall(t *testing.T) {
	// What Qwen2.5-Coder-0.5B did behind llama-server with tool_choice
	// required: a complete call printed as fenced JSON, then newlines
	// without end.
	stuck := "```json\n{\n  \"name\": \"average_x\",\n  \"arguments\": {\n    \"code\": \"print(6 * 7)\"\n  }\n}\n```" + strings.Repeat("\n", 4000)
	f := newFake(t, "openai", llmtest.Turn{Text: stuck}, llmtest.Turn{Text: "42"})
	var rec recorded
	res, err := newAgent(t, f, newSession(t), func(c *agent.Config) { c.SmallModel = true }).Run(context.Background(), "go", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopAnswer || res.Answer != "42" || rec.text(event.Stdout) != "42\n" {
		t.Fatalf("result %+v, stdout %q: the printed call was not run", res, rec.text(event.Stdout))
	}
	if streamed := rec.text(event.Message); len(streamed) >= len(stuck) {
		t.Error("the newlines streamed to the end: the answer was not cut")
	}
}

func TestAnswerCutAtTokenLimitIsNotFinal(t *testing.T) {
	f := newFake(t, "openai",
		llmtest.Turn{Text: "To compute this we first need to", StopReason: "length"},
		llmtest.Turn{Text: "42"},
	)
	res, err := newAgent(t, f, newSession(t), nil).Run(context.Background(), "go", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != event.StopAnswer || res.Answer != "42" {
		t.Fatalf("result %+v: a cut answer was taken as final", res)
	}
	if !strings.Contains(requestText(t, f, 1), "limit of 4096 tokens") {
		t.Error("the model was not told its answer hit the limit")
	}
}

func TestAnswerFormatIsChecked(t *testing.T) {
	const task = "Compute the mean of 40, 42 and 44. Answer in the format @mean_value[value]."
	t.Run("restated once", func(t *testing.T) {
		f := newFake(t, "openai",
			llmtest.Turn{ToolCalls: []llmtest.Call{call("print(sum([40, 42, 44]) / 3)")}},
			llmtest.Turn{Text: "The mean is 42.0."},
			llmtest.Turn{Text: "@mean_value[42.0]"},
		)
		res, err := newAgent(t, f, newSession(t), nil).Run(context.Background(), task, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Answer != "@mean_value[42.0]" || res.Steps != 3 {
			t.Errorf("result %+v", res)
		}
		if !strings.Contains(requestText(t, f, 2), "Restate your final answer") || !strings.Contains(requestText(t, f, 2), "@mean_value[value]") {
			t.Error("the model was not asked to restate its answer in the format")
		}
	})
	t.Run("asked only once", func(t *testing.T) {
		f := newFake(t, "openai", llmtest.Turn{Text: "42"}, llmtest.Turn{Text: "It is 42."})
		res, err := newAgent(t, f, newSession(t), nil).Run(context.Background(), task, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stop != event.StopAnswer || res.Answer != "It is 42." || f.server.Served() != 2 {
			t.Errorf("result %+v after %d requests", res, f.server.Served())
		}
	})
	t.Run("a matching answer is final", func(t *testing.T) {
		f := newFake(t, "openai", llmtest.Turn{Text: "Done: @mean_value[42]"})
		res, err := newAgent(t, f, newSession(t), nil).Run(context.Background(), task, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Steps != 1 || res.Answer != "Done: @mean_value[42]" {
			t.Errorf("result %+v", res)
		}
	})
}

func TestSmallModelMeasures(t *testing.T) {
	s := newSession(t)
	csv := "city,temp\nOslo,3.5\nLima,19.0\nCairo,25.1\n"
	if _, err := s.Kernel().Workspace().Write("weather.csv", strings.NewReader(csv), 1<<20); err != nil {
		t.Fatal(err)
	}
	f := newFake(t, "openai",
		llmtest.Turn{Text: "```python\nimport pandas as pd\nprint(pd.read_csv('weather.csv').temp.max())\n```"},
		llmtest.Turn{Text: "@max[25.1]"},
	)
	a := newAgent(t, f, s, func(c *agent.Config) { c.SmallModel = true })
	var rec recorded
	res, err := a.Run(context.Background(), "What is the highest temp? Answer as @max[value].", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer != "@max[25.1]" || rec.text(event.Stdout) != "25.1\n" {
		t.Fatalf("result %+v, stdout %q, events %s: fenced code should run for a small model", res, rec.text(event.Stdout), rec.types())
	}
	first := requestText(t, f, 0)
	for _, w := range []string{"weather.csv: 3 rows x 2 columns", "columns (dtype): 'city' (", "'temp' (float64)", "Oslo"} {
		if !strings.Contains(first, w) {
			t.Errorf("the system prompt lacks the data preview's %q: %s", w, first)
		}
	}
	if second := requestText(t, f, 1); !strings.Contains(second, "@max[value]") {
		t.Error("the answer format was not repeated with the result")
	}
}

func TestSmallModelMustRunCodeFirst(t *testing.T) {
	f := newFake(t, "openai",
		llmtest.Turn{ToolCalls: []llmtest.Call{call("1/0")}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("print(2)")}},
		llmtest.Turn{Text: "2"},
	)
	a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.SmallModel = true })
	if _, err := a.Run(context.Background(), "go", nil); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false} {
		if got := strings.Contains(requestText(t, f, i), `"tool_choice":"required"`); got != want {
			t.Errorf("request %d: tool_choice required %v, want %v", i, got, want)
		}
	}
}

// grammarProvider is a provider that says it obeys grammars, as the
// local one does: the fenced protocol is used with it.
type grammarProvider struct{ llm.Provider }

func (grammarProvider) SupportsGrammar() bool { return true }

// TestFencedProtocol drives the small-model mode under grammars: code is
// forced until code has run, the answer once a run printed a result, and
// the data file is loaded as df, with the columns quoted.
func TestFencedProtocol(t *testing.T) {
	s := newSession(t)
	if _, err := s.Kernel().Workspace().Write("data.csv", strings.NewReader("x,y\n12,1\n45,2\n30.5,3\n61.5,4\n"), 1<<20); err != nil {
		t.Fatal(err)
	}
	f := newFake(t, "openai",
		llmtest.Turn{Text: "```python\nprint(df[x].mean())\n```"},
		// The table is loaded under the names small models give it, too.
		llmtest.Turn{Text: "```python\nprint(data['x'].mean())\n```"},
		llmtest.Turn{Text: "@mean[37.25]"},
	)
	a := newAgent(t, f, s, func(c *agent.Config) {
		c.SmallModel = true
		c.Provider = grammarProvider{c.Provider}
	})
	var rec recorded
	res, err := a.Run(context.Background(), "What is the average of column x in data.csv? Answer as @mean[value].", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer != "@mean[37.25]" || res.Steps != 3 || len(res.Unparsed) != 0 {
		t.Fatalf("result %+v", res)
	}
	if got := rec.text(event.Stdout); got != "37.25\n" {
		t.Errorf("stdout %q: df should be loaded for the model", got)
	}
	reqs := f.server.Requests()
	for i, want := range []string{"root ::= code\n", "root ::= code\n", "root ::= answer\n"} {
		g, _ := reqs[i]["grammar"].(string)
		if !strings.HasPrefix(g, want) {
			t.Errorf("request %d: grammar %q, want it to start %q", i, g, want)
		}
		if _, ok := reqs[i]["tools"]; ok {
			t.Errorf("request %d sent tools beside a grammar", i)
		}
	}
	if g, _ := reqs[2]["grammar"].(string); !strings.Contains(g, `"@mean["`) {
		t.Errorf("the answer's grammar does not follow the format: %q", g)
	}
	first, second, third := requestText(t, f, 0), requestText(t, f, 1), requestText(t, f, 2)
	for _, w := range []string{"already loaded as df = pd.read_csv('data.csv')", `'x' (float64)`, "one ```python block"} {
		if !strings.Contains(first, w) {
			t.Errorf("the system prompt lacks %q: %s", w, first)
		}
	}
	if !strings.Contains(second, `x is a column, not a variable: write df[\"x\"]`) {
		t.Errorf("no hint for a column used as a name: %s", second)
	}
	if !strings.Contains(third, "Reply now with the final answer") {
		t.Errorf("the model was not told to answer: %s", third)
	}
}

// TestFencedProtocolEither: after a run that printed nothing, the model
// must run code until one prints; after that, it may run more code or
// answer. A malformed step is recorded.
func TestFencedProtocolEither(t *testing.T) {
	f := newFake(t, "openai",
		llmtest.Turn{Text: "```python\nv = 6 * 7\n```"},
		llmtest.Turn{Text: "Sure:\n```python\nprint(v)\n```"},
		llmtest.Turn{Text: "42"},
	)
	a := newAgent(t, f, newSession(t), func(c *agent.Config) {
		c.SmallModel = true
		c.Provider = grammarProvider{c.Provider}
	})
	res, err := a.Run(context.Background(), "compute 6*7", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer != "42" || len(res.Unparsed) != 1 || res.Unparsed[0] != 2 {
		t.Fatalf("result %+v: step 2 is malformed, yet still run", res)
	}
	reqs := f.server.Requests()
	for i, want := range []string{"root ::= code\n", "root ::= code\n", "root ::= answer\n"} {
		if g, _ := reqs[i]["grammar"].(string); !strings.HasPrefix(g, want) {
			t.Errorf("request %d: grammar %q, want it to start %q", i, g, want)
		}
	}
}

// TestNoGrammarWithoutSupport: a provider that does not say it obeys
// grammars gets none, and the small-model mode keeps its tool.
func TestNoGrammarWithoutSupport(t *testing.T) {
	f := newFake(t, "openai", llmtest.Turn{ToolCalls: []llmtest.Call{call("print(2)")}}, llmtest.Turn{Text: "2"})
	a := newAgent(t, f, newSession(t), func(c *agent.Config) { c.SmallModel = true })
	res, err := a.Run(context.Background(), "go", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unparsed) != 0 {
		t.Errorf("well-formed steps recorded as unparsed: %v", res.Unparsed)
	}
	for i, r := range f.server.Requests() {
		if _, ok := r["grammar"]; ok {
			t.Errorf("request %d has a grammar", i)
		}
	}
}

// TestFencedStepStreamsAsCode: under the fenced protocol a step's code
// streams as code events, fences stripped, and never as the model's text,
// so front ends show it once; the final answer is the answer event's.
func TestFencedStepStreamsAsCode(t *testing.T) {
	f := newFake(t, "openai",
		llmtest.Turn{Text: "```python\nprint(6 * 7)\n```"},
		llmtest.Turn{Text: "42"},
	)
	a := newAgent(t, f, newSession(t), func(c *agent.Config) {
		c.SmallModel = true
		c.Provider = grammarProvider{c.Provider}
	})
	var rec recorded
	res, err := a.Run(context.Background(), "compute 6*7", rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer != "42" {
		t.Fatalf("result %+v", res)
	}
	if got := rec.text(event.Code); got != "print(6 * 7)" {
		t.Errorf("code events %q, want the code without its fences", got)
	}
	// The answer is the answer event's, not streamed as text first.
	if got := rec.text(event.Message); got != "" {
		t.Errorf("message events %q, want none", got)
	}
	if got := rec.text(event.Answer); got != "42" {
		t.Errorf("answer event %q, want 42", got)
	}
}
