package sandbox

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/interp-dev/interp/internal/sandbox/sandboxinit"
)

// deniedSyscalls are refused with EPERM. The list follows Docker's default
// profile: calls that change the system, reach into other processes, or
// widen the kernel's attack surface, none of which Python code needs.
var deniedSyscalls = []string{
	// Mounts and roots.
	"mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig",
	"fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	// Namespaces.
	"setns", "unshare",
	// Other processes.
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	// The kernel itself.
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "reboot", "swapon", "swapoff", "syslog", "acct",
	"iopl", "ioperm", "bpf", "perf_event_open", "userfaultfd",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	// Keys, clocks, quotas and handles.
	"keyctl", "add_key", "request_key", "settimeofday", "clock_settime",
	"clock_adjtime", "adjtimex", "quotactl", "quotactl_fd",
	"open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
	"fanotify_init", "vhangup", "personality", "uselib", "ustat", "sysfs",
	"nfsservctl", "_sysctl", "create_module", "get_kernel_syms", "query_module",
}

// namespaceFlags are the clone flags that create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP |
	unix.CLONE_NEWTIME

// seccompPolicy is the deny-list filter every sandboxed program runs under.
func seccompPolicy() (seccomp.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, fmt.Errorf("seccomp: %w", err)
	}
	// Names missing on this architecture have no number to deny.
	names := make([]string, 0, len(deniedSyscalls))
	for _, n := range deniedSyscalls {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	eperm := seccomp.ActionErrno | seccomp.Action(unix.EPERM)
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Names: names, Action: eperm},
			{
				// clone3 passes its flags in memory, out of a filter's
				// reach. ENOSYS, unlike EPERM, makes the C library fall
				// back to clone, whose flags we can check.
				Names:  []string{"clone3"},
				Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS),
			},
			{
				NamesWithCondtions: []seccomp.NameWithConditions{{
					Name: "clone",
					Conditions: seccomp.ArgumentConditions{{
						Argument: 0, Operation: seccomp.BitsSet, Value: namespaceFlags,
					}},
				}},
				Action: eperm,
			},
		},
	}, nil
}

// seccompProgram assembles the policy into the BPF program every sandbox's
// init loads before executing the program. It is the same for every
// sandbox, so the backend assembles it once and the init, which runs for
// every sandbox, carries no filter compiler.
func seccompProgram() ([]sandboxinit.SockFilter, error) {
	policy, err := seccompPolicy()
	if err != nil {
		return nil, err
	}
	insts, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble policy: %w", err)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble BPF: %w", err)
	}
	prog := make([]sandboxinit.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = sandboxinit.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return prog, nil
}
