// Package sandboxinit is the first process inside every sandbox: it builds
// the sandbox's filesystem, network and credentials from inside its fresh
// namespaces, applies Landlock and seccomp, starts the sandboxed program,
// and stays as the sandbox's PID 1 to reap orphans until the program ends.
// Package sandbox starts it; cmd/interp-sandbox is a binary that does
// nothing else.
//
// It is kept apart so that binary stays small: every package a binary
// links runs its initialisation before main, and this code runs once for
// every sandbox started.
package sandboxinit

// Env is the environment variable that marks a process as a sandbox's
// init. Its value is the number of the program's own extra files.
const Env = "_INTERP_SANDBOX_INIT"

// Go is the byte that lets the init execute the program.
const Go = 'g'

// Ready is what an init that adopts its program (Spec.Adopt) sends on the
// status socket once the sandbox is built.
const Ready = 'r'

// MaxSpec bounds the spec's encoded size.
const MaxSpec = 64 << 20

// The sandbox user and group.
const (
	UID = 1000
	GID = 1000
)

// Paths inside every sandbox.
const (
	WorkspaceDir = "/workspace"
	TmpDir       = "/tmp"
)

// SystemDirs are the host's system directories. A sandbox sees of them
// only what its spec's View lists; on merged-/usr systems the top-level
// ones are symlinks into /usr and are copied as such.
var SystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// File is a read-only file placed in a sandbox.
type File struct {
	// Path is absolute and outside the system directories, the workspace
	// and /tmp, such as /.interp/runner.py.
	Path string
	Data []byte
}

// Spec is what the parent tells a sandbox's init, as JSON on a pipe after
// its length (4 bytes, big-endian). Once the init is in its cgroups, the
// parent writes one more byte, Go, and only then does the init execute
// the program: building the sandbox overlaps with the parent's cgroup work,
// and nothing untrusted ever runs outside the limits.
type Spec struct {
	Argv []string
	Env  []string
	Dir  string
	// View is what the sandbox sees of the host's files, read-only.
	View  []Mount
	Files []File
	// Proc are files shown over the kernel's in /proc: the sandbox's own
	// view of its CPUs and memory.
	Proc []File
	// CPUs is the number of CPUs the sandbox is told it has, in sysfs.
	CPUs      int
	DiskBytes int64
	OpenFiles int64
	// CPUSeconds is the per-process CPU limit, a backstop for the
	// cgroup-wide budget the parent polls.
	CPUSeconds int64
	// DropToUser runs the program as UID rather than as the user
	// namespace's root; possible when the parent mapped both.
	DropToUser bool
	// NFiles counts the program's own files, at fds 3..3+NFiles-1. The
	// init's pipes follow: the spec, the status (a SOCK_SEQPACKET socket
	// that carries an error, or the program's pidfd once it runs), the
	// lifeline (EOF when the parent is gone), and the exit (the program's
	// wait status, 4 bytes big-endian).
	NFiles int
	// Seccomp is the filter the program runs under, assembled by the
	// parent. The init refuses to execute anything without one.
	Seccomp []SockFilter
	// Adopt: execute nothing. The program is forked by a zygote and
	// enters the sandbox's namespaces itself; Argv is unused, and the
	// init only reaps. See package sandbox, Zygote.
	Adopt bool `json:",omitempty"`
}

// Mount is one entry of a sandbox's view of the host: a symlink copied
// (Link set) or a host file or directory bound read-only at the same path.
type Mount struct {
	Path string
	Link string `json:",omitempty"`
	Dir  bool   `json:",omitempty"`
	// From is the host path bound, if not Path itself.
	From string `json:",omitempty"`
}

// SockFilter is one classic BPF instruction, as struct sock_filter.
type SockFilter struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}
