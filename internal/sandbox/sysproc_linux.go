package sandbox

import "syscall"

// unsafeSysProcAttr puts an unsafe program in its own process group, so
// that it and its children can be killed together, and kills it with interp.
func unsafeSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
