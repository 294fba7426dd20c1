package sandbox

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// findProgram finds the program among the init's children, once the init
// has said it runs. A program that has already ended is not found, and
// signals to it report that it is done.
func (s *spawnedProc) findProgram() {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", s.child.Pid))
	var pids []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) == 0 {
		return
	}
	// Right after the start it is the init's only child; should the program
	// have orphaned one already, the program came first.
	pid := slices.Min(pids)
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	s.program, s.programPidFD = pid, os.NewFile(uintptr(fd), "pidfd")
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
	if s.closed || s.programPidFD == nil {
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
	e := <-s.child.Exit
	// The init outlives the program and passes on how it ended; an init
	// killed first (a timeout, a kill) wrote nothing, and its own end is
	// the sandbox's.
	status := e.Status
	var b [4]byte
	if n, _ := io.ReadFull(s.exit, b[:]); n == len(b) && e.Err == nil {
		status = syscall.WaitStatus(binary.BigEndian.Uint32(b[:]))
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
	return status, nil, e.Err
}
