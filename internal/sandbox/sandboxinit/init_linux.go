package sandboxinit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// IsInit reports whether this process was started to become a sandbox's
// init.
func IsInit() bool { return os.Getenv(Env) != "" }

// Main sets up the sandbox from inside its namespaces, starts the
// sandboxed program, and stays as the sandbox's PID 1 until the program
// exits. It does not return.
func Main() {
	// Credentials, capabilities, Landlock and seccomp are per thread: they
	// are applied to this one, which then forks the program.
	runtime.LockOSThread()
	nfiles, err := strconv.Atoi(os.Getenv(Env))
	if err != nil || nfiles < 0 {
		fmt.Fprintln(os.Stderr, "interp-sandbox: bad", Env)
		os.Exit(127)
	}
	status := os.NewFile(uintptr(4+nfiles), "status")
	unignoreSignals()
	err = runInit(nfiles)
	// Only failures get here: on success the init sends the program's
	// pidfd on the status socket, and exits when the program does.
	fmt.Fprintf(status, "%v", err)
	os.Exit(127)
}

func runInit(nfiles int) error {
	specFD, statusFD, lifeFD, exitFD := 3+nfiles, 4+nfiles, 5+nfiles, 6+nfiles
	// The program gets 0, 1, 2 and its own files, nothing else: not the
	// init's pipes, nor what interp itself inherited open and passed on
	// unawares (a socket-activated listener, a parent's pipe).
	if err := closeOnExecFrom(3 + nfiles); err != nil {
		return fmt.Errorf("descriptors: %w", err)
	}
	specPipe := os.NewFile(uintptr(specFD), "spec")
	s, err := readSpec(specPipe)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	if err := unix.Sethostname([]byte("sandbox")); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := setupRoot(s); err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	// No nested user namespaces: seccomp refuses them too, this is depth.
	_ = os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0)

	if err := setRlimits(s); err != nil {
		return err
	}
	rulesetFD, llFlags, err := landlockRuleset(s)
	if err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	// Everything so far ran while the parent set up the cgroups; from here
	// on the process must be in them.
	if err := awaitGo(specPipe); err != nil {
		return err
	}
	// A cgroup namespace rooted at the sandbox's own cgroup.
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("cgroup namespace: %w", err)
	}
	if err := dropPrivileges(s.DropToUser); err != nil {
		return fmt.Errorf("drop privileges: %w", err)
	}
	// The kernel clears the parent-death signal when credentials change.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("parent-death signal: %w", err)
	}
	// If the parent died before the signal was re-armed, nobody would
	// ever kill this sandbox: the lifeline's write end closes with it.
	fds := []unix.PollFd{{Fd: int32(lifeFD), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 0); n > 0 {
		return errors.New("parent exited")
	}
	if rulesetFD >= 0 {
		if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(rulesetFD), uintptr(llFlags), 0); e != 0 {
			return fmt.Errorf("landlock: %w", e)
		}
		if !s.Adopt {
			unix.Close(rulesetFD)
		}
	}
	if err := loadSeccomp(s.Seccomp); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	if err := unix.Chdir(s.Dir); err != nil {
		return fmt.Errorf("working directory %s: %w", s.Dir, err)
	}
	if s.Adopt {
		return adopt(specPipe, statusFD, rulesetFD)
	}
	path, err := lookPath(s.Argv[0], s.Env)
	if err != nil {
		return err
	}
	// The program is forked from this thread, so it inherits the
	// credentials, Landlock domain and seccomp filter applied to it above.
	// It gets standard input, output and error and its own files at 3, 4,
	// ...; ours are close-on-exec.
	files := make([]uintptr, 3+nfiles)
	for i := range files {
		files[i] = uintptr(i)
	}
	pid, err := syscall.ForkExec(path, s.Argv, &syscall.ProcAttr{Env: s.Env, Files: files})
	if err != nil {
		return fmt.Errorf("execute %s: %w", s.Argv[0], err)
	}
	// Only the program holds its streams and files now: their readers see
	// the end when it closes them.
	for _, fd := range files {
		unix.Close(int(fd))
	}
	// The status socket carries the program's pidfd to the parent, which
	// signals the program with it, then closes.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		// The parent kills the sandbox on hearing this.
		return fmt.Errorf("pidfd of the program: %w (Linux 5.3 or later is needed)", err)
	}
	if err := unix.Sendmsg(statusFD, []byte{'p'}, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send the program's pidfd: %w", err)
	}
	unix.Close(fd)
	unix.Close(statusFD)
	reap(pid, exitFD)
	return nil // not reached
}

// unignoreSignals gives the program the default dispositions of the
// signals this process started with ignored, as interp's own parent may
// have left them (nohup's SIGHUP, a background job's SIGINT): ignored
// signals stay ignored across execve, and a Python that starts with
// SIGINT ignored can never be interrupted. Handled here, they are reset
// in the forked child before it executes the program.
func unignoreSignals() {
	var ignored []os.Signal
	for s := syscall.Signal(1); s < 65; s++ {
		if signal.Ignored(s) {
			ignored = append(ignored, s)
		}
	}
	if len(ignored) > 0 {
		// Nothing reads them: a signal the program sends its init is lost.
		signal.Notify(make(chan os.Signal, 1), ignored...)
	}
}

// closeOnExecFrom marks every descriptor from first on close-on-exec.
func closeOnExecFrom(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return err
	}
	// Before Linux 5.11: one by one.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// adopt is the init's life when the program comes from a zygote (see
// package sandbox, Zygote): the sandbox is built and the init locked down
// as for any program, but nothing is executed. The init says so on the
// status socket, with the Landlock ruleset it applied to itself, which the
// program applies to itself in turn; the parent then has the zygote fork
// the program into these namespaces and sends its PID here, in the
// sandbox's numbering. The program is the zygote's child, which reports
// its end; the init reaps the orphans the program leaves, and exits when
// the program does, which ends the rest of the sandbox.
func adopt(specPipe *os.File, statusFD, rulesetFD int) error {
	for fd := 0; fd < 3; fd++ {
		unix.Close(fd) // the init's own /dev/null
	}
	var rights []byte
	if rulesetFD >= 0 {
		rights = unix.UnixRights(rulesetFD)
	}
	if err := unix.Sendmsg(statusFD, []byte{Ready}, rights, nil, 0); err != nil {
		return fmt.Errorf("say ready: %w", err)
	}
	if rulesetFD >= 0 {
		unix.Close(rulesetFD)
	}
	unix.Close(statusFD)
	var b [4]byte
	if _, err := io.ReadFull(specPipe, b[:]); err != nil {
		os.Exit(127) // the parent gave up; nothing to report to
	}
	specPipe.Close()
	pidfd, err := unix.PidfdOpen(int(binary.BigEndian.Uint32(b[:])), 0)
	if err != nil {
		os.Exit(0) // already gone
	}
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		for {
			var st syscall.WaitStatus
			if wpid, err := syscall.Wait4(-1, &st, syscall.WNOHANG, nil); wpid <= 0 && !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		// Orphans are reaped every second: they count against the
		// process limit as zombies, but nothing waits on them.
		if n, _ := unix.Poll(fds, 1000); n > 0 {
			os.Exit(0)
		}
	}
}

// reap is the rest of the init's life, as the sandbox's PID 1: it reaps
// the orphans the program leaves, which would otherwise stay zombies and
// count against the process limit. When the program exits, it writes the
// program's wait status to exitFD and exits, and the kernel kills what is
// left of the sandbox. It only ever waits: interp signals the program
// itself, so the init needs no signal handling, and no thread beyond this
// one.
func reap(pid, exitFD int) {
	for {
		var st syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &st, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			os.Exit(255) // no child left: cannot happen before the program's end
		}
		if wpid == pid && (st.Exited() || st.Signaled()) {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(st))
			_, _ = unix.Write(exitFD, b[:])
			os.Exit(0)
		}
		// An orphan, reaped.
	}
}

// readSpec reads the spec: its length, then its JSON.
func readSpec(r io.Reader) (*Spec, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > MaxSpec {
		return nil, fmt.Errorf("spec of %d bytes exceeds %d", size, MaxSpec)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// awaitGo blocks until the parent has put this process in its cgroups. The
// pipe closing without the byte means the parent gave up.
func awaitGo(r io.Reader) error {
	var b [1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil || b[0] != Go {
		return errors.New("parent did not confirm the cgroups")
	}
	return nil
}

func setRlimits(s *Spec) error {
	limits := []struct {
		res int
		val uint64
	}{
		{unix.RLIMIT_NOFILE, uint64(s.OpenFiles)},
		{unix.RLIMIT_CORE, 0},
	}
	if s.CPUSeconds > 0 {
		limits = append(limits, struct {
			res int
			val uint64
		}{unix.RLIMIT_CPU, uint64(s.CPUSeconds)})
	}
	for _, l := range limits {
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.val, Max: l.val}); err != nil {
			return fmt.Errorf("rlimit %d: %w", l.res, err)
		}
	}
	return nil
}

// landlockRuleset builds the Landlock ruleset for the new root: read and
// execute on system files, write only in the workspace, /tmp and /dev/shm.
// It returns -1 where the kernel has no Landlock.
func landlockRuleset(s *Spec) (int, uint32, error) {
	cfg := landlock.V7
	// The network is the network namespace's job: it is empty.
	cfg.HandledAccessNet = 0
	// The root holds only what the spec's view lists: read and execute on
	// the top-level directories covers it, with one rule each.
	ro := []string{"/etc", "/proc", "/sys"}
	var roFiles []string
	for _, m := range s.View {
		if m.Link != "" {
			continue
		}
		top := "/" + strings.SplitN(m.Path[1:], "/", 2)[0]
		switch {
		case top != m.Path || m.Dir:
			if !slices.Contains(ro, top) {
				ro = append(ro, top)
			}
		default:
			roFiles = append(roFiles, m.Path)
		}
	}
	for _, f := range s.Files {
		roFiles = append(roFiles, f.Path)
	}
	fd, flags, err := cfg.BestEffort().NewRulesetFD(
		// Listing any directory is harmless: the root holds only what the
		// sandbox is meant to see.
		landlock.PathAccess(llsyscall.AccessFSReadDir, "/"),
		landlock.RODirs(ro...),
		landlock.ROFiles(roFiles...),
		landlock.RODirs("/dev"),
		landlock.RWFiles("/dev/null", "/dev/zero", "/dev/full"),
		landlock.ROFiles("/dev/random", "/dev/urandom"),
		landlock.RWDirs(WorkspaceDir, TmpDir, "/dev/shm"),
	)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		return -1, 0, nil
	}
	return fd, flags, err
}

// dropPrivileges leaves the program without capabilities and unable to
// regain them: as the sandbox user where the ID map has one, else as root
// of the user namespace with every capability gone for good.
func dropPrivileges(toUser bool) error {
	// Lock root out of capabilities across execve and setuid.
	const secbits = 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5 // NOROOT, NO_SETUID_FIXUP, KEEP_CAPS and their locks
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, secbits&^(1<<2|1<<4), 0, 0, 0); err != nil {
		return fmt.Errorf("securebits: %w", err)
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("bounding set: %w", err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("ambient capabilities: %w", err)
	}
	if toUser {
		// Raw system calls on purpose: the wrappers change every thread,
		// and only this one will exist after execve.
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			return fmt.Errorf("setgroups: %w", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, GID, GID, GID); e != 0 {
			return fmt.Errorf("setresgid: %w", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, UID, UID, UID); e != 0 {
			return fmt.Errorf("setresuid: %w", e)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
}

// lookPath finds name in the PATH of env, inside the new root.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found in the sandbox", name)
}
