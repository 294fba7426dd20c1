package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"testing"

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
