// Command interp-sandbox is the first process of every sandbox that interp
// starts: it sets the sandbox up from inside, starts the sandboxed program
// and reaps its orphans as PID 1. One more copy runs as the spawner that starts them (see package
// spawner). It is not meant to be run by hand.
//
// interp works without it, by re-executing itself, but every package a
// binary links initialises before main, and interp links many: this small
// binary starts sandboxes several milliseconds faster. interp looks for it
// next to its own executable, or at $INTERP_SANDBOX_INIT.
package main

import (
	"fmt"
	"os"

	"github.com/interp-dev/interp/internal/sandbox/sandboxinit"
	"github.com/interp-dev/interp/internal/sandbox/spawner"
)

func main() {
	if spawner.IsSpawner() {
		spawner.Serve()
	}
	if !sandboxinit.IsInit() {
		fmt.Fprintln(os.Stderr, "interp-sandbox: this is the init of interp's sandboxes; run interp instead")
		os.Exit(2)
	}
	sandboxinit.Main()
}
