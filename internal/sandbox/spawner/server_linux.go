package spawner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Serve runs the spawner until interp closes the socket or dies. It does
// not return.
func Serve() {
	// Children get their parent-death signal when the thread that forked
	// them exits: every fork happens on this thread, which never exits.
	runtime.LockOSThread()
	unblockSignals()
	conn, err := net.FileConn(os.NewFile(3, "spawner"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "interp-sandbox: spawner:", err)
		os.Exit(1)
	}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		fmt.Fprintln(os.Stderr, "interp-sandbox: spawner: fd 3 is not a unix socket")
		os.Exit(1)
	}
	// Children execute this same binary, through a descriptor so that
	// their unprivileged IDs need no search permission on its path.
	self, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		self, err = unix.FcntlInt(uintptr(self), unix.F_DUPFD_CLOEXEC, 1000)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "interp-sandbox: spawner: open own executable:", err)
		os.Exit(1)
	}
	s := &server{conn: uc, self: fmt.Sprintf("/proc/self/fd/%d", self)}
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(maxFiles*4))
	for {
		n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			// interp is gone: exiting kills every sandbox through its
			// parent-death signal.
			os.Exit(0)
		}
		files, ferr := receivedFiles(oob[:oobn])
		var req Request
		if err := json.Unmarshal(buf[:n], &req); err != nil {
			closeAll(files)
			s.send(message{Err: "bad request: " + err.Error()}, -1)
			continue
		}
		if ferr != nil {
			closeAll(files)
			s.send(message{ID: req.ID, Err: ferr.Error()}, -1)
			continue
		}
		s.spawn(&req, files)
	}
}

// unblockSignals clears a signal mask interp inherited from its own
// parent, which every sandbox would inherit in turn: Go gives the children
// it forks the mask it started with, so the spawner starts again without.
// Nothing is lost: its descriptors and environment survive execve.
func unblockSignals() {
	var mask, none unix.Sigset_t
	if unix.PthreadSigmask(unix.SIG_SETMASK, nil, &mask) != nil || mask == none {
		return
	}
	if unix.PthreadSigmask(unix.SIG_SETMASK, &none, nil) == nil {
		err := syscall.Exec("/proc/self/exe", os.Args, os.Environ())
		fmt.Fprintln(os.Stderr, "interp-sandbox: spawner: start again with no signal blocked:", err)
	}
}

type server struct {
	conn *net.UnixConn
	self string
}

func (s *server) spawn(req *Request, files []*os.File) {
	// The child has its own copies once started; the spawner keeps none.
	defer closeAll(files)
	want := 3 + req.ExtraFiles
	if req.CgroupFD {
		want++
	}
	if len(files) != want || req.ExtraFiles < 0 {
		s.send(message{ID: req.ID, Err: fmt.Sprintf("got %d descriptors, want %d", len(files), want)}, -1)
		return
	}
	pidfd := -1
	attr := &syscall.SysProcAttr{
		Cloneflags:                 req.Cloneflags,
		UidMappings:                req.UIDMap,
		GidMappings:                req.GIDMap,
		GidMappingsEnableSetgroups: req.Setgroups,
		Pdeathsig:                  syscall.SIGKILL,
		Setsid:                     true, // no controlling terminal: no TIOCSTI into interp's
		PidFD:                      &pidfd,
	}
	if req.AsRoot {
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if req.CgroupFD {
		attr.UseCgroupFD = true
		attr.CgroupFD = int(files[len(files)-1].Fd())
	}
	cmd := &exec.Cmd{
		Path:        s.self,
		Args:        req.Args,
		Env:         req.Env,
		Stdin:       files[0],
		Stdout:      files[1],
		Stderr:      files[2],
		ExtraFiles:  files[3 : 3+req.ExtraFiles],
		SysProcAttr: attr,
	}
	if err := cmd.Start(); err != nil {
		m := message{ID: req.ID, Err: err.Error()}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			m.Errno = int(errno)
		}
		s.send(m, -1)
		return
	}
	pid := cmd.Process.Pid
	// The start is reported before the exit can be: the client counts on
	// that order.
	s.send(message{ID: req.ID, Pid: pid}, pidfd)
	unix.Close(pidfd)
	go func() {
		_ = cmd.Wait()
		st, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		s.send(message{Pid: pid, Exited: true, Status: uint32(st)}, -1)
	}()
}

// send writes one message, with fd attached unless it is negative. A
// failed write means interp is gone, which the read loop notices.
func (s *server) send(m message, fd int) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	_, _, _ = s.conn.WriteMsgUnix(b, oob, nil)
}

// receivedFiles turns the descriptors of a message into files.
func receivedFiles(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "received"))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
