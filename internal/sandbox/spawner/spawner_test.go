package spawner_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/sandbox/spawner"
)

// The test binary is the spawner, and the children the spawner starts
// (itself again) do what childEnv says.
const childEnv = "SPAWNER_TEST_CHILD"

func TestMain(m *testing.M) {
	if spawner.IsSpawner() {
		spawner.Serve()
	}
	switch what := os.Getenv(childEnv); {
	case strings.HasPrefix(what, "exit "):
		code, _ := strconv.Atoi(strings.TrimPrefix(what, "exit "))
		os.Exit(code)
	case what == "echo":
		// Standard input to output, and a word on the extra file.
		_, _ = io.Copy(os.Stdout, os.Stdin)
		_, _ = os.NewFile(3, "extra").WriteString("extra")
		os.Exit(0)
	case what == "sleep":
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func start(t *testing.T) *spawner.Client {
	t.Helper()
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { self.Close() })
	c, err := spawner.Start(self, func(cmd *exec.Cmd) error { return cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// devNull returns three descriptors of /dev/null for a child's stdio.
func devNull(t *testing.T) []*os.File {
	t.Helper()
	var files []*os.File
	for range 3 {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return files
}

func waitExit(t *testing.T, ch *spawner.Child) spawner.Exit {
	t.Helper()
	select {
	case e := <-ch.Exit:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no exit reported")
		return spawner.Exit{}
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	c := start(t)
	for _, code := range []int{0, 7} {
		ch, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}, Env: []string{childEnv + "=exit " + strconv.Itoa(code)}}, devNull(t))
		if err != nil {
			t.Fatal(err)
		}
		e := waitExit(t, ch)
		if e.Err != nil || !e.Status.Exited() || e.Status.ExitStatus() != code {
			t.Errorf("exit %d reported as %v (err %v)", code, e.Status, e.Err)
		}
	}
}

func TestDescriptorsReachTheChild(t *testing.T) {
	t.Parallel()
	c := start(t)
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	extraR, extraW, _ := os.Pipe()
	errF, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	ch, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}, Env: []string{childEnv + "=echo"}, ExtraFiles: 1},
		[]*os.File{inR, outW, errF, extraW})
	// The spawner and the child hold their own copies now.
	for _, f := range []*os.File{inR, outW, errF, extraW} {
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	_, _ = inW.WriteString("through stdin")
	inW.Close()
	out, _ := io.ReadAll(outR)
	extra, _ := io.ReadAll(extraR)
	if string(out) != "through stdin" || string(extra) != "extra" {
		t.Errorf("stdout %q, extra file %q", out, extra)
	}
	if e := waitExit(t, ch); e.Status.ExitStatus() != 0 {
		t.Errorf("exit %v", e.Status)
	}
}

func TestSignalThroughPidfd(t *testing.T) {
	t.Parallel()
	c := start(t)
	ch, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}, Env: []string{childEnv + "=sleep"}}, devNull(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e := waitExit(t, ch)
	if !e.Status.Signaled() || e.Status.Signal() != syscall.SIGTERM {
		t.Errorf("after SIGTERM: %v", e.Status)
	}
	// Once reaped, the pidfd reaches nothing, even if the PID is reused.
	if err := ch.Signal(syscall.SIGTERM); err == nil {
		t.Error("signal to a reaped child succeeded")
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	c := start(t)
	if _, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}, ExtraFiles: 2}, devNull(t)); err == nil || !strings.Contains(err.Error(), "descriptors") {
		t.Errorf("wrong descriptor count: %v", err)
	}
	// The kernel's refusal comes back as its errno.
	_, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}, Env: []string{childEnv + "=exit 0"}, Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_THREAD}, devNull(t))
	if err == nil {
		t.Error("invalid clone flags accepted")
	}
	// The spawner still works.
	ch, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}, Env: []string{childEnv + "=exit 3"}}, devNull(t))
	if err != nil {
		t.Fatal(err)
	}
	if e := waitExit(t, ch); e.Status.ExitStatus() != 3 {
		t.Errorf("exit %v", e.Status)
	}
}

// TestChildrenDieWithTheSpawner closes the client: the spawner exits, and
// its children with it, reported as gone.
func TestChildrenDieWithTheSpawner(t *testing.T) {
	t.Parallel()
	c := start(t)
	ch, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}, Env: []string{childEnv + "=sleep"}}, devNull(t))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if e := waitExit(t, ch); e.Err == nil {
		t.Errorf("exit after the spawner closed: %v, want %v", e.Status, spawner.ErrGone)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(ch.Pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("child %d outlived its spawner", ch.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}}, devNull(t)); err == nil {
		t.Error("spawn after close succeeded")
	}
}

// TestCloneIntoCgroup starts a child straight into a cgroup v2 directory,
// as the sandbox backend does on cgroup v2 hosts. Any cgroup2 mount serves,
// with or without controllers: hybrid hosts have one beside v1.
func TestCloneIntoCgroup(t *testing.T) {
	t.Parallel()
	mount := cgroup2Mount(t)
	dir, err := os.MkdirTemp(mount, "spawner-test-")
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("cannot create a cgroup under %s: %v", mount, err)
		}
		t.Fatal(err)
	}
	defer os.Remove(dir)
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()

	c := start(t)
	ch, err := c.Spawn(context.Background(), spawner.Request{Args: []string{"child"}, Env: []string{childEnv + "=sleep"}, CgroupFD: true},
		append(devNull(t), cg))
	if err != nil {
		t.Fatal(err)
	}
	procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if strings.TrimSpace(string(procs)) != strconv.Itoa(ch.Pid) {
		t.Errorf("cgroup.procs of the target holds %q, want the child %d", procs, ch.Pid)
	}
	_ = ch.Signal(syscall.SIGKILL)
	waitExit(t, ch)
}

// cgroup2Mount returns where a cgroup2 hierarchy is mounted, or skips
// where none is (never on CI here, where hybrid hosts have one).
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && len(f) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return f[4]
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no cgroup2 mount")
	}
	t.Skip("no cgroup2 mount on this host")
	return ""
}
