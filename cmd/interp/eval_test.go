package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/eval"
	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// evalSuite writes a small suite: a number computed right, a plot saved
// (checked by a predicate in the sandbox), and an answer that is wrong.
func evalSuite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "d.csv"), []byte("x\n1\n2\n6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tasks := []map[string]any{
		{"id": "mean", "lang": "en", "prompt": "Mean of x in d.csv?", "files": []string{"d.csv"}, "expect": []any{3.0}, "tolerance": 0.01},
		{"id": "plot", "lang": "zh", "prompt": "画图保存为 p.png", "check": "def check(answer, ws):\n    import os\n    return open(os.path.join(ws, 'p.png'), 'rb').read(4) == b'\\x89PNG'\n"},
		{"id": "wrong", "lang": "en", "prompt": "Max of x in d.csv? Answer as @max[value].", "files": []string{"d.csv"}, "expect": []any{6.0}},
	}
	var b strings.Builder
	for _, task := range tasks {
		line, _ := json.Marshal(task)
		b.Write(append(line, '\n'))
	}
	path := filepath.Join(dir, "suite.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEval(t *testing.T) {
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OPENAI_API_KEY", "test-key")
	code := func(c string) []llmtest.Call {
		b, _ := json.Marshal(map[string]string{"code": c})
		return []llmtest.Call{{Name: "run_python", Arguments: string(b)}}
	}
	srv := llmtest.NewOpenAIServer(t,
		// mean: an error, then the fix
		llmtest.Turn{ToolCalls: code("import pandas as pd\nprint(pd.read_csv('d.csv').y.mean())")},
		llmtest.Turn{ToolCalls: code("import pandas as pd\nprint(pd.read_csv('d.csv').x.mean())"), Usage: llmtest.Usage{InputTokens: 100, OutputTokens: 10}},
		llmtest.Turn{Text: "The mean is 3.0."},
		// plot
		llmtest.Turn{ToolCalls: code("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('p.png')")},
		llmtest.Turn{Text: "已保存 p.png"},
		// wrong: invents a number, is asked once for the format, keeps it
		llmtest.Turn{Text: "The max is 5."},
		llmtest.Turn{Text: "@max[5]"},
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	out := filepath.Join(t.TempDir(), "report.json")
	status, stdout, errOut := interp(t, "", "eval", "--json", "--out", out, "--small-model", "off", evalSuite(t))
	if status != exitOK {
		t.Fatalf("exit %d: %s", status, errOut)
	}
	var rep eval.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout)
	}
	s := rep.Summary
	if s.N != 3 || s.Correct != 2 || s.CodeRan != 2 || s.CodeOK != 1 || s.Failed != 0 {
		t.Errorf("summary %+v", s)
	}
	byID := map[string]eval.TaskResult{}
	for _, r := range rep.Tasks {
		byID[r.ID] = r
	}
	if r := byID["mean"]; !r.Correct || r.Steps != 3 || r.Cells != 2 || r.CellErrors != 1 || r.Tokens == 0 {
		t.Errorf("mean: %+v", r)
	}
	if r := byID["plot"]; !r.Correct {
		t.Errorf("plot: %+v", r)
	}
	if r := byID["wrong"]; r.Correct || r.Answer != "@max[5]" || !strings.Contains(r.Detail, "6") {
		t.Errorf("wrong: %+v", r)
	}
	if s.WallP50 <= 0 || s.WallP90 < s.WallP50 || s.ByLang["zh"] != 1 {
		t.Errorf("summary %+v", s)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), `"accuracy"`) {
		t.Errorf("--out: %v", err)
	}
	if !strings.Contains(errOut, "[3/3] wrong: wrong") {
		t.Errorf("no progress on stderr: %s", errOut)
	}

	// The same suite as a table.
	srv2 := llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "It is 3."})
	t.Setenv("OPENAI_BASE_URL", srv2.URL)
	status, stdout, errOut = interp(t, "", "eval", "--only", "mean", evalSuite(t))
	if status != exitOK || !strings.Contains(stdout, "accuracy      1/1 = 100.0%") || !strings.Contains(stdout, "code ran      0/1") {
		t.Errorf("exit %d, table:\n%s\n%s", status, stdout, errOut)
	}
}

func TestEvalReplay(t *testing.T) {
	// Another agent's answers and workspace, checked the same way.
	ws := t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\nrest")
	if err := os.WriteFile(filepath.Join(ws, "p.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	replay := filepath.Join(t.TempDir(), "peer.jsonl")
	lines := `{"id": "mean", "answer": "3", "seconds": 4}
{"id": "plot", "answer": "done", "workspace": "` + ws + `", "seconds": 9}
{"id": "wrong", "answer": "@max[6]", "seconds": 5}
`
	if err := os.WriteFile(replay, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, errOut := interp(t, "", "eval", "--json", "--replay", replay, evalSuite(t))
	if status != exitOK {
		t.Fatalf("exit %d: %s", status, errOut)
	}
	var rep eval.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Correct != 3 || rep.Summary.WallP50 != 5 {
		t.Errorf("summary %+v", rep.Summary)
	}
}

func TestEvalBadSuite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.jsonl")
	os.WriteFile(path, []byte(`{"id": "a", "prompt": "p"}`+"\n"), 0o644)
	status, _, errOut := interp(t, "", "eval", path)
	if status != exitUsage || !strings.Contains(errOut, `s.jsonl:1: task a has no checker`) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("exit %d: %q", status, errOut)
	}
}
