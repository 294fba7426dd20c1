package server_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs the env's server on a real listener and returns its URL and
// Serve's result.
func (e *env) serve() (string, <-chan error) {
	e.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(l) }()
	return "http://" + l.Addr().String(), served
}

// TestGracefulShutdown: a running cell finishes, new requests are
// refused, then the sessions close.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, nil)
	base, served := e.serve()
	a := e.alice.key
	id := newSessionAt(t, base, a)
	idle := newSessionAt(t, base, a)

	started := make(chan struct{})
	finished := make(chan []sseEvent, 1)
	go func() {
		_, evs, err := streamErr(base, a, "/v1/sessions/"+id+"/execute/stream",
			map[string]any{"code": "import time\nprint('started', flush=True)\ntime.sleep(2)\nprint('finished')"}, func(ev sseEvent) {
				if ev.event == "stdout" && strings.Contains(ev.data["text"].(string), "started") {
					close(started)
				}
			})
		if err != nil {
			t.Error(err)
			evs = []sseEvent{{event: "failed", data: map[string]any{}}}
		}
		finished <- evs
	}()
	waitFor(t, started)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- e.srv.Shutdown(ctx)
	}()

	// New requests are refused while the cell runs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err != nil {
			break // connection refused: the listener is closed
		}
		res.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the server still accepts requests while shutting down (%d)", res.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Through the handler too (a connection accepted before): 503.
	r := e.do(a, "POST", "/v1/sessions/"+idle+"/execute", map[string]any{"code": "1"})
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("a new execution during shutdown: %d %s", r.status, r.body)
	}
	e.do("", "GET", "/readyz", nil).want(t, 503)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned before the cell finished: %v", err)
	default:
	}

	evs := <-finished
	if last := evs[len(evs)-1]; last.event != "done" || last.data["status"] != "ok" || text(evs, "stdout") != "started\nfinished\n" {
		t.Fatalf("the running cell did not finish: %v", evs)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if n := len(e.srv.Manager().List()); n != 0 {
		t.Fatalf("%d sessions open after shutdown", n)
	}
}

// TestShutdownDeadline: cells still running at the deadline are
// interrupted, and the shutdown completes.
func TestShutdownDeadline(t *testing.T) {
	e := newEnv(t, nil)
	base, _ := e.serve()
	a := e.alice.key
	id := newSessionAt(t, base, a)
	started := make(chan struct{})
	finished := make(chan []sseEvent, 1)
	go func() {
		_, evs, err := streamErr(base, a, "/v1/sessions/"+id+"/execute/stream",
			map[string]any{"code": "import time\nprint('started', flush=True)\ntime.sleep(60)"}, func(ev sseEvent) {
				if ev.event == "stdout" {
					close(started)
				}
			})
		if err != nil {
			t.Error(err)
			evs = []sseEvent{{event: "failed", data: map[string]any{}}}
		}
		finished <- evs
	}()
	waitFor(t, started)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown past its deadline: %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Shutdown took %s", d)
	}
	select {
	case evs := <-finished:
		if last := evs[len(evs)-1]; last.event != "done" || last.data["status"] != "interrupted" {
			t.Errorf("the cell ended with %v", last.data)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the stream did not end")
	}
	if n := len(e.srv.Manager().List()); n != 0 {
		t.Fatalf("%d sessions open after shutdown", n)
	}
}

func newSessionAt(t *testing.T, base, key string) string {
	t.Helper()
	m := do(t, base, key, "POST", "/v1/sessions", nil).want(t, 201).obj(t)
	return m["id"].(string)
}
