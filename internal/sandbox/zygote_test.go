package sandbox_test

import (
	"context"
	_ "embed"
	"os"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/sandbox"
)

//go:embed testdata/pythonc.py
var pythonC []byte

// zygoteBackend starts every program forked from one zygote whose
// program behaves as `python -c`, so that the conformance suite holds
// forked programs to what executed ones are held to.
type zygoteBackend struct {
	*sandbox.Namespaces
	z *sandbox.Zygote
}

func (b zygoteBackend) Name() string { return "zygote" }

func (b zygoteBackend) Start(ctx context.Context, spec *sandbox.Spec) (*sandbox.Process, error) {
	return b.z.Start(ctx, spec)
}

func newZygote(t testing.TB, n *sandbox.Namespaces, prepare ...string) *sandbox.Zygote {
	t.Helper()
	rt := runtimeFor(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	z, err := n.NewZygote(ctx, sandbox.ZygoteSpec{
		Python:  []string{rt.Executable, "-I", "-B"},
		Env:     sandbox.DefaultEnv(),
		Program: sandbox.File{Path: "/.interp/pythonc.py", Data: pythonC},
		Prepare: prepare,
		Stderr:  os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z
}

func zygoteConformance(t testing.TB) sandbox.Backend {
	n := backend(t)
	return zygoteBackend{n, newZygote(t, n)}
}

func TestZygoteSmoke(t *testing.T) {
	b := zygoteConformance(t)
	out := mustSucceed(t, b, `
import os, sys
st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
print(os.getuid(), os.getgid(), os.getgroups(), os.getcwd())
print(st["CapEff"], st["CapPrm"], st["CapBnd"], st["NoNewPrivs"], st["Seccomp"])
print(os.getppid(), os.getpid() > 1, os.uname().nodename)
`)
	t.Log(out)
}
