package sandboxinit

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loadSeccomp installs the parent's filter on the calling thread, which
// must be the one that executes the program. No filter is an error: a
// sandbox never runs without one.
func loadSeccomp(prog []SockFilter) error {
	if len(prog) == 0 || len(prog) > 0xffff {
		return errors.New("no usable filter in the spec")
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, f := range prog {
		filter[i] = unix.SockFilter{Code: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return e
	}
	return nil
}
