package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// targetHTTPExecute is the most the median HTTP round trip of `1+1` on a
// warm session may take.
const targetHTTPExecute = 3 * time.Millisecond

// What the server section runs.
const (
	codeHTTP = "1+1"
	// httpClients clients run httpPerClient executions each, at once.
	httpClients   = 100
	httpPerClient = 100
	// httpMemory is each session's memory limit.
	httpMemory = 256 << 20
	// httpRoundsMax caps the rounds of the load test: each is 10,000
	// executions over HTTP and as many direct ones.
	httpRoundsMax = 2
	// httpNeed is what a session of the base environment, numpy, pandas
	// and matplotlib preloaded, is taken to need when deciding whether
	// they all fit: well over what one uses idle.
	httpNeed = 160 << 20
)

// srvBench holds what the server section's benchmarks share.
type srvBench struct {
	b      *sandbox.Namespaces
	rt     *python.Runtime
	rtName string
	// preload is what sessions import when they start (nil: the server's
	// default, numpy, pandas and matplotlib).
	preload []string
	st      *store.Store
	state   string
	// rec is a server as interp serve runs it, recording executions in
	// the history; norec is one that does not. Both share the store, the
	// backend and the runtime.
	rec, norec *benchServer
}

// benchServer is a server.Server on a real loopback listener.
type benchServer struct {
	srv    *server.Server
	url    string
	served chan error
}

// newSrvBench prepares what servers of the bench share: the runtime, a
// sandbox backend, a store and state directory, all removed by done.
func newSrvBench(ctx context.Context) (s *srvBench, done func(), err error) {
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	rt, err := python.Find("")
	if err != nil {
		return nil, nil, err
	}
	s = &srvBench{rt: rt, rtName: "base environment, IPython"}
	if rt.Env == "" {
		s.rtName = rt.Executable + ", plain runner"
	}
	// The base environment, as interp serve runs, if its kernels fit with
	// room to spare; else the lighter plain runner.
	if mi, err := readMeminfo(); err == nil && mi["MemAvailable"] < int64(httpClients+4)*httpNeed {
		if _, err := os.Stat("/usr/bin/python3"); err == nil {
			s.rt, s.rtName = python.System("/usr/bin/python3"), "/usr/bin/python3, plain runner"
		}
	}
	if s.rt.Env == "" {
		s.preload = []string{} // none: a bare python3 may lack them
	}
	if s.b, err = sandbox.NewNamespaces(); err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, func() { s.b.Close() })
	// The database and the kernels' host-side state, removed at the end.
	// The state is bound into sandboxes, so it must not be under /tmp.
	dir, err := os.MkdirTemp("/var/tmp", "interp-bench-server-")
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	s.state = filepath.Join(dir, "state")
	if err := os.Mkdir(s.state, 0o711); err != nil {
		return nil, nil, err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, nil, err
	}
	if s.st, err = store.Open(ctx, filepath.Join(dir, "history.db"), nil); err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, func() { s.st.Close() })
	return s, cleanup, nil
}

// serverSection measures the HTTP service (internal/server) on loopback:
// the round trip of a trivial execution beside the same execution made
// directly on the session, and many clients at once beside as many
// goroutines executing directly.
func serverSection(ctx context.Context, cfg *config) (string, error) {
	s, done, err := newSrvBench(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	if s.rec, err = s.startServer(false); err != nil {
		return "", err
	}
	defer s.rec.stop()
	if s.norec, err = s.startServer(true); err != nil {
		return "", err
	}
	defer s.norec.stop()

	var md strings.Builder
	md.WriteString(s.about())
	n := 5 * cfg.N
	parts := []struct {
		what string
		run  func(context.Context, *config) (string, error)
	}{
		{fmt.Sprintf("HTTP round trip of `%s` on a warm session, %d iterations", codeHTTP, n), s.roundTrips},
		{fmt.Sprintf("%d clients × %d executions at once", httpClients, httpPerClient), s.load},
	}
	for _, p := range parts {
		cfg.logf("server: %s", p.what)
		t0 := time.Now()
		part, err := p.run(ctx, cfg)
		if err != nil {
			return md.String(), fmt.Errorf("%s: %w", p.what, err)
		}
		cfg.logf("server: done in %s", time.Since(t0).Round(time.Second))
		md.WriteString(part)
	}
	return md.String(), nil
}

func (s *srvBench) about() string {
	return fmt.Sprintf(`The multi-user HTTP service (`+"`internal/server`"+`, as `+"`interp serve`"+` runs
it) on a real listener on 127.0.0.1, with a SQLite store in a temporary
directory, API keys made with `+"`store.CreateAPIKey`"+`, and the load generated
in the same process by `+"`net/http`"+` clients with keep-alive. Every request
carries an API key, checked against the store. Sessions run the %s runtime
(%s) with a memory limit of %s; the warm pool is off (sessions start
when asked for, %s), automatic installs are off, and the quotas lifted. Request logs are formatted as JSON and
discarded. Baselines call `+"`Session.Execute`"+` directly on the very sessions
the server holds, without HTTP, so the difference is what the service adds:
routing, authentication, JSON, the per-request log and metrics and, unless
said otherwise, recording each execution in the history, as the service
does by default.
`, s.rtName, s.rt.Executable, mib(httpMemory), s.preloadNote())
}

func (s *srvBench) preloadNote() string {
	if s.preload == nil {
		return "importing numpy, pandas and matplotlib as the pool's would"
	}
	return "importing nothing"
}

// startServer starts a server on 127.0.0.1:0; noRecord keeps executions
// out of the history.
func (s *srvBench) startServer(noRecord bool) (*benchServer, error) {
	srv, err := server.New(server.Config{
		MaxSessions:        httpClients + 16,
		PoolSize:           -1,
		PoolPreload:        s.preload,
		DefaultMemory:      httpMemory,
		DefaultCellTimeout: time.Minute,
		Quotas:             server.Quotas{Sessions: -1, ExecutionsPerMinute: -1, TokensPerDay: -1},
		NoRecordExecutions: noRecord,
	}, server.Deps{
		Store:  s.st,
		Kernel: session.Config{Backend: s.b, Runtime: s.rt, StateDir: s.state},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Shutdown(context.Background())
		return nil, err
	}
	bs := &benchServer{srv: srv, url: "http://" + ln.Addr().String(), served: make(chan error, 1)}
	go func() { bs.served <- srv.Serve(ln) }()
	return bs, nil
}

func (bs *benchServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bs.srv.Shutdown(ctx)
	<-bs.served
}

// newUser makes a user with an API key.
func (s *srvBench) newUser(ctx context.Context, name string) (key string, err error) {
	u, err := s.st.CreateUser(ctx, name)
	if err != nil {
		return "", err
	}
	key, _, err = s.st.CreateAPIKey(ctx, u.ID, "bench")
	return key, err
}

// httpClient is one client: its own connection, kept alive.
type httpClient struct {
	c    *http.Client
	base string
	key  string
	body []byte // the execute request's body
}

func newHTTPClient(base, key string) *httpClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute, DisableCompression: true}
	body, _ := json.Marshal(map[string]any{"code": codeHTTP})
	return &httpClient{c: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, base: base, key: key, body: body}
}

func (c *httpClient) close() { c.c.CloseIdleConnections() }

// do sends a request and returns the response's body, or an error for a
// status other than want.
func (c *httpClient) do(ctx context.Context, method, path string, body []byte, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	res, err := c.c.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the response: %w", method, path, err)
	}
	if res.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, oneLine(string(b)))
	}
	return b, nil
}

// newSession creates a session and returns its ID.
func (c *httpClient) newSession(ctx context.Context) (string, error) {
	b, err := c.do(ctx, "POST", "/v1/sessions", []byte("{}"), http.StatusCreated)
	if err != nil {
		return "", err
	}
	var info struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.ID == "" {
		return "", fmt.Errorf("POST /v1/sessions: no session ID in %s", oneLine(string(b)))
	}
	return info.ID, nil
}

// executeResult is what the bench reads of an execution's response.
type executeResult struct {
	Status string          `json:"status"`
	Events []session.Event `json:"events"`
}

// execute runs codeHTTP in session id, without streaming, and checks that
// it ran well.
func (c *httpClient) execute(ctx context.Context, id string) (*executeResult, error) {
	b, err := c.do(ctx, "POST", "/v1/sessions/"+id+"/execute", c.body, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var r executeResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("execute: the response is not JSON: %v", err)
	}
	if r.Status != event.StatusOK {
		return nil, fmt.Errorf("execute: status %q", r.Status)
	}
	return &r, nil
}

// timeHTTP times one execution over HTTP.
func (c *httpClient) timeHTTP(ctx context.Context, id string) (time.Duration, error) {
	t0 := time.Now()
	_, err := c.execute(ctx, id)
	return time.Since(t0), err
}

// timeGet times one GET.
func (c *httpClient) timeGet(ctx context.Context, path string) (time.Duration, error) {
	t0 := time.Now()
	_, err := c.do(ctx, "GET", path, nil, http.StatusOK)
	return time.Since(t0), err
}

// timeDirect times one execution of codeHTTP made on the session itself.
func timeDirect(ctx context.Context, ss *session.Session) (time.Duration, error) {
	t0 := time.Now()
	done, err := ss.Execute(ctx, codeHTTP, session.ExecOptions{}, nil)
	d := time.Since(t0)
	return d, checkDone(done, err)
}

// --------------------------------------------------------- round trips

func (s *srvBench) roundTrips(ctx context.Context, cfg *config) (string, error) {
	n := 5 * cfg.N
	key, err := s.newUser(ctx, "roundtrip")
	if err != nil {
		return "", err
	}
	type target struct {
		name   string
		bs     *benchServer
		c      *httpClient
		id     string
		ss     *session.Session
		hd, dd []time.Duration // over HTTP, direct
		h0, d0 time.Duration
		diffs  []time.Duration // paired HTTP − direct
	}
	var targets []*target
	defer func() {
		for _, t := range targets {
			t.c.close()
		}
	}()
	for _, x := range []struct {
		name string
		bs   *benchServer
	}{{"executions recorded in the history (the default)", s.rec}, {"history recording off", s.norec}} {
		t := &target{name: x.name, bs: x.bs, c: newHTTPClient(x.bs.url, key)}
		targets = append(targets, t)
		if t.id, err = t.c.newSession(ctx); err != nil {
			return "", err
		}
		if t.ss, err = x.bs.srv.Manager().Get(t.id); err != nil {
			return "", err
		}
		// The answer is right.
		r, err := t.c.execute(ctx, t.id)
		if err != nil {
			return "", err
		}
		got := ""
		for _, ev := range r.Events {
			if ev.Type == event.Display {
				got, _ = ev.Data["text/plain"].(string)
			}
		}
		if got != "2" {
			return "", fmt.Errorf("%s over HTTP displayed %q, want 2", codeHTTP, got)
		}
	}
	floor := newHTTPClient(s.rec.url, key)
	defer floor.close()
	var hz, me []time.Duration
	var hz0, me0 time.Duration

	var runs []func() error
	for _, t := range targets {
		runs = append(runs,
			func() (err error) { t.h0, err = t.c.timeHTTP(ctx, t.id); return wrap("HTTP, "+t.name, err) },
			func() (err error) { t.d0, err = timeDirect(ctx, t.ss); return wrap("direct, "+t.name, err) })
	}
	runs = append(runs,
		func() (err error) { hz0, err = floor.timeGet(ctx, "/healthz"); return wrap("GET /healthz", err) },
		func() (err error) { me0, err = floor.timeGet(ctx, "/v1/me"); return wrap("GET /v1/me", err) })
	const warmup = 50
	if err := interleave(ctx, warmup, n, runs, func() {
		for _, t := range targets {
			t.hd, t.dd, t.diffs = append(t.hd, t.h0), append(t.dd, t.d0), append(t.diffs, t.h0-t.d0)
		}
		hz, me = append(hz, hz0), append(me, me0)
	}); err != nil {
		return "", err
	}

	tb := newTable("round trip", "median", "p90", "p99", "max", "over direct (median − median)", "ratio to direct")
	row := func(name string, ds []time.Duration, base []time.Duration) {
		st := summarize(ds)
		over, rat := "", ""
		if base != nil {
			sb := summarize(base)
			over, rat = signedMSP(st.median-sb.median), ratio(float64(st.median), float64(sb.median))
		}
		tb.add(name, msp(st.median), msp(st.p90), msp(percentile(ds, 99)), msp(st.max), over, rat)
	}
	row("`GET /healthz`, no key (HTTP floor)", hz, nil)
	row("`GET /v1/me`, with a key (authenticated HTTP floor)", me, nil)
	var bullets []string
	for _, t := range targets {
		row(fmt.Sprintf("`Session.Execute(\"%s\")` directly (baseline, %s)", codeHTTP, strings.TrimSuffix(t.name, " (the default)")), t.dd, nil)
		row(fmt.Sprintf("**`POST /v1/sessions/{id}/execute`**, %s", t.name), t.hd, t.dd)
		sh := summarize(t.hd)
		bullets = append(bullets, fmt.Sprintf("- Over HTTP, %s: **%s** median, **%s** p99; paired difference to the direct call %s median, %s p99. Target ≤ %s median: %s.",
			t.name, msp(sh.median), msp(percentile(t.hd, 99)), signedMSP(median(t.diffs)), signedMSP(percentile(t.diffs, 99)),
			msp(targetHTTPExecute), verdict(sh.median <= targetHTTPExecute)))
	}
	bullets = append(bullets, fmt.Sprintf("- Recording in the history adds %s to the median over HTTP (%s with it, %s without).",
		signedMSP(median(targets[0].hd)-median(targets[1].hd)), msp(median(targets[0].hd)), msp(median(targets[1].hd))),
		fmt.Sprintf("- The authenticated floor (`GET /v1/me`: key lookup in SQLite, JSON, log line) is %s median; the unauthenticated one %s.",
			msp(median(me)), msp(median(hz))))

	var md strings.Builder
	fmt.Fprintf(&md, `
### Round trip of an execution over HTTP

`+"`POST /v1/sessions/{id}/execute`"+` with `+"`{\"code\": \"%s\"}`"+` (not streamed: the
response holds every event), timed at the client from sending the request
to reading the whole response, with one keep-alive connection, on a warm
session; %d times after %d warm-up runs. Beside it, the same cell run
directly with `+"`Session.Execute`"+` on the same session (the server's own
kernel), and two HTTP floors: `+"`GET /healthz`"+` (no key) and `+"`GET /v1/me`"+` (a
key checked against the store, plus a query of the day's token usage). The
execution runs on two servers, one recording executions in the history as
`+"`interp serve`"+` does, one not. All runs are interleaved, rotating their
order.

%s
%s
`, codeHTTP, n, warmup, tb, strings.Join(bullets, "\n"))
	return md.String(), nil
}

// ---------------------------------------------------------------- load

// loadRound is one round of the load test.
type loadRound struct {
	lat  []time.Duration
	wall time.Duration
	errs []error
}

// loadAgg is the rounds of one kind put together.
type loadAgg struct {
	lat   []time.Duration
	walls []time.Duration
	errs  []error
	total int
}

func aggregate(rs []loadRound) loadAgg {
	var a loadAgg
	for _, r := range rs {
		a.lat = append(a.lat, r.lat...)
		a.walls = append(a.walls, r.wall)
		a.errs = append(a.errs, r.errs...)
		a.total += httpClients * httpPerClient
	}
	return a
}

// loadPhase is the load test on one server.
type loadPhase struct {
	start          time.Duration // creating the sessions
	perSession     float64       // MemAvailable each session took
	viaHTTP, direc loadAgg
}

func (s *srvBench) load(ctx context.Context, cfg *config) (string, error) {
	m := httpClients
	keys := make([]string, m)
	for i := range m {
		var err error
		if keys[i], err = s.newUser(ctx, fmt.Sprintf("load-%03d", i)); err != nil {
			return "", err
		}
	}
	rounds := min(cfg.Rounds, httpRoundsMax)
	rec, err := s.loadOn(ctx, cfg, s.rec, "history recorded", keys, rounds)
	if err != nil {
		return "", err
	}
	norec, err := s.loadOn(ctx, cfg, s.norec, "history off", keys, rounds)
	if err != nil {
		return "", err
	}

	perRound := m * httpPerClient
	tb := newTable(fmt.Sprintf("%d × %d `%s` at once", m, httpPerClient, codeHTTP), "median", "p90", "p99", "max",
		"total time, median round", "throughput", "errors")
	add := func(name string, a loadAgg) {
		st := summarize(a.lat)
		wall := median(a.walls)
		tb.add(name, msp(st.median), msp(st.p90), msp(percentile(a.lat, 99)), msp(st.max),
			ms(wall), fmt.Sprintf("%.0f executions/s", float64(perRound)/wall.Seconds()), fmt.Sprintf("%d of %d", len(a.errs), a.total))
	}
	add(fmt.Sprintf("%d goroutines, `Session.Execute` directly (baseline)", m), rec.direc)
	add(fmt.Sprintf("**%d HTTP clients**, history recorded (the default)", m), rec.viaHTTP)
	add(fmt.Sprintf("%d goroutines, `Session.Execute` directly (baseline, second server)", m), norec.direc)
	add(fmt.Sprintf("%d HTTP clients, history recording off", m), norec.viaHTTP)

	var errLines []string
	for _, x := range []struct {
		what string
		a    loadAgg
	}{
		{"over HTTP, history recorded", rec.viaHTTP}, {"over HTTP, history off", norec.viaHTTP},
		{"directly", loadAgg{errs: append(rec.direc.errs, norec.direc.errs...), total: rec.direc.total + norec.direc.total}},
	} {
		if len(x.a.errs) == 0 {
			errLines = append(errLines, fmt.Sprintf("- Errors %s: **none** in %d executions (there must be none).", x.what, x.a.total))
			continue
		}
		errLines = append(errLines, fmt.Sprintf("- **Errors %s: %d of %d executions failed** (there must be none); the first: %s.",
			x.what, len(x.a.errs), x.a.total, oneLine(x.a.errs[0].Error())))
	}
	h, d := rec.viaHTTP, rec.direc
	hw, dw := median(h.walls), median(d.walls)
	nw := median(norec.viaHTTP.walls)
	var md strings.Builder
	fmt.Fprintf(&md, `
### %d clients at once

%d users, each with an API key, a session and a client of its own (its
own connection, kept alive), the quotas lifted. The %d sessions (%s,
memory limit %s each) are created over HTTP %d at a time, each with a
first cell; then each client runs `+"`%s`"+` %d times in a row, all %d at once:
%d executions, each timed at its client from request to response read.
Beside it, the same %d executions made directly with `+"`Session.Execute`"+`
on the same sessions by %d goroutines. %d rounds of each, alternating
which goes first. This runs first on a server that records every
execution in its history, as by default, then, its sessions closed, on
one that does not. The server, the clients and the baseline's goroutines
share the machine's %d cores with the %d sandboxes (a quota of one core
each).

%s
- An execution among %d clients: **%s** median, **%s** p99 over HTTP;
  %s median, %s p99 directly (%s the median).
- Total time for %d executions: **%s** over HTTP, %s directly (median
  round; %s): **%.0f executions/s** over HTTP, %.0f directly.
- Without recording the history: %s median, %s p99 over HTTP, %s in
  all (%.0f executions/s, %s the direct baseline of the same sessions).
%s
- Creating the %d sessions took %s (%s MemAvailable each, %s), and %s
  on the second server.
`, m, m, m, s.rtName, mib(httpMemory), 2*runtime.NumCPU(),
		codeHTTP, httpPerClient, m, perRound, perRound, m, rounds, runtime.NumCPU(), m,
		tb,
		m, msp(median(h.lat)), msp(percentile(h.lat, 99)), msp(median(d.lat)), msp(percentile(d.lat, 99)),
		ratio(float64(median(h.lat)), float64(median(d.lat))),
		perRound, ms(hw), ms(dw), ratio(float64(hw), float64(dw)), float64(perRound)/hw.Seconds(), float64(perRound)/dw.Seconds(),
		msp(median(norec.viaHTTP.lat)), msp(percentile(norec.viaHTTP.lat, 99)), ms(nw), float64(perRound)/nw.Seconds(),
		ratio(float64(nw), float64(median(norec.direc.walls))),
		strings.Join(errLines, "\n"),
		m, rec.start.Round(time.Millisecond), mib(rec.perSession), s.preloadNote(), norec.start.Round(time.Millisecond))
	return md.String(), nil
}

// loadOn runs the load test on one server: it creates a session for each
// key, runs the rounds, and closes the sessions.
func (s *srvBench) loadOn(ctx context.Context, cfg *config, bs *benchServer, name string, keys []string, rounds int) (*loadPhase, error) {
	m := len(keys)
	clients := make([]*httpClient, m)
	ids := make([]string, m)
	sessions := make([]*session.Session, m)
	for i, key := range keys {
		clients[i] = newHTTPClient(bs.url, key)
	}
	defer func() {
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() {
				if ids[i] != "" {
					dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					c.do(dctx, "DELETE", "/v1/sessions/"+ids[i], nil, http.StatusNoContent)
					cancel()
				}
				c.close()
			})
		}
		wg.Wait()
	}()
	// Sessions start a few at a time: this measures running, not
	// starting. Each runs a first cell over HTTP.
	cfg.logf("server: %s: creating %d sessions", name, m)
	memBefore, _ := settle(ctx)
	t0 := time.Now()
	sem := make(chan struct{}, 2*runtime.NumCPU())
	startErrs := make([]error, m)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			id, err := c.newSession(ctx)
			ids[i] = id
			if err == nil {
				_, err = c.execute(ctx, id)
			}
			if err == nil {
				sessions[i], err = bs.srv.Manager().Get(id)
			}
			startErrs[i] = err
		})
	}
	wg.Wait()
	ph := &loadPhase{start: time.Since(t0)}
	if err := errors.Join(startErrs...); err != nil {
		return nil, fmt.Errorf("start %d sessions: %w", m, err)
	}
	if memAfter, err := settle(ctx); err == nil && memBefore != nil {
		ph.perSession = float64(memBefore["MemAvailable"]-memAfter["MemAvailable"]) / float64(m)
	}

	// round runs httpPerClient executions in each of the m sessions at
	// once, one goroutine each, over HTTP or directly.
	round := func(overHTTP bool) loadRound {
		start := make(chan struct{})
		lat := make([][]time.Duration, m)
		errs := make([][]error, m)
		var wg sync.WaitGroup
		for i := range m {
			wg.Go(func() {
				ds := make([]time.Duration, 0, httpPerClient)
				<-start
				for range httpPerClient {
					var d time.Duration
					var err error
					if overHTTP {
						d, err = clients[i].timeHTTP(ctx, ids[i])
					} else {
						d, err = timeDirect(ctx, sessions[i])
					}
					if err != nil {
						errs[i] = append(errs[i], err)
						if ctx.Err() != nil {
							break
						}
						continue
					}
					ds = append(ds, d)
				}
				lat[i] = ds
			})
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		r := loadRound{wall: time.Since(t0)}
		for i := range m {
			r.lat = append(r.lat, lat[i]...)
			r.errs = append(r.errs, errs[i]...)
		}
		return r
	}

	var viaHTTP, direct []loadRound
	for r := range rounds {
		for j := range 2 {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			overHTTP := (r+j)%2 == 0
			cfg.logf("server: %s: round %d of %d, %s", name, r+1, rounds, map[bool]string{true: "over HTTP", false: "direct"}[overHTTP])
			if rr := round(overHTTP); overHTTP {
				viaHTTP = append(viaHTTP, rr)
			} else {
				direct = append(direct, rr)
			}
		}
	}
	ph.viaHTTP, ph.direc = aggregate(viaHTTP), aggregate(direct)
	return ph, nil
}
