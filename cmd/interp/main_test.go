package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store/storetest"
)

// pkgDir is the directory the tests start in: the package's sources.
var pkgDir, _ = os.Getwd()

func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	if os.Getenv("INTERP_TEST_RUN_MAIN") == "1" { // the test binary as interp, for terminal tests
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// interp runs the CLI in-process and returns its exit status and output.
// needSandbox skips where the host cannot sandbox (never on CI here).
func needSandbox(t *testing.T) {
	t.Helper()
	sandboxtest.Backend(t)
}

func interp(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	needSandbox(t)
	if os.Getenv("INTERP_HISTORY") == "" {
		t.Setenv("INTERP_HISTORY", filepath.Join(t.TempDir(), "history.db"))
	}
	if wd, _ := os.Getwd(); wd == pkgDir {
		t.Chdir(t.TempDir()) // what the code makes lands in the current directory
	}
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		code = report(err)
		var ee *exitError
		if errors.As(err, &ee) {
			errOut.WriteString(ee.msg + "\n")
		} else {
			errOut.WriteString(err.Error() + "\n")
		}
	}
	return code, out.String(), errOut.String()
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExec(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.py":     "x = 6 * 7\n",
		"b.py":     "print(x)\n",
		"fail.py":  "def f():\n    raise ValueError('bad input')\nf()\n",
		"loop.py":  "while True: pass\n",
		"bomb.py":  "x = []\nwhile True: x.append(bytearray(64 << 20))\n",
		"after.py": "print('never')\n",
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name       string
		stdin      string
		args       []string
		code       int
		out, inErr string
	}{
		{"state carries across files", "", []string{"exec", p("a.py"), p("b.py")}, exitOK, "42\n", ""},
		{"stdin", "print(x)", []string{"exec", p("a.py"), "-"}, exitOK, "42\n", ""},
		{"code fails", "", []string{"exec", p("fail.py"), p("after.py")}, exitCodeFailed, "", "ValueError: bad input"},
		{"traceback names the file", "", []string{"exec", p("fail.py")}, exitCodeFailed, "", "fail.py\", line 2, in f\n      1 def f():\n  --> 2     raise ValueError('bad input')"},
		{"timeout", "", []string{"exec", "--timeout", "500ms", p("loop.py")}, exitTimeout, "", "time limit exceeded"},
		{"memory", "", []string{"exec", "--memory", "200MiB", p("bomb.py")}, exitMemory, "", "memory limit exceeded"},
		{"no files", "", []string{"exec"}, exitUsage, "", "requires at least 1 arg"},
		{"bad flag", "", []string{"exec", "--bogus", p("a.py")}, exitUsage, "", "unknown flag"},
		{"bad memory", "", []string{"exec", "--memory", "lots", p("a.py")}, exitUsage, "", "--memory"},
		{"missing file", "", []string{"exec", p("nope.py")}, exitUsage, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := interp(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if out != tt.out && tt.out != "" {
				t.Errorf("stdout %q, want %q", out, tt.out)
			}
			if !strings.Contains(errOut, tt.inErr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.inErr)
			}
			if strings.Contains(out, "never") {
				t.Error("a file after a failing one ran")
			}
		})
	}
}

func TestExecJSON(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.py": "import sys\nprint('out')\nprint('err', file=sys.stderr)\nopen('r.txt', 'w').write('x')\n{'k': 1}\n",
		"b.py": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n1/0\n",
	})
	save := t.TempDir()
	code, out, _ := interp(t, "", "exec", "--json", "--save-dir", save, filepath.Join(dir, "a.py"), filepath.Join(dir, "b.py"))
	if code != exitCodeFailed {
		t.Errorf("exit status %d, want 1", code)
	}
	var types []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		typ, _ := ev["type"].(string)
		types = append(types, typ)
		switch typ {
		case "file":
			if ev["path"] != "r.txt" || ev["size"] != 1.0 {
				t.Errorf("file event %v", ev)
			}
		case "error":
			if ev["ename"] != "ZeroDivisionError" || ev["traceback"] == nil {
				t.Errorf("error event %v", ev)
			}
		case "done":
			if ev["status"] == nil || ev["duration"] == nil {
				t.Errorf("done event %v", ev)
			}
		}
	}
	got := strings.Join(types, ",")
	if !strings.HasPrefix(got, "stdout,stderr,display,file,done,") || !strings.Contains(got, "error") || !strings.HasSuffix(got, "done") {
		t.Errorf("event types %s", got)
	}
	pngs, _ := filepath.Glob(filepath.Join(save, "*.png"))
	if len(pngs) != 1 {
		t.Errorf("saved images %v, want one PNG", pngs)
	}
}

func TestRepl(t *testing.T) {
	code, out, errOut := interp(t, "x = 2\nfor i in range(2):\n    print(i * x)\n\nx * 21\n", "repl")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "0\n2\n") || !strings.Contains(out, "42\n") {
		t.Errorf("repl output %q", out)
	}
	// The session is in the history: one conversation, its three cells.
	code, out, _ = interp(t, "", "history", "list", "--json")
	var convs []struct {
		Title string `json:"title"`
		Cells int    `json:"cells"`
	}
	if err := json.Unmarshal([]byte(out), &convs); code != exitOK || err != nil || len(convs) != 1 || convs[0].Title != "repl" || convs[0].Cells != 3 {
		t.Errorf("history after the repl: %d %v %s", code, err, out)
	}
}

func TestDepsJSON(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"d.py": "import os\nimport numpy as np\nimport cv2\nfrom sklearn import svm\ntry:\n    import ujson as j\nexcept ImportError:\n    import json as j\n",
	})
	code, out, errOut := interp(t, "", "deps", "--json", filepath.Join(dir, "d.py"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []struct {
		Module       string  `json:"module"`
		Status       string  `json:"status"`
		Distribution *string `json:"distribution"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	want := map[string]string{"os": "stdlib", "numpy": "installed", "cv2": "missing", "sklearn.svm": "installed", "ujson": "missing", "json": "stdlib"}
	for _, g := range got {
		if w, ok := want[g.Module]; !ok || w != g.Status {
			t.Errorf("%s: status %s, want %s", g.Module, g.Status, w)
		}
		switch {
		case g.Module == "cv2" && (g.Distribution == nil || *g.Distribution != "opencv-python-headless"):
			t.Errorf("cv2 resolves to %v", g.Distribution)
		case g.Module != "cv2" && g.Distribution != nil:
			t.Errorf("%s would install %s", g.Module, *g.Distribution)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d imports, want %d", len(got), len(want))
	}
}

func TestRun(t *testing.T) {
	for _, k := range []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_HOST", "INTERP_PROVIDER", "INTERP_MODEL"} {
		t.Setenv(k, "")
	}
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OPENAI_BASE_URL", "")
	// Nothing configured: the local model, which this home lacks.
	if code, _, errOut := interp(t, "", "--home", t.TempDir(), "run", "--yes", "hello"); code != exitUsage || !strings.Contains(errOut, "interp models pull qwen2.5-coder-0.5b") {
		t.Errorf("nothing configured, no local model: exit %d, %q", code, errOut)
	}

	script := func() []llmtest.Turn {
		return []llmtest.Turn{
			{Text: "Computing.", ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "print(sum(range(10)))"}`}}},
			{Text: "The sum is 45."},
		}
	}
	t.Setenv("OPENAI_API_KEY", "test-key")
	srv := llmtest.NewOpenAIServer(t, script()...)
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	code, out, errOut := interp(t, "", "run", "--yes", "sum 0..9")
	if code != exitOK || !strings.Contains(out, "45\n") || !strings.Contains(out, "The sum is 45.") || !strings.Contains(out, "```python") {
		t.Errorf("run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	srv = llmtest.NewOpenAIServer(t, script()...)
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	code, out, _ = interp(t, "", "run", "--yes", "--json", "sum 0..9")
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if typ := ev["type"].(string); len(types) == 0 || types[len(types)-1] != typ {
			types = append(types, typ)
		}
	}
	if code != exitOK || strings.Join(types, ",") != "message,code,tool,stdout,done,message,answer" {
		t.Errorf("run --json: exit %d, types %v", code, types)
	}

	// Without --yes the code is shown and the user asked; "n" declines.
	srv = llmtest.NewOpenAIServer(t, script()[0])
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	code, out, errOut = interp(t, "n\n", "run", "sum 0..9")
	if code != exitCodeFailed || !strings.Contains(errOut, "Run this code?") || strings.Contains(out, "45") {
		t.Errorf("declined: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestHistory(t *testing.T) {
	t.Setenv("INTERP_HISTORY", filepath.Join(t.TempDir(), "history.db"))
	dir := writeFiles(t, map[string]string{"a.py": "print('recorded')\nopen('out.txt', 'w').write('data')\n"})
	if code, _, errOut := interp(t, "", "exec", filepath.Join(dir, "a.py")); code != exitOK {
		t.Fatalf("exec: %d %s", code, errOut)
	}
	code, out, _ := interp(t, "", "history", "list", "--json")
	var convs []struct {
		ID    string `json:"id"`
		Kind  string `json:"kind"`
		Cells int    `json:"cells"`
	}
	if err := json.Unmarshal([]byte(out), &convs); code != exitOK || err != nil || len(convs) != 1 || convs[0].Cells != 1 {
		t.Fatalf("history list: %d %v %s", code, err, out)
	}
	id := convs[0].ID
	if code, out, _ := interp(t, "", "history", "show", id[:8]); code != exitOK || !strings.Contains(out, "recorded") || !strings.Contains(out, "out.txt") {
		t.Errorf("history show: %d %s", code, out)
	}
	nb := filepath.Join(t.TempDir(), "x.ipynb")
	if code, _, errOut := interp(t, "", "history", "export", id, "--format", "ipynb", "-o", nb); code != exitOK {
		t.Fatalf("export: %s", errOut)
	}
	var notebook struct {
		NBFormat int `json:"nbformat"`
		Cells    []struct {
			CellType string `json:"cell_type"`
		} `json:"cells"`
	}
	if b, err := os.ReadFile(nb); err != nil || json.Unmarshal(b, &notebook) != nil || notebook.NBFormat != 4 || len(notebook.Cells) == 0 {
		t.Errorf("exported notebook: %v %+v", err, notebook)
	}
	if code, _, _ := interp(t, "", "history", "export", id, "--format", "docx"); code != exitUsage {
		t.Errorf("bad format: exit %d", code)
	}
	if code, _, _ := interp(t, "", "history", "rm", id); code != exitOK {
		t.Errorf("rm: exit %d", code)
	}
	if _, out, _ := interp(t, "", "history", "list", "--json"); strings.Contains(out, id) {
		t.Errorf("deleted conversation still listed: %s", out)
	}
}

// TestHistoryListKinds lists each conversation as the command that made
// it and by how it ended: a run is "run", not "chat", and a memory kill is
// "out of memory", not "died".
func TestHistoryListKinds(t *testing.T) {
	t.Setenv("INTERP_HISTORY", filepath.Join(t.TempDir(), "history.db"))
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OPENAI_API_KEY", "test-key")
	srv := llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "Nothing to run: 4."})
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	dir := writeFiles(t, map[string]string{"bomb.py": "x = []\nwhile True: x.append(bytearray(64 << 20))\n"})
	if code, _, errOut := interp(t, "", "exec", "--memory", "200MiB", filepath.Join(dir, "bomb.py")); code != exitMemory {
		t.Fatalf("exec: exit %d, %s", code, errOut)
	}
	if code, _, errOut := interp(t, "", "run", "--yes", "2+2?"); code != exitOK {
		t.Fatalf("run: exit %d, %s", code, errOut)
	}
	code, out, errOut := interp(t, "", "history", "list")
	if code != exitOK {
		t.Fatalf("history list: exit %d, %s", code, errOut)
	}
	rows := map[string][]string{} // by title
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 {
			t.Fatalf("history list: short row %q", line)
		}
		rows[f[len(f)-1]] = f
	}
	// ID KIND DATE TIME TASKS CELLS SIZE(2) STATUS... TITLE
	for title, want := range map[string][2]string{"bomb.py": {"exec", "out of memory"}, "2+2?": {"run", "answered"}} {
		f := rows[filepath.Join(dir, title)]
		if f == nil {
			f = rows[title]
		}
		if line := strings.Join(f, " "); len(f) == 0 || f[1] != want[0] || !strings.Contains(line, " "+want[1]+" ") {
			t.Errorf("%s listed as %q, want kind %s and %q\n%s", title, line, want[0], want[1], out)
		}
	}
}

// TestResume records a task, then resumes its conversation the way
// interp chat --resume does: the memory comes back, and after a yes the
// recorded code rebuilds the session.
func TestResume(t *testing.T) {
	t.Setenv("INTERP_HISTORY", filepath.Join(t.TempDir(), "history.db"))
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OPENAI_API_KEY", "test-key")
	srv := llmtest.NewOpenAIServer(t,
		llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "color = open('color.txt').read()"}`}}},
		llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "1/0"}`}}},
		llmtest.Turn{Text: "Saved."},
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	t.Chdir(writeFiles(t, map[string]string{"color.txt": "teal"}))
	if code, _, errOut := interp(t, "", "run", "--yes", "--no-out", "-f", "color.txt", "remember teal"); code != exitOK {
		t.Fatalf("run: %d %s", code, errOut)
	}
	os.Remove("color.txt") // it comes back from the history

	ctx := context.Background()
	g := &globalFlags{}
	t.Setenv("INTERP_MEMORY", "1GiB")
	var stderr bytes.Buffer
	wb, err := newWorkbench(ctx, g, &agentFlags{deps: depsFlags{noInstall: true}}, nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.close()
	st, err := g.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	convs, err := st.ListConversations(ctx, 10, 0)
	if err != nil || len(convs) != 1 {
		t.Fatalf("conversations: %v %v", convs, err)
	}
	conv, err := getConversation(ctx, st, convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	turns, notes, err := resumeConversation(ctx, st, wb, conv, strings.NewReader("y\n"), &stderr)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if len(turns) != 1 || turns[0].Prompt != "remember teal" || turns[0].Answer != "Saved." {
		t.Errorf("earlier turns shown: %+v", turns)
	}
	if n := strings.Join(notes, "\n"); !strings.Contains(n, "Restored 1 uploaded files") || !strings.Contains(n, "Re-ran 1 cells: 1 ok.") {
		t.Errorf("how resuming went: %q", n)
	}
	if h := wb.agent.History(); len(h) < 3 || !strings.Contains(h[0].Content, "remember teal") {
		t.Errorf("memory not restored: %+v", h)
	}
	var out strings.Builder
	done, err := wb.session.Execute(ctx, "print(color)", session.ExecOptions{}, func(ev session.Event) { out.WriteString(ev.Text) })
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "teal\n" {
		t.Errorf("session not rebuilt: %q (%s)", out.String(), stderr.String())
	}
	// Two cells were recorded (the second failed, so was not re-run):
	// the next is In[3], and the one after In[4].
	if done.ExecutionCount != 3 {
		t.Errorf("the first cell after resuming is In[%d], want In[3]", done.ExecutionCount)
	}
	if done, err = wb.session.Execute(ctx, "x = 1", session.ExecOptions{}, nil); err != nil || done.ExecutionCount != 4 {
		t.Errorf("the second cell after resuming is In[%d] (%v), want In[4]", done.ExecutionCount, err)
	}

	// Declining the re-run numbers on from the recorded cells too; the
	// chat's agent records its cells with those numbers.
	srv.Script(llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "print('again')"}`}}}, llmtest.Turn{Text: "Again."})
	wb2, err := newWorkbench(ctx, g, &agentFlags{deps: depsFlags{noInstall: true}}, nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer wb2.close()
	if _, _, err := resumeConversation(ctx, st, wb2, conv, strings.NewReader("n\n"), &stderr); err != nil {
		t.Fatalf("resume: %v", err)
	}
	rec := &recordingAgent{wb: wb2, st: st, stderr: &stderr, files: &workspaceFiles{}, convID: conv.ID}
	if _, err := rec.Run(ctx, "again", func(agent.Event) {}); err != nil {
		t.Fatal(err)
	}
	conv, err = getConversation(ctx, st, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	var counts []int
	for _, c := range conv.Cells {
		counts = append(counts, c.ExecutionCount)
	}
	if !slices.Equal(counts, []int{1, 2, 3}) {
		t.Errorf("the conversation's cells are numbered %v, want [1 2 3]", counts)
	}
	if !strings.Contains(stderr.String(), "Re-run the 1 recorded cells") {
		t.Errorf("the failed cell was offered for re-running, or nothing was asked: %s", stderr.String())
	}
}

func TestRunWithFiles(t *testing.T) {
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OPENAI_API_KEY", "test-key")
	srv := llmtest.NewOpenAIServer(t,
		llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "import csv\nrows = list(csv.reader(open('data.csv')))\nopen('count.txt', 'w').write(str(len(rows)))"}`}}},
		llmtest.Turn{Text: "There are 3 rows."},
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	dir := writeFiles(t, map[string]string{"data.csv": "a,b\n1,2\n3,4\n"})
	out := t.TempDir()
	code, _, errOut := interp(t, "", "run", "--yes", "--file", filepath.Join(dir, "data.csv"), "--out-dir", out, "count rows")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(out, "count.txt")); err != nil || string(b) != "3" {
		t.Errorf("count.txt: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(out, "data.csv")); err == nil {
		t.Error("the uploaded file was copied back")
	}
}

func TestExecWithFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"data.csv": "x\n1\n2\n3\n",
		"sum.py":   "total = sum(int(l) for l in open('data.csv').read().split()[1:])\nopen('total.txt', 'w').write(str(total))\n",
	})
	out := t.TempDir()
	code, _, errOut := interp(t, "", "exec", "--file", filepath.Join(dir, "data.csv"), "--out-dir", out, filepath.Join(dir, "sum.py"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(out, "total.txt")); err != nil || string(b) != "6" {
		t.Errorf("total.txt: %q %v", b, err)
	}
	if code, _, errOut := interp(t, "", "exec", "--file", filepath.Join(dir, "missing.csv"), filepath.Join(dir, "sum.py")); code != exitUsage || !strings.Contains(errOut, "missing.csv") {
		t.Errorf("missing --file: exit %d, %q", code, errOut)
	}
}

// What the code makes lands in the current directory, never over a file
// that is there; a file the code names that is in the current directory
// is copied in; --no-out keeps everything in the sandbox.
func TestExecFilesLandHere(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"data.csv": "x\n1\n2\n",
		"sum.py":   "rows = open('data.csv').read().split()[1:]\nopen('total.txt', 'w').write(str(sum(map(int, rows))))\n",
	})
	t.Chdir(dir)
	code, _, errOut := interp(t, "", "exec", "sum.py")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "copied data.csv into the sandbox") || !strings.Contains(errOut, "saved total.txt") {
		t.Errorf("not said: %s", errOut)
	}
	if b, err := os.ReadFile("total.txt"); err != nil || string(b) != "3" {
		t.Fatalf("total.txt: %q %v", b, err)
	}
	os.WriteFile("data.csv", []byte("x\n5\n"), 0o644)
	if code, _, errOut := interp(t, "", "exec", "sum.py"); code != exitOK || !strings.Contains(errOut, "saved total-1.txt") {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	for name, want := range map[string]string{"total.txt": "3", "total-1.txt": "5", "data.csv": "x\n5\n"} {
		if b, _ := os.ReadFile(name); string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
	os.WriteFile("data.csv", []byte("x\n7\n"), 0o644)
	if code, _, errOut := interp(t, "", "exec", "--no-out", "sum.py"); code != exitOK || strings.Contains(errOut, "saved") {
		t.Fatalf("--no-out: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat("total-2.txt"); err == nil {
		t.Error("--no-out saved a file")
	}
}

// The files the code made are kept in the history: listed, and written
// back from it, never over a file.
func TestHistoryFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"make.py": "open('report.txt', 'w').write('kept')\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"})
	t.Chdir(dir)
	if code, _, errOut := interp(t, "", "exec", "--no-out", "make.py"); code != exitOK {
		t.Fatalf("exec: %d %s", code, errOut)
	}
	_, out, _ := interp(t, "", "history", "list", "--json")
	var convs []struct{ ID string }
	if err := json.Unmarshal([]byte(out), &convs); err != nil || len(convs) != 1 {
		t.Fatalf("history list: %v %s", err, out)
	}
	id := convs[0].ID
	if _, out, _ := interp(t, "", "history", "list"); !strings.Contains(out, "make.py") {
		t.Errorf("history list has no title for exec: %s", out)
	}
	if _, out, _ := interp(t, "", "history", "show", id); !strings.Contains(out, "image/png, ") || strings.Contains(out, "base64") {
		t.Errorf("history show: no image placeholder:\n%.2000s", out)
	}
	if code, out, errOut := interp(t, "", "history", "files", id); code != exitOK || !strings.Contains(out, "report.txt") || !strings.Contains(out, "created") {
		t.Errorf("history files: %d %q %s", code, out, errOut)
	}
	if code, out, _ := interp(t, "", "history", "get", id, "report.txt", "-o", "-"); code != exitOK || out != "kept" {
		t.Errorf("history get -o -: %d %q", code, out)
	}
	os.WriteFile("report.txt", []byte("mine"), 0o644)
	if code, out, errOut := interp(t, "", "history", "get", id, "report.txt"); code != exitOK || !strings.Contains(out, "report-1.txt") {
		t.Errorf("history get: %d %q %s", code, out, errOut)
	}
	if b, _ := os.ReadFile("report.txt"); string(b) != "mine" {
		t.Errorf("history get overwrote report.txt: %q", b)
	}
	if code, _, errOut := interp(t, "", "history", "get", id, "nope.txt"); code != exitUsage || !strings.Contains(errOut, "history files") {
		t.Errorf("missing file: %d %s", code, errOut)
	}
}

func TestVersionAndEnv(t *testing.T) {
	if code, out, _ := interp(t, "", "--version"); code != exitOK || !strings.HasPrefix(out, "interp ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: %d %q", code, out)
	}
	t.Setenv("HOST_SECRET", "s3cret")
	code, out, errOut := interp(t, "import os\nprint(os.environ['FOO'], os.environ.get('HOST_SECRET'))\n", "exec", "--env", "FOO=a b", "-")
	if code != exitOK || out != "a b None\n" {
		t.Errorf("exec --env: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := interp(t, "1", "exec", "--env", "HOST_SECRET", "-"); code != exitUsage || !strings.Contains(errOut, "NAME=VALUE") {
		t.Errorf("--env NAME alone: %d %s", code, errOut)
	}
}

// Modules beside a script are local: copied in and imported, never
// installed from an index under the same name; deps says so.
func TestLocalModules(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"helper.py": "def hi():\n    return 'local helper'\n",
		"main.py":   "import os, helper\nfrom pkgx.sub import VALUE\nprint(helper.hi(), VALUE)\n",
	})
	os.MkdirAll(filepath.Join(dir, "pkgx"), 0o755)
	os.WriteFile(filepath.Join(dir, "pkgx", "__init__.py"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "pkgx", "sub.py"), []byte("VALUE = 7\n"), 0o644)
	code, out, errOut := interp(t, "", "exec", "--no-install", filepath.Join(dir, "main.py"))
	if code != exitOK || out != "local helper 7\n" || !strings.Contains(errOut, "never installed: helper, pkgx") {
		t.Fatalf("exec: %d %q %s", code, out, errOut)
	}
	code, out, errOut = interp(t, "", "deps", "--json", filepath.Join(dir, "main.py"))
	var imports []struct{ Module, Status string }
	if err := json.Unmarshal([]byte(out), &imports); code != exitOK || err != nil {
		t.Fatalf("deps: %d %v %s", code, err, errOut)
	}
	for _, imp := range imports {
		if want := map[string]string{"os": "stdlib", "helper": "local"}[imp.Module]; want != "" && imp.Status != want || strings.HasPrefix(imp.Module, "pkgx") && imp.Status != "local" {
			t.Errorf("deps: %s is %s", imp.Module, imp.Status)
		}
	}
}

// A notebook's code cells run; its Markdown does not.
func TestExecNotebook(t *testing.T) {
	nb := `{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
	 {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]},
	 {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": [], "source": ["x = 6\n", "y = 7"]},
	 {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": [], "source": "print(x * y)"}]}`
	dir := writeFiles(t, map[string]string{"a.ipynb": nb, "bad.ipynb": "[1, 2]"})
	if code, out, errOut := interp(t, "", "exec", filepath.Join(dir, "a.ipynb")); code != exitOK || out != "42\n" {
		t.Errorf("exec a.ipynb: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := interp(t, "", "exec", filepath.Join(dir, "bad.ipynb")); code != exitUsage || !strings.Contains(errOut, "not a Jupyter notebook") {
		t.Errorf("exec bad.ipynb: %d %s", code, errOut)
	}
}

// TestHistoryPostgres keeps the CLI's history in PostgreSQL, with the
// large contents in the data directory.
func TestHistoryPostgres(t *testing.T) {
	dsn, _ := storetest.PostgresDSN(t)
	t.Setenv("INTERP_HISTORY", dsn)
	data := t.TempDir()
	t.Setenv("INTERP_DATA_DIR", data)
	dir := writeFiles(t, map[string]string{"a.py": "print('kept in postgres')\nopen('big.bin', 'wb').write(bytes(300_000))\n"})
	if code, _, errOut := interp(t, "", "exec", filepath.Join(dir, "a.py")); code != exitOK {
		t.Fatalf("exec: %d %s", code, errOut)
	}
	code, out, errOut := interp(t, "", "history", "list", "--json")
	if code != exitOK || !strings.Contains(out, `"cells":1`) {
		t.Fatalf("history list: %d %s %s", code, out, errOut)
	}
	blobs, _ := filepath.Glob(filepath.Join(data, "blobs", "*", "*"))
	if len(blobs) == 0 {
		t.Errorf("no blob under %s for the 300 kB file", filepath.Join(data, "blobs"))
	}
}

func TestDoctor(t *testing.T) {
	code, out, errOut := interp(t, "", "doctor", "--json")
	var fs []finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil || code != exitOK {
		t.Fatalf("doctor: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	seen := map[string]string{}
	for _, f := range fs {
		seen[f.Area+"/"+f.Check] = f.Status
		if f.Status != statusOK && f.Status != statusWarn {
			t.Errorf("%s %s: %s (%s)", f.Area, f.Check, f.Status, f.Detail)
		}
	}
	for _, want := range []string{"sandbox/user namespaces", "sandbox/cgroups", "sandbox/seccomp", "python/runtime", "history/store"} {
		if seen[want] != statusOK {
			t.Errorf("%s: %q, want ok", want, seen[want])
		}
	}
	if seen["sandbox/start"] != statusOK {
		t.Errorf("sandbox/start: %q, want ok: the doctor starts a real sandbox", seen["sandbox/start"])
	}

	// A history store that cannot be reached fails the doctor, says why in
	// one line, and keeps the password to itself.
	t.Setenv("INTERP_HISTORY", "postgres://u:hunter2@127.0.0.1:1/x")
	code, out, errOut = interp(t, "", "doctor")
	if code != exitCodeFailed || !strings.Contains(errOut, "history store failed") || strings.Contains(out+errOut, "hunter2") {
		t.Errorf("unreachable store: exit %d\n%s%s", code, out, errOut)
	}
}

// doctor --model makes one tiny request to the configured model.
func TestDoctorModel(t *testing.T) {
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OPENAI_API_KEY", "test-key")
	srv := llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "OK"}, llmtest.Turn{Status: 401, ErrorMessage: "Incorrect API key provided"})
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	t.Setenv("OPENAI_MODEL", "test-model")
	_, out, _ := interp(t, "", "doctor", "--model", "--json")
	if !strings.Contains(out, `"check": "request"`) || !strings.Contains(out, `answered \"OK\"`) {
		t.Errorf("doctor --model: %s", out)
	}
	if srv.Served() != 1 {
		t.Errorf("%d requests, want 1", srv.Served())
	}
	code, out, _ := interp(t, "", "doctor", "--model")
	if code == exitOK || !strings.Contains(out, "Incorrect API key") {
		t.Errorf("doctor --model with a bad key: exit %d\n%s", code, out)
	}
}

// TestFileKeepsItsRelativePath: -f data/x.csv lands as data/x.csv, so
// code that opens the path as written finds it; an absolute path, or one
// outside the current directory, lands under its base name. Each says
// where it landed.
func TestFileKeepsItsRelativePath(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"work/read.py":    "print(open('data/x.csv').read().strip(), open('y.csv').read().strip(), open('z.csv').read().strip())\n",
		"work/data/x.csv": "x-data",
		"y.csv":           "y-data",
		"elsewhere/z.csv": "z-data",
	})
	t.Chdir(filepath.Join(dir, "work"))
	code, out, errOut := interp(t, "", "--no-history", "exec", "--no-out",
		"-f", "data/x.csv", "-f", "../y.csv", "-f", filepath.Join(dir, "elsewhere", "z.csv"), "read.py")
	if code != exitOK || out != "x-data y-data z-data\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, want := range []string{
		"[interp: copied data/x.csv into the sandbox as data/x.csv]",
		"[interp: copied ../y.csv into the sandbox as y.csv]",
		"[interp: copied " + filepath.Join(dir, "elsewhere", "z.csv") + " into the sandbox as z.csv]",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestReplFiles: the REPL copies files in with -f and with %upload at
// its prompt, and code that fails to open a file of this machine is told
// to use %upload.
func TestReplFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"data.csv": "a\n1\n", "data/first.csv": "first\n"})
	t.Chdir(dir)
	input := "print(open('data/first.csv').read().strip())\n" +
		"open('da' + 'ta.csv')\n" +
		"%upload data.csv nowhere.csv\n" +
		"print(open('data.csv').read().split()[1])\n"
	code, out, errOut := interp(t, input, "--no-history", "repl", "-f", "data/first.csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "first\n") || !strings.Contains(out, "1\n") {
		t.Errorf("repl output %q (stderr %q)", out, errOut)
	}
	for _, want := range []string{
		"[interp: copied data/first.csv into the sandbox as data/first.csv]",
		"Cell In[2], line 1",
		"FileNotFoundError",
		"[interp: data.csv is not in the sandbox; it is on this machine: copy it in with %upload data.csv]",
		"[interp: copied data.csv into the sandbox as data.csv]",
		"interp: %upload nowhere.csv: ",
	} {
		if !strings.Contains(errOut+out, want) {
			t.Errorf("the repl did not say %q:\nstdout: %s\nstderr: %s", want, out, errOut)
		}
	}
}

// TestMissingFileHint: code that fails to open a file of the current
// directory that was not passed in is told how to pass it.
func TestMissingFileHint(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"data.csv": "a\n1\n",
		// The names are built, so not seen and copied in beforehand.
		"top.py":  "open('da' + 'ta.csv')\n",
		"sub.py":  "open('in/' + 'more.csv')\n",
		"none.py": "open('nowhere' + '.csv')\n",
		"abs.py":  "open('/workspace/da' + 'ta.csv')\n",
	})
	if err := os.Mkdir(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in", "more.csv"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, tc := range []struct{ file, hint string }{
		{"top.py", "[interp: data.csv is not in the sandbox; it is on this machine: pass it with -f data.csv]"},
		{"abs.py", "[interp: data.csv is not in the sandbox; it is on this machine: pass it with -f data.csv]"},
		{"sub.py", "[interp: in/more.csv is not in the sandbox; it is on this machine: pass it with -f in/more.csv]"},
		{"none.py", ""},
	} {
		code, _, errOut := interp(t, "", "--no-history", "exec", "--no-out", tc.file)
		if code != exitCodeFailed || !strings.Contains(errOut, "FileNotFoundError") {
			t.Fatalf("%s: exit %d, %s", tc.file, code, errOut)
		}
		if got := strings.Contains(errOut, "[interp: "); tc.hint == "" && got || tc.hint != "" && !strings.Contains(errOut, tc.hint) {
			t.Errorf("%s: stderr %q, want the hint %q", tc.file, errOut, tc.hint)
		}
	}

	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	t.Setenv("OPENAI_API_KEY", "test-key")
	srv := llmtest.NewOpenAIServer(t,
		llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "open('da' + 'ta.csv')"}`}}},
		llmtest.Turn{Text: "The file is not there."},
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	_, _, errOut := interp(t, "", "--no-history", "run", "--yes", "--no-out", "read the file")
	if !strings.Contains(errOut, "[interp: data.csv is not in the sandbox; it is on this machine: name it in the task, or pass it with -f data.csv]") {
		t.Errorf("run: stderr %q lacks the hint", errOut)
	}
}
