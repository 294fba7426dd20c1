//go:build !linux

package sandbox

import "syscall"

// unsafeSysProcAttr puts an unsafe program in its own process group, so
// that it and its children can be killed together.
func unsafeSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// interruptMain sends SIGINT to process pid.
func interruptMain(pid int) error {
	return syscall.Kill(pid, syscall.SIGINT)
}
