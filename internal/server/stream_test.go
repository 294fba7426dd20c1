package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/server"
)

// TestExecuteStreamOrder checks the order of a streamed execution's
// events, that each event's name is its JSON's type, and that the stream
// ends with the done event: installs first, then output as it is written,
// the error, the files changed, done.
func TestExecuteStreamOrder(t *testing.T) {
	var auto *deps.Auto
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	if rt.UV != "" {
		idx := pypitest.NewIndex(t, pypitest.Package{Name: "tinypkg", Version: "1.0", Modules: map[string]string{"tinypkg/__init__.py": "VALUE = 42\n"}})
		cache := filepath.Join("/var/tmp", fmt.Sprintf("interp-test-cache-%d", os.Getpid()))
		t.Cleanup(func() { os.RemoveAll(cache) })
		m, err := deps.LoadMap()
		if err != nil {
			t.Fatal(err)
		}
		auto = &deps.Auto{Map: m, Installer: &deps.Installer{UV: rt.UV, Python: rt.Executable, CacheDir: cache, IndexURL: idx.URL(), Map: m}}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("uv missing on CI")
	}
	e := newEnv(t, nil, func(d *server.Deps) { d.Auto = auto })
	a := e.alice.key
	id := e.newSession(a, nil)

	code := `import sys, time
print("one", flush=True)
time.sleep(0.3)
sys.stderr.write("two\n"); sys.stderr.flush()
open("made.txt", "w").write("x")
raise ValueError("boom")`
	if auto != nil {
		code = "import tinypkg\nprint(tinypkg.VALUE)\n" + code
	}
	var arrivals []time.Time
	_, evs := e.stream(a, "/v1/sessions/"+id+"/execute/stream", map[string]any{"code": code}, func(sseEvent) {
		arrivals = append(arrivals, time.Now())
	})
	for _, ev := range evs {
		if ev.data["type"] != ev.event {
			t.Errorf("event %q carries type %v", ev.event, ev.data["type"])
		}
	}
	want := "stdout,stderr,error,file,done"
	if auto != nil {
		want = "install," + want
	}
	if got := types(evs); got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if auto != nil {
		var installed bool
		for _, ev := range evs {
			if ev.event == "install" && ev.data["phase"] == "installed" && ev.data["package"] == "tinypkg" {
				installed = true
			}
		}
		if !installed || !strings.HasPrefix(text(evs, "stdout"), "42\n") {
			t.Errorf("tinypkg was not installed and used: %v", evs)
		}
	}
	if s := text(evs, "stdout"); !strings.HasSuffix(s, "one\n") {
		t.Errorf("stdout %q", s)
	}
	last := evs[len(evs)-1]
	if last.data["status"] != "error" || last.data["duration"] == nil {
		t.Errorf("done %v", last.data)
	}
	for _, ev := range evs {
		if ev.event == "error" && (ev.data["ename"] != "ValueError" || ev.data["evalue"] != "boom") {
			t.Errorf("error %v", ev.data)
		}
		if ev.event == "file" && (ev.data["path"] != "made.txt" || ev.data["change"] != "created") {
			t.Errorf("file %v", ev.data)
		}
	}
	// Output streams live: stdout arrived well before done.
	first := -1
	for i, ev := range evs {
		if ev.event == "stdout" && strings.Contains(ev.data["text"].(string), "one") {
			first = i
			break
		}
	}
	if gap := arrivals[len(arrivals)-1].Sub(arrivals[first]); gap < 200*time.Millisecond {
		t.Errorf("stdout came only %s before done: not streamed", gap)
	}

	// The non-streaming variant returns the same events.
	res := e.execute(a, id, "print('a')\nprint('b')")
	var typs []string
	for _, ev := range res["events"].([]any) {
		typs = append(typs, ev.(map[string]any)["type"].(string))
	}
	if got := strings.Join(typs, ","); got != "stdout,done" && got != "stdout,stdout,done" {
		t.Errorf("non-streaming events %s", got)
	}
	if auto != nil {
		m := string(e.do("", "GET", "/metrics", nil).body)
		if !strings.Contains(m, `interp_package_installs_total{phase="installed"} 1`) {
			t.Errorf("installs not counted")
		}
	}
}

// TestConcurrentRestarts: restarts of one session do not trip over each
// other, even after its Python died, nor over a close.
func TestConcurrentRestarts(t *testing.T) {
	e := newEnv(t, nil)
	a := e.alice.key
	id := e.newSession(a, nil)
	e.do(a, "POST", "/v1/sessions/"+id+"/files?path=keep.txt", []byte("kept"), "Content-Type", "application/octet-stream").want(t, 201)
	res := e.execute(a, id, "import os; os._exit(3)")
	if res["status"] != "died" {
		t.Fatalf("os._exit: %v", res)
	}
	if st := e.do(a, "GET", "/v1/sessions/"+id, nil).obj(t)["status"]; st != "dead" {
		t.Fatalf("status %v after os._exit", st)
	}
	// The next execution brings the Python process back, and says so.
	if res := e.execute(a, id, "print(open('keep.txt').read())"); stdoutOf(res) != "kept\n" || !strings.Contains(fmt.Sprint(res), "restarted") {
		t.Fatalf("after os._exit: %v", res)
	}
	var wg sync.WaitGroup
	codes := make(chan int, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- e.do(a, "POST", "/v1/sessions/"+id+"/restart", nil).status
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		switch c {
		case 200:
			ok++
		case 409:
		default:
			t.Errorf("restart answered %d", c)
		}
	}
	if ok == 0 {
		t.Fatal("no restart succeeded")
	}
	res = e.execute(a, id, "print(open('keep.txt').read())")
	if stdoutOf(res) != "kept\n" {
		t.Fatalf("after restarts: %v", res)
	}
	// A restart stops running code first.
	started := make(chan struct{})
	ended := make(chan []sseEvent, 1)
	go func() {
		_, evs, err := streamErr(e.ts.URL, a, "/v1/sessions/"+id+"/execute/stream",
			map[string]any{"code": "import time\nprint('started', flush=True)\ntime.sleep(60)"}, func(ev sseEvent) {
				if ev.event == "stdout" {
					close(started)
				}
			})
		if err != nil {
			t.Error(err)
			evs = []sseEvent{{event: "failed", data: map[string]any{}}}
		}
		ended <- evs
	}()
	waitFor(t, started)
	e.do(a, "POST", "/v1/sessions/"+id+"/restart", nil).want(t, 200)
	if evs := <-ended; evs[len(evs)-1].data["status"] != "interrupted" {
		t.Fatalf("the running cell ended with %v", evs[len(evs)-1])
	}
	if stdoutOf(e.execute(a, id, "print(1)")) != "1\n" {
		t.Fatal("the session does not work after a restart that interrupted a cell")
	}

	// A restart and a close at once.
	go e.do(a, "POST", "/v1/sessions/"+id+"/restart", nil)
	time.Sleep(20 * time.Millisecond)
	if c := e.do(a, "DELETE", "/v1/sessions/"+id, nil).status; c != 204 && c != 404 {
		t.Fatalf("delete during restart: %d", c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.srv.Manager().List()) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(e.srv.Manager().List()); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}
