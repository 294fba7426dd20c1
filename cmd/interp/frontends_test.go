package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// frontendCells are run by every front end, in one session: a package
// installed before the cell, one installed after a ModuleNotFoundError
// (a dynamic import the cell's imports do not show), a cell that kills
// the Python process, and one that runs after it.
var frontendCells = []string{
	"import tinypkg; print(tinypkg.VALUE)",
	"m = __import__('tiny' + 'mod'); print(m.X)",
	"import os; os._exit(3)",
	"print(6 * 7)",
}

// TestFrontEndsRunCellsAlike runs the same cells through the CLI (repl),
// the agent (run, with a scripted model), the HTTP service and MCP, each
// with its own history, and checks that the history records the same
// events for each cell, in the same order: the order package cell
// documents, whoever ran the cell.
func TestFrontEndsRunCellsAlike(t *testing.T) {
	needSandbox(t)
	needUV(t)
	idx := pypitest.NewIndex(t,
		pypitest.Package{Name: "tinypkg", Version: "1.0", Modules: map[string]string{"tinypkg/__init__.py": "VALUE = 42\n"}},
		pypitest.Package{Name: "tinymod", Version: "1.0", Modules: map[string]string{"tinymod/__init__.py": "X = 7\n"}})
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	for _, k := range []string{"OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OLLAMA_HOST", "INTERP_PROVIDER", "INTERP_MODEL", "INTERP_BLOB_DIR"} {
		t.Setenv(k, "")
	}
	t.Setenv("INTERP_INDEX_URL", idx.URL())
	// Installs share no cache between front ends: each installs for real.
	frontEnds := []struct {
		name string
		run  func(t *testing.T, db string)
	}{
		{"cli", runCellsRepl},
		{"agent", runCellsAgent},
		{"http", runCellsHTTP},
		{"mcp", runCellsMCP},
	}
	got := make(map[string][][]string)
	for _, fe := range frontEnds {
		db := filepath.Join(t.TempDir(), "history.db")
		t.Setenv("INTERP_HISTORY", db)
		// uv runs as nobody, who cannot enter a test's temporary directory.
		cache := filepath.Join("/var/tmp", fmt.Sprintf("interp-test-cache-%d-%s", os.Getpid(), fe.name))
		t.Cleanup(func() { os.RemoveAll(cache) })
		t.Setenv("INTERP_CACHE_DIR", cache)
		fe.run(t, db)
		got[fe.name] = recordedCells(t, db)
	}
	want := got["cli"]
	if len(want) != len(frontendCells) {
		t.Fatalf("cli recorded %d cells, want %d: %q", len(want), len(frontendCells), want)
	}
	t.Logf("recorded by each front end:\n%s", formatCells(want))
	// What the package's order promises, beside the four agreeing.
	checks := []struct {
		cell int
		what string
		ok   func([]string) bool
	}{
		{0, "an install before the output", func(c []string) bool {
			return slices.Index(c, "install:installed") >= 0 && slices.Index(c, "install:installed") < slices.Index(c, "stdout")
		}},
		{1, "the reactive install after the error, before done", func(c []string) bool {
			return slices.Index(c, "error") >= 0 && slices.Index(c, "install:installed") > slices.Index(c, "error")
		}},
		{2, "a died done", func(c []string) bool { return slices.Contains(c, "done:died") }},
		{3, "the restart's note first", func(c []string) bool { return len(c) > 0 && strings.Contains(c[0], "restarted") }},
	}
	for _, c := range checks {
		if c.cell < len(want) && !c.ok(want[c.cell]) {
			t.Errorf("cell %d: want %s: %q", c.cell+1, c.what, want[c.cell])
		}
	}
	for name, cells := range got {
		for i, c := range cells {
			if len(c) == 0 || !strings.HasPrefix(c[len(c)-1], "done:") {
				t.Errorf("%s: cell %d does not end with done: %q", name, i+1, c)
			}
		}
		if fmt.Sprint(cells) != fmt.Sprint(want) {
			t.Errorf("%s recorded other events than the CLI:\n%s:\n%scli:\n%s", name, name, formatCells(cells), formatCells(want))
		}
	}
}

func formatCells(cells [][]string) string {
	var b strings.Builder
	for i, c := range cells {
		fmt.Fprintf(&b, "  %d: %s\n", i+1, strings.Join(c, " "))
	}
	return b.String()
}

// recordedCells returns the events the history db recorded of each cell
// of its one conversation, as type:phase, type:status, or a note's text;
// download progress, which depends on timing, is left out.
func recordedCells(t *testing.T, db string) [][]string {
	t.Helper()
	c := onlyConversation(t, db, db)
	var cells [][]string
	index := map[string]int{}
	for _, e := range c.Events {
		var sig string
		switch e.Type {
		case event.Install:
			if e.Phase == event.PhaseDownloading {
				continue
			}
			sig = e.Type + ":" + e.Phase
		case event.Done:
			sig = e.Type + ":" + e.Status
		case event.Stderr:
			sig = "stderr"
			if strings.HasPrefix(e.Text, "[interp:") {
				sig = strings.TrimSpace(e.Text)
			}
		case event.Stdout, event.Display, event.Error, event.File:
			sig = e.Type
		default:
			continue // the agent's own: message, tool, answer
		}
		if e.CellID == "" {
			t.Errorf("a %s event outside any cell", sig)
			continue
		}
		i, ok := index[e.CellID]
		if !ok {
			i = len(cells)
			index[e.CellID] = i
			cells = append(cells, nil)
		}
		cells[i] = append(cells[i], sig)
	}
	return cells
}

func runCellsRepl(t *testing.T, _ string) {
	code, out, errOut := interp(t, strings.Join(frontendCells, "\n")+"\n", "repl")
	if code != exitOK {
		t.Fatalf("repl: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func runCellsAgent(t *testing.T, _ string) {
	var turns []llmtest.Turn
	for _, c := range frontendCells {
		b, _ := json.Marshal(map[string]string{"code": c})
		turns = append(turns, llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: string(b)}}})
	}
	turns = append(turns, llmtest.Turn{Text: "Done."})
	srv := llmtest.NewOpenAIServer(t, turns...)
	t.Setenv("OPENAI_API_KEY", "test-key")
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	code, out, errOut := interp(t, "", "run", "--yes", "--no-out", "run the cells")
	if code != exitOK {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// serveAs starts interp serve on db with a user, alice, and returns a
// function that POSTs JSON as her and returns the response's body, and
// stop, which ends the server and waits for it (its history written).
func serveAs(t *testing.T, db string) (post func(path string, body any) []byte, stop func()) {
	t.Helper()
	mustInterp(t, "admin", "--db", db, "user", "create", "alice")
	key, _ := mustInterp(t, "admin", "--db", db, "key", "create", "alice")
	key = strings.TrimSpace(key)
	base, logs, cancel, served := startServe(t, "--db", db, "--listen", "127.0.0.1:0", "--pool=-1")
	stop = func() {
		cancel()
		<-served
	}
	post = func(path string, body any) []byte {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v\n%s", path, err, logs)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("POST %s: %d %s", path, res.StatusCode, data)
		}
		return data
	}
	return post, stop
}

func runCellsHTTP(t *testing.T, db string) {
	post, stop := serveAs(t, db)
	defer stop()
	var sess struct{ ID string }
	if err := json.Unmarshal(post("/v1/sessions", map[string]any{}), &sess); err != nil {
		t.Fatal(err)
	}
	for _, c := range frontendCells {
		post("/v1/sessions/"+sess.ID+"/execute", map[string]any{"code": c})
	}
}

// mcpAddr finds where `interp mcp --http` listens in its log.
type mcpAddr struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
}

var mcpListening = regexp.MustCompile(`listening on (http://\S+)`)

func (w *mcpAddr) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := mcpListening.FindSubmatch(w.buf.Bytes()); m != nil && w.addr != nil {
		w.addr <- string(m[1])
		w.addr = nil
	}
	return len(p), nil
}

// startMCP starts interp mcp --http in this process and returns its URL,
// and stop, which ends it and waits for it (its history written).
func startMCP(t *testing.T) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &mcpAddr{addr: make(chan string, 1)}
	addr := logs.addr
	cmd := newRootCmd()
	cmd.SetArgs([]string{"mcp", "--http", "127.0.0.1:0"})
	cmd.SetIn(strings.NewReader(""))
	cmd.SetOut(io.Discard)
	cmd.SetErr(logs)
	served := make(chan error, 1)
	go func() { served <- cmd.ExecuteContext(ctx) }()
	stop = func() {
		cancel()
		<-served
	}
	select {
	case url = <-addr:
	case err := <-served:
		cancel()
		t.Fatalf("mcp ended at once: %v\n%s", err, logs.buf.String())
	case <-time.After(30 * time.Second):
		stop()
		t.Fatalf("mcp did not say where it listens")
	}
	return url, stop
}

func runCellsMCP(t *testing.T, _ string) {
	url, stop := startMCP(t)
	defer stop()
	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for _, c := range frontendCells {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Minute)
		_, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{"code": c}})
		ccancel()
		if err != nil {
			t.Fatalf("run_python %q: %v", c, err)
		}
	}
}
