package session_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/session"
)

func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	os.Exit(m.Run())
}

func backend(t testing.TB) sandbox.Backend { return sandboxtest.Backend(t) }

func config(t testing.TB) session.Config {
	t.Helper()
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	return session.Config{Backend: backend(t), Runtime: rt}
}

func start(t testing.TB, cfg session.Config) *session.Kernel {
	t.Helper()
	k, err := session.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// cell runs code and returns its events, the done event last.
func cell(t testing.TB, k *session.Kernel, code string) []session.Event {
	t.Helper()
	return cellWith(t, k, context.Background(), code, session.ExecOptions{}, nil)
}

func cellWith(t testing.TB, k *session.Kernel, ctx context.Context, code string, opts session.ExecOptions, on func(session.Event)) []session.Event {
	t.Helper()
	var evs []session.Event
	_, err := k.Execute(ctx, code, opts, func(ev session.Event) {
		evs = append(evs, ev)
		if on != nil {
			on(ev)
		}
	})
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	if len(evs) == 0 || evs[len(evs)-1].Type != event.Done {
		t.Fatalf("events do not end with done: %+v", evs)
	}
	return evs
}

func done(evs []session.Event) session.Event { return evs[len(evs)-1] }

func stdout(evs []session.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Type == event.Stdout {
			b.WriteString(ev.Text)
		}
	}
	return b.String()
}

func first(evs []session.Event, typ string) *session.Event {
	for i := range evs {
		if evs[i].Type == typ {
			return &evs[i]
		}
	}
	return nil
}

func TestStateAcrossCells(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	cell(t, k, "x = 41\ndef inc(v): return v + 1")
	evs := cell(t, k, "print(inc(x))")
	if got := stdout(evs); got != "42\n" {
		t.Errorf("stdout %q, want 42", got)
	}
	if d := done(evs); d.Status != event.StatusOK || d.ExecutionCount != 2 {
		t.Errorf("done %+v", d)
	}
}

func TestEventOrder(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	evs := cell(t, k, `
import sys
print("one")
print("two", file=sys.stderr)
display("three")
print("four")
"five"
`)
	var got []string
	for _, ev := range evs {
		switch ev.Type {
		case event.Stdout, event.Stderr:
			got = append(got, ev.Type+":"+strings.TrimSpace(ev.Text))
		case event.Display:
			got = append(got, "display:"+fmt.Sprint(ev.Data["text/plain"]))
		default:
			got = append(got, ev.Type)
		}
	}
	want := []string{"stdout:one", "stderr:two", "display:'three'", "stdout:four", "display:'five'", "done"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events\n%v\nwant\n%v", got, want)
	}
}

// TestOutputStreamsLive shows that output arrives while the cell still
// runs: the cell waits for a file that the test writes only once it has
// seen the cell's first line.
func TestOutputStreamsLive(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	evs := cellWith(t, k, context.Background(), `
import os, time
print("waiting")
for _ in range(3000):
    if os.path.exists("go"):
        print("released")
        break
    time.sleep(0.01)
`, session.ExecOptions{}, func(ev session.Event) {
		if ev.Type == event.Stdout && strings.Contains(ev.Text, "waiting") {
			if _, err := k.Workspace().Write("go", strings.NewReader("1"), 10); err != nil {
				t.Error(err)
			}
		}
	})
	if got := stdout(evs); got != "waiting\nreleased\n" {
		t.Errorf("stdout %q: output did not stream while the cell ran", got)
	}
}

func TestMatplotlibPNG(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	evs := cell(t, k, `
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9])
plt.title("squares")
`)
	var b64 string
	for _, ev := range evs {
		if s, ok := ev.Data["image/png"].(string); ok {
			b64 = s
		}
	}
	if b64 == "" {
		t.Fatalf("no image/png display: %+v", evs)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("image/png is not base64: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if cfg.Width < 200 || cfg.Height < 150 {
		t.Errorf("figure is %dx%d", cfg.Width, cfg.Height)
	}
	// The figure was closed: the next cell shows nothing.
	if d := first(cell(t, k, "1;"), event.Display); d != nil {
		t.Errorf("figure shown again: %+v", d)
	}
}

// Chinese text in a plot is drawn with the CJK font scripts/setup
// installs, and warnings raised while the runner draws a figure (a glyph
// no font has) stay out of the output.
func TestMatplotlibCJKFallbackAndQuietRunner(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	evs := cell(t, k, `
import io, warnings
import matplotlib.pyplot as plt
fig = plt.figure()
plt.title("正弦波 中文标题")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fig.savefig(io.BytesIO(), format="png")
print("missing:", sum("missing from font" in str(w.message) for w in caught))
plt.figure()
plt.title("no font has this: \U000F0000")
`)
	if got := stdout(evs); !strings.Contains(got, "missing: 0") {
		t.Errorf("CJK glyphs missing from every font (is fonts-noto-cjk installed? run scripts/setup): %q", got)
	}
	for _, ev := range evs {
		if ev.Type == event.Stderr {
			t.Errorf("the runner's drawing leaked a warning: %q", ev.Text)
		}
	}
	if n := len(images(evs)); n != 2 {
		t.Errorf("%d images shown, want 2", n)
	}
}

// Shell escapes work although a sandbox has no pty devices: !cmd streams
// both output streams, x = !cmd captures, and %%bash cells run.
func TestShellEscapes(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	evs := cell(t, k, "open('data.csv', 'w').close()\n!ls\n!echo out; echo err >&2\nx = !echo captured\nprint(x, _exit_code)")
	if d := done(evs); d.Status != event.StatusOK {
		t.Fatalf("!cmd failed: %+v", evs)
	}
	if got, want := stdout(evs), "data.csv\nout\n['captured'] 0\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	var stderr string
	for _, ev := range evs {
		if ev.Type == event.Stderr {
			stderr += ev.Text
		}
	}
	if stderr != "err\n" {
		t.Errorf("stderr %q, want %q", stderr, "err\n")
	}
	evs = cell(t, k, "%%bash\necho from bash $((6 * 7))")
	if got := stdout(evs); got != "from bash 42\n" {
		t.Errorf("%%%%bash: stdout %q: %+v", got, evs)
	}
}

// Completions come from the session's namespace, with and without IPython.
func TestComplete(t *testing.T) {
	t.Parallel()
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config(t)
			cfg.Runtime = rt.rt
			k := start(t, cfg)
			cell(t, k, "import os\nnaïve_total = 1\nnaïve_count = 2")
			code := "x = 1\nprint(naïve_t"
			matches, start, err := k.Complete(context.Background(), code, len(code))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(matches, "naïve_total") || slices.Contains(matches, "naïve_count") {
				t.Errorf("matches %q, want naïve_total only", matches)
			}
			if got := code[start:]; got != "naïve_t" {
				t.Errorf("replaces %q, want %q", got, "naïve_t")
			}
			code = "os.pa"
			matches, start, err = k.Complete(context.Background(), code, len(code))
			if err != nil {
				t.Fatal(err)
			}
			var completed []string
			for _, m := range matches {
				completed = append(completed, code[:start]+m)
			}
			if !slices.Contains(completed, "os.path") {
				t.Errorf("os.pa completes to %q", completed)
			}
		})
	}
}

func images(evs []session.Event) []string {
	var out []string
	for _, ev := range evs {
		if s, ok := ev.Data["image/png"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestDataFrameHTML(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	evs := cell(t, k, "import pandas as pd\npd.DataFrame({'city': ['Oslo', 'Lima'], 'temp': [3, 19]})")
	d := first(evs, event.Display)
	if d == nil {
		t.Fatalf("no display: %+v", evs)
	}
	html, _ := d.Data["text/html"].(string)
	if !strings.Contains(html, "<table") || !strings.Contains(html, "Lima") {
		t.Errorf("text/html %q", html)
	}
	if text, _ := d.Data["text/plain"].(string); !strings.Contains(text, "Oslo") {
		t.Errorf("text/plain %q", text)
	}
}

func TestErrorStructure(t *testing.T) {
	t.Parallel()
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config(t)
			cfg.Runtime = rt.rt
			k := start(t, cfg)
			evs := cell(t, k, "def f(d):\n    return 1 / d\n\nf(0)")
			e := first(evs, event.Error)
			if e == nil {
				t.Fatalf("no error event: %+v", evs)
			}
			if e.EName != "ZeroDivisionError" || !strings.Contains(e.EValue, "division by zero") {
				t.Errorf("error %s: %s", e.EName, e.EValue)
			}
			tb := strings.Join(e.Traceback, "\n")
			if !strings.Contains(tb, "line 4") || !strings.Contains(tb, "line 2") || !strings.Contains(tb, "return 1 / d") {
				t.Errorf("traceback lacks the user's lines:\n%s", tb)
			}
			if strings.Contains(tb, "runner") || strings.Contains(tb, "\x1b[") {
				t.Errorf("traceback shows the runner or colours:\n%s", tb)
			}
			if d := done(evs); d.Status != event.StatusError {
				t.Errorf("status %q", d.Status)
			}
			evs = cell(t, k, "def broken(:\n    pass")
			if e := first(evs, event.Error); e == nil || e.EName != "SyntaxError" {
				t.Errorf("syntax error: %+v", evs)
			}
			// Display of the last expression works in both modes.
			if d := first(cell(t, k, "[1, 2][0] + 1"), event.Display); d == nil || d.Data["text/plain"] != "2" {
				t.Errorf("display: %+v", d)
			}
		})
	}
}

type namedRuntime struct {
	name string
	rt   *python.Runtime
}

// runtimes returns the base environment (with IPython) and the system's
// bare Python (without): the runner must work with both.
func runtimes(t *testing.T) []namedRuntime {
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	out := []namedRuntime{{"base", rt}}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		out = append(out, namedRuntime{"plain", python.System("/usr/bin/python3")})
	}
	return out
}

func TestInterrupt(t *testing.T) {
	// Not in parallel: timed (an interrupt's grace, the pool's fill, raw
	// output's arrival), and a loaded machine already stretches it.
	k := start(t, config(t))
	cell(t, k, "kept = 'yes'")
	evs := cellWith(t, k, context.Background(), "print('spinning', flush=True)\nwhile True: pass", session.ExecOptions{}, func(ev session.Event) {
		if ev.Type == event.Stdout {
			if err := k.Interrupt(); err != nil {
				t.Error(err)
			}
		}
	})
	if d := done(evs); d.Status != event.StatusInterrupted {
		t.Errorf("status %q, want interrupted", d.Status)
	}
	if e := first(evs, event.Error); e == nil || e.EName != "KeyboardInterrupt" {
		t.Errorf("no KeyboardInterrupt: %+v", evs)
	}
	if got := stdout(cell(t, k, "print(kept)")); got != "yes\n" {
		t.Errorf("session lost its state: %q", got)
	}
}

func TestCancelContextInterrupts(t *testing.T) {
	// Not in parallel: timed (an interrupt's grace, the pool's fill, raw
	// output's arrival), and a loaded machine already stretches it.
	k := start(t, config(t))
	ctx, cancel := context.WithCancel(context.Background())
	evs := cellWith(t, k, ctx, "import time\nprint('go', flush=True)\ntime.sleep(60)", session.ExecOptions{}, func(ev session.Event) {
		if ev.Type == event.Stdout {
			cancel()
		}
	})
	if d := done(evs); d.Status != event.StatusInterrupted {
		t.Errorf("status %q", d.Status)
	}
	if got := stdout(cell(t, k, "print(1)")); got != "1\n" {
		t.Errorf("after interrupt: %q", got)
	}
}

func TestTimeoutThenSessionWorks(t *testing.T) {
	// Not in parallel: timed (an interrupt's grace, the pool's fill, raw
	// output's arrival), and a loaded machine already stretches it.
	k := start(t, config(t))
	cell(t, k, "x = 5")
	evs := cellWith(t, k, context.Background(), "while True: pass", session.ExecOptions{Timeout: 300 * time.Millisecond}, nil)
	if d := done(evs); d.Status != event.StatusTimeout {
		t.Errorf("status %q, want timeout", d.Status)
	}
	if got := stdout(cell(t, k, "print(x)")); got != "5\n" {
		t.Errorf("after timeout: %q", got)
	}
}

func TestStubbornCellIsKilledAndRestarted(t *testing.T) {
	// Not in parallel: timed (an interrupt's grace, the pool's fill, raw
	// output's arrival), and a loaded machine already stretches it.
	k := start(t, config(t))
	cell(t, k, "open('keep.txt', 'w').write('still here')")
	evs := cellWith(t, k, context.Background(), "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
		session.ExecOptions{Timeout: 200 * time.Millisecond}, nil)
	d := done(evs)
	if d.Status != event.StatusTimeout || !strings.Contains(d.Reason, "did not stop") {
		t.Errorf("done %+v", d)
	}
	if k.Alive() {
		t.Error("kernel still alive after a kill")
	}
	if _, err := k.Execute(context.Background(), "1", session.ExecOptions{}, nil); !errors.Is(err, session.ErrDead) {
		t.Errorf("execute on a dead kernel: %v", err)
	}
}

func TestCrashesEndTheSessionWithReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		code   string
		limits sandbox.Limits
		reason string
	}{
		{"os._exit", "import os\nos._exit(3)", sandbox.Limits{}, "exited with status 3"},
		{"segfault", "import ctypes\nctypes.string_at(0)", sandbox.Limits{}, "segmentation fault"},
		{"out of memory", "x = []\nwhile True: x.append(bytearray(32 << 20))", sandbox.Limits{Memory: 256 << 20}, "memory limit exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config(t)
			cfg.Limits = tt.limits
			m := session.NewManager(session.ManagerConfig{Kernel: cfg})
			defer m.Shutdown()
			s, err := m.Create(context.Background(), session.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Execute(context.Background(), "open('data.txt', 'w').write('precious')\ny = 1", session.ExecOptions{}, nil); err != nil {
				t.Fatal(err)
			}
			d, err := s.Execute(context.Background(), tt.code, session.ExecOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != event.StatusDied || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("done %+v, want died with %q", d, tt.reason)
			}
			if err := s.Restart(context.Background()); err != nil {
				t.Fatalf("restart: %v", err)
			}
			var out bytes.Buffer
			d, err = s.Execute(context.Background(), "print(open('data.txt').read())\nprint('y' in dir())", session.ExecOptions{}, func(ev session.Event) {
				out.WriteString(ev.Text)
			})
			if err != nil || d.Status != event.StatusOK {
				t.Fatalf("after restart: %+v %v", d, err)
			}
			if out.String() != "precious\nFalse\n" {
				t.Errorf("after restart got %q: files should survive, variables not", out.String())
			}
		})
	}
}

func TestRestartClearsState(t *testing.T) {
	t.Parallel()
	m := session.NewManager(session.ManagerConfig{Kernel: config(t)})
	defer m.Shutdown()
	s, err := m.Create(context.Background(), session.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := s.Kernel()
	cell(t, k, "x = 1\nopen('f.txt', 'w').write('kept')")
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := cell(t, s.Kernel(), "print(open('f.txt').read())\nx")
	if e := first(evs, event.Error); e == nil || e.EName != "NameError" {
		t.Errorf("x survived the restart: %+v", evs)
	}
	if got := stdout(evs); got != "kept\n" {
		t.Errorf("workspace lost on restart: %q", got)
	}
}

func TestArtifacts(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	evs := cell(t, k, "import os\nos.makedirs('out', exist_ok=True)\nopen('out/a.csv', 'w').write('a,b\\n1,2\\n')\nopen('b.txt', 'w').write('x')")
	var got []string
	for _, ev := range evs {
		if ev.Type == event.File {
			got = append(got, fmt.Sprintf("%s %s %d", ev.Change, ev.Path, ev.Size))
		}
	}
	if want := "created b.txt 1|created out/a.csv 8"; strings.Join(got, "|") != want {
		t.Errorf("file events %v, want %s", got, want)
	}
	got = nil
	for _, ev := range cell(t, k, "open('b.txt', 'a').write('yz')\nimport os\nos.remove('out/a.csv')\nprint('no files')") {
		if ev.Type == event.File {
			got = append(got, ev.Change+" "+ev.Path)
		}
	}
	if want := "modified b.txt|deleted out/a.csv"; strings.Join(got, "|") != want {
		t.Errorf("file events %v, want %s", got, want)
	}
}

func TestFileConfinement(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	ws := k.Workspace()
	cell(t, k, "import os\nopen('inside.txt', 'w').write('ok')\nos.symlink('/etc/passwd', 'out')\nos.symlink('inside.txt', 'in')\nos.symlink('../../../../etc/shadow', 'up')")
	if b, err := ws.Read("in", 100); err != nil || string(b) != "ok" {
		t.Errorf("symlink inside: %q %v", b, err)
	}
	for _, p := range []string{"out", "up", "../x", "/etc/passwd", "a/../../x", "", "bad\x00name", "\xff"} {
		if _, err := ws.Read(p, 1<<20); err == nil {
			t.Errorf("read %q succeeded", p)
		}
		if _, err := ws.Write(p, strings.NewReader("x"), 10); err == nil {
			t.Errorf("write %q succeeded", p)
		}
	}
	if _, err := ws.Write("sub/dir/new.txt", strings.NewReader("hello"), 100); err != nil {
		t.Fatal(err)
	}
	if got := stdout(cell(t, k, "print(open('sub/dir/new.txt').read())\nopen('sub/dir/new.txt', 'a').write('!')")); got != "hello\n" {
		t.Errorf("the sandbox cannot read an upload: %q", got)
	}
	if _, err := ws.Write("big.bin", bytes.NewReader(make([]byte, 2000)), 1000); err == nil {
		t.Error("upload over the limit accepted")
	}
	if _, err := ws.Read("big.bin", 100); err == nil {
		t.Error("a refused upload left a file behind")
	}
	if err := ws.Delete("inside.txt"); err != nil {
		t.Fatal(err)
	}
	files, err := ws.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "inside.txt" || strings.Contains(f.Path, "interp-upload") {
			t.Errorf("listing shows %s", f.Path)
		}
	}
}

func TestOutputCap(t *testing.T) {
	t.Parallel()
	cfg := config(t)
	cfg.MaxOutput = 10 << 10
	k := start(t, cfg)
	evs := cell(t, k, "for i in range(100000): print(f'line {i}')")
	var all strings.Builder
	for _, ev := range evs {
		all.WriteString(ev.Text)
	}
	out := all.String()
	if !strings.Contains(out, "line 0\n") || !strings.Contains(out, "line 99999\n") {
		t.Error("head or tail of the output is missing")
	}
	if !strings.Contains(out, "bytes of output omitted") {
		t.Error("no notice of dropped output")
	}
	if len(out) > 12<<10 {
		t.Errorf("kept %d bytes, cap is 10 KiB", len(out))
	}
}

func TestRawOutputAndBadUTF8(t *testing.T) {
	// Not in parallel: timed (an interrupt's grace, the pool's fill, raw
	// output's arrival), and a loaded machine already stretches it.
	k := start(t, config(t))
	evs := cell(t, k, "import os, subprocess, sys\nos.write(1, b'raw\\n')\nsubprocess.run(['echo', 'child'])\nsys.stdout.buffer.write(b'bad \\xff\\xfe\\n')\nsys.stdout.flush()")
	out := stdout(evs)
	for _, want := range []string{"raw\n", "child\n", "bad "} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout %q lacks %q", out, want)
		}
	}
	if d := done(evs); d.Status != event.StatusOK {
		t.Errorf("done %+v", d)
	}
}

func TestBusyKernelRefusesSecondCell(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	var wg sync.WaitGroup
	wg.Add(1)
	started := make(chan struct{})
	go func() {
		defer wg.Done()
		cellWith(t, k, context.Background(), "import time\nprint('in', flush=True)\ntime.sleep(1)", session.ExecOptions{}, func(ev session.Event) {
			if ev.Type == event.Stdout {
				close(started)
			}
		})
	}()
	<-started
	if _, err := k.Execute(context.Background(), "1", session.ExecOptions{}, nil); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("second cell: %v", err)
	}
	wg.Wait()
}

func TestManagerLimits(t *testing.T) {
	t.Parallel()
	m := session.NewManager(session.ManagerConfig{Kernel: config(t), MaxSessions: 2, IdleTimeout: -1})
	defer m.Shutdown()
	a, err := m.Create(context.Background(), session.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(context.Background(), session.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(context.Background(), session.CreateOptions{}); !errors.Is(err, session.ErrTooMany) {
		t.Errorf("third session: %v", err)
	}
	if got, err := m.Get(a.ID); err != nil || got != a {
		t.Errorf("get: %v", err)
	}
	if err := m.CloseSession(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(a.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("closed session still found: %v", err)
	}
	if _, err := m.Create(context.Background(), session.CreateOptions{}); err != nil {
		t.Errorf("a closed session still counts: %v", err)
	}
}

func TestIdleSessionsAreReaped(t *testing.T) {
	// Not in parallel: timed (an interrupt's grace, the pool's fill, raw
	// output's arrival), and a loaded machine already stretches it.
	m := session.NewManager(session.ManagerConfig{Kernel: config(t), IdleTimeout: 100 * time.Millisecond})
	defer m.Shutdown()
	a, err := m.Create(context.Background(), session.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(m.List()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle session was not reaped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := m.Get(a.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("reaped session still found: %v", err)
	}
	if a.Kernel().Alive() {
		t.Error("reaped session's kernel still runs")
	}
}

func TestWarmPool(t *testing.T) {
	// Not in parallel: timed (an interrupt's grace, the pool's fill, raw
	// output's arrival), and a loaded machine already stretches it.
	m := session.NewManager(session.ManagerConfig{
		Kernel: config(t),
		Pool:   session.PoolConfig{Size: 2, Preload: []string{"json", "numpy"}},
	})
	defer m.Shutdown()
	waitReady := func(n int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for m.Pool().Ready() < n {
			if time.Now().After(deadline) {
				t.Fatalf("pool has %d ready, want %d", m.Pool().Ready(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitReady(2)
	s, err := m.Create(context.Background(), session.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The preloaded module is imported but bound to no name.
	evs := cell(t, s.Kernel(), "import sys\nprint('numpy' in sys.modules, 'numpy' in dir())")
	if got := stdout(evs); got != "True False\n" {
		t.Errorf("pooled kernel: %q", got)
	}
	if d := done(evs); d.ExecutionCount != 1 {
		t.Errorf("pooled kernel's first cell has count %d", d.ExecutionCount)
	}
	waitReady(2) // refilled
}

// TestColdSessionsDoNotPreload checks that a session started because the
// pool is empty or off does not import the pool's modules: the caller is
// waiting, and may never need them.
func TestColdSessionsDoNotPreload(t *testing.T) {
	t.Parallel()
	m := session.NewManager(session.ManagerConfig{Kernel: config(t), Pool: session.PoolConfig{Size: 0, Preload: []string{"numpy"}}})
	defer m.Shutdown()
	s, err := m.Create(context.Background(), session.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := stdout(cell(t, s.Kernel(), "import sys\nprint('numpy' in sys.modules)")); got != "False\n" {
		t.Errorf("cold session preloaded: %q", got)
	}
}

func TestWorkspaceUsage(t *testing.T) {
	t.Parallel()
	k := start(t, config(t))
	before, err := k.Workspace().Usage()
	if err != nil {
		t.Fatal(err)
	}
	cell(t, k, "open('big.bin', 'wb').write(b'x' * (3 << 20))")
	after, err := k.Workspace().Usage()
	if err != nil {
		t.Fatal(err)
	}
	if grew := after - before; grew < 3<<20 || grew > 4<<20 {
		t.Errorf("usage grew by %d bytes for a 3 MiB file", grew)
	}
}

// TestTracebackUserFrames shows a failure the way a user reads it: the
// cell under the name it was given, the user's lines in context with the
// failing one marked, each run of library frames as one line, and a
// library's internal chained exception as its last line alone.
func TestTracebackUserFrames(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			cfg := config(t)
			cfg.Runtime = rt.rt
			k := start(t, cfg)
			setup := "import os\nos.makedirs('/tmp/lib', exist_ok=True)\n" +
				"open('/tmp/lib/mylib.py', 'w').write('def call(f):\\n    return f()\\n\\ndef fail(x):\\n    try:\\n        return {}[x]\\n    except KeyError as e:\\n        raise ValueError(\"no \" + x) from e\\n')\n" +
				"open('helper.py', 'w').write('def parse(s):\\n    import json\\n    return json.loads(s)\\n')\n"
			if d := done(cell(t, k, setup)); d.Status != event.StatusOK {
				t.Fatalf("setup: %+v", d)
			}
			tests := []struct {
				name, code string
				want       []string // in this order
				not        []string
			}{
				{"main.py", "import sys\nsys.path.insert(0, '/tmp/lib')\nimport mylib, helper\n\ndef cb():\n    return helper.parse('{bad')\nmylib.call(cb)\n",
					[]string{`File "main.py", line 7, in <module>`, "  --> 7 mylib.call(cb)", "[1 frame in mylib]",
						`File "main.py", line 6, in cb`, "      5 def cb():", "  --> 6     return helper.parse('{bad')",
						`File "helper.py", line 3, in parse`, "[3 frames in json]", "JSONDecodeError"},
					[]string{"/usr/lib", "/tmp/lib", "/workspace", "<cell", "runner"}},
				{"", "mylib.fail('k')",
					[]string{"KeyError: 'k'", "direct cause", "Traceback (most recent call last):", "  Cell In[", "], line 1", "  --> 1 mylib.fail('k')", "[1 frame in mylib]", "ValueError: no k"},
					[]string{"/tmp/lib", "return {}[x]", "<cell"}},
				{"bad.py", "def f(:\n    pass\n", []string{`File "bad.py", line 1`, "SyntaxError"}, []string{"<cell"}},
			}
			for _, tt := range tests {
				evs := cellWith(t, k, context.Background(), tt.code, session.ExecOptions{Name: tt.name}, nil)
				e := first(evs, event.Error)
				if e == nil {
					t.Fatalf("%s: no error: %+v", tt.name, evs)
				}
				tb := strings.Join(e.Traceback, "\n")
				rest := tb
				for _, w := range tt.want {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Errorf("%s: traceback lacks %q (in order):\n%s", tt.name, w, tb)
						break
					}
					rest = rest[i+len(w):]
				}
				for _, n := range tt.not {
					if strings.Contains(tb, n) || strings.Contains(e.EValue, n) {
						t.Errorf("%s: traceback shows %q:\n%s", tt.name, n, tb)
					}
				}
				if n := strings.Count(tb, "Traceback (most recent call last)"); n > 1 {
					t.Errorf("%s: %d tracebacks, want the user's one:\n%s", tt.name, n, tb)
				}
			}
		})
	}
}
