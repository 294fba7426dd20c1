package sandbox

import "io"

// ZygoteSpec describes a zygote: a Python program loaded once, outside any
// sandbox, and forked already initialised into new sandboxes.
type ZygoteSpec struct {
	// Python is the interpreter and its flags, such as -I -B. The zygote's
	// own code comes on its standard input.
	Python []string
	// Env is the zygote's whole environment, which its programs see in
	// their memory: nothing of the host's goes in it.
	Env []string
	// Program is the program's source, and the path it has inside the
	// sandboxes. It defines _zygote_prepare(args), run once in the zygote,
	// and _zygote_main(), run in each program once it is locked down in
	// its sandbox.
	Program File
	// Prepare is what _zygote_prepare is called with.
	Prepare []string
	// PrepareEnv sets variables only while the program prepares, such as
	// a directory of the host for caches: Env is what every program
	// shows as its environment in /proc/self/environ.
	PrepareEnv []string
	// CPUs is the CPU quota of the sandboxes it forks into: it sizes the
	// thread pools of the libraries the zygote loads, as Spec.Limits.CPUs
	// does for an executed program's.
	CPUs float64
	// Stderr receives what the zygote itself writes; nil discards it.
	Stderr io.Writer
}
