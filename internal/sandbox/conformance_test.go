package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
)

// The conformance suite runs one body of checks against every sandbox
// backend, as Nomad runs one test body against each task driver: every
// backend is held to the same isolation and limits, by the same code. A
// new backend (gVisor, a container runtime, a cgroup v2-only variant...)
// is one more entry in conformanceBackends; a property is one more entry
// in conformanceProperties.
//
// A backend may declare gaps: properties it does not provide, each with
// why. A gap that is safe to probe on the host is still checked, and the
// check must find the property missing: that keeps the gap list honest
// (a backend that gains a property fails until its gap is dropped) and
// shows that each check can fail. A gap that would harm the host if probed
// (a fork bomb without a process limit) is not run.

// canaryEnv is set in this test process's environment by TestMain; no
// sandbox may see it.
const canaryEnv, canaryValue = "INTERP_TEST_CANARY_KEY", "sk-canary-1234"

// conformanceBackend is one backend under test.
type conformanceBackend struct {
	name string
	open func(t testing.TB) sandbox.Backend
	gaps map[string]gap
}

// gap is a property a backend does not provide.
type gap struct {
	why string
	// harmful: probing it would damage, exhaust or needlessly load the
	// host, so the check is not run.
	harmful bool
}

var conformanceBackends = []conformanceBackend{
	{
		name: "namespaces",
		open: func(t testing.TB) sandbox.Backend { return sandboxtest.Backend(t) },
	},
	{
		// Programs forked from a zygote into sandboxes the init built,
		// locking themselves down (zygote.py) instead of being executed.
		name: "namespaces, forked from a zygote",
		open: zygoteConformance,
	},
	{
		// The explicit opt-in for hosts that cannot sandbox: it runs on the
		// host and provides only the wall-clock timeout, the output limit, a
		// fresh working directory and killing its process group.
		name: "unsafe",
		open: func(t testing.TB) sandbox.Backend {
			b := sandbox.NewUnsafe()
			t.Cleanup(func() { b.Close() })
			return b
		},
		gaps: map[string]gap{
			"no host files":          {why: "it runs on the host"},
			"no network":             {why: "it shares the host's network"},
			"host processes hidden":  {why: "it shares the host's PID namespace"},
			"state not shared":       {why: "TMPDIR is the host's /tmp"},
			"cleanup":                {why: "a child that calls setsid leaves the process group and outlives the program"},
			"cpu time limit":         {why: "it sets no CPU-time budget", harmful: true}, // the probe would spin until its backstop
			"read-only system paths": {why: "its programs can write wherever the user can", harmful: true},
			"memory limit":           {why: "it has no cgroup", harmful: true},
			"process limit":          {why: "it has no cgroup", harmful: true},
			"disk limit":             {why: "the working directory is on the host's disk", harmful: true},
		},
	},
}

// conformanceProperty is one property every backend must have. check
// returns nil when the property holds, and an error saying how it was
// broken otherwise; it calls t.Fatal only when it cannot tell.
type conformanceProperty struct {
	name  string
	check func(t *testing.T, b sandbox.Backend) error
}

var conformanceProperties = []conformanceProperty{
	{"no host files", checkNoHostFiles},
	{"no host environment", checkNoHostEnv},
	{"no network", checkNoNetwork},
	{"host processes hidden", checkHostProcessesHidden},
	{"read-only system paths", checkReadOnlyPaths},
	{"state not shared", checkStateNotShared},
	{"memory limit", checkMemoryLimit},
	{"cpu time limit", checkCPUTimeLimit},
	{"wall-clock timeout", checkTimeout},
	{"process limit", checkProcessLimit},
	{"disk limit", checkDiskLimit},
	{"output limit", checkOutputLimit},
	{"kill and context", checkKill},
	{"cleanup", checkCleanup},
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, cb := range conformanceBackends {
		t.Run(cb.name, func(t *testing.T) {
			t.Parallel()
			b := cb.open(t)
			for _, p := range conformanceProperties {
				t.Run(p.name, func(t *testing.T) {
					t.Parallel()
					g, isGap := cb.gaps[p.name]
					switch {
					case !isGap:
						if err := p.check(t, b); err != nil {
							t.Error(err)
						}
					case g.harmful:
						t.Logf("not provided (%s); not probed, as that would harm the host", g.why)
					default:
						if err := p.check(t, b); err == nil {
							t.Errorf("declared a gap (%s), but the check passed: drop it from the backend's gaps", g.why)
						} else {
							t.Logf("not provided (%s), as declared: %v", g.why, err)
						}
					}
				})
			}
		})
	}
	// Every declared gap names a property, so that a renamed property
	// cannot turn a gap into silence.
	for _, cb := range conformanceBackends {
		for name := range cb.gaps {
			found := false
			for _, p := range conformanceProperties {
				found = found || p.name == name
			}
			if !found {
				t.Errorf("%s declares a gap in %q, which is no property of the suite", cb.name, name)
			}
		}
	}
}

func checkNoHostFiles(t *testing.T, b sandbox.Backend) error {
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	if err := os.WriteFile(canary, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	wd, _ := os.Getwd()
	paths := []string{"/etc/shadow", canary, dir, home, "/root", "/home", "/sys/fs", "/sys/class", "/sys/kernel",
		"/usr/local", "/usr/include", self, wd, "/opt/interp/uv", "/var"}
	out := mustSucceed(t, b, fmt.Sprintf(`
import os
for p in %s:
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            open(p, "rb").read(10)
        print("visible", p)
    except OSError:
        pass
`, pyList(paths)))
	if out != "" {
		return fmt.Errorf("host files are visible in the sandbox:\n%s", out)
	}
	return nil
}

func checkNoHostEnv(t *testing.T, b sandbox.Backend) error {
	if os.Getenv(canaryEnv) != canaryValue {
		t.Fatalf("TestMain did not set %s", canaryEnv)
	}
	out := mustSucceed(t, b, `
import os
print(open("/proc/self/environ", "rb").read().decode())
try:
    print(open("/proc/1/environ", "rb").read().decode())  # the sandbox's init's
except OSError:
    pass
print(dict(os.environ))
`)
	if strings.Contains(out, "canary") {
		return fmt.Errorf("the host's environment leaked into the sandbox: %s", out)
	}
	if !strings.Contains(out, "'LANG': 'C.UTF-8'") {
		t.Fatalf("the sandbox lacks the environment it was given: %s", out)
	}
	return nil
}

func checkNoNetwork(t *testing.T, b sandbox.Backend) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	out := mustSucceed(t, b, fmt.Sprintf(`
import socket
for host in ("127.0.0.1", "10.0.2.2", "8.8.8.8"):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect((host, %d))
        print("connected", host)
    except OSError as e:
        pass
print(sorted(i[1] for i in socket.if_nameindex()))
`, port))
	var problems []string
	if strings.Contains(out, "connected") {
		problems = append(problems, "a connection succeeded")
	}
	if !strings.HasSuffix(out, "['lo']\n") {
		problems = append(problems, "there are interfaces beyond lo")
	}
	select {
	case <-accepted:
		problems = append(problems, "the host's listener was reached")
	default:
	}
	if problems != nil {
		return fmt.Errorf("the sandbox has a network: %s\n%s", strings.Join(problems, "; "), out)
	}
	return nil
}

func checkHostProcessesHidden(t *testing.T, b sandbox.Backend) error {
	// Signal 0 only asks whether this test process can be reached.
	out := mustSucceed(t, b, fmt.Sprintf(`
import os
others = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid()))
print(len(others), "other processes")
try:
    os.kill(%d, 0)
    print("reached the host process")
except OSError as e:
    pass
`, os.Getpid()))
	if out != "0 other processes\n" {
		return fmt.Errorf("the host's processes are visible: %s", out)
	}
	return nil
}

func checkReadOnlyPaths(t *testing.T, b sandbox.Backend) error {
	rt := runtimeFor(t)
	// The workspace (the working directory) and TMPDIR are the only
	// writable places; the read-only paths the spec lists stay read-only.
	out := mustSucceed(t, b, fmt.Sprintf(`
import os
for p in ["made", os.path.join(os.environ["TMPDIR"], "interp-conformance-%d"), "/dev/shm/c",
          "/usr/x", "/etc/x", "/x", %q, "/proc/sys/kernel/hostname", "/dev/x"]:
    try:
        with open(p, "w") as f:
            f.write("x")
        print("wrote", p)
        os.remove(p)
    except OSError:
        print("denied", p)
`, os.Getpid(), filepath.Join(filepath.Dir(rt.Executable), "x")))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var wrong []string
	for i, line := range lines {
		if want := i < 3; strings.HasPrefix(line, "wrote") != want {
			wrong = append(wrong, line)
		}
	}
	if len(lines) != 9 || wrong != nil {
		return fmt.Errorf("writes not confined to the workspace and temporary directories: %q", wrong)
	}
	return nil
}

func checkStateNotShared(t *testing.T, b sandbox.Backend) error {
	name := fmt.Sprintf("interp-conformance-left-%d-%d", os.Getpid(), time.Now().UnixNano())
	mustSucceed(t, b, fmt.Sprintf(`
import os
open(%[1]q, "w").write("x")
open(os.path.join(os.environ["TMPDIR"], %[1]q), "w").write("x")
`, name))
	out := mustSucceed(t, b, fmt.Sprintf(`
import os
tmp = os.path.join(os.environ["TMPDIR"], %[1]q)
print(os.path.exists(%[1]q), os.path.exists(tmp))
if os.path.exists(tmp):
    os.remove(tmp)  # the host's /tmp: leave it clean
`, name))
	if out != "False False\n" {
		return fmt.Errorf("a new sandbox sees files an old one left in its workspace and temporary directory: %s", out)
	}
	return nil
}

// wantReason runs code under l and checks that the limit stopped it.
func wantReason(t *testing.T, b sandbox.Backend, code string, l sandbox.Limits, want sandbox.Reason) (run, error) {
	t.Helper()
	r := runPython(t, b, code, l)
	if r.res.Reason != want || r.res.Success() {
		return r, fmt.Errorf("ended with reason %q, want %q (%+v; stderr %s)", r.res.Reason, want, r.res, tail(r.stderr))
	}
	return r, nil
}

func checkMemoryLimit(t *testing.T, b sandbox.Backend) error {
	_, err := wantReason(t, b, "x = []\nwhile True: x.append(bytearray(50 << 20))", sandbox.Limits{Memory: 128 << 20}, sandbox.ReasonMemory)
	return err
}

func checkCPUTimeLimit(t *testing.T, b sandbox.Backend) error {
	// The wall-clock timeout is only a backstop, far off: on a loaded
	// machine half a second of CPU can take many seconds to use.
	r, err := wantReason(t, b, "while True: pass", sandbox.Limits{CPUTime: 500 * time.Millisecond, Timeout: 2 * time.Minute}, sandbox.ReasonCPUTime)
	if err == nil && !errors.Is(r.res.Err(), sandbox.ErrCPUTime) {
		err = fmt.Errorf("result error %v does not wrap ErrCPUTime", r.res.Err())
	}
	return err
}

func checkTimeout(t *testing.T, b sandbox.Backend) error {
	// First SIGINT, which Python reports as a KeyboardInterrupt (the limit
	// leaves a loaded machine time to start Python and its handler)...
	r, err := wantReason(t, b, "import time\nwhile True: time.sleep(0.01)", sandbox.Limits{Timeout: 5 * time.Second}, sandbox.ReasonTimeout)
	if err != nil {
		return err
	}
	if !strings.Contains(r.stderr, "KeyboardInterrupt") {
		return fmt.Errorf("no KeyboardInterrupt before the end: %s", tail(r.stderr))
	}
	// ...and the kill after the grace period for a program that ignores it.
	_, err = wantReason(t, b, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.01)",
		sandbox.Limits{Timeout: 300 * time.Millisecond, Grace: 200 * time.Millisecond}, sandbox.ReasonTimeout)
	return err
}

func checkProcessLimit(t *testing.T, b sandbox.Backend) error {
	// Children that only sleep: the limit is met at a known count, however
	// slow the machine.
	r := runPython(t, b, `
import os, sys, time
n = 0
while True:
    try:
        pid = os.fork()
    except OSError as e:
        print("fork failed after", n, "children")
        sys.exit(0)
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    n += 1
`, sandbox.Limits{Processes: 32})
	n := -1
	if f := strings.Fields(r.stdout); len(f) == 5 {
		n, _ = strconv.Atoi(f[3])
	}
	if n < 0 || n >= 32 || !r.res.ProcessLimitHit {
		return fmt.Errorf("32 processes: %q, limit reported %v (stderr %s)", r.stdout, r.res.ProcessLimitHit, tail(r.stderr))
	}
	return nil
}

func checkDiskLimit(t *testing.T, b sandbox.Backend) error {
	for _, dir := range []string{"", `os.environ["TMPDIR"]`} {
		target := `"big"`
		if dir != "" {
			target = `os.path.join(` + dir + `, "big")`
		}
		r := runPython(t, b, "import os\nf = open("+target+", 'wb')\nwhile True: f.write(b'x' * (1 << 20))", sandbox.Limits{Disk: 32 << 20})
		if r.res.Success() || !strings.Contains(r.stderr, "No space left on device") {
			return fmt.Errorf("filling %s: %+v, stderr %s", target, r.res, tail(r.stderr))
		}
	}
	return nil
}

func checkOutputLimit(t *testing.T, b sandbox.Backend) error {
	r := runPython(t, b, "import sys\nfor _ in range(48): sys.stdout.write('y' * 65536)\nsys.stderr.write('e' * 65536)", sandbox.Limits{Output: 1 << 20})
	if !r.res.Success() {
		return fmt.Errorf("the program failed: %+v %s", r.res, tail(r.stderr))
	}
	if r.res.OutputDropped < 2<<20 || !strings.Contains(r.stdout+r.stderr, "[interp: output truncated at 1.0 MiB") {
		return fmt.Errorf("no truncation: dropped %d bytes", r.res.OutputDropped)
	}
	if n := len(r.stdout) + len(r.stderr); n > 1<<20+200 {
		return fmt.Errorf("kept %d bytes of output, over the 1 MiB limit", n)
	}
	return nil
}

func checkKill(t *testing.T, b sandbox.Backend) error {
	rt := runtimeFor(t)
	start := func(ctx context.Context) *sandbox.Process {
		p, err := b.Start(ctx, &sandbox.Spec{Argv: []string{rt.Executable, "-c", "import time; time.sleep(60)"}, Env: sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := start(ctx)
	cancel()
	if res, err := p.Wait(); err != nil || res.Reason != sandbox.ReasonKilled {
		return fmt.Errorf("after the context ended: %+v, %v", res, err)
	}
	p = start(context.Background())
	p.Kill()
	if res, err := p.Wait(); err != nil || res.Reason != sandbox.ReasonKilled || !errors.Is(res.Err(), sandbox.ErrKilled) {
		return fmt.Errorf("after Kill: %+v, %v", res, err)
	}
	return nil
}

// checkCleanup leaves two children behind, one in the program's process
// group and one in a session of its own, and looks for them from the host
// once the program has been waited for.
func checkCleanup(t *testing.T, b sandbox.Backend) error {
	rt := runtimeFor(t)
	token := fmt.Sprintf("interp-conformance-orphan-%d-%d", os.Getpid(), time.Now().UnixNano())
	var out strings.Builder
	p, err := b.Start(context.Background(), &sandbox.Spec{
		Argv: []string{rt.Executable, "-c", fmt.Sprintf(`
import subprocess, sys
for own_session in (False, True):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", %q],
                     start_new_session=own_session, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("started")
`, token)},
		Env: sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly, Stdout: &out, Stderr: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	workspace := p.Workspace()
	res, err := p.Wait()
	if err != nil || !res.Success() || out.String() != "started\n" {
		t.Fatalf("the program: %+v, %v, %s", res, err, out.String())
	}
	var problems []string
	if _, err := os.Stat(workspace); err == nil {
		problems = append(problems, "its workspace is still there: "+workspace)
	}
	// The kill is asynchronous; dead processes go within moments.
	var left []int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left = processesWith(token)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		problems = append(problems, fmt.Sprintf("process %d outlived it", pid))
	}
	if problems != nil {
		return fmt.Errorf("not cleaned up after the program ended: %s", strings.Join(problems, "; "))
	}
	return nil
}

// processesWith lists the live host processes with arg in their command line.
func processesWith(arg string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), arg) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pyList is a Python list of strings.
func pyList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
