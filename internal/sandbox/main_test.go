package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
)

// TestMain lets the test binary serve as the sandbox's init, as the interp
// binary does, and as a supervisor that a test kills.
func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	if os.Getenv("INTERP_TEST_SUPERVISOR") == "1" {
		superviseUntilKilled()
	}
	if os.Getenv("INTERP_TEST_UNPRIVILEGED") == "1" {
		runUnprivileged()
	}
	if os.Getenv("INTERP_TEST_IGNORED_SIGNALS") == "1" {
		reportSignals()
	}
	// A secret in the host's environment, set once here rather than with
	// t.Setenv, so that the tests that look for it can run in parallel.
	os.Setenv(canaryEnv, canaryValue)
	// And a descriptor the process holds open without close-on-exec, as
	// one its own parent could pass on: no sandbox may get it.
	if _, err := unix.Open(os.DevNull, unix.O_RDONLY, 0); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// superviseUntilKilled starts a sandbox that sleeps, prints its PID and
// waits to be killed.
func superviseUntilKilled() {
	b, err := sandbox.NewNamespaces()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	rt, err := python.Find("")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	p, err := b.Start(context.Background(), &sandbox.Spec{
		Argv:     []string{rt.Executable, "-c", "import os, time\nif os.fork() == 0: os.setsid()\ntime.sleep(600)"},
		Env:      sandbox.DefaultEnv(),
		ReadOnly: rt.ReadOnly,
		Limits:   sandbox.Limits{Timeout: -1},
	})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	select {}
}

// runUnprivileged runs as an ordinary user: a sandbox that reports who it
// is, and one that runs out of memory, executed and then forked from a
// zygote. It prints one line per sandbox.
func runUnprivileged() {
	n, err := sandbox.NewNamespaces()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer n.Close()
	rt, err := python.Find("")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	z, err := n.NewZygote(context.Background(), sandbox.ZygoteSpec{
		Python: []string{rt.Executable, "-I", "-B"}, Env: sandbox.DefaultEnv(),
		Program: sandbox.File{Path: "/.interp/pythonc.py", Data: pythonC}, Stderr: os.Stderr,
	})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer z.Close()
	for _, b := range []sandbox.Backend{n, zygoteBackend{n, z}} {
		unprivilegedRuns(b, rt)
	}
	os.Exit(0)
}

func unprivilegedRuns(b sandbox.Backend, rt *python.Runtime) {
	for _, c := range []struct {
		code   string
		limits sandbox.Limits
	}{
		{`import os
st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
open("/workspace/w", "w").write("x")
try:
    open("/etc/shadow").read()
    shadow = "visible"
except OSError:
    shadow = "hidden"
print("uid", os.getuid(), "caps", st["CapEff"], "nnp", st["NoNewPrivs"], "shadow", shadow, "ppid", os.getppid())`, sandbox.Limits{}},
		{"x = []\nwhile True: x.append(bytearray(16 << 20))", sandbox.Limits{Memory: 64 << 20}},
	} {
		var out strings.Builder
		p, err := b.Start(context.Background(), &sandbox.Spec{
			Argv: []string{rt.Executable, "-c", c.code}, Env: sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly,
			Stdout: &out, Stderr: &out, Limits: c.limits,
		})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		res, err := p.Wait()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("%s|reason=%s\n", strings.TrimSpace(out.String()), res.Reason)
	}
}

// reportSignals runs, in a process started with SIGINT and SIGHUP
// ignored and SIGUSR1 blocked, a program executed and one forked from a
// zygote, each of which prints how it handles SIGINT and SIGHUP and the
// signals it blocks. It prints one line per program.
func reportSignals() {
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	var mask unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, nil, &mask); err != nil {
		fail(err)
	}
	if !signal.Ignored(syscall.SIGINT) || !signal.Ignored(syscall.SIGHUP) || mask == (unix.Sigset_t{}) {
		fail(errors.New("started with SIGINT and SIGHUP not ignored, or no signal blocked"))
	}
	n, err := sandbox.NewNamespaces()
	if err != nil {
		fail(err)
	}
	defer n.Close()
	rt, err := python.Find("")
	if err != nil {
		fail(err)
	}
	z, err := n.NewZygote(context.Background(), sandbox.ZygoteSpec{
		Python: []string{rt.Executable, "-I", "-B"}, Env: sandbox.DefaultEnv(),
		Program: sandbox.File{Path: "/.interp/pythonc.py", Data: pythonC}, Stderr: os.Stderr,
	})
	if err != nil {
		fail(err)
	}
	defer z.Close()
	const code = `import signal
blocked = [l.split()[1] for l in open("/proc/self/status") if l.startswith("SigBlk:")][0]
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.getsignal(signal.SIGHUP) == signal.SIG_DFL, blocked)`
	for _, start := range []func(context.Context, *sandbox.Spec) (*sandbox.Process, error){n.Start, z.Start} {
		var out strings.Builder
		p, err := start(context.Background(), &sandbox.Spec{
			Argv: []string{rt.Executable, "-c", code}, Env: sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly, Stdout: &out, Stderr: &out,
		})
		if err != nil {
			fail(err)
		}
		if _, err := p.Wait(); err != nil {
			fail(err)
		}
		fmt.Print(out.String())
	}
	os.Exit(0)
}
