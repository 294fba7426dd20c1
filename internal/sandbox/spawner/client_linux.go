package spawner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrGone is the error of requests and the exit of children outstanding
// when the spawner dies; its children died with it.
var ErrGone = errors.New("sandbox spawner exited")

// Exit is how a child ended.
type Exit struct {
	Status syscall.WaitStatus
	// Err is ErrGone when the spawner died first; the child was killed.
	Err error
}

// Child is a process the spawner started.
type Child struct {
	Pid int
	// PidFD refers to the child for as long as it is open, even after the
	// spawner has reaped it: signals sent through it cannot reach a
	// process that reused the PID.
	PidFD *os.File
	// Exit receives the child's end, once.
	Exit <-chan Exit
}

// Signal sends sig to the child through its pidfd.
func (c *Child) Signal(sig syscall.Signal) error {
	return unix.PidfdSendSignal(int(c.PidFD.Fd()), sig, nil, 0)
}

// Client talks to one spawner process.
type Client struct {
	conn *net.UnixConn
	cmd  *exec.Cmd

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan started
	exits   map[int]chan Exit
	err     error         // set once the spawner is gone
	done    chan struct{} // closed then
}

type started struct {
	child *Child
	err   error
}

// Start starts a spawner from program, the binary every sandbox's init
// runs, which must call Serve when IsSpawner. start runs the spawner's
// exec.Cmd; callers pass one that starts it on a thread that lives as long
// as interp, because the spawner dies with that thread.
func Start(program *os.File, start func(*exec.Cmd) error) (*Client, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawner socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "spawner"), os.NewFile(uintptr(fds[1]), "spawner")
	defer theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("spawner socket: %w", err)
	}
	cmd := &exec.Cmd{
		Path: fmt.Sprintf("/proc/self/fd/%d", program.Fd()),
		Args: []string{"interp-sandbox", "spawner"},
		// Nothing of interp's environment: it holds API keys.
		Env:        []string{Env + "=1"},
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{theirs},
		SysProcAttr: &syscall.SysProcAttr{
			Pdeathsig: syscall.SIGKILL,
			Setpgid:   true, // a terminal's Ctrl-C is interp's to handle
		},
	}
	if err := start(cmd); err != nil {
		conn.Close()
		return nil, fmt.Errorf("start sandbox spawner: %w", err)
	}
	c := &Client{
		conn:    conn.(*net.UnixConn),
		cmd:     cmd,
		pending: make(map[uint64]chan started),
		exits:   make(map[int]chan Exit),
		done:    make(chan struct{}),
	}
	go c.read()
	return c, nil
}

// Spawn starts a child: files are its standard input, output and error,
// then req.ExtraFiles more, then the cgroup directory if req.CgroupFD. The
// caller keeps ownership of files and may close them on return.
//
// Cancelling ctx abandons the wait for the answer; a child started anyway
// finds its parent's pipes closed and ends.
func (c *Client) Spawn(ctx context.Context, req Request, files []*os.File) (*Child, error) {
	if len(files) > maxFiles {
		return nil, fmt.Errorf("spawner: %d descriptors, at most %d", len(files), maxFiles)
	}
	ch := make(chan started, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	req.ID = c.nextID
	c.pending[req.ID] = ch
	c.mu.Unlock()

	b, err := json.Marshal(&req)
	if err != nil {
		c.forget(req.ID)
		return nil, err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	if _, _, err := c.conn.WriteMsgUnix(b, unix.UnixRights(fds...), nil); err != nil {
		c.forget(req.ID)
		return nil, fmt.Errorf("spawner: send request: %w", err)
	}
	select {
	case r := <-ch:
		return r.child, r.err
	case <-ctx.Done():
		c.forget(req.ID)
		return nil, ctx.Err()
	case <-c.done:
		c.forget(req.ID)
		// The answer may have come just before the spawner went.
		select {
		case r := <-ch:
			return r.child, r.err
		default:
			return nil, ErrGone
		}
	}
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// Done is closed when the spawner has gone.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close stops the spawner, killing any child still running, and waits for
// it to exit.
func (c *Client) Close() error {
	c.conn.Close()
	<-c.done
	_ = c.cmd.Wait()
	return nil
}

// read dispatches the spawner's messages until the socket closes.
func (c *Client) read() {
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := c.conn.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			break
		}
		files, _ := receivedFiles(oob[:oobn])
		var m message
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			closeAll(files)
			continue
		}
		c.dispatch(&m, files)
	}
	c.mu.Lock()
	c.err = ErrGone
	for id, ch := range c.pending {
		ch <- started{err: ErrGone}
		delete(c.pending, id)
	}
	for pid, ch := range c.exits {
		ch <- Exit{Status: syscall.WaitStatus(syscall.SIGKILL), Err: ErrGone}
		delete(c.exits, pid)
	}
	c.mu.Unlock()
	close(c.done)
}

func (c *Client) dispatch(m *message, files []*os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Exited {
		closeAll(files)
		if ch, ok := c.exits[m.Pid]; ok {
			ch <- Exit{Status: syscall.WaitStatus(m.Status)}
			delete(c.exits, m.Pid)
		}
		return
	}
	ch, ok := c.pending[m.ID]
	if !ok {
		closeAll(files)
		return
	}
	delete(c.pending, m.ID)
	if m.Err != "" || m.Pid <= 0 || len(files) != 1 {
		closeAll(files)
		err := errors.New(m.Err)
		if m.Errno != 0 {
			err = syscall.Errno(m.Errno)
		} else if m.Err == "" {
			err = errors.New("spawner: malformed answer")
		}
		ch <- started{err: err}
		return
	}
	// Registered before the next message is read: the exit cannot be
	// missed.
	exit := make(chan Exit, 1)
	c.exits[m.Pid] = exit
	ch <- started{child: &Child{Pid: m.Pid, PidFD: files[0], Exit: exit}}
}
