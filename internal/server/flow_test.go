package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/server"
)

func call(code string) llmtest.Call {
	b, _ := json.Marshal(map[string]string{"code": code})
	return llmtest.Call{Name: "run_python", Arguments: string(b)}
}

// TestFlow goes through every endpoint the way a client would.
func TestFlow(t *testing.T) {
	e := newEnv(t, nil)
	a := e.alice.key

	// Public endpoints.
	e.do("", "GET", "/healthz", nil).want(t, 200)
	r := e.do("", "GET", "/readyz", nil).want(t, 200).obj(t)
	if r["status"] != "ready" {
		t.Fatalf("readyz %v", r)
	}

	me := e.do(a, "GET", "/v1/me", nil).want(t, 200).obj(t)
	if me["user"].(map[string]any)["name"] != "alice" {
		t.Fatalf("me %v", me)
	}

	// Sessions.
	id := e.newSession(a, map[string]any{"memory": 256 << 20, "cell_timeout": 30})
	info := e.do(a, "GET", "/v1/sessions/"+id, nil).want(t, 200).obj(t)
	if info["memory"].(float64) != 256<<20 || info["cell_timeout"].(float64) != 30 || info["status"] != "idle" {
		t.Fatalf("session %v", info)
	}
	list := e.do(a, "GET", "/v1/sessions", nil).want(t, 200).obj(t)
	if n := len(list["sessions"].([]any)); n != 1 {
		t.Fatalf("%d sessions listed", n)
	}
	// Over the server's maxima.
	e.do(a, "POST", "/v1/sessions", map[string]any{"memory": int64(64) << 30}).want(t, 422)
	e.do(a, "POST", "/v1/sessions", map[string]any{"cell_timeout": 3600}).want(t, 422)

	// Executions: state carries over.
	res := e.execute(a, id, "x = 6 * 7")
	if res["status"] != "ok" {
		t.Fatalf("execute: %v", res)
	}
	res = e.execute(a, id, "print(x)\nx")
	if stdoutOf(res) != "42\n" {
		t.Fatalf("stdout %q", stdoutOf(res))
	}
	evs := res["events"].([]any)
	if last := evs[len(evs)-1].(map[string]any); last["type"] != "done" || last["status"] != "ok" {
		t.Fatalf("last event %v", last)
	}
	var display bool
	for _, ev := range evs {
		if m := ev.(map[string]any); m["type"] == "display" && m["data"].(map[string]any)["text/plain"] == "42" {
			display = true
		}
	}
	if !display {
		t.Fatalf("no display of the last expression: %v", evs)
	}
	res = e.execute(a, id, "1/0")
	if res["status"] != "error" {
		t.Fatalf("1/0: %v", res)
	}
	// A per-execution time limit.
	res = e.do(a, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": "import time; time.sleep(30)", "timeout": 1}).want(t, 200).obj(t)
	if res["status"] != "timeout" {
		t.Fatalf("timeout: %v", res)
	}
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": "1", "timeout": 31}).want(t, 422)
	// curl -d sends JSON as a form, or with no type: it is JSON all the same.
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", []byte(` {"code": "x"}`), "Content-Type", "application/x-www-form-urlencoded").want(t, 200)
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", []byte(`{"code": "x"}`)).want(t, 200)
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", []byte(`code=x`), "Content-Type", "application/x-www-form-urlencoded").want(t, 415)

	// Streaming.
	_, sevs := e.stream(a, "/v1/sessions/"+id+"/execute/stream", map[string]any{"code": "print('streamed', x)"}, nil)
	if text(sevs, "stdout") != "streamed 42\n" || sevs[len(sevs)-1].event != "done" {
		t.Fatalf("stream: %v", sevs)
	}

	// Files: raw upload, multipart upload, list, download, delete.
	e.do(a, "POST", "/v1/sessions/"+id+"/files?path=data/in.csv", []byte("a,b\n1,2\n"),
		"Content-Type", "application/octet-stream").want(t, 201)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("path", "notes/readme.txt")
	fw, _ := mw.CreateFormFile("file", "ignored.txt")
	fw.Write([]byte("hello"))
	mw.Close()
	up := e.do(a, "POST", "/v1/sessions/"+id+"/files", mp.Bytes(), "Content-Type", mw.FormDataContentType()).want(t, 201).obj(t)
	if up["path"] != "notes/readme.txt" || up["size"].(float64) != 5 {
		t.Fatalf("multipart upload: %v", up)
	}
	res = e.execute(a, id, "import pandas as pd\nprint(pd.read_csv('data/in.csv').b.sum())\nopen('out.txt', 'w').write(open('notes/readme.txt').read().upper())")
	if stdoutOf(res) != "2\n" {
		t.Fatalf("reading uploads: %v", res)
	}
	files := e.do(a, "GET", "/v1/sessions/"+id+"/files", nil).want(t, 200).obj(t)["files"].([]any)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.(map[string]any)["path"].(string))
	}
	if got := strings.Join(paths, " "); got != "data data/in.csv notes notes/readme.txt out.txt" {
		t.Fatalf("files: %s", got)
	}
	dl := e.do(a, "GET", "/v1/sessions/"+id+"/file?path=out.txt", nil).want(t, 200)
	if string(dl.body) != "HELLO" || !strings.HasPrefix(dl.header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(dl.header.Get("Content-Disposition"), "out.txt") || !strings.HasPrefix(dl.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("download: %q %v", dl.body, dl.header)
	}
	e.do(a, "GET", "/v1/sessions/"+id+"/file?path=nope.txt", nil).want(t, 404)
	e.do(a, "GET", "/v1/sessions/"+id+"/file?path=../etc/passwd", nil).want(t, 400)
	e.do(a, "GET", "/v1/sessions/"+id+"/file?path=/etc/passwd", nil).want(t, 400)
	e.do(a, "GET", "/v1/sessions/"+id+"/file?path=data", nil).want(t, 422)
	e.do(a, "DELETE", "/v1/sessions/"+id+"/file?path=out.txt", nil).want(t, 204)
	e.do(a, "DELETE", "/v1/sessions/"+id+"/file?path=out.txt", nil).want(t, 404)
	e.do(a, "DELETE", "/v1/sessions/"+id+"/file?path=data", nil).want(t, 409) // not empty

	// Interrupt a running cell: the session survives.
	e.do(a, "POST", "/v1/sessions/"+id+"/interrupt", nil).want(t, 200)
	started := make(chan struct{})
	done := make(chan []sseEvent)
	go func() {
		_, evs, err := streamErr(e.ts.URL, a, "/v1/sessions/"+id+"/execute/stream",
			map[string]any{"code": "import time\nprint('started', flush=True)\ntime.sleep(30)"}, func(ev sseEvent) {
				if ev.event == "stdout" {
					close(started)
				}
			})
		if err != nil {
			t.Error(err)
			evs = []sseEvent{{event: "failed", data: map[string]any{}}}
		}
		done <- evs
	}()
	waitFor(t, started)
	if st := e.do(a, "GET", "/v1/sessions/"+id, nil).want(t, 200).obj(t)["status"]; st != "busy" {
		t.Fatalf("status while running: %v", st)
	}
	// Only one execution at a time.
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": "1"}).want(t, 409)
	if r := e.do(a, "POST", "/v1/sessions/"+id+"/interrupt", nil).want(t, 200).obj(t); r["interrupted"] != true {
		t.Fatalf("interrupt: %v", r)
	}
	select {
	case evs := <-done:
		if last := evs[len(evs)-1]; last.event != "done" || last.data["status"] != "interrupted" {
			t.Fatalf("interrupted cell ended with %v", last)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the interrupt did not stop the cell")
	}
	if stdoutOf(e.execute(a, id, "print(x)")) != "42\n" {
		t.Fatal("the session lost its state after an interrupt")
	}

	// Restart: variables go, files stay.
	e.do(a, "POST", "/v1/sessions/"+id+"/restart", nil).want(t, 200)
	res = e.execute(a, id, "import os\nprint('x' in globals(), os.path.exists('data/in.csv'))")
	if stdoutOf(res) != "False True\n" {
		t.Fatalf("after restart: %v", res)
	}

	// A task, streamed, with a model that runs code and answers.
	fake := llmtest.NewOpenAIServer(t,
		llmtest.Turn{Text: "Let me compute.", ToolCalls: []llmtest.Call{call("print(6 * 7)")}, Usage: llmtest.Usage{InputTokens: 100, OutputTokens: 20}},
		llmtest.Turn{Text: "The answer is 42.", Usage: llmtest.Usage{InputTokens: 150, OutputTokens: 10}},
		llmtest.Turn{Text: "Still 42.", Usage: llmtest.Usage{InputTokens: 10, OutputTokens: 5}},
	)
	p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: fake.URL, APIKey: "test-key", Model: "gpt-test", MaxRetries: 1, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.llm.set(p)
	hres, tevs := e.stream(a, "/v1/tasks", map[string]any{"prompt": "What is 6 times 7?", "session_id": id}, nil)
	conv := hres.Header.Get("X-Conversation-ID")
	if !strings.HasPrefix(conv, "conv_") || hres.Header.Get("X-Session-ID") != id {
		t.Fatalf("task headers %v", hres.Header)
	}
	if got := types(tevs); got != "message,code,tool,stdout,done,message,answer,result" {
		t.Fatalf("task events %s", got)
	}
	result := tevs[len(tevs)-1].data
	if result["stop"] != "answer" || result["answer"] != "The answer is 42." || result["conversation_id"] != conv {
		t.Fatalf("task result %v", result)
	}
	// A second turn of the same conversation, in the same session.
	_, tevs = e.stream(a, "/v1/tasks", map[string]any{"prompt": "And again?", "conversation_id": conv}, nil)
	if r := tevs[len(tevs)-1].data; r["answer"] != "Still 42." || r["session_id"] != id {
		t.Fatalf("second turn %v", r)
	}
	if reqs := fake.Requests(); !strings.Contains(mustJSON(reqs[len(reqs)-1]), "What is 6 times 7?") {
		t.Fatal("the second turn did not carry the conversation's history")
	}
	me = e.do(a, "GET", "/v1/me", nil).want(t, 200).obj(t)
	if used := me["usage"].(map[string]any)["tokens_today"].(float64); used != 295 {
		t.Fatalf("tokens used %v, want 295", used)
	}

	// History: the task's conversation and the session's executions.
	convs := e.do(a, "GET", "/v1/conversations", nil).want(t, 200).obj(t)["conversations"].([]any)
	if len(convs) != 2 {
		t.Fatalf("conversations %v", convs)
	}
	kinds := map[string]string{}
	for _, c := range convs {
		m := c.(map[string]any)
		kinds[m["kind"].(string)] = m["id"].(string)
	}
	if kinds["chat"] != conv || kinds["exec"] == "" {
		t.Fatalf("conversations %v", convs)
	}
	// Searching, on the server: prompts, answers and code, of one's own
	// conversations only.
	for q, want := range map[string]string{"6%20TIMES": conv, "still%2042": conv, "print(6": conv, "no-such-text": ""} {
		found := e.do(a, "GET", "/v1/conversations?q="+q, nil).want(t, 200).obj(t)["conversations"].([]any)
		if ids := mustJSON(found); (want == "") != (len(found) == 0) || (want != "" && (len(found) != 1 || !strings.Contains(ids, want))) {
			t.Errorf("search %q: %s", q, ids)
		}
	}
	if found := e.do(e.bob.key, "GET", "/v1/conversations?q=times", nil).want(t, 200).obj(t)["conversations"].([]any); len(found) != 0 {
		t.Errorf("another user's search found %v", found)
	}
	if sess := e.do(a, "GET", "/v1/sessions/"+id, nil).obj(t); sess["conversation_id"] != kinds["exec"] {
		t.Fatalf("session's conversation %v, want %s", sess["conversation_id"], kinds["exec"])
	}
	c := e.do(a, "GET", "/v1/conversations/"+conv, nil).want(t, 200).obj(t)
	if tasks := c["tasks"].([]any); len(tasks) != 2 || tasks[0].(map[string]any)["answer"] != "The answer is 42." {
		t.Fatalf("conversation %v", c["tasks"])
	}
	ex := e.do(a, "GET", "/v1/conversations/"+kinds["exec"], nil).want(t, 200).obj(t)
	if cells := ex["cells"].([]any); len(cells) < 8 {
		t.Fatalf("exec conversation has %d cells", len(cells))
	}
	for format, want := range map[string]string{"ipynb": `"nbformat": 4`, "py": "# %%", "md": "What is 6 times 7?", "json": `"interp-conversation"`} {
		r := e.do(a, "GET", "/v1/conversations/"+conv+"/export?format="+format, nil).want(t, 200)
		if !strings.Contains(string(r.body), want) || !strings.Contains(r.header.Get("Content-Disposition"), conv+"."+format) {
			t.Errorf("export %s: %q...", format, firstN(r.body, 200))
		}
	}
	e.do(a, "GET", "/v1/conversations/"+conv+"/export?format=docx", nil).want(t, 422)

	// The files the code made are kept in the history, for their owner only.
	recorded := e.do(a, "GET", "/v1/conversations/"+kinds["exec"]+"/files", nil).want(t, 200).obj(t)["files"].([]any)
	if !strings.Contains(mustJSON(recorded), `"path":"out.txt"`) {
		t.Fatalf("recorded files %v", recorded)
	}
	if r := e.do(a, "GET", "/v1/conversations/"+kinds["exec"]+"/file?path=out.txt", nil).want(t, 200); string(r.body) != "HELLO" {
		t.Errorf("out.txt from the history: %q", r.body)
	}
	e.do(a, "GET", "/v1/conversations/"+kinds["exec"]+"/file?path=nope.txt", nil).want(t, 404)

	// A session's environment holds what was given, never the server's.
	envSess := e.do(a, "POST", "/v1/sessions", map[string]any{"env": map[string]string{"GREETING": "hi"}}).want(t, 201).obj(t)["id"].(string)
	if res := e.execute(a, envSess, "import os; print(os.environ['GREETING'], 'OPENAI_API_KEY' in os.environ)"); stdoutOf(res) != "hi False\n" {
		t.Errorf("session env: %+v", res)
	}
	e.do(a, "DELETE", "/v1/sessions/"+envSess, nil).want(t, 204)
	e.do(a, "POST", "/v1/sessions", map[string]any{"env": map[string]string{"PATH": "/evil"}}).want(t, 422)

	// Metrics saw it all.
	m := string(e.do("", "GET", "/metrics", nil).want(t, 200).body)
	for _, want := range []string{
		`interp_sessions_open 1`, `interp_executions_total{status="ok"}`, `interp_executions_total{status="timeout"} 1`,
		`interp_llm_tokens_total{direction="input"} 260`, `interp_tasks_total{stop="answer"} 2`,
		`interp_http_requests_total{method="POST",route="POST /v1/sessions/{id}/execute",status="200"}`,
		`interp_execution_duration_seconds_bucket`, `interp_errors_total{type="not_found"}`,
		`interp_pool_ready 0`, `interp_pool_target 0`, // the tests' server has no pool
		`interp_pool_zygotes `, `interp_pool_fork_failures_total 0`, // but forks its sessions
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// One log line per request, with the user and the route.
	var line map[string]any
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `"route":"GET /v1/me"`) {
			json.Unmarshal([]byte(l), &line)
			break
		}
	}
	if line["user"] != "alice" || line["status"].(float64) != 200 || line["duration_ms"] == nil {
		t.Fatalf("log line %v", line)
	}

	// Deleting.
	e.do(a, "DELETE", "/v1/conversations/"+conv, nil).want(t, 204)
	e.do(a, "GET", "/v1/conversations/"+conv, nil).want(t, 404)
	e.do(a, "DELETE", "/v1/sessions/"+id, nil).want(t, 204)
	e.do(a, "GET", "/v1/sessions/"+id, nil).want(t, 404)
	if n := len(e.srv.Manager().List()); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func firstN(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// TestDownloadLarge streams a file the code made, byte for byte, and
// refuses one over the download limit with a clear error.
func TestDownloadLarge(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxDownloadBytes = 24 << 20 })
	a := e.newUser("dl").key
	id := e.newSession(a, nil)
	out := stdoutOf(e.execute(a, id, `
import hashlib, os
data = os.urandom(20 << 20)
open("big.bin", "wb").write(data)
open("huge.bin", "wb").write(bytes(25 << 20))
print(hashlib.sha256(data).hexdigest())
`))
	dl := e.do(a, "GET", "/v1/sessions/"+id+"/file?path=big.bin", nil).want(t, 200)
	sum := sha256.Sum256(dl.body)
	if got := hex.EncodeToString(sum[:]); got != strings.TrimSpace(out) || dl.header.Get("Content-Length") != strconv.Itoa(20<<20) {
		t.Errorf("download: sha256 %s, want %s; Content-Length %q", got, strings.TrimSpace(out), dl.header.Get("Content-Length"))
	}
	r := e.do(a, "GET", "/v1/sessions/"+id+"/file?path=huge.bin", nil).want(t, 422)
	if !strings.Contains(string(r.body), "too large to download") {
		t.Errorf("over the limit: %s", r.body)
	}
}
