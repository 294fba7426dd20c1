package sandbox

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/interp-dev/interp/internal/sandbox/sandboxinit"
)

//go:embed zygote.py
var zygoteSource []byte

// Zygote forks one loaded program into new sandboxes (Android's zygote
// does this for apps). A program forked from it shares its memory with
// the zygote and its siblings, copy-on-write, and starts in the time a
// fork takes instead of the time its imports take.
//
// Every sandbox is built by its init exactly as for an executed program;
// the program, a child of the zygote, enters the init's namespaces and
// applies to itself the same limits, credentials, Landlock ruleset and
// seccomp filter the init applied to itself (zygote.py, checked by the
// conformance suite). What siblings share is their memory layout and the
// secrets fixed when the zygote started (ASLR, the stack canary, Python's
// hash secret): see ARCHITECTURE.md, "The zygote". Random
// generators are reseeded in every program.
//
// The zygote runs as interp's user with every capability dropped: its IDs
// own the sandboxes' user namespaces, which is what lets its children
// enter them. It never runs untrusted code and reads nothing but interp's
// requests.
type Zygote struct {
	n    *Namespaces
	cmd  *exec.Cmd
	ctrl *os.File
	born time.Time

	mu     sync.Mutex // one request at a time on ctrl
	forks  int
	closed bool
	exited chan struct{}
	state  *os.ProcessState // how it ended, once exited is closed
	stderr *tailWriter
}

// NewZygote starts a zygote and waits until its program is prepared.
func (n *Namespaces) NewZygote(ctx context.Context, zs ZygoteSpec) (*Zygote, error) {
	if len(zs.Python) == 0 {
		return nil, errors.New("sandbox: zygote: no interpreter")
	}
	ctrl, child, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer child.Close()
	progR, progW, err := os.Pipe()
	if err != nil {
		ctrl.Close()
		return nil, err
	}
	defer progR.Close()
	// The last of what it writes explains a failed start.
	stderr := &tailWriter{w: zs.Stderr}
	if stderr.w == nil {
		stderr.w = io.Discard
	}
	cmd := exec.Command(zs.Python[0], append(append([]string{}, zs.Python[1:]...), "-")...)
	cmd.Env = threadEnv(zs.Env, cpuCount(zs.CPUs))
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(zygoteSource)
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.ExtraFiles = []*os.File{child, progR}
	// A session of its own, as the spawner's sandboxes: a Ctrl-C on
	// interp's terminal is interp's to handle, and the terminal is not
	// the zygote's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setsid: true}
	if n.root {
		// No network and no IPC with the host: the zygote needs neither.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC
	}
	started := make(chan error, 1)
	// Its parent-death signal fires when the thread that started it
	// exits: the spawn thread never does.
	n.spawn <- func() { started <- cmd.Start() }
	if err := <-started; err != nil {
		ctrl.Close()
		progW.Close()
		return nil, fmt.Errorf("sandbox: start the zygote: %w", err)
	}
	// Only the zygote holds its ends now: its exit shows as EOF.
	child.Close()
	progR.Close()
	z := &Zygote{n: n, cmd: cmd, ctrl: ctrl, born: time.Now(), exited: make(chan struct{}), stderr: stderr}
	go func() {
		_ = cmd.Wait()
		z.state = cmd.ProcessState
		close(z.exited)
	}()
	prog, err := json.Marshal(map[string]any{"path": zs.Program.Path, "source": string(zs.Program.Data), "prepare": zs.Prepare, "prepare_env": zs.PrepareEnv})
	if err != nil {
		z.kill()
		progW.Close()
		return nil, err
	}
	go func() {
		_, _ = progW.Write(prog)
		progW.Close()
	}()
	ready := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := ctrl.Read(buf)
		switch {
		case err != nil:
			// It closed the socket by exiting: what it wrote says why.
			<-z.exited
			ready <- fmt.Errorf("it exited while preparing (%v)%s", z.state, z.stderr.why())
		case string(buf[:n]) != "ready":
			ready <- fmt.Errorf("it said %q", buf[:n])
		default:
			ready <- nil
		}
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		// Closing would not stop one still preparing.
		z.kill()
		return nil, fmt.Errorf("sandbox: zygote: %w", err)
	}
	return z, nil
}

// kill ends a zygote that is of no use, and waits for its end.
func (z *Zygote) kill() {
	z.mu.Lock()
	if !z.closed {
		z.closed = true
		z.ctrl.Close()
	}
	z.mu.Unlock()
	_ = z.cmd.Process.Kill()
	<-z.exited
}

// unlessExited returns err, or, if the zygote has exited, that it has: a
// zygote that dies closes its sockets, and the news of its exit follows
// closely.
func (z *Zygote) unlessExited(err error) error {
	select {
	case <-z.exited:
		return z.exitErr()
	case <-time.After(time.Second):
		return err
	}
}

// exitErr says that the zygote has exited, and how.
func (z *Zygote) exitErr() error {
	<-z.exited
	return fmt.Errorf("sandbox: zygote %d exited (%v); start a new one", z.cmd.Process.Pid, z.state)
}

// Start starts spec's program in a new sandbox, forked from the zygote.
// spec.Argv names the program as it would be executed; it is what the
// program's sys.orig_argv says, and what it executes to restart itself.
func (z *Zygote) Start(ctx context.Context, spec *Spec) (*Process, error) {
	// No sandbox is built for a zygote that cannot fork into it.
	if !z.Alive() {
		return nil, z.exitErr()
	}
	z.mu.Lock()
	closed := z.closed
	z.mu.Unlock()
	if closed {
		return nil, errors.New("sandbox: zygote closed")
	}
	return z.n.start(ctx, spec, z)
}

// Forks counts the programs the zygote has forked.
func (z *Zygote) Forks() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.forks
}

// Age is how long ago the zygote started.
func (z *Zygote) Age() time.Duration { return time.Since(z.born) }

// Pid is the zygote's process ID.
func (z *Zygote) Pid() int { return z.cmd.Process.Pid }

// Alive reports whether the zygote still runs.
func (z *Zygote) Alive() bool {
	select {
	case <-z.exited:
		return false
	default:
		return true
	}
}

// Close stops the zygote forking. The programs it forked live on in their
// sandboxes: it exits once the last has ended and been reported, or with
// interp.
func (z *Zygote) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if !z.closed {
		z.closed = true
		z.ctrl.Close() // EOF for the zygote
	}
	return nil
}

// zygoteRequest is one fork request; see zygote.py.
type zygoteRequest struct {
	Argv       []string    `json:"argv"`
	Env        []string    `json:"env"`
	Dir        string      `json:"dir"`
	NFiles     int         `json:"nfiles"`
	OpenFiles  int64       `json:"open_files"`
	CPUSeconds int64       `json:"cpu_seconds"`
	ToUser     bool        `json:"to_user"`
	UID        int         `json:"uid"`
	GID        int         `json:"gid"`
	Seccomp    [][4]uint32 `json:"seccomp"`
}

// forkRequest is what the zygote is told for spec: what the init would
// have been told about the program, and the filter it loaded itself.
func (n *Namespaces) forkRequest(spec *Spec, limits Limits) zygoteRequest {
	r := zygoteRequest{
		Argv:       spec.Argv,
		Env:        threadEnv(spec.Env, cpuCount(limits.CPUs)),
		Dir:        spec.Dir,
		NFiles:     len(spec.ExtraFiles),
		OpenFiles:  limits.OpenFiles,
		CPUSeconds: cpuSeconds(limits),
		ToUser:     n.root,
		UID:        sandboxinit.UID,
		GID:        sandboxinit.GID,
	}
	if r.Dir == "" {
		r.Dir = WorkspaceDir
	}
	for _, f := range n.seccomp {
		r.Seccomp = append(r.Seccomp, [4]uint32{uint32(f.Code), uint32(f.Jt), uint32(f.Jf), f.K})
	}
	return r
}

// forkChild asks the zygote to fork a child for a new sandbox, whose
// init is initPidFD, and the program's descriptors. The child waits until
// the sandbox is built (enter), so that its fork overlaps the init's work.
func (z *Zygote) forkChild(req zygoteRequest, initPidFD *os.File, program []*os.File) (*zygoteChild, error) {
	reply, replyChild, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer replyChild.Close()
	fds := []int{int(initPidFD.Fd()), int(replyChild.Fd())}
	for _, f := range program {
		fds = append(fds, int(f.Fd()))
	}
	payload, err := json.Marshal(&req)
	if err != nil {
		reply.Close()
		return nil, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		reply.Close()
		return nil, errors.New("sandbox: zygote closed")
	}
	z.forks++
	if err := unix.Sendmsg(int(z.ctrl.Fd()), payload, unix.UnixRights(fds...), nil, unix.MSG_NOSIGNAL); err != nil {
		reply.Close()
		return nil, z.unlessExited(fmt.Errorf("sandbox: ask the zygote: %w", err))
	}
	return &zygoteChild{z: z, reply: reply}, nil
}

// zygoteChild is the zygote's child for one sandbox, waiting to enter it.
type zygoteChild struct {
	z     *Zygote
	reply *os.File
}

// abort lets the child go: it exits.
func (c *zygoteChild) abort() { c.reply.Close() }

// enter has the child join the built sandbox, with the init's Landlock
// ruleset if any, and fork the program into it. place is called with the
// program's host PID and its PID in the sandbox, to put it in the
// sandbox's cgroup and tell the init; only then is the program let go. It
// returns the program's pidfd, and a socket on which the zygote, its
// parent, reports its wait status (4 bytes, big-endian) when it ends.
func (c *zygoteChild) enter(ctx context.Context, landlock *os.File, place func(host, inSandbox int) error) (pidfd, exit *os.File, err error) {
	defer func() {
		if err != nil {
			c.abort()
		}
	}()
	var rights []byte
	if landlock != nil {
		rights = unix.UnixRights(int(landlock.Fd()))
	}
	if err := unix.Sendmsg(int(c.reply.Fd()), []byte{'e'}, rights, nil, unix.MSG_NOSIGNAL); err != nil {
		return nil, nil, c.z.unlessExited(fmt.Errorf("sandbox: the zygote's child: %w", err))
	}
	// The child answers with the program's pidfd, or closes the socket
	// having said why on the zygote's standard error.
	got := make(chan *os.File, 1)
	go func() { got <- recvFD(c.reply) }()
	select {
	case pidfd = <-got:
	case <-ctx.Done():
		c.reply.Close()
		if fd := <-got; fd != nil {
			fd.Close()
		}
		return nil, nil, ctx.Err()
	case <-c.z.exited:
		return nil, nil, c.z.exitErr()
	}
	if pidfd == nil {
		return nil, nil, c.z.unlessExited(errors.New("sandbox: the zygote could not fork the program"))
	}
	host, inSandbox, err := pidfdPids(pidfd)
	if err == nil {
		err = place(host, inSandbox)
	}
	if err == nil {
		_, err = c.reply.Write([]byte{sandboxinit.Go})
	}
	if err != nil {
		_ = unix.PidfdSendSignal(int(pidfd.Fd()), unix.SIGKILL, nil, 0)
		pidfd.Close()
		return nil, nil, fmt.Errorf("sandbox: start the forked program: %w", err)
	}
	return pidfd, c.reply, nil
}

// readReady reads the adopting init's word that the sandbox is built,
// with the Landlock ruleset it applied to itself, if any.
func readReady(status *os.File) (*os.File, error) {
	landlock, msg, err := recvStatus(status)
	if err != nil {
		return nil, err
	}
	if string(msg) == string(sandboxinit.Ready) {
		return landlock, nil
	}
	if landlock != nil {
		landlock.Close()
	}
	switch {
	case len(msg) == 0:
		return nil, errors.New("sandbox: the init exited without a word")
	case string(msg) == "p" && landlock != nil:
		// It executed the program and sent its pidfd: it ignored Adopt.
		return nil, fmt.Errorf("sandbox: the sandbox's init executed the program instead of adopting the forked one: it is older than interp; rebuild interp-sandbox (or the program %s names)", InitEnv)
	}
	return nil, fmt.Errorf("sandbox: %s", strings.TrimSpace(string(msg)))
}

// tailWriter passes writes on to w and keeps the last of them.
type tailWriter struct {
	w    io.Writer
	mu   sync.Mutex
	tail []byte
}

const tailSize = 4 << 10

func (t *tailWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.tail = append(t.tail, b...)
	if len(t.tail) > tailSize {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-tailSize:]...)
	}
	t.mu.Unlock()
	return t.w.Write(b)
}

// why is the gist of the last lines written, for an error message: the
// last line (a Python exception) and the place a traceback names last.
func (t *tailWriter) why() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(t.tail), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ", having written nothing"
	}
	last := lines[len(lines)-1]
	for i := len(lines) - 2; i >= 0; i-- {
		if strings.HasPrefix(lines[i], `File "`) {
			return ": " + lines[i] + ": " + last
		}
	}
	return ": " + last
}

// pidfdPids reads a process's PID on the host and in its own PID
// namespace from its pidfd.
func pidfdPids(pidfd *os.File) (host, inner int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", pidfd.Fd()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			if len(f) < 2 {
				break
			}
			host, _ = strconv.Atoi(f[0])
			inner, _ = strconv.Atoi(f[len(f)-1])
			if host > 0 && inner > 0 {
				return host, inner, nil
			}
		}
	}
	return 0, 0, errors.New("the program ended before it entered its sandbox")
}

// recvFD reads one message from conn and returns the descriptor it
// carries, if any.
func recvFD(conn *os.File) *os.File {
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		_, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || oobn == 0 {
			return nil
		}
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(cmsgs) == 0 {
			return nil
		}
		fds, _ := unix.ParseUnixRights(&cmsgs[0])
		for _, fd := range fds[min(1, len(fds)):] {
			unix.Close(fd)
		}
		if len(fds) == 0 {
			return nil
		}
		return os.NewFile(uintptr(fds[0]), "pidfd")
	}
}
