package server_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// checkEvents checks a stream's events against the served document: ids
// counting from 1, and each event's data of the schema its type maps to
// in the union's discriminator, with every required field and no field
// the schema does not describe.
func checkEvents(t *testing.T, doc map[string]any, union string, evs []sseEvent) {
	t.Helper()
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	u := schemas[union].(map[string]any)
	mapping := u["discriminator"].(map[string]any)["mapping"].(map[string]any)
	for i, ev := range evs {
		if ev.id != strconv.Itoa(i+1) {
			t.Errorf("event %d has id %q", i+1, ev.id)
		}
		ref, ok := mapping[ev.event].(string)
		if !ok {
			t.Errorf("%s has no schema for event %q", union, ev.event)
			continue
		}
		sc := schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		props := sc["properties"].(map[string]any)
		if ev.data["type"] != ev.event {
			t.Errorf("event %q carries type %v", ev.event, ev.data["type"])
		}
		for _, r := range sc["required"].([]any) {
			if _, ok := ev.data[r.(string)]; !ok {
				t.Errorf("%s event lacks the required %s: %v", ev.event, r, ev.data)
			}
		}
		for k := range ev.data {
			p, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("%s event has %s, which its schema does not describe", ev.event, k)
				continue
			}
			if p["description"] == nil || p["description"] == "" {
				t.Errorf("%s.%s has no description", ev.event, k)
			}
		}
	}
}

// TestEventSchemas: every event a real execution and a real task stream
// send is described by the document, one schema per type.
func TestEventSchemas(t *testing.T) {
	e := newEnv(t, nil)
	a := e.alice.key
	var doc map[string]any
	e.do("", "GET", "/openapi.json", nil).want(t, 200).json(t, &doc)
	for _, op := range []string{"/v1/sessions/{id}/execute/stream", "/v1/tasks", "/v1/streams/{id}"} {
		ops := doc["paths"].(map[string]any)[op].(map[string]any)
		for _, o := range ops {
			resp := o.(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)
			mt := resp["content"].(map[string]any)["text/event-stream"].(map[string]any)
			if mt["schema"].(map[string]any)["type"] != "string" || mt["x-event-schema"] == nil {
				t.Errorf("%s: the stream is described as %v", op, mt)
			}
		}
	}
	id := e.newSession(a, nil)
	_, evs := e.stream(a, "/v1/sessions/"+id+"/execute/stream", map[string]any{"code": `import sys
print("out")
sys.stderr.write("err\n")
open("f.txt", "w").write("x")
from IPython.display import display, HTML
display(HTML("<b>hi</b>"))
1/0`}, nil)
	if got := types(evs); got != "stdout,stderr,display,error,file,done" {
		t.Fatalf("events %s", got)
	}
	checkEvents(t, doc, "ExecutionEvent", evs)

	fake := llmtest.NewOpenAIServer(t,
		llmtest.Turn{Text: "Let me compute.", ToolCalls: []llmtest.Call{call("print(6 * 7)")}},
		llmtest.Turn{Text: "The answer is 42."},
	)
	p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: fake.URL, APIKey: "k", Model: "gpt-test", MaxRetries: 1, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.llm.set(p)
	_, tevs := e.stream(a, "/v1/tasks", map[string]any{"prompt": "6*7?", "session_id": id}, nil)
	if got := types(tevs); got != "message,code,tool,stdout,done,message,answer,result" {
		t.Fatalf("task events %s: %v", got, tevs)
	}
	checkEvents(t, doc, "TaskEvent", tevs)
}

// TestResumeStream: a client that loses a stream gets the rest of it with
// GET /v1/streams/{id} and Last-Event-ID, while the code went on running;
// nobody else can.
func TestResumeStream(t *testing.T) {
	e := newEnv(t, nil)
	a := e.alice.key
	id := e.newSession(a, nil)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", e.ts.URL+"/v1/sessions/"+id+"/execute/stream",
		strings.NewReader(`{"code": "import time\nprint('one', flush=True)\ntime.sleep(1)\nprint('two')\n_ = open('after.txt', 'w').write('ran')"}`))
	req.Header.Set("Authorization", "Bearer "+a)
	req.Header.Set("Content-Type", "application/json")
	var streamID string
	res, first, _ := readStream(req, func(sseEvent) { cancel() })
	if res != nil {
		streamID = res.Header.Get("X-Stream-ID")
	}
	if len(first) != 1 || first[0].id != "1" || !strings.HasPrefix(streamID, "st_") {
		t.Fatalf("first event %v, stream %q", first, streamID)
	}

	resume := func(key, last string) (*http.Response, []sseEvent, error) {
		req, _ := http.NewRequest("GET", e.ts.URL+"/v1/streams/"+streamID, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		return readStream(req, nil)
	}
	_, rest, err := resume(a, "1")
	if err != nil {
		t.Fatal(err)
	}
	if got := types(rest); got != "stdout,file,done" || rest[0].id != "2" || text(rest, "stdout") != "two\n" {
		t.Fatalf("resumed events %s: %v", got, rest)
	}
	if rest[len(rest)-1].data["status"] != "ok" {
		t.Fatalf("the execution did not go on after its client left: %v", rest)
	}
	// Once done, the whole stream is still there.
	if _, all, err := resume(a, ""); err != nil || types(all) != "stdout,file,done" || len(all) != len(rest)+1 {
		t.Fatalf("the whole stream again: %v %v", all, err)
	}
	if _, _, err := resume(e.bob.key, "1"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("bob resumed alice's stream: %v", err)
	}
	if _, _, err := resume(a, "x"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a bad Last-Event-ID: %v", err)
	}
}

// TestMultipartOrder: the path field may come before or after the file.
func TestMultipartOrder(t *testing.T) {
	e := newEnv(t, nil)
	a := e.alice.key
	id := e.newSession(a, nil)
	content := []byte{0, 1, 2, 255, 254, '\n'}
	for _, tc := range []struct {
		name, fileName, path, want string
		pathFirst                  bool
	}{
		{"path first", "ignored.bin", "dir/first.bin", "dir/first.bin", true},
		{"path after the file", "ignored.bin", "dir/after.bin", "dir/after.bin", false},
		{"the file's name", "named.bin", "", "named.bin", false},
	} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		if tc.pathFirst && tc.path != "" {
			mw.WriteField("path", tc.path)
		}
		fw, _ := mw.CreateFormFile("file", tc.fileName)
		fw.Write(content)
		if !tc.pathFirst && tc.path != "" {
			mw.WriteField("path", tc.path)
		}
		mw.Close()
		up := e.do(a, "POST", "/v1/sessions/"+id+"/files", buf.Bytes(), "Content-Type", mw.FormDataContentType()).want(t, 201).obj(t)
		if up["path"] != tc.want || up["size"] != float64(len(content)) {
			t.Errorf("%s: uploaded %v, want %s", tc.name, up, tc.want)
			continue
		}
		got := e.do(a, "GET", "/v1/sessions/"+id+"/file?path="+tc.want, nil).want(t, 200).body
		if !bytes.Equal(got, content) {
			t.Errorf("%s: downloaded %q", tc.name, got)
		}
	}
	files := fmt.Sprint(e.do(a, "GET", "/v1/sessions/"+id+"/files", nil).want(t, 200).obj(t)["files"])
	if strings.Contains(files, "ignored") {
		t.Errorf("a file was written under the file's name although a path field was given: %s", files)
	}
}
