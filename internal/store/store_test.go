package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	os.Exit(m.Run())
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testStore struct {
	*Store
	dsn, blobDir string
}

func open(t testing.TB, b storetest.Backend, opts *Options) *testStore {
	t.Helper()
	dsn, blobDir := b.DSN(t)
	var o Options
	if opts != nil {
		o = *opts
	}
	o.BlobDir = blobDir
	s, err := Open(context.Background(), dsn, &o)
	if err != nil {
		t.Fatalf("Open(%s): %v", b.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return &testStore{s, dsn, blobDir}
}

// eachStore runs body on a new store of each backend (storetest.Each),
// in parallel.
func eachStore(t *testing.T, body func(t *testing.T, ctx context.Context, s *testStore)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		body(t, context.Background(), open(t, b, nil))
	})
}

// eachClockedStore is eachStore with a store whose clock the test moves.
func eachClockedStore(t *testing.T, body func(t *testing.T, ctx context.Context, s *testStore, clk *clock)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		clk := newClock()
		body(t, context.Background(), open(t, b, &Options{Now: clk.Now}), clk)
	})
}

// users creates users with these names.
func users(t testing.TB, ctx context.Context, s *testStore, names ...string) []*User {
	t.Helper()
	us := make([]*User, len(names))
	for i, name := range names {
		u, err := s.CreateUser(ctx, name)
		must(t, err)
		us[i] = u
	}
	return us
}

// png makes distinct fake image bytes, bigger than the inline limit.
func png(seed string, n int) []byte {
	b := bytes.Repeat([]byte(seed), n/len(seed)+1)[:n]
	return append([]byte("\x89PNG\r\n\x1a\n"), b...)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func ev(typ string, f func(*event.Task)) event.Task {
	e := event.Task{Event: event.Event{Type: typ}}
	if f != nil {
		f(&e)
	}
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// blobFiles lists the blobs on disk.
func blobFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	matches, _ := filepath.Glob(filepath.Join(dir, "??", "*"))
	for _, m := range matches {
		out = append(out, filepath.Base(m))
	}
	sort.Strings(out)
	return out
}

func count(t testing.TB, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.queryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// recordTask records a whole task: a streamed message, a cell with
// outputs, an install, a file and an image, then the answer.
func recordTask(t testing.TB, s *Store, convID string, files map[string][]byte, image []byte) (*Recorder, *TaskResult, []llm.Message) {
	t.Helper()
	ctx := context.Background()
	rec, err := s.StartTask(ctx, convID, "Plot the squares\nof 1..3", &RecorderOptions{Files: filesFunc(func(p string, _ int64) ([]byte, error) {
		if b, ok := files[p]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s: no such file", p)
	})})
	must(t, err)
	code := "import numpy\nprint([i*i for i in range(1, 4)])"
	events := []event.Task{
		ev(event.Message, func(e *event.Task) { e.Text, e.Step = "Let me ", 1 }),
		ev(event.Message, func(e *event.Task) { e.Text, e.Step = "compute that.", 1 }),
		ev(event.Code, func(e *event.Task) { e.Text, e.Step = "import", 1 }),
		ev(event.Tool, func(e *event.Task) { e.Text, e.Step, e.Tool = code, 1, "run_python" }),
		ev(event.Install, func(e *event.Task) { e.Phase, e.Package, e.Step = "resolving", "numpy", 1 }),
		ev(event.Install, func(e *event.Task) { e.Phase, e.Package, e.Version, e.Step = "installed", "numpy", "2.1.0", 1 }),
		ev(event.Stdout, func(e *event.Task) { e.Text, e.Cell, e.Step = "[1, 4, 9]\n", "c1", 1 }),
		ev(event.Display, func(e *event.Task) {
			e.Data = map[string]any{"image/png": b64(image), "text/plain": "<Figure>"}
			e.Metadata = map[string]any{"image/png": map[string]any{"width": 640.0}}
			e.Cell, e.Step = "c1", 1
		}),
		ev(event.File, func(e *event.Task) {
			e.Path, e.Size, e.Change, e.Cell, e.Step = "out/squares.csv", int64(len(files["out/squares.csv"])), "created", "c1", 1
		}),
		ev(event.File, func(e *event.Task) { e.Path, e.Change, e.Cell, e.Step = "old.txt", "deleted", "c1", 1 }),
		ev(event.Done, func(e *event.Task) {
			e.Status, e.Duration, e.CPUTime, e.PeakMemory, e.ExecutionCount, e.Cell, e.Step = "ok", 0.25, 0.2, 50<<20, 1, "c1", 1
		}),
		ev(event.Message, func(e *event.Task) { e.Text, e.Step = "The squares are 1, 4 and 9.", 2 }),
		ev(event.Answer, func(e *event.Task) { e.Text, e.Step = "The squares are 1, 4 and 9.", 2 }),
	}
	for _, e := range events {
		must(t, rec.Event(e))
	}
	res := &TaskResult{Answer: "The squares are 1, 4 and 9.", Stop: event.StopAnswer, Steps: 2,
		Usage: llm.Usage{InputTokens: 1200, OutputTokens: 80}}
	hist := []llm.Message{
		{Role: llm.RoleUser, Content: "Plot the squares\nof 1..3"},
		{Role: llm.RoleAssistant, Content: "Let me compute that.", ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "run_python", Arguments: `{"code":"..."}`}}},
		{Role: llm.RoleTool, ToolCallID: "call_1", Content: "[status: ok]\n[1, 4, 9]"},
		{Role: llm.RoleAssistant, Content: "The squares are 1, 4 and 9."},
	}
	must(t, rec.Finish(ctx, res, hist))
	return rec, res, hist
}

func TestOpenMigratesEmptyDatabase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s := open(t, b, nil)
		v, err := s.schemaVersion(context.Background())
		must(t, err)
		if v != latestVersion(t) {
			t.Fatalf("schema version %d, want %d", v, latestVersion(t))
		}
		for _, table := range []string{"conversations", "tasks", "cells", "events", "event_blobs", "blobs", "files", "packages"} {
			count(t, s.Store, "SELECT COUNT(*) FROM "+table)
		}
		// Opening again is a no-op.
		s2, err := Open(context.Background(), s.dsn, &Options{BlobDir: s.blobDir})
		must(t, err)
		s2.Close()
	})
}

func latestVersion(t testing.TB) int64 {
	entries, err := migrations.ReadDir("migrations")
	must(t, err)
	var v int64
	for _, e := range entries {
		var n int64
		if _, err := fmt.Sscanf(e.Name(), "%05d_", &n); err == nil && n > v {
			v = n
		}
	}
	return v
}

// TestMigrateFromVersion1 fills a database at schema version 1 the way
// version 1 wrote it, then opens it: the migration to the latest version
// keeps the data and measures each conversation.
func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		dsn, blobDir := b.DSN(t)
		old := openAtVersion(t, dsn, 1)
		history := `[{"role":"user","content":"hi"}]`
		payload1 := `{"type":"stdout","text":"hello\n"}`
		payload2 := `{"type":"display","data":{"text/plain":"<Figure>"}}`
		stmts := []struct {
			q    string
			args []any
		}{
			{`INSERT INTO conversations (id, kind, title, provider, model, created_at, updated_at, history) VALUES (?, 'chat', 'old', 'openai', 'gpt', 1000, 2000, ?)`, []any{"conv_old", history}},
			{`INSERT INTO conversations (id, kind, title, created_at, updated_at) VALUES (?, 'exec', '', 1000, 1000)`, []any{"conv_empty"}},
			{`INSERT INTO tasks (id, conversation_id, seq, prompt, status, started_at, owner_pid, owner_host) VALUES ('task_1', 'conv_old', 1, 'hi', 'running', 1000, 1, 'elsewhere')`, nil},
			{`INSERT INTO cells (id, conversation_id, task_id, seq, code, status, started_at) VALUES ('cell_1', 'conv_old', 'task_1', 1, 'print(1)', 'ok', 1000)`, nil},
			{`INSERT INTO events (conversation_id, seq, task_id, cell_id, type, at, payload) VALUES ('conv_old', 1, 'task_1', 'cell_1', 'stdout', 1500, ?)`, []any{payload1}},
			{`INSERT INTO events (conversation_id, seq, task_id, cell_id, type, at, payload) VALUES ('conv_old', 2, 'task_1', 'cell_1', 'display', 1600, ?)`, []any{payload2}},
			{`INSERT INTO blobs (hash, size, refs, created_at) VALUES (?, 300, 2, 1000)`, []any{strings.Repeat("a", 64)}},
			{`INSERT INTO event_blobs (conversation_id, seq, field, hash, size, encoding) VALUES ('conv_old', 2, 'data:image/png', ?, 300, 'base64')`, []any{strings.Repeat("a", 64)}},
			{`INSERT INTO files (id, conversation_id, cell_id, seq, path, size, sha256, change, created_at) VALUES ('file_1', 'conv_old', 'cell_1', 2, 'a.txt', 300, ?, 'created', 1600)`, []any{strings.Repeat("a", 64)}},
			{`INSERT INTO files (id, conversation_id, cell_id, seq, path, size, change, created_at) VALUES ('file_2', 'conv_old', 'cell_1', 2, 'gone.txt', 5, 'deleted', 1600)`, nil},
			{`INSERT INTO packages (conversation_id, seq, task_id, cell_id, name, version, phase) VALUES ('conv_old', 2, 'task_1', 'cell_1', 'numpy', '2.1.0', 'installed')`, nil},
		}
		for _, st := range stmts {
			if _, err := old.exec(ctx, st.q, st.args...); err != nil {
				t.Fatalf("%s: %v", st.q, err)
			}
		}
		if v, _ := old.schemaVersion(ctx); v != 1 {
			t.Fatalf("old schema version %d, want 1", v)
		}
		old.db.Close()

		s, err := Open(ctx, dsn, &Options{BlobDir: blobDir, NoRecover: true})
		must(t, err)
		defer s.Close()
		if v, _ := s.schemaVersion(ctx); v != latestVersion(t) {
			t.Fatalf("schema version %d, want %d", v, latestVersion(t))
		}
		want := int64(len(history) + len(payload1) + len(payload2) + 300 + 300)
		list, err := s.ListConversations(ctx, 10, 0)
		must(t, err)
		got := map[string]ConversationSummary{}
		for _, c := range list {
			got[c.ID] = c
		}
		if got["conv_old"].Bytes != want || got["conv_empty"].Bytes != 2 {
			t.Errorf("bytes after migration: %d and %d, want %d and 2", got["conv_old"].Bytes, got["conv_empty"].Bytes, want)
		}
		if got["conv_old"].Tasks != 1 || got["conv_old"].Cells != 1 || got["conv_old"].Title != "old" || got["conv_old"].Status != "running" {
			t.Errorf("conversation after migration: %+v", got["conv_old"])
		}
		if n := count(t, s, `SELECT COUNT(*) FROM packages`); n != 1 {
			t.Errorf("%d packages, want 1", n)
		}
		// The new index is there and used by recovery.
		if _, err := s.recoverInterrupted(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// openAtVersion opens dsn with the schema migrated to version only.
func openAtVersion(t testing.TB, dsn string, version int64) *Store {
	t.Helper()
	dialect, target, err := ParseDSN(dsn)
	must(t, err)
	s := &Store{dialect: dialect, now: time.Now}
	driver := "sqlite"
	if dialect == Postgres {
		driver = "pgx"
	} else {
		target += "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)"
	}
	s.db, err = sql.Open(driver, target)
	must(t, err)
	must(t, s.migrate(context.Background(), version, nil))
	return s
}

func TestRecordTask(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		convID, err := s.NewConversation(ctx, ConversationInfo{Provider: "openai", Model: "gpt-test"})
		must(t, err)
		csv := []byte("n,square\n1,1\n2,4\n3,9\n")
		image := png("squares", 20000)
		rec, res, hist := recordTask(t, s.Store, convID, map[string][]byte{"out/squares.csv": csv}, image)
		if rec.Err() != nil {
			t.Fatal(rec.Err())
		}
		if err := rec.Event(ev(event.Stdout, nil)); !errors.Is(err, ErrFinished) {
			t.Errorf("Event after Finish: %v, want ErrFinished", err)
		}

		c, err := s.GetConversation(ctx, convID)
		must(t, err)
		if c.Kind != KindChat || c.Title != "Plot the squares" || c.Provider != "openai" || c.Model != "gpt-test" {
			t.Errorf("conversation: %+v", c)
		}
		if !reflect.DeepEqual(c.History, hist) {
			t.Errorf("history:\n got %+v\nwant %+v", c.History, hist)
		}
		loaded, err := s.LoadHistory(ctx, convID)
		must(t, err)
		if !reflect.DeepEqual(loaded, hist) {
			t.Errorf("LoadHistory: %+v", loaded)
		}
		if len(c.Tasks) != 1 {
			t.Fatalf("%d tasks", len(c.Tasks))
		}
		task := c.Tasks[0]
		if task.Status != TaskAnswered || task.Answer != res.Answer || task.Steps != 2 || task.TokensIn != 1200 ||
			task.TokensOut != 80 || task.Stop != event.StopAnswer || task.FinishedAt.IsZero() || task.Prompt != "Plot the squares\nof 1..3" {
			t.Errorf("task: %+v", task)
		}
		if len(c.Cells) != 1 {
			t.Fatalf("%d cells", len(c.Cells))
		}
		cell := c.Cells[0]
		if cell.Status != "ok" || cell.Code != "import numpy\nprint([i*i for i in range(1, 4)])" || cell.Duration != 0.25 ||
			cell.CPUTime != 0.2 || cell.PeakMemory != 50<<20 || cell.ExecutionCount != 1 || cell.TaskID != task.ID || cell.Seq != 1 || cell.Step != 1 {
			t.Errorf("cell: %+v", cell)
		}
		var types []string
		for i, e := range c.Events {
			types = append(types, e.Type)
			if e.Seq != int64(i+1) || e.TaskID != task.ID {
				t.Errorf("event %d: seq %d task %q", i, e.Seq, e.TaskID)
			}
		}
		wantTypes := []string{"message", "tool", "install", "install", "stdout", "display", "file", "file", "done", "message", "answer"}
		if !reflect.DeepEqual(types, wantTypes) {
			t.Errorf("event types:\n got %v\nwant %v", types, wantTypes)
		}
		if m := c.Events[0]; m.Text != "Let me compute that." || m.Step != 1 || m.CellID != "" {
			t.Errorf("coalesced message: %+v", m)
		}
		for _, e := range c.Events[1:9] {
			if e.CellID != cell.ID {
				t.Errorf("%s event in cell %q, want %q", e.Type, e.CellID, cell.ID)
			}
		}
		disp := c.Events[5]
		if disp.Data["image/png"] != b64(image) || disp.Data["text/plain"] != "<Figure>" ||
			!reflect.DeepEqual(disp.Metadata, map[string]any{"image/png": map[string]any{"width": 640.0}}) {
			t.Errorf("display not restored: %v", disp.Data["text/plain"])
		}
		if len(disp.Blobs) != 1 || disp.Blobs[0].Hash != sha(image) || disp.Blobs[0].Encoding != "base64" || disp.Blobs[0].Field != "data:image/png" {
			t.Errorf("display blobs: %+v", disp.Blobs)
		}
		if len(c.Files) != 2 {
			t.Fatalf("files: %+v", c.Files)
		}
		f := c.Files[0]
		if f.Path != "out/squares.csv" || f.SHA256 != sha(csv) || f.Size != int64(len(csv)) || f.Change != "created" || f.CellID != cell.ID {
			t.Errorf("file: %+v", f)
		}
		got, err := s.readBlob(ctx, f.SHA256)
		must(t, err)
		if !bytes.Equal(got, csv) {
			t.Errorf("file content %q", got)
		}
		if d := c.Files[1]; d.Change != "deleted" || d.SHA256 != "" {
			t.Errorf("deleted file: %+v", d)
		}
		if len(c.Packages) != 1 || c.Packages[0].Name != "numpy" || c.Packages[0].Version != "2.1.0" ||
			c.Packages[0].Phase != "installed" || c.Packages[0].CellID != cell.ID {
			t.Errorf("packages: %+v", c.Packages)
		}
		if want := []string{sha(csv), sha(image)}; !sameSet(blobFiles(t, s.blobDir), want) {
			t.Errorf("blob files %v, want %v", blobFiles(t, s.blobDir), want)
		}
		if c.Bytes < int64(len(image)+len(csv)) {
			t.Errorf("conversation size %d, under its blobs' %d", c.Bytes, len(image)+len(csv))
		}
		list, err := s.ListConversations(ctx, 10, 0)
		must(t, err)
		if len(list) != 1 || list[0].ID != convID || list[0].Tasks != 1 || list[0].Cells != 1 || list[0].Status != TaskAnswered || list[0].Bytes != c.Bytes {
			t.Errorf("list: %+v", list)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return reflect.DeepEqual(a, b)
}

// TestTaskOutcomes checks how tasks and open cells end, case by case.
func TestTaskOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		tool       bool // leave a cell open
		finish     func(r *Recorder) error
		status     string
		cellStatus string
	}{
		{"answered", false, func(r *Recorder) error {
			return r.Finish(context.Background(), &TaskResult{Stop: event.StopAnswer, Answer: "42"}, nil)
		}, TaskAnswered, ""},
		{"max steps", false, func(r *Recorder) error {
			return r.Finish(context.Background(), &TaskResult{Stop: event.StopMaxSteps, Reason: "too many"}, nil)
		}, TaskStopped, ""},
		{"declined", true, func(r *Recorder) error {
			return r.Finish(context.Background(), &TaskResult{Stop: event.StopDeclined, Reason: "the user declined"}, nil)
		}, TaskStopped, CellDeclined},
		{"stopped by the user", true, func(r *Recorder) error {
			return r.Finish(context.Background(), &TaskResult{Stop: event.StopUser, Reason: "stopped"}, nil)
		}, TaskStopped, event.StatusInterrupted},
		{"no result", false, func(r *Recorder) error { return r.Finish(context.Background(), nil, nil) }, TaskFailed, ""},
		{"failed", true, func(r *Recorder) error {
			return r.Fail(context.Background(), errors.New("no session"), nil)
		}, TaskFailed, event.StatusDied},
	}
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel() // a conversation each
				rec, err := s.StartTask(ctx, "", tc.name, nil)
				must(t, err)
				if tc.tool {
					must(t, rec.Event(ev(event.Tool, func(e *event.Task) { e.Text = "1+1" })))
				}
				must(t, tc.finish(rec))
				c, err := s.GetConversation(ctx, rec.ConversationID())
				must(t, err)
				if c.Tasks[0].Status != tc.status {
					t.Errorf("task status %q, want %q", c.Tasks[0].Status, tc.status)
				}
				if tc.tool && c.Cells[0].Status != tc.cellStatus {
					t.Errorf("cell status %q, want %q", c.Cells[0].Status, tc.cellStatus)
				}
			})
		}
	})
}

func TestRecordExec(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		rec, err := s.StartExec(ctx, "", nil)
		must(t, err)
		for i, code := range []string{"x = 1", "print(x + 1)"} {
			must(t, rec.StartCell(code))
			if i == 1 {
				must(t, rec.SessionEvent(event.Event{Type: event.Stdout, Text: "2\n"}))
			}
			must(t, rec.SessionEvent(event.Event{Type: event.Done, Status: "ok", ExecutionCount: i + 1}))
		}
		// Outputs with no StartCell get a cell of their own.
		must(t, rec.SessionEvent(event.Event{Type: event.Stderr, Text: "oops\n"}))
		must(t, rec.SessionEvent(event.Event{Type: event.Done, Status: "error", ExecutionCount: 3}))
		must(t, rec.Finish(ctx, nil, nil))
		c, err := s.GetConversation(ctx, rec.ConversationID())
		must(t, err)
		if c.Kind != KindExec || len(c.Tasks) != 0 || len(c.Cells) != 3 {
			t.Fatalf("exec conversation: kind %s, %d tasks, %d cells", c.Kind, len(c.Tasks), len(c.Cells))
		}
		for i, cell := range c.Cells {
			if cell.TaskID != "" || cell.ExecutionCount != i+1 {
				t.Errorf("cell %d: %+v", i, cell)
			}
		}
		if c.Cells[1].Code != "print(x + 1)" || c.Cells[2].Status != "error" {
			t.Errorf("cells: %+v", c.Cells)
		}
		if _, err := s.StartTask(ctx, c.ID, "hi", nil); err == nil {
			t.Error("StartTask on an exec conversation: no error")
		}
		// A second run continues the numbering.
		rec2, err := s.StartExec(ctx, c.ID, nil)
		must(t, err)
		must(t, rec2.StartCell("y = 2"))
		must(t, rec2.SessionEvent(event.Event{Type: event.Done, Status: "ok"}))
		must(t, rec2.Finish(ctx, nil, nil))
		c, err = s.GetConversation(ctx, c.ID)
		must(t, err)
		if len(c.Cells) != 4 || c.Cells[3].Seq != 4 || c.Events[len(c.Events)-1].Seq != int64(len(c.Events)) {
			t.Errorf("second run: %d cells", len(c.Cells))
		}
	})
}

func TestBlobDedup(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		image := png("same", 30000)
		long := strings.Repeat("a long line of output\n", 2000)
		rec, err := s.StartTask(ctx, "", "twice", &RecorderOptions{Files: filesFunc(func(string, int64) ([]byte, error) { return image, nil })})
		must(t, err)
		must(t, rec.Event(ev(event.Tool, func(e *event.Task) { e.Text = "show()" })))
		for range 3 {
			must(t, rec.Event(ev(event.Display, func(e *event.Task) { e.Data = map[string]any{"image/png": b64(image)} })))
			must(t, rec.Event(ev(event.Stdout, func(e *event.Task) { e.Text = long })))
		}
		// The same bytes as a file.
		must(t, rec.Event(ev(event.File, func(e *event.Task) { e.Path, e.Size, e.Change = "img.png", int64(len(image)), "created" })))
		must(t, rec.Event(ev(event.Done, func(e *event.Task) { e.Status = "ok" })))
		must(t, rec.Finish(ctx, &TaskResult{Stop: event.StopAnswer}, nil))

		if got, want := blobFiles(t, s.blobDir), []string{sha(image), sha([]byte(long))}; !sameSet(got, want) {
			t.Errorf("blob files %v, want %v", got, want)
		}
		var refs int
		must(t, s.queryRow(ctx, `SELECT refs FROM blobs WHERE hash = ?`, sha(image)).Scan(&refs))
		if refs != 4 {
			t.Errorf("image refs %d, want 4", refs)
		}
		if n := count(t, s.Store, `SELECT COUNT(*) FROM blobs`); n != 2 {
			t.Errorf("%d blob rows, want 2", n)
		}
		c, err := s.GetConversation(ctx, rec.ConversationID())
		must(t, err)
		for _, e := range c.Events {
			if e.Type == event.Stdout && e.Text != long {
				t.Errorf("long stdout not restored: %d bytes", len(e.Text))
			}
		}
		// Small outputs stay inline.
		if n := count(t, s.Store, `SELECT COUNT(*) FROM event_blobs`); n != 6 {
			t.Errorf("%d event blobs, want 6", n)
		}
	})
}

func TestDeleteConversation(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		shared := png("shared", 20000)
		own := []byte("only in the first conversation")
		record := func(file []byte) string {
			rec, err := s.StartTask(ctx, "", "draw", &RecorderOptions{Files: filesFunc(func(string, int64) ([]byte, error) { return file, nil })})
			must(t, err)
			must(t, rec.Event(ev(event.Tool, func(e *event.Task) { e.Text = "draw()" })))
			must(t, rec.Event(ev(event.Display, func(e *event.Task) { e.Data = map[string]any{"image/png": b64(shared)} })))
			must(t, rec.Event(ev(event.File, func(e *event.Task) { e.Path, e.Size, e.Change = "f", int64(len(file)), "created" })))
			must(t, rec.Event(ev(event.Done, func(e *event.Task) { e.Status = "ok" })))
			must(t, rec.Finish(ctx, &TaskResult{Stop: event.StopAnswer}, nil))
			return rec.ConversationID()
		}
		a := record(own)
		bID := record(shared)
		if got := blobFiles(t, s.blobDir); !sameSet(got, []string{sha(shared), sha(own)}) {
			t.Fatalf("blobs %v", got)
		}
		must(t, s.DeleteConversation(ctx, a))
		if got := blobFiles(t, s.blobDir); !sameSet(got, []string{sha(shared)}) {
			t.Errorf("after deleting the first: blobs %v, want only the shared one", got)
		}
		if _, err := s.GetConversation(ctx, a); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetConversation of a deleted one: %v", err)
		}
		for _, table := range []string{"tasks", "cells", "events", "event_blobs", "files", "packages"} {
			if n := count(t, s.Store, `SELECT COUNT(*) FROM `+table+` WHERE conversation_id = ?`, a); n != 0 {
				t.Errorf("%d rows left in %s", n, table)
			}
		}
		if err := s.DeleteConversation(ctx, a); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
		c, err := s.GetConversation(ctx, bID)
		must(t, err)
		if c.Events[1].Data["image/png"] != b64(shared) {
			t.Error("the other conversation lost its image")
		}
		must(t, s.DeleteConversation(ctx, bID))
		if got := blobFiles(t, s.blobDir); len(got) != 0 {
			t.Errorf("after deleting both: blobs %v", got)
		}
		if n := count(t, s.Store, `SELECT COUNT(*) FROM blobs`); n != 0 {
			t.Errorf("%d blob rows left", n)
		}

		// A conversation this process is recording is refused.
		rec, err := s.StartTask(ctx, "", "busy", nil)
		must(t, err)
		if err := s.DeleteConversation(ctx, rec.ConversationID()); !errors.Is(err, ErrRunning) {
			t.Errorf("deleting a running conversation: %v", err)
		}
		must(t, rec.Finish(ctx, nil, nil))
		must(t, s.DeleteConversation(ctx, rec.ConversationID()))
	})
}

func TestPrune(t *testing.T) {
	t.Parallel()
	eachClockedStore(t, func(t *testing.T, ctx context.Context, s *testStore, clk *clock) {
		// Five conversations a day apart, each with its own 20 kB image.
		var ids []string
		for i := range 5 {
			rec, err := s.StartTask(ctx, "", fmt.Sprintf("day %d", i), nil)
			must(t, err)
			must(t, rec.Event(ev(event.Tool, func(e *event.Task) { e.Text = "show()" })))
			must(t, rec.Event(ev(event.Display, func(e *event.Task) {
				e.Data = map[string]any{"image/png": b64(png(fmt.Sprint("day", i), 20000))}
			})))
			must(t, rec.Event(ev(event.Done, func(e *event.Task) { e.Status = "ok" })))
			must(t, rec.Finish(ctx, &TaskResult{Stop: event.StopAnswer}, nil))
			ids = append(ids, rec.ConversationID())
			clk.Add(24 * time.Hour)
		}
		left := func() []string {
			list, err := s.ListConversations(ctx, 100, 0)
			must(t, err)
			var out []string
			for _, c := range list {
				out = append(out, c.ID)
			}
			sort.Strings(out)
			return out
		}
		size := func(id string) int64 {
			var n int64
			must(t, s.queryRow(ctx, `SELECT bytes FROM conversations WHERE id = ?`, id).Scan(&n))
			return n
		}
		one := size(ids[0])

		cases := []struct {
			name     string
			maxAge   time.Duration
			maxBytes int64
			deleted  int
			left     []string
		}{
			{"nothing to do", 0, 0, 0, ids},
			{"younger than the oldest", 10 * 24 * time.Hour, 0, 0, ids},
			// Now is day 5: day 0 and day 1 are older than 3.5 days.
			{"by age", 84 * time.Hour, 0, 2, ids[2:]},
			{"by size", 0, 2*one + one/2, 1, ids[3:]},
			{"both within limits", 30 * 24 * time.Hour, 10 * one, 0, ids[3:]},
		}
		for _, tc := range cases {
			res, err := s.Prune(ctx, tc.maxAge, tc.maxBytes)
			must(t, err)
			if res.Conversations != tc.deleted {
				t.Errorf("%s: deleted %d, want %d", tc.name, res.Conversations, tc.deleted)
			}
			if got, want := left(), append([]string(nil), tc.left...); !sameSet(got, want) {
				t.Errorf("%s: left %v, want %v", tc.name, got, want)
			}
		}
		if got := blobFiles(t, s.blobDir); len(got) != 2 {
			t.Errorf("%d blobs left, want 2", len(got))
		}
		// A running conversation is kept whatever its age.
		rec, err := s.StartTask(ctx, ids[3], "still going", nil)
		must(t, err)
		clk.Add(365 * 24 * time.Hour)
		res, err := s.Prune(ctx, time.Hour, 0)
		must(t, err)
		if res.Conversations != 1 || !sameSet(left(), []string{ids[3]}) {
			t.Errorf("prune with a running task: %+v, left %v", res, left())
		}
		must(t, rec.Finish(ctx, nil, nil))
	})
}

// deadPID returns the PID of a process that has ended.
func deadPID(t testing.TB) int {
	cmd := exec.Command("/bin/true")
	must(t, cmd.Run())
	return cmd.Process.Pid
}

func TestRecoverInterrupted(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		start := func() *Recorder {
			rec, err := s.StartTask(ctx, "", "work", nil)
			must(t, err)
			must(t, rec.Event(ev(event.Tool, func(e *event.Task) { e.Text = "while True: pass" })))
			must(t, rec.Event(ev(event.Stdout, func(e *event.Task) { e.Text = "working\n" })))
			return rec
		}
		dead, mine, remote := start(), start(), start()
		execRec, err := s.StartExec(ctx, "", nil)
		must(t, err)
		must(t, execRec.StartCell("import time; time.sleep(100)"))
		pid := deadPID(t)
		for _, table := range []string{"tasks", "cells"} {
			_, err := s.exec(ctx, `UPDATE `+table+` SET owner_pid = ? WHERE conversation_id IN (?, ?)`, pid, dead.ConversationID(), execRec.ConversationID())
			must(t, err)
			_, err = s.exec(ctx, `UPDATE `+table+` SET owner_host = 'another-host', owner_pid = ? WHERE conversation_id = ?`, pid, remote.ConversationID())
			must(t, err)
		}
		res, err := s.recoverInterrupted(ctx)
		must(t, err)
		if res.Tasks != 1 || res.Cells != 2 {
			t.Errorf("recovered %+v, want 1 task and 2 cells", res)
		}
		status := func(rec *Recorder) (string, string) {
			c, err := s.GetConversation(ctx, rec.ConversationID())
			must(t, err)
			ts := ""
			if len(c.Tasks) > 0 {
				ts = c.Tasks[0].Status
				if ts == TaskInterrupted && (c.Tasks[0].FinishedAt.IsZero() || !strings.Contains(c.Tasks[0].Reason, fmt.Sprint(pid))) {
					t.Errorf("interrupted task: %+v", c.Tasks[0])
				}
			}
			return ts, c.Cells[0].Status
		}
		for _, tc := range []struct {
			name       string
			rec        *Recorder
			task, cell string
		}{
			{"dead process", dead, TaskInterrupted, TaskInterrupted},
			{"this process", mine, TaskRunning, CellRunning},
			{"another host", remote, TaskRunning, CellRunning},
			{"exec of a dead process", execRec, "", TaskInterrupted},
		} {
			if task, cell := status(tc.rec); task != tc.task || cell != tc.cell {
				t.Errorf("%s: task %q cell %q, want %q %q", tc.name, task, cell, tc.task, tc.cell)
			}
		}
		// Nothing more to do the second time.
		if res, err := s.recoverInterrupted(ctx); err != nil || res != (recoverResult{}) {
			t.Errorf("second recovery: %+v, %v", res, err)
		}
		must(t, mine.Finish(ctx, nil, nil))
	})
}

func TestGC(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		// An orphan: content put by a process that died before its commit.
		orphan, _, err := s.blobs.Put(ctx, strings.NewReader("orphan"))
		must(t, err)
		old := time.Now().Add(-2 * time.Hour)
		must(t, os.Chtimes(filepath.Join(s.blobDir, orphan[:2], orphan), old, old))
		// A young one, maybe about to be committed.
		young, _, err := s.blobs.Put(ctx, strings.NewReader("young"))
		must(t, err)
		// A row left at zero by a sweep that failed.
		zero, _, err := s.blobs.Put(ctx, strings.NewReader("zero"))
		must(t, err)
		_, err = s.exec(ctx, `INSERT INTO blobs (hash, size, refs, created_at) VALUES (?, 4, 0, 0)`, zero)
		must(t, err)
		// One in use.
		rec, err := s.StartTask(ctx, "", "keep", nil)
		must(t, err)
		kept := png("kept", 10000)
		must(t, rec.Event(ev(event.Display, func(e *event.Task) { e.Data = map[string]any{"image/png": b64(kept)} })))
		must(t, rec.Finish(ctx, nil, nil))
		keptPath := filepath.Join(s.blobDir, sha(kept)[:2], sha(kept))
		must(t, os.Chtimes(keptPath, old, old))

		res, err := s.GC(ctx, time.Hour)
		must(t, err)
		if res.Blobs != 2 {
			t.Errorf("GC deleted %d blobs, want 2", res.Blobs)
		}
		if got := blobFiles(t, s.blobDir); !sameSet(got, []string{young, sha(kept)}) {
			t.Errorf("after GC: %v", got)
		}
	})
}

// TestBlobRaceWithDelete has recorders take references to a blob while
// conversations using it are deleted: the content must stay for every
// reference committed.
func TestBlobRaceWithDelete(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		image := png("race", 10000)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 15 {
					rec, err := s.StartTask(ctx, "", fmt.Sprint("race ", w, i), nil)
					if err != nil {
						errs <- err
						return
					}
					if err := rec.Event(ev(event.Display, func(e *event.Task) { e.Data = map[string]any{"image/png": b64(image)} })); err != nil {
						errs <- err
						return
					}
					if err := rec.Finish(ctx, nil, nil); err != nil {
						errs <- err
						return
					}
					if i%2 == 0 {
						if err := s.DeleteConversation(ctx, rec.ConversationID()); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		list, err := s.ListConversations(ctx, 100, 0)
		must(t, err)
		if len(list) != 14 {
			t.Fatalf("%d conversations left, want 14", len(list))
		}
		for _, c := range list {
			if _, err := s.GetConversation(ctx, c.ID); err != nil {
				t.Fatalf("conversation %s lost its blob: %v", c.ID, err)
			}
		}
		var refs int
		must(t, s.queryRow(ctx, `SELECT refs FROM blobs WHERE hash = ?`, sha(image)).Scan(&refs))
		if refs != 14 {
			t.Errorf("refs %d, want 14", refs)
		}
	})
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dsn, dialect, target string
		bad                  bool
	}{
		{"history.db", SQLite, "history.db", false},
		{"/var/lib/interp/h.db", SQLite, "/var/lib/interp/h.db", false},
		{"sqlite:/tmp/h.db", SQLite, "/tmp/h.db", false},
		{"sqlite:///tmp/h.db", SQLite, "/tmp/h.db", false},
		{"postgres://u:p@host/db", Postgres, "postgres://u:p@host/db", false},
		{"postgresql://host/db?sslmode=disable", Postgres, "postgresql://host/db?sslmode=disable", false},
		{"", "", "", true},
		{"sqlite:", "", "", true},
		{":memory:", "", "", true},
		{"h.db?mode=ro", "", "", true},
	}
	for _, tc := range cases {
		d, target, err := ParseDSN(tc.dsn)
		if (err != nil) != tc.bad || d != tc.dialect || target != tc.target {
			t.Errorf("ParseDSN(%q) = %q, %q, %v", tc.dsn, d, target, err)
		}
	}
}

func TestTitleOf(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"  hello  ":               "hello",
		"first line\nsecond line": "first line",
		strings.Repeat("é", 100):  strings.Repeat("é", 79) + "…",
	}
	for in, want := range cases {
		if got := titleOf(in); got != want {
			t.Errorf("titleOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMessageCoalescing: streamed message text becomes one event per step,
// committed at the latest a second after it began.
func TestMessageCoalescing(t *testing.T) {
	t.Parallel()
	type delta struct {
		step  int
		text  string
		after time.Duration // clock advance before the delta
	}
	cases := []struct {
		name   string
		deltas []delta
		want   []string
	}{
		{"one step", []delta{{1, "a", 0}, {1, "b", 0}, {1, "c", 0}}, []string{"abc"}},
		{"two steps", []delta{{1, "a", 0}, {1, "b", 0}, {2, "c", 0}}, []string{"ab", "c"}},
		{"slow stream", []delta{{1, "a", 0}, {1, "b", 600 * time.Millisecond}, {1, "c", 600 * time.Millisecond}, {1, "d", 0}}, []string{"abc", "d"}},
	}
	clk := newClock()
	s := open(t, storetest.SQLite, &Options{Now: clk.Now})
	ctx := context.Background()
	for _, tc := range cases {
		// Not in parallel: the cases move the one clock.
		t.Run(tc.name, func(t *testing.T) {
			rec, err := s.StartTask(ctx, "", tc.name, nil)
			must(t, err)
			for _, d := range tc.deltas {
				clk.Add(d.after)
				must(t, rec.Event(ev(event.Message, func(e *event.Task) { e.Text, e.Step = d.text, d.step })))
			}
			must(t, rec.Finish(ctx, nil, nil))
			c, err := s.GetConversation(ctx, rec.ConversationID())
			must(t, err)
			var got []string
			for _, e := range c.Events {
				got = append(got, e.Text)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("messages %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOpenRecovers: Open marks what dead processes left running.
func TestOpenRecovers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		rec, err := s.StartTask(ctx, "", "left running", nil)
		must(t, err)
		_, err = s.exec(ctx, `UPDATE tasks SET owner_pid = ?`, deadPID(t))
		must(t, err)
		s2, err := Open(ctx, s.dsn, &Options{BlobDir: s.blobDir})
		must(t, err)
		defer s2.Close()
		c, err := s2.GetConversation(ctx, rec.ConversationID())
		must(t, err)
		if c.Tasks[0].Status != TaskInterrupted {
			t.Errorf("after Open the task is %q", c.Tasks[0].Status)
		}
	})
}

func TestResolveID(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		for _, id := range []string{"conv_abcdef", "conv_abcxyz", "conv_a_b"} {
			_, err := s.exec(ctx, `INSERT INTO conversations (id, created_at, updated_at) VALUES (?, 0, 0)`, id)
			must(t, err)
		}
		cases := []struct {
			in, want string
			err      error
		}{
			{"conv_abcdef", "conv_abcdef", nil},
			{"abcd", "conv_abcdef", nil},
			{"conv_abcx", "conv_abcxyz", nil},
			{"abc", "", ErrAmbiguous},
			{"a_", "conv_a_b", nil},
			{"a%", "", ErrNotFound},
			{"zzz", "", ErrNotFound},
			{"", "", ErrNotFound},
		}
		for _, tc := range cases {
			got, err := s.ResolveID(ctx, tc.in)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("ResolveID(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		}
	})
}

// TestMigrateDownAndUp: every migration can be undone, and redone.
func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		dsn, _ := b.DSN(t)
		s := openAtVersion(t, dsn, latestVersion(t))
		defer s.db.Close()
		fsys, err := fs.Sub(migrations, "migrations")
		must(t, err)
		dialect := goose.DialectSQLite3
		if s.dialect == Postgres {
			dialect = goose.DialectPostgres
		}
		p, err := goose.NewProvider(dialect, s.db, fsys, goose.WithDisableGlobalRegistry(true))
		must(t, err)
		if _, err := p.DownTo(ctx, 0); err != nil {
			t.Fatalf("down: %v", err)
		}
		if v, _ := p.GetDBVersion(ctx); v != 0 {
			t.Fatalf("version %d after down", v)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}

// filesFunc is a function as the files of a recorder.
type filesFunc func(path string, max int64) ([]byte, error)

func (f filesFunc) ReadFile(path string, max int64) ([]byte, error) { return f(path, max) }

// TestListSourcesAndStates lists conversations by the front end that
// started them and by how they ended, in words: a memory kill is "out
// of memory", not "died".
func TestListSourcesAndStates(t *testing.T) {
	t.Parallel()
	cells := []struct {
		source, status, reason, state string
	}{
		{SourceExec, event.StatusDied, event.ReasonMemory, "out of memory"},
		{SourceREPL, event.StatusDied, event.ReasonCPUTime, "CPU time limit"},
		{SourceMCP, event.StatusTimeout, "the cell ran over its time limit of 1s", "time limit"},
		{SourceServe, event.StatusDied, "the Python process was killed by signal 9 (killed)", "killed"},
		{"", event.StatusInterrupted, "", "interrupted"},
		{SourceExec, event.StatusOK, "", "ok"},
	}
	tasks := []struct {
		source, stop, state string
	}{
		{SourceRun, event.StopAnswer, "answered"},
		{SourceChat, event.StopMaxSteps, "step limit"},
		{SourceServe, event.StopProvider, "model error"},
	}
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		want := map[string][2]string{} // ID: source, state
		for _, c := range cells {
			rec, err := s.StartExec(ctx, "", &RecorderOptions{New: ConversationInfo{Source: c.source}})
			must(t, err)
			must(t, rec.StartCell("x"))
			must(t, rec.SessionEvent(event.Event{Type: event.Done, Status: c.status, Reason: c.reason}))
			must(t, rec.Finish(ctx, nil, nil))
			want[rec.ConversationID()] = [2]string{c.source, c.state}
		}
		for _, tk := range tasks {
			rec, err := s.StartTask(ctx, "", "task", &RecorderOptions{New: ConversationInfo{Source: tk.source}})
			must(t, err)
			must(t, rec.Finish(ctx, &TaskResult{Stop: tk.stop}, nil))
			want[rec.ConversationID()] = [2]string{tk.source, tk.state}
		}
		list, err := s.ListConversations(ctx, 100, 0)
		must(t, err)
		if len(list) != len(want) {
			t.Fatalf("listed %d conversations, want %d", len(list), len(want))
		}
		for _, c := range list {
			if got := [2]string{c.Source, c.State}; got != want[c.ID] {
				t.Errorf("%s (%s): source and state %q, want %q", c.ID, c.Kind, got, want[c.ID])
			}
		}
		c, err := s.GetConversation(ctx, list[0].ID)
		must(t, err)
		if c.Source != list[0].Source {
			t.Errorf("GetConversation: source %q, listed %q", c.Source, list[0].Source)
		}
	})
}
