// Command interp is an AI Python code interpreter: it runs Python written
// by a language model, or by you, in a secure sandbox.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/interp-dev/interp/internal/sandbox"
)

// Exit statuses. Each limit has its own, so scripts can tell them apart.
const (
	exitOK          = 0
	exitCodeFailed  = 1 // the user's code failed
	exitUsage       = 2
	exitTimeout     = 3
	exitMemory      = 4
	exitCPUTime     = 5
	exitUnsupported = 6 // this host cannot sandbox
	exitInternal    = 7
)

// exitError carries an exit status and a one-line message for stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	// Without interp-sandbox beside it, the sandbox backend re-executes
	// this binary as its spawner and as each sandbox's init.
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	os.Exit(report(err))
}

// report prints err as one line and returns the exit status for it.
func report(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "interp:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "interp:", err)
	if errors.Is(err, sandbox.ErrUnsupported) {
		return exitUnsupported
	}
	return exitUsage
}
