package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/store"
)

// wantQuota checks a 429: Retry-After within max seconds, and a problem
// document that says which quota.
func wantQuota(t *testing.T, r *resp, max int, says string) {
	t.Helper()
	r.want(t, 429)
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > max {
		t.Errorf("Retry-After %q, want 1..%d", r.header.Get("Retry-After"), max)
	}
	m := r.obj(t)
	if m["status"].(float64) != 429 || !strings.Contains(m["detail"].(string), says) ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("429 body %s", r.body)
	}
}

func TestQuotas(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Quotas = server.Quotas{Sessions: 2, ExecutionsPerMinute: 3, TokensPerDay: 1000}
	})
	e.llm.set(stubModel{})
	a, b := e.alice.key, e.bob.key

	// Sessions open at once.
	s1 := e.newSession(a, nil)
	e.newSession(a, nil)
	wantQuota(t, e.do(a, "POST", "/v1/sessions", nil), 60, "sessions")
	bobSID := e.newSession(b, nil) // bob has his own quota
	e.do(a, "DELETE", "/v1/sessions/"+s1, nil).want(t, 204)
	s3 := e.newSession(a, nil)
	// A task that would need a new session is held to the quota too.
	wantQuota(t, e.do(a, "POST", "/v1/tasks", map[string]any{"prompt": "hi"}), 60, "sessions")

	// Executions per minute, streamed or not.
	e.execute(a, s3, "1")
	e.execute(a, s3, "2")
	e.stream(a, "/v1/sessions/"+s3+"/execute/stream", map[string]any{"code": "3"}, nil)
	wantQuota(t, e.do(a, "POST", "/v1/sessions/"+s3+"/execute", map[string]any{"code": "4"}), 60, "executions per minute")
	r := e.do(a, "POST", "/v1/sessions/"+s3+"/execute/stream", map[string]any{"code": "4"})
	wantQuota(t, r, 60, "executions per minute")
	e.execute(b, bobSID, "1")

	// Model tokens per day: a task is refused once they are spent.
	if err := e.st.AddTokenUsage(context.Background(), e.alice.id, store.Day(time.Now()), 1000); err != nil {
		t.Fatal(err)
	}
	wantQuota(t, e.do(a, "POST", "/v1/tasks", map[string]any{"prompt": "hi", "session_id": s3}), 24*3600, "tokens")
	// Bob's task runs, and its tokens are counted.
	_, evs := e.stream(b, "/v1/tasks", map[string]any{"prompt": "hi", "session_id": bobSID}, nil)
	if res := evs[len(evs)-1]; res.event != "result" || res.data["stop"] != "answer" {
		t.Fatalf("bob's task: %v", evs)
	}
	if n, _ := e.st.TokenUsage(context.Background(), e.bob.id, store.Day(time.Now())); n != 5 {
		t.Fatalf("bob used %d tokens, want 5", n)
	}
	me := e.do(a, "GET", "/v1/me", nil).want(t, 200).obj(t)
	if u := me["usage"].(map[string]any); u["sessions"].(float64) != 2 || u["executions_last_minute"].(float64) != 3 || u["tokens_today"].(float64) != 1000 {
		t.Errorf("usage %v", u)
	}
	if m := string(e.do("", "GET", "/metrics", nil).body); !strings.Contains(m, `interp_errors_total{type="quota"} 5`) {
		t.Errorf("quota errors not counted:\n%s", grepLines(m, "interp_errors_total"))
	}
}

// TestRequestLimits: bodies over the cap are refused with 413 before
// being read.
func TestRequestLimits(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxBodyBytes = 64 << 10 })
	a := e.alice.key
	id := e.newSession(a, nil)
	big := "x = '" + strings.Repeat("a", 100<<10) + "'"
	r := e.do(a, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": big})
	r.want(t, 413)
	if !strings.Contains(string(r.body), "too large") && !strings.Contains(string(r.body), "limit") {
		t.Errorf("413 body %s", r.body)
	}
	// Streamed without a length, it is cut at the cap.
	body := io.MultiReader(strings.NewReader(`{"code": "`), strings.NewReader(strings.Repeat("a", 200<<10)), strings.NewReader(`"}`))
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", body, "Content-Type", "application/json").want(t, 413)
	e.execute(a, id, "print(1)")
}

func TestLargeUpload(t *testing.T) {
	const limit = 1 << 20
	e := newEnv(t, func(c *server.Config) { c.MaxUploadBytes = limit })
	a := e.alice.key
	id := e.newSession(a, nil)
	e.do(a, "POST", "/v1/sessions/"+id+"/files?path=old/keep.txt", []byte("keep"), "Content-Type", "application/octet-stream").want(t, 201)
	files := func() string {
		var out []string
		for _, f := range e.do(a, "GET", "/v1/sessions/"+id+"/files", nil).want(t, 200).obj(t)["files"].([]any) {
			out = append(out, f.(map[string]any)["path"].(string))
		}
		return strings.Join(out, " ")
	}
	before := files()
	check413 := func(name string, r *resp) {
		t.Helper()
		r.want(t, 413)
		m := r.obj(t)
		if !strings.Contains(m["detail"].(string), fmt.Sprint(limit)) {
			t.Errorf("%s: 413 without the limit: %s", name, r.body)
		}
		if got := files(); got != before {
			t.Errorf("%s: left behind: %q, before %q", name, got, before)
		}
	}

	// Raw, with a length: refused before reading.
	check413("raw", e.do(a, "POST", "/v1/sessions/"+id+"/files?path=big/deep/x.bin",
		bytes.Repeat([]byte("x"), limit+1), "Content-Type", "application/octet-stream"))
	// Raw, chunked: cut off at the limit, nothing kept, not even the
	// directories made for it.
	check413("chunked", e.do(a, "POST", "/v1/sessions/"+id+"/files?path=big/deep/x.bin",
		io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), limit)), strings.NewReader("!")), "Content-Type", "application/octet-stream"))
	check413("chunked into an existing directory", e.do(a, "POST", "/v1/sessions/"+id+"/files?path=old/x.bin",
		io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), 3*limit))), "Content-Type", "application/octet-stream"))
	// Multipart, with a length and chunked.
	mp := func() (string, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("path", "big/y.bin")
		fw, _ := mw.CreateFormFile("file", "y.bin")
		fw.Write(bytes.Repeat([]byte("y"), limit+1))
		mw.Close()
		return mw.FormDataContentType(), buf.Bytes()
	}
	ct, body := mp()
	check413("multipart", e.do(a, "POST", "/v1/sessions/"+id+"/files", body, "Content-Type", ct))
	check413("multipart chunked", e.do(a, "POST", "/v1/sessions/"+id+"/files", io.MultiReader(bytes.NewReader(body)), "Content-Type", ct))

	// Exactly the limit is fine.
	e.do(a, "POST", "/v1/sessions/"+id+"/files?path=big/ok.bin", bytes.Repeat([]byte("z"), limit), "Content-Type", "application/octet-stream").want(t, 201)
	res := e.execute(a, id, "import os\nprint(os.path.getsize('big/ok.bin'), sorted(os.listdir('big')))")
	if stdoutOf(res) != fmt.Sprintf("%d ['ok.bin']\n", limit) {
		t.Fatalf("after uploads: %v", stdoutOf(res))
	}
}

// TestUploadStreams: an upload is written as it arrives, not held in
// memory whole.
func TestUploadStreams(t *testing.T) {
	const size = 48 << 20
	e := newEnv(t, func(c *server.Config) { c.MaxUploadBytes = 64 << 20; c.DefaultMemory = 512 << 20 })
	a := e.alice.key
	id := e.newSession(a, nil)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	req, _ := http.NewRequest("POST", e.ts.URL+"/v1/sessions/"+id+"/files?path=big.bin", io.LimitReader(zeros{}, size))
	req.Header.Set("Authorization", "Bearer "+a)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	runtime.ReadMemStats(&after)
	if res.StatusCode != 201 {
		t.Fatalf("upload: %d", res.StatusCode)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("uploading %d bytes allocated %d: it was buffered", size, alloc)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestTaskTimeout: a task is bounded in time as a whole.
func TestTaskTimeout(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.TaskTimeout = time.Second })
	fake := llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "late", Delay: 20 * time.Second})
	p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: fake.URL, APIKey: "test-key", Model: "gpt-test", MaxRetries: 1, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.llm.set(p)
	start := time.Now()
	_, evs := e.stream(e.alice.key, "/v1/tasks", map[string]any{"prompt": "take your time"}, nil)
	res := evs[len(evs)-1]
	if res.event != "result" || res.data["stop"] != "stopped" || !strings.Contains(res.data["reason"].(string), "time limit") {
		t.Fatalf("result %v", res.data)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the task took %s", d)
	}
}

// TestSessionQuotaConcurrent: concurrent creates cannot overshoot the
// quota.
func TestSessionQuotaConcurrent(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Quotas.Sessions = 2 })
	codes := make(chan int, 6)
	for range 6 {
		go func() { codes <- e.do(e.alice.key, "POST", "/v1/sessions", nil).status }()
	}
	n := map[int]int{}
	for range 6 {
		n[<-codes]++
	}
	if n[201] != 2 || n[429] != 4 {
		t.Fatalf("statuses %v, want 2 created and 4 refused", n)
	}
}
