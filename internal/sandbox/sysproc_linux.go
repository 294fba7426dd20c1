package sandbox

import "syscall"

// unsafeSysProcAttr puts an unsafe program in its own process group, so
// that it and its children can be killed together, and kills it with interp.
func unsafeSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// interruptMain sends SIGINT to the main thread of process pid.
func interruptMain(pid int) error {
	return syscall.Tgkill(pid, pid, syscall.SIGINT)
}
