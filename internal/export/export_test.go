package export

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/store"
	"github.com/interp-dev/interp/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// stepClock returns a fixed time that moves a millisecond at each call,
// so two recordings of the same events get the same times.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// testPNG is a real PNG, big enough to go to the blob store.
func testPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	r := rand.New(rand.NewSource(1))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(r.Intn(256)), uint8(x * 4), uint8(y * 4), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ev(typ string, f func(*event.Task)) event.Task {
	e := event.Task{Event: event.Event{Type: typ}}
	f(&e)
	return e
}

// record records the test conversation into a new database of backend b:
// a task that answers after a cell with every kind of output, and one
// that stops after a failing cell.
func record(t *testing.T, b storetest.Backend) *store.Conversation {
	t.Helper()
	ctx := context.Background()
	dsn, blobDir := b.DSN(t)
	clk := &stepClock{t: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)}
	s, err := store.Open(ctx, dsn, &store.Options{BlobDir: blobDir, Now: clk.Now})
	must(t, err)
	defer s.Close()
	convID, err := s.NewConversation(ctx, store.ConversationInfo{Title: "Squares and a plot", Provider: "openai", Model: "gpt-test"})
	must(t, err)
	plot := testPNG(t)
	files := map[string][]byte{"squares.csv": []byte("n,square\n1,1\n2,4\n3,9\n")}
	read := &store.RecorderOptions{Files: filesFunc(func(p string, _ int64) ([]byte, error) { return files[p], nil })}

	rec, err := s.StartTask(ctx, convID, "Compute the squares of 1..3,\nsave them and plot them.", read)
	must(t, err)
	code1 := "import pandas as pd\ndf = pd.DataFrame({'n': [1, 2, 3]})\ndf['square'] = df.n ** 2\nprint(df.square.tolist())\ndf.to_csv('squares.csv', index=False)\ndf.plot(x='n', y='square')\ndf"
	for _, e := range []event.Task{
		ev(event.Message, func(e *event.Task) { e.Text, e.Step = "I'll use pandas ", 1 }),
		ev(event.Message, func(e *event.Task) { e.Text, e.Step = "for this.", 1 }),
		ev(event.Tool, func(e *event.Task) { e.Text, e.Step, e.Tool = code1, 1, "run_python" }),
		ev(event.Install, func(e *event.Task) { e.Phase, e.Package, e.Step = "resolving", "pandas", 1 }),
		ev(event.Install, func(e *event.Task) { e.Phase, e.Package, e.Version, e.Step = "installed", "pandas", "2.2.3", 1 }),
		ev(event.Stdout, func(e *event.Task) { e.Text, e.Step = "[1, 4", 1 }),
		ev(event.Stdout, func(e *event.Task) { e.Text, e.Step = ", 9]\n", 1 }),
		ev(event.Stderr, func(e *event.Task) { e.Text, e.Step = "UserWarning: plotting\n", 1 }),
		ev(event.File, func(e *event.Task) {
			e.Path, e.Size, e.Change, e.Step = "squares.csv", int64(len(files["squares.csv"])), "created", 1
		}),
		ev(event.Display, func(e *event.Task) {
			e.Data = map[string]any{"image/png": base64.StdEncoding.EncodeToString(plot), "text/plain": "<Figure size 640x480 with 1 Axes>"}
			e.Metadata = map[string]any{"image/png": map[string]any{"width": 64, "height": 64}}
			e.Step = 1
		}),
		ev(event.Display, func(e *event.Task) {
			e.Data = map[string]any{
				"text/plain":       "   n  square\n0  1       1\n1  2       4\n2  3       9",
				"text/html":        "<table><tr><th>n</th><th>square</th></tr><tr><td>1</td><td>1</td></tr></table>",
				"application/json": map[string]any{"n": []any{1, 2, 3}},
			}
			e.Metadata = map[string]any{"interp": map[string]any{"execute_result": true}}
			e.Step = 1
		}),
		ev(event.Done, func(e *event.Task) {
			e.Status, e.Duration, e.CPUTime, e.PeakMemory, e.ExecutionCount, e.Step = "ok", 1.25, 1.1, 120<<20, 1, 1
		}),
		ev(event.Message, func(e *event.Task) { e.Text, e.Step = "The squares are 1, 4 and 9; ", 2 }),
		ev(event.Message, func(e *event.Task) { e.Text, e.Step = "they are in squares.csv.", 2 }),
		ev(event.Answer, func(e *event.Task) { e.Text, e.Step = "The squares are 1, 4 and 9; they are in squares.csv.", 2 }),
	} {
		must(t, rec.Event(e))
	}
	hist := []llm.Message{
		{Role: llm.RoleUser, Content: "Compute the squares of 1..3,\nsave them and plot them."},
		{Role: llm.RoleAssistant, Content: "The squares are 1, 4 and 9; they are in squares.csv."},
	}
	must(t, rec.Finish(ctx, &store.TaskResult{Answer: "The squares are 1, 4 and 9; they are in squares.csv.", Stop: event.StopAnswer, Steps: 2,
		Usage: llm.Usage{InputTokens: 900, OutputTokens: 120}}, hist))

	rec, err = s.StartTask(ctx, convID, "Now divide by zero.", read)
	must(t, err)
	for _, e := range []event.Task{
		ev(event.Tool, func(e *event.Task) { e.Text, e.Step, e.Tool = "1 / 0", 1, "run_python" }),
		ev(event.Error, func(e *event.Task) {
			e.EName, e.EValue, e.Step = "ZeroDivisionError", "division by zero", 1
			e.Traceback = []string{"Traceback (most recent call last):", "  File \"<cell 2>\", line 1, in <module>", "\x1b[31mZeroDivisionError\x1b[0m: division by zero"}
		}),
		ev(event.Done, func(e *event.Task) { e.Status, e.Duration, e.ExecutionCount, e.Step = "error", 0.01, 2, 1 }),
		ev(event.Stop, func(e *event.Task) {
			e.Status, e.Reason, e.Step = event.StopMaxFailures, "1 failed runs in a row, the limit", 1
		}),
	} {
		must(t, rec.Event(e))
	}
	must(t, rec.Finish(ctx, &store.TaskResult{Stop: event.StopMaxFailures, Reason: "1 failed runs in a row, the limit", Steps: 1}, append(hist,
		llm.Message{Role: llm.RoleUser, Content: "Now divide by zero."})))

	c, err := s.GetConversation(ctx, convID)
	must(t, err)
	normalize(c)
	return c
}

// normalize replaces the random IDs of a recorded conversation with fixed
// ones, and the host-dependent fields with constants.
func normalize(c *store.Conversation) {
	ids := map[string]string{"": ""}
	ids[c.ID] = "conv_test"
	for i := range c.Tasks {
		ids[c.Tasks[i].ID] = fmt.Sprintf("task_%d", i+1)
	}
	for i := range c.Cells {
		ids[c.Cells[i].ID] = fmt.Sprintf("cell_%d", i+1)
	}
	for i := range c.Files {
		ids[c.Files[i].ID] = fmt.Sprintf("file_%d", i+1)
	}
	c.ID = ids[c.ID]
	for i := range c.Tasks {
		t := &c.Tasks[i]
		t.ID, t.ConversationID, t.OwnerPID, t.OwnerHost = ids[t.ID], c.ID, 1, "host"
	}
	for i := range c.Cells {
		x := &c.Cells[i]
		x.ID, x.TaskID, x.ConversationID = ids[x.ID], ids[x.TaskID], c.ID
	}
	for i := range c.Events {
		e := &c.Events[i]
		e.TaskID, e.CellID = ids[e.TaskID], ids[e.CellID]
	}
	for i := range c.Files {
		f := &c.Files[i]
		f.ID, f.TaskID, f.CellID, f.ConversationID = ids[f.ID], ids[f.TaskID], ids[f.CellID], c.ID
	}
	for i := range c.Packages {
		p := &c.Packages[i]
		p.TaskID, p.CellID, p.ConversationID = ids[p.TaskID], ids[p.CellID], c.ID
	}
}

func exportAll(t *testing.T, c *store.Conversation) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range Formats() {
		var b bytes.Buffer
		must(t, Write(&b, c, f, nil))
		out[f] = b.Bytes()
	}
	return out
}

// TestGolden records the test conversation on each backend and checks
// every format against testdata/golden.*: the backends agree, and the
// output is stable.
func TestGolden(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		c := record(t, b)
		got := exportAll(t, c)
		again := exportAll(t, c)
		for _, f := range Formats() {
			if !bytes.Equal(got[f], again[f]) {
				t.Errorf("%s: two exports differ", f)
			}
			path := filepath.Join("testdata", "golden."+f)
			if *update && b.Name == "sqlite" {
				must(t, os.WriteFile(path, got[f], 0o644))
				continue
			}
			want, err := os.ReadFile(path)
			must(t, err)
			if !bytes.Equal(got[f], want) {
				t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", f, path, firstDiff(string(got[f]), string(want)))
			}
		}
	})
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got %.200q\nwant %.200q", i+1, gl, wl)
		}
	}
	return "(same lines)"
}

// fixture is the recorded conversation, recorded once on SQLite.
func fixture(t *testing.T) *store.Conversation {
	return record(t, storetest.SQLite)
}

func TestNotebookStructure(t *testing.T) {
	t.Parallel()
	c := fixture(t)
	var b bytes.Buffer
	must(t, WriteNotebook(&b, c))
	var nb struct {
		Cells []struct {
			CellType       string         `json:"cell_type"`
			ID             string         `json:"id"`
			Source         []string       `json:"source"`
			ExecutionCount *int           `json:"execution_count"`
			Metadata       map[string]any `json:"metadata"`
			Outputs        []map[string]any
		} `json:"cells"`
		Metadata      map[string]any `json:"metadata"`
		NBFormat      int            `json:"nbformat"`
		NBFormatMinor int            `json:"nbformat_minor"`
	}
	must(t, json.Unmarshal(b.Bytes(), &nb))
	if nb.NBFormat != 4 || nb.NBFormatMinor != 5 {
		t.Errorf("nbformat %d.%d", nb.NBFormat, nb.NBFormatMinor)
	}
	if ks, _ := nb.Metadata["kernelspec"].(map[string]any); ks["name"] != "python3" {
		t.Errorf("kernelspec %v", nb.Metadata["kernelspec"])
	}
	if li, _ := nb.Metadata["language_info"].(map[string]any); li["name"] != "python" {
		t.Errorf("language_info %v", nb.Metadata["language_info"])
	}
	var kinds []string
	for _, cell := range nb.Cells {
		kinds = append(kinds, cell.CellType)
	}
	want := []string{"markdown", "markdown", "markdown", "code", "markdown", "markdown", "code", "markdown"}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Fatalf("cells %v, want %v", kinds, want)
	}
	ids := map[string]bool{}
	for _, cell := range nb.Cells {
		if ids[cell.ID] || cell.ID == "" {
			t.Errorf("cell id %q repeated or empty", cell.ID)
		}
		ids[cell.ID] = true
	}
	first := nb.Cells[3]
	if first.ExecutionCount == nil || *first.ExecutionCount != 1 {
		t.Errorf("execution count %v", first.ExecutionCount)
	}
	var types []string
	for _, o := range first.Outputs {
		types = append(types, fmt.Sprint(o["output_type"], ":", o["name"]))
	}
	if got := strings.Join(types, " "); got != "stream:stdout stream:stderr display_data:<nil> execute_result:<nil>" {
		t.Errorf("outputs %s", got)
	}
	if text := first.Outputs[0]["text"]; fmt.Sprint(text) != "[[1, 4, 9]\n]" {
		t.Errorf("joined stream %q", text)
	}
	img := first.Outputs[2]["data"].(map[string]any)["image/png"]
	if img != base64.StdEncoding.EncodeToString(testPNG(t)) {
		t.Error("image/png not the recorded image")
	}
	if nb.Cells[6].Outputs[0]["output_type"] != "error" || nb.Cells[6].Outputs[0]["ename"] != "ZeroDivisionError" {
		t.Errorf("error output %v", nb.Cells[6].Outputs)
	}
	if src := strings.Join(nb.Cells[2].Source, ""); src != "I'll use pandas for this." {
		t.Errorf("model message %q", src)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	t.Parallel()
	if err := Write(&bytes.Buffer{}, &store.Conversation{}, "docx", nil); err == nil {
		t.Error("no error for docx")
	}
	for _, f := range []string{"IPYNB", ".md", "markdown", "python", "notebook"} {
		if err := Write(&bytes.Buffer{}, &store.Conversation{}, f, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestMarkdownImageLink(t *testing.T) {
	t.Parallel()
	c := fixture(t)
	var saved []string
	var b bytes.Buffer
	must(t, WriteMarkdown(&b, c, &Options{ImageLink: func(mime string, data []byte) (string, error) {
		if !bytes.Equal(data, testPNG(t)) {
			t.Error("ImageLink got other bytes")
		}
		name := fmt.Sprintf("img-%d.png", len(saved)+1)
		saved = append(saved, name)
		return name, nil
	}}))
	if len(saved) != 1 || !strings.Contains(b.String(), "![<Figure size 640x480 with 1 Axes>](img-1.png)") {
		t.Errorf("image link: %v\n%s", saved, b.String())
	}
	if strings.Contains(b.String(), "data:image/png") {
		t.Error("data URL despite ImageLink")
	}
}

func TestExecConversation(t *testing.T) {
	t.Parallel()
	// Cells without a model, one with no event at all.
	c := &store.Conversation{ID: "conv_x", Kind: store.KindExec, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Cells: []store.Cell{
			{ID: "cell_a", Seq: 1, Code: "x = 1\n", Status: "ok", ExecutionCount: 1},
			{ID: "cell_b", Seq: 2, Code: "print(x)", Status: "ok", ExecutionCount: 2},
			{ID: "cell_c", Seq: 3, Code: "while True: pass", Status: "interrupted", Reason: "killed"},
		},
		Events: []store.Event{
			{Seq: 1, CellID: "cell_b", Task: event.Task{Event: event.Event{Type: event.Stdout, Text: "1\n"}}},
			{Seq: 2, CellID: "cell_b", Task: event.Task{Event: event.Event{Type: event.Done, Status: "ok"}}},
		},
	}
	var py bytes.Buffer
	must(t, WriteScript(&py, c))
	want := "# Interp conversation conv_x: (untitled)\n# Created: 2026-01-02T03:04:05Z\n\n# %%\nx = 1\n\n# %%\nprint(x)\n\n# %%\n# This cell failed: interrupted: killed\nwhile True: pass\n"
	if py.String() != want {
		t.Errorf("script:\n%s\nwant:\n%s", py.String(), want)
	}
	var nb bytes.Buffer
	must(t, WriteNotebook(&nb, c))
	if n := strings.Count(nb.String(), `"cell_type": "code"`); n != 3 {
		t.Errorf("%d code cells, want 3", n)
	}
	validateNotebooks(t, map[string][]byte{"exec.ipynb": nb.Bytes()})
}

func TestNotebookValidates(t *testing.T) {
	t.Parallel()
	c := fixture(t)
	var b bytes.Buffer
	must(t, WriteNotebook(&b, c))
	empty := &bytes.Buffer{}
	must(t, WriteNotebook(empty, &store.Conversation{ID: "conv_empty"}))
	validateNotebooks(t, map[string][]byte{"recorded.ipynb": b.Bytes(), "empty.ipynb": empty.Bytes()})
}

// validateNotebooks checks notebooks with the real nbformat package, in a
// virtual environment made with uv and kept between runs.
func validateNotebooks(t *testing.T, nbs map[string][]byte) {
	t.Helper()
	python := nbformatPython(t)
	dir := t.TempDir()
	args := []string{"-c", validateScript}
	for name, b := range nbs {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, b, 0o644))
		args = append(args, p)
	}
	out, err := exec.Command(python, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nbformat rejects the notebook: %v\n%s", err, out)
	}
}

const validateScript = `
import json, sys
import nbformat
from nbformat.validator import validate
for path in sys.argv[1:]:
    with open(path) as f:
        raw = json.load(f)
    validate(raw, version=4, version_minor=5)
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5), (nb.nbformat, nb.nbformat_minor)
    ids = [cell.get("id") for cell in nb.cells]
    assert all(ids), "a cell without an id"
    assert len(set(ids)) == len(ids), "repeated cell ids"
print("ok", nbformat.__version__)
`

const nbformatVersion = "5.10.4"

var (
	venvOnce   sync.Once
	venvPython string
	venvErr    error
)

// nbformatPython returns a Python with nbformat, making its environment
// once in the user's cache directory. Without uv the test is skipped,
// unless CI=true.
func nbformatPython(t *testing.T) string {
	t.Helper()
	uv := "/opt/interp/uv/bin/uv"
	if _, err := os.Stat(uv); err != nil {
		if uv, err = exec.LookPath("uv"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("uv is missing (scripts/setup installs it): the notebook cannot be validated")
			}
			t.Skip("uv is missing (scripts/setup installs it): notebook validation skipped")
		}
	}
	venvOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "interp-test", "nbformat-"+nbformatVersion)
		py := filepath.Join(dir, "bin", "python")
		if exec.Command(py, "-c", "import nbformat").Run() == nil {
			venvPython = py
			return
		}
		os.RemoveAll(dir)
		if out, err := exec.Command(uv, "venv", "-q", dir).CombinedOutput(); err != nil {
			venvErr = fmt.Errorf("uv venv: %v\n%s", err, out)
			return
		}
		if out, err := exec.Command(uv, "pip", "install", "-q", "--python", py, "nbformat=="+nbformatVersion).CombinedOutput(); err != nil {
			venvErr = fmt.Errorf("uv pip install nbformat: %v\n%s", err, out)
			return
		}
		venvPython = py
	})
	if venvErr != nil {
		t.Fatal(venvErr)
	}
	return venvPython
}

// filesFunc is a function as the files of a recorder.
type filesFunc func(path string, max int64) ([]byte, error)

func (f filesFunc) ReadFile(path string, max int64) ([]byte, error) { return f(path, max) }
