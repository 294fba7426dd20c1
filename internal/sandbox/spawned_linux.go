package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/interp-dev/interp/internal/sandbox/spawner"
)

// spawnedProc is a sandbox's init as the spawner started it, and the
// program the init started. Not being the init's parent, interp learns of
// its exit from the spawner, kills it through its pidfd, and copies its
// output from pipes of its own. Signals go to the program directly: the
// init only reaps.
type spawnedProc struct {
	child *spawner.Child
	exit  *os.File // the init reports the program's wait status here
	// forked: the program's parent, a zygote, reports on exit instead
	// of the init (see Zygote).
	forked bool

	// The program: its host PID and a pidfd, or none once it has ended.
	program      int
	programPidFD *os.File

	copies  sync.WaitGroup
	readers []*os.File // interp's ends of the output pipes
	owned   []*os.File // the child's ends that interp opened

	mu     sync.Mutex
	closed bool // the pidfd is closed
}

// pipes makes the child's standard input, output and error, and starts
// copying its output to stdout and stderr.
func (s *spawnedProc) pipes(stdin io.Reader, stdout, stderr io.Writer) ([]*os.File, error) {
	var in *os.File
	switch r := stdin.(type) {
	case nil:
		f, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		in = f
		s.owned = append(s.owned, f)
	case *os.File:
		in = r
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		in = pr
		s.owned = append(s.owned, pr)
		go func() {
			_, _ = io.Copy(pw, r)
			pw.Close()
		}()
	}
	files := []*os.File{in}
	for _, w := range []io.Writer{stdout, stderr} {
		pr, pw, err := os.Pipe()
		if err != nil {
			s.started()
			s.abort()
			return nil, err
		}
		s.owned = append(s.owned, pw)
		s.readers = append(s.readers, pr)
		files = append(files, pw)
		s.copies.Add(1)
		go func() {
			defer s.copies.Done()
			_, _ = io.Copy(w, pr)
		}()
	}
	return files, nil
}

// started closes interp's copies of the child's ends, once the child has
// its own (or failed to start).
func (s *spawnedProc) started() {
	for _, f := range s.owned {
		f.Close()
	}
	s.owned = nil
}

// abort stops the copies of a child that never ran.
func (s *spawnedProc) abort() {
	for _, r := range s.readers {
		r.Close()
	}
}

func (s *spawnedProc) pid() int { return s.child.Pid }

// setProgram takes the program's pidfd, which the init sent once the
// program ran, and learns its host PID from it.
func (s *spawnedProc) setProgram(pidfd *os.File) {
	s.programPidFD = pidfd
	b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", pidfd.Fd()))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			// -1 once the program has ended; interrupts then report it.
			s.program, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
}

func (s *spawnedProc) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.programPidFD == nil {
		return os.ErrProcessDone
	}
	return unix.PidfdSendSignal(int(s.programPidFD.Fd()), sig, nil, 0)
}

func (s *spawnedProc) interrupt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.program <= 0 {
		return os.ErrProcessDone
	}
	return interruptMain(s.program)
}

func (s *spawnedProc) kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrProcessDone
	}
	return s.child.Signal(syscall.SIGKILL)
}

func (s *spawnedProc) wait() (syscall.WaitStatus, *syscall.Rusage, error) {
	// The init outlives the program, writes how it ended, and exits. Its
	// exit shows on its pidfd before the spawner has reaped it and said
	// so: waiting there saves a round of wake-ups. An init killed first
	// (a timeout, a kill, the spawner's death) wrote nothing, and its own
	// end, as the spawner reports it, is the sandbox's.
	var status syscall.WaitStatus
	var err error
	var b [4]byte
	if n, _ := io.ReadFull(s.exit, b[:]); n == len(b) {
		status = syscall.WaitStatus(binary.BigEndian.Uint32(b[:]))
		s.awaitInitExit()
	} else {
		e := <-s.child.Exit
		status, err = e.Status, e.Err
		if s.forked && err == nil && !status.Signaled() {
			// An init that adopted the program exits when it ends, but
			// only the zygote, its parent, knew how.
			err = errors.New("the program's zygote exited before reporting how the program ended")
		}
	}
	s.exit.Close()
	// Every process of the sandbox died with its PID namespace, so the
	// pipes are at EOF; a second covers the copies' last writes.
	copied := make(chan struct{})
	go func() {
		s.copies.Wait()
		close(copied)
	}()
	select {
	case <-copied:
	case <-time.After(time.Second):
		s.abort()
		<-copied
	}
	s.abort()
	s.mu.Lock()
	s.closed = true
	s.child.PidFD.Close()
	if s.programPidFD != nil {
		s.programPidFD.Close()
	}
	s.mu.Unlock()
	return status, nil, err
}

// awaitInitExit waits until the init has exited, and with it every
// process of its PID namespace. Its pidfd becomes readable then.
func (s *spawnedProc) awaitInitExit() {
	fds := []unix.PollFd{{Fd: int32(s.child.PidFD.Fd()), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, -1)
		if n > 0 || err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
