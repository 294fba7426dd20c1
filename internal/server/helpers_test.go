package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/syncbuf"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// Most of this package's tests do not call t.Parallel: run in parallel,
// with a server and a sandbox backend each, a session's sandbox was
// SIGKILLed as it started. Two backends in one process then gave their
// first sandboxes the same cgroup, so ending one killed the other's; with
// that fixed in internal/sandbox, whether these tests can run in parallel
// is to be measured again before they do. The browser sign-in tests, which
// start no session, run in parallel.
func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	os.Exit(m.Run())
}

// env is a server on 127.0.0.1 with real sandboxes and a real SQLite
// history, and two users with a key each.
type env struct {
	t     *testing.T
	srv   *server.Server
	ts    *httptest.Server
	st    *store.Store
	alice user
	bob   user
	logs  *syncbuf.Buffer
	llm   *llmSlot
}

type user struct {
	id, key string
}

// llmSlot lets a test choose the model of the next tasks.
type llmSlot struct {
	mu sync.Mutex
	p  llm.Provider
}

func (l *llmSlot) set(p llm.Provider) {
	l.mu.Lock()
	l.p = p
	l.mu.Unlock()
}

func (l *llmSlot) factory(context.Context) (*server.LLM, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		return nil, errors.New("no model in this test")
	}
	return &server.LLM{Provider: l.p, Name: l.p.Name(), Model: "test-model"}, nil
}

func backend(t testing.TB) sandbox.Backend { return sandboxtest.Backend(t) }

// newEnv starts a server. mod adjusts its config; the pool is off unless
// mod turns it on.
func newEnv(t *testing.T, mod func(*server.Config), deps ...func(*server.Deps)) *env {
	t.Helper()
	b := backend(t)
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "history.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{PoolSize: -1, DefaultMemory: 512 << 20, DefaultCellTimeout: 20 * time.Second, MaxCellTimeout: time.Minute}
	if mod != nil {
		mod(&cfg)
	}
	e := &env{t: t, st: st, logs: &syncbuf.Buffer{}, llm: &llmSlot{}}
	d := server.Deps{
		Store:  st,
		Kernel: session.Config{Backend: b, Runtime: rt},
		LLM:    e.llm.factory,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	for _, f := range deps {
		f(&d)
	}
	srv, err := server.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", lastLines(e.logs.String(), 40))
		}
		e.ts.CloseClientConnections()
		e.ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		st.Close()
		b.Close()
	})
	e.alice = e.newUser("alice")
	e.bob = e.newUser("bob")
	return e
}

func (e *env) newUser(name string) user {
	e.t.Helper()
	u, err := e.st.CreateUser(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	key, _, err := e.st.CreateAPIKey(context.Background(), u.ID, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return user{id: u.ID, key: key}
}

// resp is a finished response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", r.status, err, r.body)
	}
}

// obj decodes the body as a JSON object.
func (r *resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

func (r *resp) want(t testing.TB, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// do sends a request with key (none if ""); body is JSON-encoded unless it
// is an io.Reader or []byte.
func (e *env) do(key, method, path string, body any, headers ...string) *resp {
	e.t.Helper()
	return do(e.t, e.ts.URL, key, method, path, body, headers...)
}

func do(t testing.TB, base, key, method, path string, body any, headers ...string) *resp {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// newSession creates a session for key and returns its ID.
func (e *env) newSession(key string, body any) string {
	e.t.Helper()
	r := e.do(key, "POST", "/v1/sessions", body).want(e.t, 201)
	id, _ := r.obj(e.t)["id"].(string)
	if !strings.HasPrefix(id, "s_") {
		e.t.Fatalf("session ID %q", id)
	}
	return id
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	id    string
	event string
	data  map[string]any
}

// stream posts body and reads the event stream until it ends, calling
// on (if set) with each event as it arrives.
func (e *env) stream(key, path string, body any, on func(sseEvent)) (*http.Response, []sseEvent) {
	e.t.Helper()
	return stream(e.t, e.ts.URL, key, path, body, on)
}

func stream(t testing.TB, base, key, path string, body any, on func(sseEvent)) (*http.Response, []sseEvent) {
	t.Helper()
	res, evs, err := streamErr(base, key, path, body, on)
	if err != nil {
		t.Fatal(err)
	}
	return res, evs
}

// streamErr is stream for goroutines other than the test's.
func streamErr(base, key, path string, body any, on func(sseEvent)) (*http.Response, []sseEvent, error) {
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	return readStream(req, on)
}

// readStream sends req and reads its event stream until it ends.
func readStream(req *http.Request, on func(sseEvent)) (*http.Response, []sseEvent, error) {
	path := req.URL.Path
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %v", req.Method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		return nil, nil, fmt.Errorf("%s %s: %d %s", req.Method, path, res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		return nil, nil, fmt.Errorf("content type %q", ct)
	}
	var evs []sseEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" {
				evs = append(evs, cur)
				if on != nil {
					on(cur)
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				return nil, nil, fmt.Errorf("event data is not JSON: %v: %s", err, line)
			}
		default:
			return nil, nil, fmt.Errorf("unexpected stream line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		return res, evs, fmt.Errorf("reading the stream: %v", err)
	}
	if len(evs) == 0 {
		return nil, nil, fmt.Errorf("%s %s: an empty stream", req.Method, path)
	}
	return res, evs, nil
}

// types lists the events' types, runs of one type collapsed.
func types(evs []sseEvent) string {
	var out []string
	for _, ev := range evs {
		if n := len(out); n > 0 && out[n-1] == ev.event {
			continue
		}
		out = append(out, ev.event)
	}
	return strings.Join(out, ",")
}

func text(evs []sseEvent, typ string) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.event == typ {
			s, _ := ev.data["text"].(string)
			b.WriteString(s)
		}
	}
	return b.String()
}

// execute runs code without streaming and returns the result.
func (e *env) execute(key, id, code string) map[string]any {
	e.t.Helper()
	return e.do(key, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": code}).want(e.t, 200).obj(e.t)
}

func stdoutOf(res map[string]any) string {
	var b strings.Builder
	evs, _ := res["events"].([]any)
	for _, ev := range evs {
		m := ev.(map[string]any)
		if m["type"] == "stdout" {
			b.WriteString(m["text"].(string))
		}
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor waits for ch to close, at most 30 seconds.
func waitFor(t testing.TB, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting")
	}
}
