package sandbox

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/interp-dev/interp/internal/sandbox/sandboxinit"
	"github.com/interp-dev/interp/internal/sandbox/spawner"
)

// Namespaces is the Linux backend: namespaces, a fresh root filesystem,
// cgroups, seccomp and Landlock. It is safe for concurrent use.
type Namespaces struct {
	cgroups cgroupDriver
	root    bool // running as host root: map the sandbox to unused host IDs
	idBase  uint32

	// spawn runs functions on one OS thread that never exits: a child's
	// parent-death signal fires when the thread that forked it exits, so
	// forking from a pool thread could kill the spawner at random.
	spawn chan func()
	// sp starts the sandboxes; see package spawner.
	spawnerMu sync.Mutex
	sp        *spawner.Client
	// init is the program each sandbox starts as, kept open so that the
	// sandbox's IDs need no path to it; see openInit.
	init *os.File
	// seccomp is the filter every sandbox's init loads, assembled once.
	seccomp []sandboxinit.SockFilter
	// views expands what specs list of the host; cpuinfo is the host's
	// processor description that sandboxes' /proc/cpuinfo repeats.
	views   viewCache
	cpuinfo string

	mu     sync.Mutex
	procs  map[*Process]struct{}
	closed bool
	nextID uint32
}

// NewNamespaces checks that this host can sandbox and returns the backend.
// On a host that cannot, the error wraps ErrUnsupported and says why.
func NewNamespaces() (*Namespaces, error) {
	if err := checkUserNamespaces(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	cg, err := newCgroupDriver()
	if err != nil {
		return nil, fmt.Errorf("%w: cannot enforce limits: %v", ErrUnsupported, err)
	}
	// Sandboxes of an interp that was killed leave empty cgroups behind.
	cg.sweep()
	sweepTrees()
	prog, err := seccompProgram()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	init, err := openInit()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	n := &Namespaces{
		init:    init,
		seccomp: prog,
		cpuinfo: cpuTemplate(),
		cgroups: cg,
		root:    os.Geteuid() == 0,
		// Host IDs nobody uses: 2^31 upwards, two per sandbox.
		idBase: 1<<31 + rand.Uint32N(1<<28)*2,
		spawn:  make(chan func()),
		procs:  make(map[*Process]struct{}),
	}
	go n.spawnThread()
	// Started now, so that a host that cannot run it fails here and the
	// first sandbox starts as fast as the rest.
	if _, err := n.spawner(); err != nil {
		n.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return n, nil
}

// Name implements Backend.
func (n *Namespaces) Name() string { return "namespaces" }

func (n *Namespaces) spawnThread() {
	runtime.LockOSThread() // never unlocked: this thread lives as long as the process
	for f := range n.spawn {
		f()
	}
}

// spawner returns the running spawner, starting a new one if there is
// none or the last one died (its sandboxes died with it).
func (n *Namespaces) spawner() (*spawner.Client, error) {
	n.spawnerMu.Lock()
	defer n.spawnerMu.Unlock()
	if n.sp != nil {
		select {
		case <-n.sp.Done():
			_ = n.sp.Close()
			n.sp = nil
		default:
			return n.sp, nil
		}
	}
	c, err := spawner.Start(n.init, func(cmd *exec.Cmd) error {
		// The spawner dies with the thread that starts it: this one.
		started := make(chan error, 1)
		n.spawn <- func() { started <- cmd.Start() }
		return <-started
	})
	if err != nil {
		return nil, err
	}
	n.sp = c
	return c, nil
}

// Close kills every running sandbox and waits for them to be cleaned up.
func (n *Namespaces) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	procs := make([]*Process, 0, len(n.procs))
	for p := range n.procs {
		procs = append(procs, p)
	}
	n.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	for _, p := range procs {
		<-p.done
	}
	n.spawnerMu.Lock()
	if n.sp != nil {
		_ = n.sp.Close()
		n.sp = nil
	}
	n.spawnerMu.Unlock()
	n.cgroups.removeParent()
	n.views.removeTrees()
	return n.init.Close()
}

// InitEnv names a program to start every sandbox as, such as a build of
// cmd/interp-sandbox elsewhere.
const InitEnv = "INTERP_SANDBOX_INIT"

// openInit opens the program every sandbox starts as: $INTERP_SANDBOX_INIT,
// else interp-sandbox next to this executable, else this executable (which
// must call IsInit and RunInit first thing in main). The small
// interp-sandbox starts faster than a large program that re-executes
// itself. Executing through an open descriptor, at a number high above any
// the child is given, needs no search permission on the path for the
// sandbox's unprivileged IDs.
func openInit() (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	candidates := []string{filepath.Join(filepath.Dir(self), "interp-sandbox"), self}
	if p := os.Getenv(InitEnv); p != "" {
		candidates = []string{p}
	}
	var lastErr error
	for _, p := range candidates {
		f, err := os.Open(p)
		if err != nil {
			lastErr = err
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
			f.Close()
			lastErr = fmt.Errorf("%s is not an executable file", p)
			continue
		}
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 1000)
		f.Close()
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), p), nil
	}
	return nil, fmt.Errorf("no sandbox init program: %w", lastErr)
}

func checkUserNamespaces() error {
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil {
		return fmt.Errorf("no user namespaces (%v): run on Linux 5.x or later", err)
	}
	if strings.TrimSpace(string(b)) == "0" {
		return errors.New("user namespaces are disabled (user.max_user_namespaces = 0): enable them with sysctl")
	}
	if os.Geteuid() != 0 {
		if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
			return errors.New("unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0): enable them or run as root")
		}
	}
	return nil
}

// Start implements Backend.
func (n *Namespaces) Start(ctx context.Context, spec *Spec) (*Process, error) {
	return n.start(ctx, spec, nil)
}

// start starts spec's program in a new sandbox: executed by the sandbox's
// init, or, with a zygote, forked by it into the sandbox.
func (n *Namespaces) start(ctx context.Context, spec *Spec, z *Zygote) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("sandbox: empty command")
	}
	limits := spec.Limits.WithDefaults()
	if err := limits.validate(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, errors.New("sandbox: backend closed")
	}
	n.nextID++
	id := n.nextID
	n.mu.Unlock()

	readOnly, err := cleanReadOnly(spec.ReadOnly)
	if err != nil {
		return nil, err
	}
	if err := validateFiles(spec.Files); err != nil {
		return nil, err
	}
	payload, err := n.initSpec(spec, limits, readOnly, z != nil)
	if err != nil {
		return nil, err
	}

	// Named for the process, this backend (its random ID base: a process
	// may have several backends, whose counters all start at 1) and the
	// sandbox; two sandboxes sharing a cgroup would be killed together.
	cgName := fmt.Sprintf("sbx-%d-%x-%d", os.Getpid(), n.idBase, id)
	var cg group
	var cleanups []func()
	fail := func(err error) (*Process, error) {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		if cg != nil {
			cg.kill()
			_ = cg.destroy()
		}
		return nil, err
	}
	// On cgroup v2 the child is born in its cgroup (CLONE_INTO_CGROUP), so
	// the cgroup comes first; on v1 it is made while the child starts up.
	var cgDir *os.File
	if n.cgroups.cloneInto() {
		if cg, err = n.cgroups.create(cgName, limits); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		if cgDir, err = cg.(*groupV2).open(); err != nil {
			return fail(fmt.Errorf("sandbox: %w", err))
		}
		cleanups = append(cleanups, func() { cgDir.Close() })
	}

	// Pipes: the spec goes in, a status comes out (EOF means the program
	// was executed), and the lifeline tells the init whether we are alive.
	specR, specW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { specR.Close(); specW.Close() })
	statusR, statusW, err := socketPair()
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { statusR.Close(); statusW.Close() })
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { lifeR.Close(); lifeW.Close() })
	exitR, exitW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { exitR.Close(); exitW.Close() })

	nfiles := len(spec.ExtraFiles)
	if z != nil {
		nfiles = 0 // the program's files go to the zygote
	}
	req := n.request(id, nfiles, cgDir != nil)
	p := &Process{
		limits:  limits,
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
		started: time.Now(),
	}
	sp := &spawnedProc{exit: exitR}
	stdout, stderr := p.outputs(spec)
	stdio, err := sp.pipes(spec.Stdin, stdout, stderr)
	if err != nil {
		return fail(fmt.Errorf("sandbox: %w", err))
	}
	cleanups = append(cleanups, sp.abort)
	program := append(stdio, spec.ExtraFiles...)
	files := append(program, specR, statusW, lifeR, exitW)
	if z != nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return fail(err)
		}
		defer null.Close()
		files = []*os.File{null, null, null, specR, statusW, lifeR, exitW}
	}
	if cgDir != nil {
		files = append(files, cgDir)
	}
	sc, err := n.spawner()
	if err != nil {
		return fail(fmt.Errorf("sandbox: %w", err))
	}
	child, err := sc.Spawn(ctx, req, files)
	if err != nil {
		sp.started()
		return fail(fmt.Errorf("sandbox: start: %w", unsupportedStart(err)))
	}
	sp.child = child
	p.proc = sp
	// From here on the child exists: failures must kill it too.
	cleanups = append(cleanups, func() { _ = sp.kill(); _, _, _ = sp.wait() })
	var zc *zygoteChild
	if z != nil {
		// The zygote forks the program's parent-to-be while the init
		// builds the sandbox.
		zc, err = z.forkChild(n.forkRequest(spec, limits), child.PidFD, program)
		if err != nil {
			sp.started()
			return fail(err)
		}
		cleanups = append(cleanups, zc.abort)
	}
	sp.started()
	if cgDir != nil {
		cgDir.Close()
	}
	specR.Close()
	statusW.Close()
	lifeR.Close()
	exitW.Close()

	// The init builds the sandbox from the spec while, on v1, the cgroup is
	// made and the child put in it; only then may it execute the program.
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(payload)))
	if _, err := specW.Write(append(size[:], payload...)); err != nil {
		return fail(fmt.Errorf("sandbox: send spec: %w", err))
	}
	if cg == nil {
		if cg, err = n.cgroups.create(cgName, limits); err != nil {
			return fail(fmt.Errorf("sandbox: %w", err))
		}
		if err := cg.add(child.Pid); err != nil {
			return fail(fmt.Errorf("sandbox: %w", err))
		}
	}
	if _, err := specW.Write([]byte{sandboxinit.Go}); err != nil {
		return fail(fmt.Errorf("sandbox: start: %w", err))
	}
	var pidfd *os.File
	if z == nil {
		specW.Close()
		pidfd, err = readStatus(statusR)
	} else {
		var landlock, exit *os.File
		if landlock, err = readReady(statusR); err == nil {
			pidfd, exit, err = zc.enter(ctx, landlock, func(host, inSandbox int) error {
				if err := cg.add(host); err != nil {
					return err
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], uint32(inSandbox))
				_, err := specW.Write(b[:])
				specW.Close()
				return err
			})
			if landlock != nil {
				landlock.Close()
			}
		}
		if err == nil {
			// The zygote, the program's parent, reports its end.
			exitR.Close()
			sp.exit, sp.forked = exit, true
		}
	}
	statusR.Close()
	if err != nil {
		return fail(err)
	}
	sp.setProgram(pidfd)

	p.group = cg
	p.workspace = fmt.Sprintf("/proc/%d/root%s", child.Pid, WorkspaceDir)
	p.uid, p.gid = os.Getuid(), os.Getgid()
	if n.root {
		p.uid, p.gid = n.hostBase(id)+1, n.hostBase(id)+1
	}
	p.cleanup = func() {
		lifeW.Close()
		n.mu.Lock()
		delete(n.procs, p)
		n.mu.Unlock()
	}
	n.mu.Lock()
	n.procs[p] = struct{}{}
	n.mu.Unlock()
	go p.supervise(ctx)
	return p, nil
}

// initSpec encodes what the init is told, and checks that it fits.
func (n *Namespaces) initSpec(spec *Spec, limits Limits, readOnly []string, adopt bool) ([]byte, error) {
	is := sandboxinit.Spec{
		Adopt:      adopt,
		Argv:       spec.Argv,
		Env:        threadEnv(spec.Env, cpuCount(limits.CPUs)),
		Dir:        spec.Dir,
		View:       n.views.view(readOnly),
		Files:      spec.Files,
		Proc:       procFiles(n.cpuinfo, limits),
		CPUs:       cpuCount(limits.CPUs),
		DiskBytes:  limits.Disk,
		OpenFiles:  limits.OpenFiles,
		DropToUser: n.root,
		NFiles:     len(spec.ExtraFiles),
		Seccomp:    n.seccomp,
		CPUSeconds: cpuSeconds(limits),
	}
	if adopt {
		is.NFiles = 0
	}
	if is.Dir == "" {
		is.Dir = WorkspaceDir
	}
	payload, err := json.Marshal(&is)
	if err != nil {
		return nil, fmt.Errorf("sandbox: encode spec: %w", err)
	}
	if len(payload) > sandboxinit.MaxSpec {
		return nil, fmt.Errorf("sandbox: files and arguments take %d bytes, over the %d-byte limit", len(payload), sandboxinit.MaxSpec)
	}
	return payload, nil
}

// cpuSeconds is the per-process CPU limit for a sandbox's CPU budget: a
// little over it. The poller should normally win and report the reason;
// this only catches a single runaway process.
func cpuSeconds(limits Limits) int64 {
	if limits.CPUTime <= 0 {
		return 0
	}
	return int64((limits.CPUTime + time.Second).Seconds()) + 1
}

// threadEnv sets the size of the thread pools of OpenMP, OpenBLAS and MKL
// (numpy, scipy, scikit-learn) to the sandbox's CPUs, unless env already
// does: they count the CPUs the process may run on, which is the host's,
// and a pool larger than the quota only makes the threads wait on it.
func threadEnv(env []string, cpus int) []string {
	out := slices.Clip(env)
	for _, k := range []string{"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} {
		if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") }) {
			out = append(out, fmt.Sprintf("%s=%d", k, cpus))
		}
	}
	return out
}

// request is what the spawner is asked for to start sandbox id's init,
// with nfiles files of the program's and, if intoCgroup, the cgroup's
// directory.
func (n *Namespaces) request(id uint32, nfiles int, intoCgroup bool) spawner.Request {
	req := spawner.Request{
		Args: []string{"interp-sandbox"},
		// One P: the init mostly waits, and there is one per sandbox.
		Env:        []string{fmt.Sprintf("%s=%d", sandboxinit.Env, nfiles), "GOMAXPROCS=1"},
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		// The program's files, then the init's spec, status, lifeline
		// and exit.
		ExtraFiles: nfiles + 4,
		CgroupFD:   intoCgroup,
	}
	if n.root {
		base := n.hostBase(id)
		req.UIDMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: base, Size: 1}, {ContainerID: sandboxinit.UID, HostID: base + 1, Size: 1}}
		req.GIDMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: base, Size: 1}, {ContainerID: sandboxinit.GID, HostID: base + 1, Size: 1}}
		req.Setgroups = true
		// The child keeps host root's IDs, unmapped and so powerless in
		// its namespace, until it becomes the namespace's root.
		req.AsRoot = true
	} else {
		req.UIDMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		req.GIDMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	return req
}

// socketPair returns the two ends of a SOCK_SEQPACKET socket.
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "status"), os.NewFile(uintptr(fds[1]), "status"), nil
}

// readStatus reads what the init says until it closes the socket: the
// program's pidfd once it runs, or why the sandbox could not be built.
func readStatus(conn *os.File) (*os.File, error) {
	fd, msg, err := recvStatus(conn)
	if err != nil {
		return nil, err
	}
	if fd == nil {
		if len(msg) == 0 {
			return nil, errors.New("sandbox: the init exited without a word")
		}
		return nil, fmt.Errorf("sandbox: %s", strings.TrimSpace(string(msg)))
	}
	return fd, nil
}

// recvStatus reads what the init says until it closes the socket: the
// first descriptor it sent, if any, and its words before that.
func recvStatus(conn *os.File) (*os.File, []byte, error) {
	var msg []byte
	var pidfd *os.File
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if pidfd != nil {
				pidfd.Close()
			}
			return nil, nil, fmt.Errorf("sandbox: read status: %w", err)
		}
		if n == 0 && oobn == 0 {
			break
		}
		if len(msg) < len(buf) {
			msg = append(msg, buf[:n]...)
		}
		if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, c := range cmsgs {
				fds, _ := unix.ParseUnixRights(&c)
				for _, fd := range fds {
					if pidfd == nil {
						pidfd = os.NewFile(uintptr(fd), "pidfd")
					} else {
						unix.Close(fd)
					}
				}
			}
		}
	}
	return pidfd, msg, nil
}

// hostBase is the host ID that sandbox id's root maps to; its sandbox user
// maps to the next one. Every sandbox gets IDs of its own.
func (n *Namespaces) hostBase(id uint32) int {
	return int(n.idBase + (id%(1<<27))*2)
}

// unsupportedStart turns the kernel's refusal to create namespaces into an
// error that says what to do.
func unsupportedStart(err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: the kernel refused to create namespaces (%v); this happens in locked-down containers", ErrUnsupported, err)
	}
	return err
}

func cleanReadOnly(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("sandbox: read-only path %q is not absolute", p)
		}
		p = filepath.Clean(p)
		for _, d := range []string{"/", WorkspaceDir, TmpDir, "/proc", "/dev", "/etc"} {
			if p == d || strings.HasPrefix(p, d+"/") && d != "/" {
				return nil, fmt.Errorf("sandbox: read-only path %q would cover, or be covered by, the sandbox's %s", p, d)
			}
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("sandbox: read-only path: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
