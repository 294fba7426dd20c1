package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// Targets of the session section.
const (
	targetRoundTrip = time.Millisecond     // median `1+1` on a warm kernel
	targetPoolReady = 5 * time.Millisecond // median request to a ready session from the pool
)

// What the session section runs.
const (
	codeRoundTrip  = "1+1"
	codeFirstCell  = "1"
	codeImports    = "import numpy, pandas, matplotlib.pyplot"
	codeConcurrent = "sum(range(10**5))"
	// poolSize is the warm pool's size: the brief asks for 2 or 3, and a
	// smaller pool refills sooner between runs.
	poolSize = 2
	// concurrentMemory is each kernel's memory limit when many run at once.
	concurrentMemory = 256 << 20
	// concurrentNeed is what a kernel of the base environment is taken to
	// need when deciding whether many fit: well over what one uses idle.
	concurrentNeed = 128 << 20
)

var preloadModules = []string{"numpy", "pandas", "matplotlib.pyplot"}

// echoScript is the round-trip baseline: a Python process that reads one
// length-prefixed JSON request from stdin and answers with the same two
// frames a runner sends for `1+1` (a display with the value, then done),
// in one write.
const echoScript = `import json, os, sys
def read(n):
    b = b""
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
count = 0
while True:
    n = int.from_bytes(read(4), "big")
    req = json.loads(read(n))
    count += 1
    out = b""
    for ev in ({"type": "display", "id": req["id"], "data": {"text/plain": "2"}, "metadata": {}},
               {"type": "done", "id": req["id"], "status": "ok", "execution_count": count,
                "cpu_time": 0.000123, "peak_memory": 41943040}):
        body = json.dumps(ev, separators=(",", ":")).encode()
        out += len(body).to_bytes(4, "big") + body
    os.write(1, out)
`

// idleShellScript is the idle-memory baseline: what a runner with IPython
// holds once it has run a cell, in a bare process. It says when it is
// ready, then waits on stdin.
const idleShellScript = `import sys
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
c = Config()
c.HistoryManager.enabled = False
c.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=c)
shell.run_cell("1", store_history=True)
sys.__stdout__.write("ready\n")
sys.__stdout__.flush()
sys.stdin.read()
`

// sessBench holds what the session section's benchmarks share.
type sessBench struct {
	b     *sandbox.Namespaces
	base  *python.Runtime // the base environment, with IPython
	plain *python.Runtime // the system's python3, without IPython; may be nil
	tmp   string          // home, caches and temporary files of bare processes
	state string          // the kernels' host-side state
}

func sessionSection(ctx context.Context, cfg *config) (string, error) {
	s, cleanup, err := newSessBench()
	if err != nil {
		return "", err
	}
	defer cleanup()

	var md strings.Builder
	md.WriteString(s.about())
	parts := []struct {
		what string
		run  func(context.Context, *config) (string, error)
	}{
		{fmt.Sprintf("round trip of `%s` on a warm kernel, %d iterations", codeRoundTrip, 10*cfg.N), s.roundTrips},
		{fmt.Sprintf("ready session from the warm pool and cold, %d runs", 4*cfg.Rounds), s.poolAndCold},
		{fmt.Sprintf("memory of %d idle kernels, %d rounds", cfg.Idle, cfg.Rounds), s.idleMemory},
		{fmt.Sprintf("%d kernels executing at once, %d rounds", cfg.Burst, cfg.Rounds), s.concurrent},
	}
	for _, p := range parts {
		cfg.logf("session: %s", p.what)
		t0 := time.Now()
		part, err := p.run(ctx, cfg)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p.what, err)
		}
		cfg.logf("session: done in %s", time.Since(t0).Round(time.Second))
		md.WriteString(part)
	}
	return md.String(), nil
}

// newSessBench makes what the session and burst sections share: a
// backend, the runtimes and directories of their own, which cleanup
// removes.
func newSessBench() (s *sessBench, cleanup func(), err error) {
	base, err := python.Find("")
	if err != nil {
		return nil, nil, err
	}
	if base.Env == "" {
		return nil, nil, errors.New("the session section needs the base environment (numpy, pandas, matplotlib, IPython): run scripts/setup")
	}
	b, err := sandbox.NewNamespaces()
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "interp-bench-session-")
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	// The kernels' host-side state goes to a directory of the benchmark's
	// own, removed at the end. It is bound into their sandboxes, so it must
	// not live under /tmp, which a sandbox's own /tmp hides.
	state, err := os.MkdirTemp("/var/tmp", "interp-bench-state-")
	if err == nil {
		err = os.Chmod(state, 0o711)
	}
	cleanup = func() {
		b.Close()
		os.RemoveAll(tmp)
		if state != "" {
			os.RemoveAll(state)
		}
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	s = &sessBench{b: b, base: base, tmp: tmp, state: state}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		s.plain = python.System("/usr/bin/python3")
	}
	return s, cleanup, nil
}

// about describes what the section runs.
func (s *sessBench) about() string {
	version := func(py string) string {
		out, err := exec.Command(py, "-S", "-c", "import sys; print(sys.version.split()[0])").Output()
		if err != nil {
			return py
		}
		return py + " (Python " + strings.TrimSpace(string(out)) + ")"
	}
	plain := "not found: the plain-Python runner is not measured"
	if s.plain != nil {
		plain = version(s.plain.Executable) + ", without IPython"
	}
	return fmt.Sprintf(`Persistent Python sessions (`+"`internal/session`"+`): a kernel is one long-lived
Python process running the runner in a sandbox of the Namespaces backend.
Baselines are bare processes started with `+"`os/exec`"+` outside any sandbox,
with the same interpreter.

- Base environment: %s, with IPython, numpy, pandas and matplotlib
- Plain Python: %s
`, version(s.base.Executable), plain)
}

func (s *sessBench) kernelConfig(rt *python.Runtime) session.Config {
	return session.Config{Backend: s.b, Runtime: rt, StateDir: s.state}
}

// bareEnv is the environment of bare baseline processes: the kernel's,
// with the home, caches and temporary files in s.tmp.
func (s *sessBench) bareEnv(extra ...string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + s.tmp, "TMPDIR=" + s.tmp,
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "USER=bench",
		"MPLBACKEND=Agg", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
		"XDG_CACHE_HOME=" + filepath.Join(s.tmp, ".cache"),
		"MPLCONFIGDIR=" + filepath.Join(s.tmp, ".cache", "matplotlib"),
		"IPYTHONDIR=" + filepath.Join(s.tmp, "ipython"),
	}
	return append(env, extra...) // later entries win in os/exec
}

// checkDone turns a cell that did not end well into an error.
func checkDone(done session.Event, err error) error {
	if err != nil {
		return err
	}
	if done.Status != event.StatusOK {
		if done.Reason != "" {
			return fmt.Errorf("cell ended %s: %s", done.Status, done.Reason)
		}
		return fmt.Errorf("cell ended %s", done.Status)
	}
	return nil
}

// timeCell runs code on a kernel and returns how long Execute took.
func timeCell(ctx context.Context, k *session.Kernel, code string) (time.Duration, error) {
	t0 := time.Now()
	done, err := k.Execute(ctx, code, session.ExecOptions{}, nil)
	d := time.Since(t0)
	return d, checkDone(done, err)
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// msp formats a duration in milliseconds, to the microsecond.
func msp(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

func signedMSP(d time.Duration) string { return fmt.Sprintf("%+.3f ms", float64(d)/1e6) }

// ---------------------------------------------------------- round trips

// echoMsg is the part of the runner protocol the echo baseline speaks.
type echoMsg struct {
	Type           string         `json:"type"`
	ID             string         `json:"id,omitempty"`
	Code           string         `json:"code,omitempty"`
	MaxImageBytes  int64          `json:"max_image_bytes,omitempty"`
	Data           map[string]any `json:"data,omitempty"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	Status         string         `json:"status,omitempty"`
	ExecutionCount int            `json:"execution_count,omitempty"`
	CPUTime        float64        `json:"cpu_time,omitempty"`
	PeakMemory     int64          `json:"peak_memory,omitempty"`
}

// echoProc is a bare Python process at the other end of a pipe pair.
type echoProc struct {
	cmd *exec.Cmd
	w   *os.File // its stdin
	r   *os.File // its stdout
	seq int
}

func (s *sessBench) startEcho(py string) (*echoProc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(py, "-I", "-c", echoScript)
	cmd.Env = s.bareEnv()
	cmd.Stdin, cmd.Stdout = inR, outW
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	return &echoProc{cmd: cmd, w: inW, r: outR}, nil
}

// roundTrip sends an execute request and reads the two frames of the
// answer, framed and encoded as the kernel does it.
func (e *echoProc) roundTrip() (time.Duration, error) {
	e.seq++
	id := "c" + strconv.Itoa(e.seq)
	t0 := time.Now()
	b, err := json.Marshal(&echoMsg{Type: "execute", ID: id, Code: codeRoundTrip, MaxImageBytes: 10 << 20})
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	if _, err := e.w.Write(buf); err != nil {
		return 0, err
	}
	var m echoMsg
	for range 2 {
		var hdr [4]byte
		if _, err := io.ReadFull(e.r, hdr[:]); err != nil {
			return 0, err
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(e.r, body); err != nil {
			return 0, err
		}
		m = echoMsg{}
		if err := json.Unmarshal(body, &m); err != nil {
			return 0, err
		}
	}
	d := time.Since(t0)
	if m.Type != "done" || m.ID != id {
		return 0, fmt.Errorf("echo answered %s %s, want done %s", m.Type, m.ID, id)
	}
	return d, nil
}

func (e *echoProc) close() {
	e.w.Close()
	t := time.AfterFunc(5*time.Second, func() { _ = e.cmd.Process.Kill() })
	_ = e.cmd.Wait()
	t.Stop()
	e.r.Close()
}

// rtCase is one kernel and its echo baseline, with the same interpreter.
type rtCase struct {
	name    string
	k       *session.Kernel
	echo    *echoProc
	kd, ed  []time.Duration
	k0, e0  time.Duration
	diffs   []time.Duration // paired kernel − echo
	ipython bool
}

func (s *sessBench) roundTrips(ctx context.Context, cfg *config) (string, error) {
	n := 10 * cfg.N
	rts := []*python.Runtime{s.base}
	names := []string{"base environment, IPython"}
	if s.plain != nil {
		rts = append(rts, s.plain)
		names = append(names, "/usr/bin/python3, plain runner")
	}
	var cases []*rtCase
	defer func() {
		for _, c := range cases {
			if c.k != nil {
				c.k.Close()
			}
			if c.echo != nil {
				c.echo.close()
			}
		}
	}()
	for i, rt := range rts {
		c := &rtCase{name: names[i]}
		cases = append(cases, c)
		var err error
		if c.k, err = session.Start(ctx, s.kernelConfig(rt)); err != nil {
			return "", fmt.Errorf("%s: start kernel: %w", c.name, err)
		}
		_, c.ipython = c.k.Python()
		if c.echo, err = s.startEcho(rt.Executable); err != nil {
			return "", fmt.Errorf("%s: start echo: %w", c.name, err)
		}
	}
	// Each iteration runs every kernel and every echo once, rotating the
	// order so that none always follows another.
	var runs []func() error
	for _, c := range cases {
		runs = append(runs,
			func() (err error) {
				c.k0, err = timeCell(ctx, c.k, codeRoundTrip)
				return wrap(c.name+", kernel", err)
			},
			func() (err error) { c.e0, err = c.echo.roundTrip(); return wrap(c.name+", echo", err) })
	}
	const warmup = 50
	if err := interleave(ctx, warmup, n, runs, func() {
		for _, c := range cases {
			c.kd, c.ed, c.diffs = append(c.kd, c.k0), append(c.ed, c.e0), append(c.diffs, c.k0-c.e0)
		}
	}); err != nil {
		return "", err
	}

	t := newTable("round trip of `"+codeRoundTrip+"`", "median", "p90", "p99", "max", "overhead (median − echo median)", "ratio to echo")
	var bullets []string
	for _, c := range cases {
		ek, ee := summarize(c.kd), summarize(c.ed)
		t.add(c.name+": echo over a pipe pair (baseline)", msp(ee.median), msp(ee.p90), msp(percentile(c.ed, 99)), msp(ee.max), "", "")
		kind := "plain runner"
		if c.ipython {
			kind = "IPython runner"
		}
		t.add(fmt.Sprintf("%s: warm kernel (%s)", c.name, kind), msp(ek.median), msp(ek.p90), msp(percentile(c.kd, 99)), msp(ek.max),
			signedMSP(ek.median-ee.median), ratio(float64(ek.median), float64(ee.median)))
		bullets = append(bullets, fmt.Sprintf("- %s: **%s** median, %s p99 (paired difference to the echo: %s median, %s p99). Target ≤ %s median: %s.",
			c.name, msp(ek.median), msp(percentile(c.kd, 99)), signedMSP(median(c.diffs)), signedMSP(percentile(c.diffs, 99)),
			msp(targetRoundTrip), verdict(ek.median <= targetRoundTrip)))
	}
	if len(cases) == 2 {
		a, b := summarize(cases[0].kd), summarize(cases[1].kd)
		bullets = append(bullets, fmt.Sprintf("- IPython runner vs plain runner: %s (%s).",
			ratio(float64(a.median), float64(b.median)), signedMSP(a.median-b.median)))
	}

	var md strings.Builder
	fmt.Fprintf(&md, `
### Round trip of a cell on a warm kernel

`+"`Kernel.Execute(\"%s\")`"+` until its done event, on a kernel that has already
run %d cells, %d times; beside it, the same exchange with a trivial Python
process outside any sandbox over a plain pipe pair: Go writes the same
execute request as a 4-byte-length-prefixed JSON frame and reads back the
same two frames a runner answers (display, done), decoded with
`+"`encoding/json`"+`. The echo is what any process boundary costs; the
overhead over it is Interp's own (Go's reader goroutine and channel, the
workspace snapshot before and after each cell, the runner's writer thread,
and IPython's `+"`run_cell`"+` or the plain runner's executor). Runs of all
kernels and echoes are interleaved, rotating their order.

%s
%s
`, codeRoundTrip, warmup, n, t, strings.Join(bullets, "\n"))
	return md.String(), nil
}

// ------------------------------------------------------- pool and cold

// waitPool waits until the pool holds n ready kernels.
func waitPool(ctx context.Context, m *session.Manager, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for m.Pool().Ready() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("the warm pool has %d of %d kernels ready after %s", m.Pool().Ready(), n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// preloaded checks that a session has the pool's modules imported.
func preloaded(ctx context.Context, s *session.Session) error {
	var text string
	done, err := s.Execute(ctx, "import sys; all(m in sys.modules for m in "+pyList(preloadModules)+")",
		session.ExecOptions{}, func(ev session.Event) {
			if ev.Type == event.Display {
				text, _ = ev.Data["text/plain"].(string)
			}
		})
	if err := checkDone(done, err); err != nil {
		return err
	}
	if text != "True" {
		return fmt.Errorf("a session from the pool lacks some of %v (it says %q)", preloadModules, text)
	}
	return nil
}

func pyList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (s *sessBench) poolAndCold(ctx context.Context, cfg *config) (string, error) {
	runs := 4 * cfg.Rounds
	const warmup = 1
	m := session.NewManager(session.ManagerConfig{
		Kernel:      s.kernelConfig(s.base),
		MaxSessions: 8,
		IdleTimeout: -1,
		Pool:        session.PoolConfig{Size: poolSize, Preload: preloadModules},
	})
	defer m.Shutdown()
	// The first fill may read the environment from a cold disk.
	t0 := time.Now()
	if err := waitPool(ctx, m, poolSize, 10*time.Minute); err != nil {
		return "", err
	}
	firstFill := time.Since(t0)

	var create, first, second, refill []time.Duration
	var coldStart, coldImport, cold, bare, bareNoExit, bareFresh []time.Duration
	var cs, ci, bd, bn, bf, qf time.Duration
	var quiet []time.Duration
	pyImport := []string{"-c", codeImports}
	pyImportNoExit := []string{"-c", codeImports + "; import os; os._exit(0)"}
	var quietChecked bool
	measures := []func() error{
		func() error { // the first cell from a pool that does not refill
			nf, err := s.quietPoolFirstCell(ctx, !quietChecked)
			quietChecked = true
			qf = nf
			return wrap("pool without refill", err)
		},
		func() error { // cold: a new kernel, then the imports as its first cell
			t0 := time.Now()
			k, err := session.Start(ctx, s.kernelConfig(s.base))
			if err != nil {
				return fmt.Errorf("cold start: %w", err)
			}
			defer k.Close()
			cs = time.Since(t0)
			t1 := time.Now()
			err = checkDone(k.Execute(ctx, codeImports, session.ExecOptions{}, nil))
			ci = time.Since(t1)
			return wrap("cold imports", err)
		},
		func() (err error) {
			bd, err = s.runBare(ctx, s.base.Executable, pyImport)
			return wrap("bare imports", err)
		},
		func() (err error) {
			bn, err = s.runBare(ctx, s.base.Executable, pyImportNoExit)
			return wrap("bare imports, no exit", err)
		},
		func() error { // as above, with an empty matplotlib cache as every sandbox has
			dir, err := os.MkdirTemp(s.tmp, "mpl-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			bf, err = s.runBare(ctx, s.base.Executable, pyImportNoExit, "MPLCONFIGDIR="+dir)
			return wrap("bare imports, empty matplotlib cache", err)
		},
	}
	for i := range warmup + runs {
		if err := waitPool(ctx, m, poolSize, 5*time.Minute); err != nil {
			return "", err
		}
		t0 := time.Now()
		sess, err := m.Create(ctx, session.CreateOptions{})
		dc := time.Since(t0)
		if err != nil {
			return "", fmt.Errorf("create: %w", err)
		}
		t1 := time.Now()
		err = checkDone(sess.Execute(ctx, codeFirstCell, session.ExecOptions{}, nil))
		df := time.Since(t1)
		var d2 time.Duration
		if err == nil {
			t2 := time.Now()
			err = checkDone(sess.Execute(ctx, codeFirstCell, session.ExecOptions{}, nil))
			d2 = time.Since(t2)
		}
		if err == nil && i == 0 {
			err = preloaded(ctx, sess)
		}
		sess.Close()
		if err != nil {
			return "", fmt.Errorf("first cells: %w", err)
		}
		// The pool refills in the background; nothing else runs meanwhile.
		if err := waitPool(ctx, m, poolSize, 5*time.Minute); err != nil {
			return "", err
		}
		dr := time.Since(t0)
		for j := range measures {
			if err := measures[(i+j)%len(measures)](); err != nil {
				return "", err
			}
		}
		if i >= warmup {
			create, first, second, refill = append(create, dc), append(first, df), append(second, d2), append(refill, dr)
			coldStart, coldImport, cold = append(coldStart, cs), append(coldImport, ci), append(cold, cs+ci)
			bare, bareNoExit, bareFresh = append(bare, bd), append(bareNoExit, bn), append(bareFresh, bf)
			quiet = append(quiet, qf)
		}
	}

	sc, sf, s2, sr := summarize(create), summarize(first), summarize(second), summarize(refill)
	ready := addDurations(create, first)
	sReady := summarize(ready)
	t1 := newTable("warm pool", "median", "p90", "max")
	t1.add("`Manager.Create` (request to session)", msp(sc.median), msp(sc.p90), msp(sc.max))
	t1.add("then the first cell `"+codeFirstCell+"`", msp(sf.median), msp(sf.p90), msp(sf.max))
	t1.add("**Create + first cell**", msp(sReady.median), msp(sReady.p90), msp(sReady.max))
	t1.add("then a second cell `"+codeFirstCell+"` (diagnostic)", msp(s2.median), msp(s2.p90), msp(s2.max))
	sq := summarize(quiet)
	t1.add("first cell `"+codeFirstCell+"` from a pool that does not refill (diagnostic)", msp(sq.median), msp(sq.p90), msp(sq.max))
	t1.add("refill: Create until the pool is full again (diagnostic)", ms(sr.median), ms(sr.p90), ms(sr.max))

	sCold, sStart, sImp := summarize(cold), summarize(coldStart), summarize(coldImport)
	sb, sbn, sbf := summarize(bare), summarize(bareNoExit), summarize(bareFresh)
	t2 := newTable("`"+codeImports+"`", "median", "p90", "max", "vs bare (median difference)")
	t2.add("**bare `python -c \"…\"` (baseline)**", ms(sb.median), ms(sb.p90), ms(sb.max), "")
	t2.add("bare, ending with `os._exit(0)`: no interpreter exit (diagnostic)", ms(sbn.median), ms(sbn.p90), ms(sbn.max), signedMS(sbn.median-sb.median))
	t2.add("bare, `os._exit(0)`, empty matplotlib cache (diagnostic)", ms(sbf.median), ms(sbf.p90), ms(sbf.max), signedMS(sbf.median-sb.median))
	t2.add("cold kernel: `session.Start` (until the runner's hello)", ms(sStart.median), ms(sStart.p90), ms(sStart.max), "")
	t2.add("cold kernel: then the imports as its first cell", ms(sImp.median), ms(sImp.p90), ms(sImp.max), "")
	t2.add("**cold kernel: Start + imports**", ms(sCold.median), ms(sCold.p90), ms(sCold.max), signedMS(sCold.median-sb.median))
	t2.add("warm pool: Create + first cell (from above)", msp(sReady.median), msp(sReady.p90), msp(sReady.max), signedMS(sReady.median-sb.median))

	var md strings.Builder
	fmt.Fprintf(&md, `
### A session with numpy, pandas and matplotlib, warm and cold

**Warm.** A `+"`Manager`"+` with a pool of %d kernels of the base environment
preloading %s. Once the pool is full, `+"`Manager.Create`"+` is timed, then a
first cell `+"`%s`"+` on the new session, which proves it ready (the first
run also checked that the modules are imported), then a second; the session
is closed and the pool left to refill before the next run. The pool starts
refilling as soon as Create takes a kernel, so the first cells share the
machine's %d cores with that refill. A diagnostic row times the first cell
on a session from a pool of one that never refills (a memory budget of one
byte stops it after its first kernel), created and shut down for each run
while the main pool sits full and idle: the same cell without the refill's
competition. %d runs after %d warm-up run; the pool's first fill took %s.

%s
- **Request to a ready session, from the warm pool: %s** median for Create
  alone, **%s** with the first cell. Target ≤ %s median (Create + first
  cell): %s.

**Cold.** Between the warm runs, with the pool full and idle: a new kernel
(`+"`session.Start`"+`) then `+"`%s`"+` as its first cell, beside the bare
`+"`%s -c \"%s\"`"+` outside any sandbox, rotating their order. The bare
run includes the interpreter's exit, which a cold kernel does not pay: the
first diagnostic row leaves it out. Sandboxes start with an empty /tmp,
where the kernel points matplotlib's cache, so every cold kernel rebuilds
matplotlib's font list: the second diagnostic row shows what that costs a
bare process.

%s
- **Cold: %s** median, %s the bare imports (%s; %s against the bare
  imports without the exit). The warm pool is %s faster than cold.
`, poolSize, strings.Join(preloadModules, ", "), codeFirstCell, runtime.NumCPU(), runs, warmup, firstFill.Round(time.Millisecond),
		t1, msp(sc.median), msp(sReady.median), msp(targetPoolReady), verdict(sReady.median <= targetPoolReady),
		codeImports, s.base.Executable, codeImports,
		t2, ms(sCold.median), ratio(float64(sCold.median), float64(sb.median)), signedMS(sCold.median-sb.median),
		signedMS(sCold.median-sbn.median), ratio(float64(sCold.median), float64(sReady.median)))
	return md.String(), nil
}

// quietPoolFirstCell times the first cell on a session from a pool of one
// kernel that does not refill: with a memory budget of one byte, the pool
// stops once it has measured its first kernel. With check it also makes
// sure that no refill started.
func (s *sessBench) quietPoolFirstCell(ctx context.Context, check bool) (time.Duration, error) {
	m := session.NewManager(session.ManagerConfig{
		Kernel:      s.kernelConfig(s.base),
		MaxSessions: 2,
		IdleTimeout: -1,
		Pool:        session.PoolConfig{Size: 1, Preload: preloadModules, MemoryBudget: 1},
	})
	defer m.Shutdown()
	if err := waitPool(ctx, m, 1, 5*time.Minute); err != nil {
		return 0, err
	}
	sess, err := m.Create(ctx, session.CreateOptions{})
	if err != nil {
		return 0, err
	}
	defer sess.Close()
	t0 := time.Now()
	err = checkDone(sess.Execute(ctx, codeFirstCell, session.ExecOptions{}, nil))
	d := time.Since(t0)
	if err == nil && check {
		// A refill would have a kernel ready well within this.
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if m.Pool().Ready() > 0 {
			err = errors.New("the pool refilled despite its memory budget: the diagnostic is invalid")
		}
	}
	return d, err
}

func addDurations(a, b []time.Duration) []time.Duration {
	out := make([]time.Duration, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// runBare runs py with args outside any sandbox and returns the time until
// it exited.
func (s *sessBench) runBare(ctx context.Context, py string, args []string, env ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Env = s.bareEnv(env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil && stderr.Len() > 0 {
		err = fmt.Errorf("%w: %s", err, oneLine(lastN(stderr.String(), 500)))
	}
	return d, err
}

func lastN(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// ------------------------------------------------------------- memory

// sandboxCgroupParent returns the directory holding this process's sandbox
// cgroups in the memory controller: interp/ under our own memory cgroup on
// cgroup v1, /sys/fs/cgroup/interp on v2.
func sandboxCgroupParent() (dir string, v2 bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) != 3 || !slices.Contains(strings.Split(f[1], ","), "memory") {
				continue
			}
			d := filepath.Join("/sys/fs/cgroup/memory", f[2], "interp")
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", f[2])); err == nil {
				return d, false
			}
		}
	}
	return "/sys/fs/cgroup/interp", true
}

// sandboxCgroups lists this process's sandbox cgroups.
func sandboxCgroups(parent string) map[string]bool {
	out := make(map[string]bool)
	matches, _ := filepath.Glob(filepath.Join(parent, fmt.Sprintf("sbx-%d-*", os.Getpid())))
	for _, m := range matches {
		out[m] = true
	}
	return out
}

// cgroupMem is what a sandbox's memory cgroup says about it.
type cgroupMem struct {
	current     int64 // memory.usage_in_bytes (v1) or memory.current (v2)
	anon, shmem int64 // from memory.stat
	file        int64 // page cache charged to it, shmem included
	pids        []int
}

func readCgroupMem(dir string, v2 bool) (cgroupMem, error) {
	var c cgroupMem
	cur := "memory.usage_in_bytes"
	anonKey, fileKey := "rss", "cache"
	if v2 {
		cur, anonKey, fileKey = "memory.current", "anon", "file"
	}
	b, err := os.ReadFile(filepath.Join(dir, cur))
	if err != nil {
		return c, err
	}
	c.current, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	b, err = os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return c, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case anonKey:
			c.anon = n
		case fileKey:
			c.file = n
		case "shmem":
			c.shmem = n
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return c, err
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			c.pids = append(c.pids, pid)
		}
	}
	return c, nil
}

// idleSample is what one batch of idle kernels or processes cost, per
// process, in bytes.
type idleSample struct {
	pss, avail float64
	// kernels only
	peak, current, anon, shmem, file float64
	procs                            float64 // processes per sandbox
	// shared is the Pss of what the batch's kernels share outside their
	// sandboxes (a zygote), measured with them; not per kernel.
	shared float64
}

// kernelSource makes the kernels of a batch of idle ones.
type kernelSource struct {
	// create makes a session; nil: session.Open, a kernel started from
	// nothing.
	create func(context.Context) (*session.Session, error)
	// shared returns the Pss of what the sessions share outside their
	// sandboxes; nil: nothing.
	shared func() (int64, error)
}

// idleKernels starts k kernels, runs the cell first in each, and measures
// them.
func (s *sessBench) idleKernels(ctx context.Context, k int, first string, src kernelSource) (idleSample, error) {
	create := src.create
	if create == nil {
		create = func(ctx context.Context) (*session.Session, error) { return session.Open(ctx, s.kernelConfig(s.base)) }
	}
	parent, v2 := sandboxCgroupParent()
	before, err := settle(ctx)
	if err != nil {
		return idleSample{}, err
	}
	var sessions []*session.Session
	var dirs []string
	defer func() {
		for _, sess := range sessions {
			sess.Close()
		}
	}()
	for range k {
		old := sandboxCgroups(parent)
		sess, err := create(ctx)
		if err != nil {
			return idleSample{}, err
		}
		sessions = append(sessions, sess)
		if err := checkDone(sess.Execute(ctx, first, session.ExecOptions{}, nil)); err != nil {
			return idleSample{}, err
		}
		var dir string
		for d := range sandboxCgroups(parent) {
			if !old[d] {
				dir = d
			}
		}
		if dir == "" {
			return idleSample{}, fmt.Errorf("no new sandbox cgroup under %s", parent)
		}
		dirs = append(dirs, dir)
	}
	after, err := settle(ctx)
	if err != nil {
		return idleSample{}, err
	}
	var m idleSample
	for i, sess := range sessions {
		_, peak := sess.Kernel().Usage()
		c, err := readCgroupMem(dirs[i], v2)
		if err != nil {
			return idleSample{}, err
		}
		// cgroup.procs lists the sandbox's init and its program, forked
		// ones too: the sandbox puts those in its cgroup though their
		// parent is a zygote.
		var p int64
		for _, pid := range c.pids {
			n, err := pss(pid)
			if err != nil {
				return idleSample{}, err
			}
			p += n
		}
		m.pss += float64(p)
		m.peak += float64(peak)
		m.current += float64(c.current)
		m.anon += float64(c.anon)
		m.shmem += float64(c.shmem)
		m.file += float64(c.file)
		m.procs += float64(len(c.pids))
	}
	if src.shared != nil {
		n, err := src.shared()
		if err != nil {
			return idleSample{}, err
		}
		m.shared = float64(n)
	}
	m.avail = float64(before["MemAvailable"] - after["MemAvailable"])
	for _, x := range []*float64{&m.pss, &m.avail, &m.peak, &m.current, &m.anon, &m.shmem, &m.file, &m.procs} {
		*x /= float64(k)
	}
	return m, nil
}

// idleBare starts k bare Pythons holding an IPython shell that has run a
// cell, waits until each is ready, and measures them.
func (s *sessBench) idleBare(ctx context.Context, k int) (idleSample, error) {
	before, err := settle(ctx)
	if err != nil {
		return idleSample{}, err
	}
	var pids []int
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	var readies []*readyWriter
	for range k {
		w := newReadyWriter()
		readies = append(readies, w)
		cmd := exec.CommandContext(ctx, s.base.Executable, "-I", "-c", idleShellScript)
		cmd.Env = s.bareEnv()
		cmd.Stdout = w
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return idleSample{}, err
		}
		if err := cmd.Start(); err != nil {
			return idleSample{}, err
		}
		pids = append(pids, cmd.Process.Pid)
		stops = append(stops, func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for _, w := range readies {
		select {
		case <-w.ready:
		case <-deadline.C:
			return idleSample{}, errors.New("idle IPython did not become ready in 2 minutes")
		case <-ctx.Done():
			return idleSample{}, ctx.Err()
		}
	}
	after, err := settle(ctx)
	if err != nil {
		return idleSample{}, err
	}
	total, err := treesPss(pids)
	if err != nil {
		return idleSample{}, err
	}
	return idleSample{
		pss:   float64(total) / float64(k),
		avail: float64(before["MemAvailable"]-after["MemAvailable"]) / float64(k),
	}, nil
}

func (s *sessBench) idleMemory(ctx context.Context, cfg *config) (string, error) {
	k := cfg.Idle
	batch := func(kernels bool) (idleSample, error) {
		if kernels {
			m, err := s.idleKernels(ctx, k, codeFirstCell, kernelSource{})
			return m, wrap("kernels", err)
		}
		m, err := s.idleBare(ctx, k)
		return m, wrap("bare", err)
	}
	// Warm up the page cache and the kernel's slab caches.
	for _, kernels := range []bool{false, true} {
		if _, err := batch(kernels); err != nil {
			return "", err
		}
	}
	var bare, kern []idleSample
	for r := range cfg.Rounds {
		for j := range 2 {
			kernels := (r+j)%2 == 1
			m, err := batch(kernels)
			if err != nil {
				return "", err
			}
			if kernels {
				kern = append(kern, m)
			} else {
				bare = append(bare, m)
			}
		}
	}
	med := func(xs []idleSample, get func(idleSample) float64) float64 {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = get(x)
		}
		return median(v)
	}
	diffMed := func(get func(idleSample) float64) float64 {
		v := make([]float64, len(kern))
		for i := range kern {
			v[i] = get(kern[i]) - get(bare[i])
		}
		return median(v)
	}
	getPss := func(m idleSample) float64 { return m.pss }
	getAvail := func(m idleSample) float64 { return m.avail }

	t := newTable("per idle session", "bare IPython shell (baseline)", "kernel", "difference (median of rounds)")
	t.add("**Pss of its processes** (host view)", mib(med(bare, getPss)), mib(med(kern, getPss)), signedMiB(diffMed(getPss)))
	t.add("MemAvailable consumed (system-wide, noisy)", mib(med(bare, getAvail)), mib(med(kern, getAvail)), signedMiB(diffMed(getAvail)))
	t.add("**cgroup: memory in use now** ("+map[bool]string{false: "memory.usage_in_bytes", true: "memory.current"}[isV2()]+")", "", mib(med(kern, func(m idleSample) float64 { return m.current })), "")
	t.add("cgroup: of which anonymous", "", mib(med(kern, func(m idleSample) float64 { return m.anon })), "")
	t.add("cgroup: of which page cache (shmem included)", "", mib(med(kern, func(m idleSample) float64 { return m.file })), "")
	t.add("cgroup: of which shmem (tmpfs files)", "", mib(med(kern, func(m idleSample) float64 { return m.shmem })), "")
	t.add("cgroup: peak (`Kernel.Usage`)", "", mib(med(kern, func(m idleSample) float64 { return m.peak })), "")
	procs := med(kern, func(m idleSample) float64 { return m.procs })

	var md strings.Builder
	fmt.Fprintf(&md, `
### Memory per idle session

%d kernels (base environment, IPython), each idle after a first cell
`+"`%s`"+`, beside %d bare processes of the same interpreter that build
an IPython shell the way the runner does (history off) and run the same
cell, then wait on stdin. %d rounds after a warm-up round, alternating which
goes first, a settling second before each reading; values are per session,
medians over the rounds. The kernel's own figures come from its sandbox's
memory cgroup (found by name, as the Kernel has no accessor for its
process): what it holds now, its peak (`+"`Kernel.Usage`"+`, which includes
IPython's start-up), and Pss summed over the %.0f process(es) in it.

%s
- **Per idle session: %s Pss** (%s vs the bare IPython shell), **%s**
  charged to its cgroup now, %s at peak.

Pss splits shared pages (the interpreter, IPython's and the standard
library's code) among their users, here the other sessions of the batch, so
it falls as more sessions run. The cgroup figure charges each page to the
first cgroup that touched it: page cache already cached on the host is not
charged, and what a session writes into its tmpfs (the runner, /tmp) is.
`, k, codeFirstCell, k, cfg.Rounds, procs, t,
		mib(med(kern, getPss)), signedMiB(diffMed(getPss)),
		mib(med(kern, func(m idleSample) float64 { return m.current })),
		mib(med(kern, func(m idleSample) float64 { return m.peak })))
	return md.String(), nil
}

func isV2() bool {
	_, v2 := sandboxCgroupParent()
	return v2
}

// --------------------------------------------------------- concurrency

func (s *sessBench) concurrent(ctx context.Context, cfg *config) (string, error) {
	m := cfg.Burst
	// The base environment if its kernels fit with room to spare, else
	// the lighter plain runner.
	rt, rtName := s.base, "base environment, IPython"
	if mi, err := readMeminfo(); err == nil && mi["MemAvailable"] < int64(m)*concurrentNeed && s.plain != nil {
		rt, rtName = s.plain, "/usr/bin/python3, plain runner"
	}
	kcfg := s.kernelConfig(rt)
	kcfg.Limits = sandbox.Limits{Memory: concurrentMemory}

	memBefore, _ := settle(ctx)
	kernels := make([]*session.Kernel, m)
	startErrs := make([]error, m)
	defer func() {
		var wg sync.WaitGroup
		for _, k := range kernels {
			if k != nil {
				wg.Go(func() { k.Close() })
			}
		}
		wg.Wait()
	}()
	// Start them a few at a time: this measures running, not starting.
	t0 := time.Now()
	sem := make(chan struct{}, 2*runtime.NumCPU())
	var wg sync.WaitGroup
	for i := range m {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			k, err := session.Start(ctx, kcfg)
			if err == nil {
				err = checkDone(k.Execute(ctx, codeFirstCell, session.ExecOptions{}, nil))
			}
			kernels[i], startErrs[i] = k, err
		})
	}
	wg.Wait()
	startAll := time.Since(t0)
	for _, err := range startErrs {
		if err != nil {
			return "", fmt.Errorf("start %d kernels: %w", m, err)
		}
	}
	memAfter, _ := settle(ctx)
	perKernel := float64(memBefore["MemAvailable"]-memAfter["MemAvailable"]) / float64(m)

	var conc, seq []time.Duration
	var concWall, seqWall []time.Duration
	var errs []error
	concRound := func(keep bool) {
		start := make(chan struct{})
		ds := make([]time.Duration, m)
		es := make([]error, m)
		var wg sync.WaitGroup
		for i, k := range kernels {
			wg.Go(func() {
				<-start
				ds[i], es[i] = timeCell(ctx, k, codeConcurrent)
			})
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		if keep {
			concWall = append(concWall, time.Since(t0))
			conc = append(conc, ds...)
			for _, err := range es {
				if err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	seqRound := func(keep bool) error {
		t0 := time.Now()
		var ds []time.Duration
		for range m {
			d, err := timeCell(ctx, kernels[0], codeConcurrent)
			if err != nil {
				return fmt.Errorf("sequential: %w", err)
			}
			ds = append(ds, d)
		}
		if keep {
			seqWall = append(seqWall, time.Since(t0))
			seq = append(seq, ds...)
		}
		return nil
	}
	for r := range cfg.Rounds + 1 { // round 0 warms up
		for j := range 2 {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			if (r+j)%2 == 0 {
				concRound(r > 0)
			} else if err := seqRound(r > 0); err != nil {
				return "", err
			}
		}
	}

	sc, ss := summarize(conc), summarize(seq)
	scw, ssw := summarize(concWall), summarize(seqWall)
	total := m * cfg.Rounds
	t := newTable("`"+codeConcurrent+"`", "median", "p90", "p99", "max", "round wall time, median", "throughput", "errors")
	t.add(fmt.Sprintf("sequential, %d cells on one kernel (baseline)", m), msp(ss.median), msp(ss.p90), msp(percentile(seq, 99)), msp(ss.max),
		ms(ssw.median), fmt.Sprintf("%.0f cells/s", float64(m)/ssw.median.Seconds()), "0")
	t.add(fmt.Sprintf("**%d kernels at once**, one cell each", m), msp(sc.median), msp(sc.p90), msp(percentile(conc, 99)), msp(sc.max),
		ms(scw.median), fmt.Sprintf("%.0f cells/s", float64(m)/scw.median.Seconds()), fmt.Sprintf("%d of %d", len(errs), total))

	errLine := fmt.Sprintf("Errors: none in %d concurrent cells.", total)
	if len(errs) > 0 {
		errLine = fmt.Sprintf("**Errors: %d of %d concurrent cells failed** (there must be none); the first: %s.",
			len(errs), total, oneLine(errs[0].Error()))
	}
	var md strings.Builder
	fmt.Fprintf(&md, `
### %d sessions executing at once

%d kernels (%s; memory limit %s each, other limits default) started
%d at a time, which took %s (%s MemAvailable per idle kernel); then
`+"`%s`"+` in all of them at once, one goroutine each, timed from Execute to
its done event; beside the same cell run %d times in a row on one of the
kernels. %d rounds after a warm-up round, alternating which goes first.
The machine has %d usable cores, and each sandbox a quota of one core.

%s
- A cell among %d at once: **%s** median, **%s** p99, %s a cell alone
  (median).
- Wall time of a round: %s the sequential run of as many cells
  (%s cells/s at once, %s in a row).
- %s
`, m, m, rtName, mib(concurrentMemory), 2*runtime.NumCPU(), startAll.Round(time.Millisecond), mib(perKernel),
		codeConcurrent, m, cfg.Rounds, runtime.NumCPU(), t,
		m, msp(sc.median), msp(percentile(conc, 99)), ratio(float64(sc.median), float64(ss.median)),
		ratio(float64(scw.median), float64(ssw.median)),
		fmt.Sprintf("%.0f", float64(m)/scw.median.Seconds()), fmt.Sprintf("%.0f", float64(m)/ssw.median.Seconds()), errLine)
	return md.String(), nil
}
