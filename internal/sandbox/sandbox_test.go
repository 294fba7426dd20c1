package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"

	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/sandbox/spawner"
)

func backend(t testing.TB) *sandbox.Namespaces { return sandboxtest.Backend(t) }

func runtimeFor(t testing.TB) *python.Runtime {
	t.Helper()
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

type run struct {
	res            *sandbox.Result
	stdout, stderr string
}

// runPython runs code with the sandbox's Python and returns what happened.
func runPython(t testing.TB, b sandbox.Backend, code string, l sandbox.Limits, env ...string) run {
	t.Helper()
	rt := runtimeFor(t)
	var out, errOut bytes.Buffer
	p, err := b.Start(context.Background(), &sandbox.Spec{
		Argv:     []string{rt.Executable, "-c", code},
		Env:      append(sandbox.DefaultEnv(), env...),
		ReadOnly: rt.ReadOnly,
		Stdout:   &out,
		Stderr:   &errOut,
		Limits:   l,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	res, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return run{res, out.String(), errOut.String()}
}

// mustSucceed runs code and fails the test unless it exits 0.
func mustSucceed(t *testing.T, b sandbox.Backend, code string) string {
	t.Helper()
	r := runPython(t, b, code, sandbox.Limits{})
	if !r.res.Success() {
		t.Fatalf("code failed: %v\nstdout: %s\nstderr: %s", r.res.Err(), r.stdout, r.stderr)
	}
	return r.stdout
}

func TestIdentityAndHardening(t *testing.T) {
	t.Parallel()
	b := backend(t)
	out := mustSucceed(t, b, `
import os
st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
print(os.getuid(), os.getgid(), os.getgroups(), os.getcwd())
print(st["CapEff"], st["CapPrm"], st["CapBnd"], st["NoNewPrivs"], st["Seccomp"])
print(os.getppid(), os.getpid() > 1, os.uname().nodename)
`)
	// The program's parent is the sandbox's init, PID 1.
	want := "1000 1000 [] /workspace\n0000000000000000 0000000000000000 0000000000000000 1 2\n1 True sandbox\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// TestHostView checks what a sandbox sees of the host's /proc and /usr:
// the entries that tell of the host are empty, the CPU and memory views
// are the sandbox's own limits, and of /usr only what the runtime needs
// is there.
func TestHostView(t *testing.T) {
	t.Parallel()
	b := backend(t)
	// Files placed where the runtime has no business must stay invisible.
	var canaries []string
	for _, dir := range []string{"/usr/local/etc", "/usr/share", "/usr/lib"} {
		p := filepath.Join(dir, fmt.Sprintf(".interp-canary-%d", os.Getpid()))
		if err := os.WriteFile(p, []byte("secret"), 0o644); err != nil {
			if os.Getenv("CI") == "" && os.IsPermission(err) {
				t.Logf("cannot place a canary in %s as this user: %v", dir, err)
				continue
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
		canaries = append(canaries, p)
	}
	r := runPython(t, b, fmt.Sprintf(`
import json, os, subprocess
out = {}
for p in ["/proc/cmdline", "/proc/kallsyms", "/proc/iomem", "/proc/devices", "/proc/kcore", "/proc/keys", "/proc/timer_list"]:
    try:
        out[p] = open(p, "rb").read(100).decode()
    except FileNotFoundError:
        out[p] = ""
for p in ["/proc/bus", "/proc/acpi", "/proc/irq"]:
    out[p] = os.listdir(p) if os.path.isdir(p) else []
out["pci"] = os.path.exists("/proc/bus/pci")
try:
    open("/proc/meminfo", "w").write("x")
    out["meminfo writable"] = True
except OSError:
    out["meminfo writable"] = False
out["cpu_count"] = os.cpu_count()
out["nprocessors_conf"] = os.sysconf("SC_NPROCESSORS_CONF")
out["cpuinfo processors"] = sum(l.startswith("processor") for l in open("/proc/cpuinfo"))
out["microcode"] = "microcode" in open("/proc/cpuinfo").read()
out["MemTotal"] = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]) * 1024
out["OPENBLAS_NUM_THREADS"] = os.environ.get("OPENBLAS_NUM_THREADS")
out["canaries"] = [p for p in %q if os.path.exists(p)]
out["shell"] = subprocess.run("ls / | grep -c usr; echo $((6*7))", shell=True, capture_output=True, text=True).stdout.split()
try:
    import numpy, threadpoolctl
    out["blas threads"] = sorted({p["num_threads"] for p in threadpoolctl.threadpool_info()})
except ImportError:
    out["blas threads"] = [1]
print(json.dumps(out))
`, canaries), sandbox.Limits{CPUs: 1, Memory: 300 << 20})
	if !r.res.Success() {
		t.Fatalf("code failed: %v\n%s%s", r.res.Err(), r.stdout, r.stderr)
	}
	t.Logf("inside: %s", r.stdout)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	for k, v := range got {
		if strings.HasPrefix(k, "/proc/") && fmt.Sprint(v) != "" && fmt.Sprint(v) != "[]" {
			t.Errorf("%s shows %.60q, want it masked", k, fmt.Sprint(v))
		}
	}
	want := map[string]any{
		"pci": false, "meminfo writable": false, "cpu_count": 1.0, "nprocessors_conf": 1.0,
		"cpuinfo processors": 1.0, "microcode": false, "MemTotal": float64(300 << 20),
		"OPENBLAS_NUM_THREADS": "1", "canaries": []any{}, "shell": []any{"1", "42"}, "blas threads": []any{1.0},
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestSeccomp(t *testing.T) {
	t.Parallel()
	b := backend(t)
	out := mustSucceed(t, b, `
import ctypes, os, threading
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    r = libc.syscall(nr, *args)
    return r, ctypes.get_errno()
print("clone3", call(435, 0, 0))          # ENOSYS
print("unshare", call(272, 0x10000000))   # CLONE_NEWUSER: EPERM
print("ptrace", call(101, 0, 0, 0, 0))    # EPERM
print("bpf", call(321, 0, 0, 0))          # EPERM
print("keyctl", call(250, 0, 0))          # EPERM
t = threading.Thread(target=lambda: None); t.start(); t.join()
print("threads ok")
r = os.fork()
if r == 0:
    os._exit(7)
print("fork", os.waitpid(r, 0)[1] >> 8)
`)
	want := "clone3 (-1, 38)\nunshare (-1, 1)\nptrace (-1, 1)\nbpf (-1, 1)\nkeyctl (-1, 1)\nthreads ok\nfork 7\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestResultErrors(t *testing.T) {
	t.Parallel()
	b := backend(t)
	r := runPython(t, b, "raise SystemExit(3)", sandbox.Limits{})
	if r.res.ExitCode != 3 || r.res.Err() == nil || r.res.Err().Error() != "exit status 3" {
		t.Errorf("exit 3: got %+v, %v", r.res, r.res.Err())
	}
	r = runPython(t, b, "import ctypes; ctypes.string_at(0)", sandbox.Limits{})
	if r.res.Signal == 0 {
		t.Errorf("segfault: no signal in %+v", r.res)
	}
}

func TestConcurrentSandboxes(t *testing.T) {
	t.Parallel()
	b := backend(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := runPython(t, b, fmt.Sprintf("print(%d)", i), sandbox.Limits{})
			if r.stdout != fmt.Sprintf("%d\n", i) {
				errs <- fmt.Errorf("sandbox %d printed %q (%v, %s)", i, r.stdout, r.res.Err(), r.stderr)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestInvalidSpec(t *testing.T) {
	t.Parallel()
	b := backend(t)
	tests := []struct {
		name string
		spec sandbox.Spec
		want string
	}{
		{"empty argv", sandbox.Spec{}, "empty command"},
		{"relative read-only", sandbox.Spec{Argv: []string{"python3"}, ReadOnly: []string{"opt"}}, "not absolute"},
		{"read-only covers workspace", sandbox.Spec{Argv: []string{"python3"}, ReadOnly: []string{"/workspace"}}, "would cover"},
		{"no memory limit", sandbox.Spec{Argv: []string{"python3"}, Limits: sandbox.Limits{Memory: -1}}, "memory limit"},
		{"missing program", sandbox.Spec{Argv: []string{"no-such-program"}, Env: sandbox.DefaultEnv()}, "not found"},
		{"files too large", sandbox.Spec{Argv: []string{"python3"}, Files: []sandbox.File{{Path: "/.big/a", Data: make([]byte, 512<<10)}, {Path: "/.big/b", Data: make([]byte, 512<<10)}}}, "room for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Start(context.Background(), &tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestUnsafeBackendRuns(t *testing.T) {
	t.Parallel()
	b := sandbox.NewUnsafe()
	defer b.Close()
	// The workspace is a fresh temporary directory, and HOME points at it.
	r := runPython(t, b, "import os; open('made', 'w').write('x'); print(os.getcwd() == os.environ['HOME'], sorted(os.listdir('.')))", sandbox.Limits{})
	if r.stdout != "True ['made']\n" {
		t.Errorf("unsafe backend: %q %s", r.stdout, r.stderr)
	}
}

func tail(s string) string {
	if len(s) > 400 {
		return "..." + s[len(s)-400:]
	}
	return s
}

// TestTeardownWhenSupervisorKilled kills -9 a process that runs a sandbox
// and checks that the sandbox dies with it and that its cgroup is swept.
func TestTeardownWhenSupervisorKilled(t *testing.T) {
	t.Parallel()
	backend(t) // skips where the host cannot sandbox
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "INTERP_TEST_SUPERVISOR=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("supervisor: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("supervisor said %q", line)
	}
	cgroups := sandboxCgroups(t, cmd.Process.Pid)
	if len(cgroups) == 0 {
		t.Fatal("no cgroup found for the supervisor's sandbox")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("sandbox %d outlived its supervisor", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The next backend sweeps the dead supervisor's cgroups.
	b2, err := sandbox.NewNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	b2.Close()
	for _, dir := range cgroups {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup %s left behind", dir)
		}
	}
}

// sandboxCgroups lists the cgroup directories of sandboxes owned by pid.
func sandboxCgroups(t *testing.T, pid int) []string {
	t.Helper()
	var dirs []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), fmt.Sprintf("sbx-%d-", pid)) {
			dirs = append(dirs, p)
			return filepath.SkipDir
		}
		return nil
	})
	return dirs
}

// TestUnprivilegedUser runs the backend as an ordinary user (nobody) with
// a cgroup delegated to it, as on a desktop with systemd's delegation.
func TestUnprivilegedUser(t *testing.T) {
	// Not in parallel: it writes a copy of the test binary and runs it,
	// and a fork by another test while the file is open for writing makes
	// the exec fail with ETXTBSY.
	backend(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to delegate a cgroup to another user; as an ordinary user the other tests already cover this mode")
	}
	const nobody = 65534
	parent := fmt.Sprintf("interp-deleg-%d", os.Getpid())
	var dirs []string
	for _, c := range []string{"memory", "pids", "cpu", "cpuacct"} {
		dir := filepath.Join("/sys/fs/cgroup", c, parent)
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c)); err != nil {
			t.Skipf("this test delegates cgroup v1 hierarchies; %s is not mounted", c)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
		for _, f := range []string{"", "cgroup.procs", "tasks"} {
			if err := os.Chown(filepath.Join(dir, f), nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			entries, _ := os.ReadDir(d)
			for _, e := range entries {
				if e.IsDir() {
					os.Remove(filepath.Join(d, e.Name()))
				}
			}
			os.Remove(d)
		}
	})
	// The test binary lives in a directory only root may enter.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.MkdirTemp("/var/tmp", "interp-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	os.Chmod(bin, 0o755)
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "sandbox.test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = []string{"INTERP_TEST_UNPRIVILEGED=1", sandbox.ParentEnv + "=" + parent, "PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged run: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 {
		t.Fatalf("output %q", out)
	}
	// Executed, then forked from a zygote, whose programs' parent is
	// outside their PID namespace.
	for i, ppid := range []int{1, 0} {
		if want := fmt.Sprintf("uid 0 caps 0000000000000000 nnp 1 shadow hidden ppid %d|reason=", ppid); lines[2*i] != want {
			t.Errorf("identity: %q, want %q", lines[2*i], want)
		}
		if !strings.HasSuffix(lines[2*i+1], "|reason=memory") {
			t.Errorf("memory limit as an ordinary user: %q", lines[2*i+1])
		}
	}
}

// TestSpawnerDeath kills the process that starts the sandboxes: its
// sandboxes die with it and say why, and the backend starts a new one.
func TestSpawnerDeath(t *testing.T) {
	t.Parallel()
	b := backend(t)
	rt := runtimeFor(t)
	p, err := b.Start(context.Background(), &sandbox.Spec{Argv: []string{rt.Executable, "-c", "import time; time.sleep(60)"}, Env: sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command's closing parenthesis: state, ppid.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	spawnerPid, _ := strconv.Atoi(fields[1])
	if spawnerPid == os.Getpid() || spawnerPid <= 1 {
		t.Fatalf("the sandbox's parent is %d, not a spawner (this process is %d)", spawnerPid, os.Getpid())
	}
	if err := syscall.Kill(spawnerPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { _, err := p.Wait(); waited <- err }()
	select {
	case err := <-waited:
		if !errors.Is(err, spawner.ErrGone) {
			t.Errorf("Wait after the spawner died: %v, want %v", err, spawner.ErrGone)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox outlived its spawner")
	}
	if got := mustSucceed(t, b, "print('again')"); got != "again\n" {
		t.Errorf("after a new spawner: %q", got)
	}
}

// TestOrphansReaped leaves orphans behind: the init, as PID 1, reaps them,
// so they neither linger as zombies nor use up the process limit.
func TestOrphansReaped(t *testing.T) {
	// Not in parallel: a hundred short-lived processes against a limit of
	// 32 is sensitive to how loaded the machine is.
	b := backend(t)
	r := runPython(t, b, `
import os, time
failed = sum(os.system("sleep 0.01 &") != 0 for _ in range(100))
time.sleep(0.5)
zombies = 0
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            zombies += open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            pass
print(failed, zombies)
`, sandbox.Limits{Processes: 32})
	if r.stdout != "0 0\n" {
		t.Errorf("failed forks and zombies: %q (stderr %s)", r.stdout, r.stderr)
	}
}

// TestProgramExitAndSignals checks that the program's own end is reported,
// though the init stands between it and interp, and that signals reach it.
func TestProgramExitAndSignals(t *testing.T) {
	t.Parallel()
	b := backend(t)
	if r := runPython(t, b, "import os; os.kill(os.getpid(), 9)", sandbox.Limits{}); r.res.Signal != syscall.SIGKILL || r.res.ExitCode != -1 {
		t.Errorf("self-kill reported as %+v", r.res)
	}
	if r := runPython(t, b, "raise SystemExit(3)", sandbox.Limits{}); r.res.ExitCode != 3 || r.res.Signal != 0 {
		t.Errorf("exit 3 reported as %+v", r.res)
	}

	rt := runtimeFor(t)
	ready := newLineWriter()
	p, err := b.Start(context.Background(), &sandbox.Spec{
		Argv: []string{rt.Executable, "-c", `
import os, signal, sys, time
def term(*_):
    os.write(1, b"got SIGTERM\n")  # print could re-enter the "ready" print
    sys.exit(5)
signal.signal(signal.SIGTERM, term)
print("ready", flush=True)
time.sleep(60)
`},
		Env: sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly, Stdout: ready,
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready.first:
	case <-time.After(10 * time.Second):
		t.Fatal("program never said ready")
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil || res.ExitCode != 5 || !strings.Contains(ready.String(), "got SIGTERM") {
		t.Errorf("after SIGTERM: %+v, %v, output %q", res, err, ready.String())
	}
}

// lineWriter collects output and closes first on the first write.
type lineWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	once  sync.Once
	first chan struct{}
}

func newLineWriter() *lineWriter { return &lineWriter{first: make(chan struct{})} }

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	w.once.Do(func() { close(w.first) })
	return len(b), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestSandboxInItsCgroup checks, from the host, that a running sandbox is
// in cgroups of its own: on v1 in the memory and pids hierarchies, on v2 in
// the unified one, where it was cloned straight into its cgroup.
func TestSandboxInItsCgroup(t *testing.T) {
	t.Parallel()
	b := backend(t)
	rt := runtimeFor(t)
	ready := newLineWriter()
	p, err := b.Start(context.Background(), &sandbox.Spec{
		Argv: []string{rt.Executable, "-c", "print('ready', flush=True); import time; time.sleep(60)"},
		Env:  sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly, Stdout: ready,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Kill(); _, _ = p.Wait() }()
	<-ready.first
	b2, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	own := fmt.Sprintf("/interp/sbx-%d-", os.Getpid())
	want := []string{"memory", "pids"}
	if cgroups.Mode() == cgroups.Unified {
		want = []string{""} // the unified hierarchy's line: "0::/..."
	}
	for _, controller := range want {
		found := false
		for _, line := range strings.Split(strings.TrimSpace(string(b2)), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), controller) && strings.Contains(f[2], own) {
				found = true
			}
		}
		if !found {
			t.Errorf("sandbox not in a cgroup of its own for %q:\n%s", controller, b2)
		}
	}
}

// TestBackendsOfOneProcessApart checks that the sandboxes of two backends
// in one process (each numbers its sandboxes from 1) get cgroups of their
// own: ending one must not kill the other, as it did when both were named
// sbx-PID-1.
func TestBackendsOfOneProcessApart(t *testing.T) {
	rt := runtimeFor(t)
	// Each program says it is ready, then answers one line of input.
	start := func(b sandbox.Backend, in io.Reader, out *lineWriter) *sandbox.Process {
		t.Helper()
		p, err := b.Start(context.Background(), &sandbox.Spec{
			Argv: []string{rt.Executable, "-c", "import sys; print('ready', flush=True); print('alive', sys.stdin.readline().strip())"},
			Env:  sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly, Stdin: in, Stdout: out,
		})
		if err != nil {
			t.Fatal(err)
		}
		<-out.first
		return p
	}
	firstIn, _ := io.Pipe()
	first := start(backend(t), firstIn, newLineWriter())
	secondIn, tell := io.Pipe()
	secondOut := newLineWriter()
	second := start(backend(t), secondIn, secondOut)
	first.Kill()
	if _, err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	// The first is gone, its cgroup destroyed: the second still answers.
	go func() { _, _ = io.WriteString(tell, "second\n"); tell.Close() }()
	res, err := second.Wait()
	if err != nil || !res.Success() || !strings.Contains(secondOut.String(), "alive second") {
		t.Errorf("ending a sandbox of one backend ended the other backend's: %+v, %v, output %q", res, err, secondOut.String())
	}
}

// TestBackendsStartTogether checks that backends made at once in one
// process all come up: each probes its cgroup driver, and probes named for
// the process alone pulled each other's cgroup away ("no usable cgroup").
func TestBackendsStartTogether(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			b, err := sandbox.NewNamespaces()
			if err != nil {
				errs <- err
				return
			}
			b.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
