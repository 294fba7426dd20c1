package spawner

import "syscall"

// Request asks the spawner to start its own executable as a sandbox's
// init. Its descriptors travel with it: standard input, output and error,
// then ExtraFiles of the child's, then the cgroup directory if CgroupFD.
type Request struct {
	// ID is set by Client.Spawn.
	ID         uint64
	Args       []string
	Env        []string
	Cloneflags uintptr
	UIDMap     []syscall.SysProcIDMap
	GIDMap     []syscall.SysProcIDMap
	// Setgroups lets the child call setgroups in its user namespace.
	Setgroups bool
	// AsRoot starts the child with IDs 0, the namespace's root once the
	// maps are written.
	AsRoot bool
	// ExtraFiles counts the descriptors after standard error that become
	// the child's 3, 4, ...
	ExtraFiles int
	// CgroupFD: the last descriptor is a cgroup v2 directory to clone the
	// child into.
	CgroupFD bool
}

// message is what the spawner sends: the outcome of a request (ID set,
// with the child's pidfd attached on success), or a child's exit.
type message struct {
	ID    uint64 `json:",omitempty"`
	Pid   int    `json:",omitempty"`
	Err   string `json:",omitempty"`
	Errno int    `json:",omitempty"`
	// Exited reports that child Pid ended with Status.
	Exited bool   `json:",omitempty"`
	Status uint32 `json:",omitempty"`
}

// maxMessage bounds one message on the socket.
const maxMessage = 64 << 10

// maxFiles bounds the descriptors of one request (the kernel's SCM_MAX_FD
// is 253).
const maxFiles = 200
