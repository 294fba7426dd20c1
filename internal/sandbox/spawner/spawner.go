// Package spawner is a small helper process that starts sandboxes on
// interp's behalf, and its client.
//
// A sandbox's first process is created with a new user namespace, and its
// ID maps must be written while the child waits; so it cannot be started
// with vfork, and forking copies the page tables of the process that forks.
// Started straight from interp, a sandbox's start-up would grow with
// interp's heap: 11 ms more at 200 MiB on the machines this was measured
// on. The spawner stays a few MiB, so its forks stay cheap whatever interp
// holds.
//
// The spawner runs the same small binary as every sandbox's init. It is
// the parent of every sandbox: it starts each one on the one OS thread it
// never leaves, so that their parent-death signal fires only when the
// spawner dies, and it dies with interp. It reports each sandbox's pidfd
// at start and its wait status at exit over a SOCK_SEQPACKET socket.
package spawner

import "os"

// Env marks a process started to be the spawner; its socket is fd 3.
const Env = "_INTERP_SANDBOX_SPAWNER"

// IsSpawner reports whether this process was started to be the spawner.
func IsSpawner() bool { return os.Getenv(Env) != "" }
