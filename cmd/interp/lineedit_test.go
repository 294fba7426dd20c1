package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the test types into master, the
// program under test sees slave as its terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// screen collects what a program writes to its terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the screen shows want n times (the test's own
// deadline bounds it).
func (s *screen) waitFor(t *testing.T, want string, n int) {
	t.Helper()
	for strings.Count(s.String(), want) < n {
		if dl, ok := t.Deadline(); ok && time.Until(dl) < 10*time.Second {
			t.Fatalf("the terminal never showed %q %d times:\n%s", want, n, s.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The REPL in a real terminal: Tab completes from the kernel, Up recalls a
// line, Ctrl-C drops the line being typed, Ctrl-D exits, and the lines typed
// are there again in the next run, unless history is off.
func TestReplInTerminal(t *testing.T) {
	needSandbox(t)
	data := t.TempDir()
	run := func(args []string, keys ...string) string {
		master, slave := openPTY(t)
		defer master.Close()
		cmd := exec.Command(os.Args[0], append([]string{"repl"}, args...)...)
		cmd.Env = append(os.Environ(), "INTERP_TEST_RUN_MAIN=1", "INTERP_DATA_DIR="+data, "TERM=xterm")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		var scr screen
		go func() { _, _ = io.Copy(&scr, master) }()
		prompts := 1
		scr.waitFor(t, ">>> ", prompts)
		for _, k := range keys {
			if strings.HasPrefix(k, "wait:") {
				scr.waitFor(t, k[len("wait:"):], 1)
				continue
			}
			master.WriteString(k)
			if strings.HasSuffix(k, "\r") || k == "\x03" {
				prompts++
				scr.waitFor(t, ">>> ", prompts)
			}
		}
		master.WriteString("\x04") // Ctrl-D
		if err := cmd.Wait(); err != nil {
			t.Fatalf("repl: %v\n%s", err, scr.String())
		}
		return scr.String()
	}
	out := run(nil, "value_one = 41\r", "value_o\t", "wait:value_one", " + 1\r", "wait:42", "typo\x03", "\x1b[A\r")
	if n := strings.Count(out, "42\r\n"); n != 2 {
		t.Errorf("Tab then Up did not give value_one + 1 twice (%d):\n%s", n, out)
	}
	if !strings.Contains(out, "KeyboardInterrupt") || strings.Contains(out, "NameError") {
		t.Errorf("Ctrl-C did not drop the line typed:\n%s", out)
	}
	hist, err := os.ReadFile(filepath.Join(data, "repl_history"))
	if err != nil || !strings.Contains(string(hist), "value_one + 1\n") {
		t.Fatalf("history not kept: %v %q", err, hist)
	}
	// The next run recalls the last line with Up.
	out = run(nil, "value_one = 1\r", "\x1b[A\x1b[A\r")
	if !strings.Contains(out, "2\r\n") {
		t.Errorf("history of the last run not recalled:\n%s", out)
	}
	// With history off, nothing typed is kept, nor recalled.
	run([]string{"--no-history"}, "secret_value = 7\r")
	if hist, err := os.ReadFile(filepath.Join(data, "repl_history")); err != nil || strings.Contains(string(hist), "secret_value") {
		t.Errorf("--no-history kept the lines typed: %v %q", err, hist)
	}
}

// chat --resume with an unknown ID says so before starting a sandbox.
func TestChatResumeUnknownID(t *testing.T) {
	t.Setenv("INTERP_HISTORY", filepath.Join(t.TempDir(), "history.db"))
	master, slave := openPTY(t)
	defer master.Close()
	cmd := exec.Command(os.Args[0], "chat", "--resume", "conv_nosuchthing")
	cmd.Env = append(os.Environ(), "INTERP_TEST_RUN_MAIN=1", "TERM=xterm", "OPENAI_API_KEY=unused")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var scr screen
	go func() { _, _ = io.Copy(&scr, master) }()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Errorf("exit %v, want %d", err, exitUsage)
	}
	scr.waitFor(t, "conv_nosuchthing", 1)
	if strings.Contains(scr.String(), "starting the Python session") {
		t.Errorf("a sandbox was started for an unknown ID:\n%s", scr.String())
	}
}

// TestInlineImages runs interp exec in a real terminal that says it is
// kitty, iTerm2, a sixel terminal or a plain xterm: a plot is drawn with
// the terminal's own escape sequence, or described as text on a plain one.
func TestInlineImages(t *testing.T) {
	needSandbox(t)
	dir := writeFiles(t, map[string]string{"plot.py": "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()\nprint('after')\n"})
	cases := []struct {
		name      string
		env       []string
		want, not string
	}{
		{"kitty", []string{"TERM=xterm-kitty", "KITTY_WINDOW_ID=1"}, "\x1b_Ga=T,f=100,", "<Figure"},
		{"iTerm2", []string{"TERM=xterm-256color", "TERM_PROGRAM=iTerm.app"}, "\x1b]1337;File=inline=1;", "<Figure"},
		{"sixel", []string{"TERM=foot"}, "\x1bP0;1;0q\"1;1;", "<Figure"},
		{"plain", []string{"TERM=xterm-256color"}, "<Figure size", "\x1b_G"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			master, slave := openPTY(t)
			defer master.Close()
			cmd := exec.Command(os.Args[0], "--no-history", "exec", "--no-out", filepath.Join(dir, "plot.py"))
			env := []string{"INTERP_TEST_RUN_MAIN=1"}
			for _, kv := range os.Environ() {
				switch strings.SplitN(kv, "=", 2)[0] {
				case "TERM", "TERM_PROGRAM", "KITTY_WINDOW_ID", "LC_TERMINAL", "TMUX", "INTERP_IMAGES", "WT_SESSION":
				default:
					env = append(env, kv)
				}
			}
			cmd.Env = append(env, tc.env...)
			cmd.Dir = dir
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			slave.Close()
			var scr screen
			go func() { _, _ = io.Copy(&scr, master) }()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exec: %v\n%q", err, scr.String())
			}
			scr.waitFor(t, "after", 1)
			out := scr.String()
			if !strings.Contains(out, tc.want) || strings.Contains(out, tc.not) {
				t.Errorf("the terminal got %.300q..., want %q and not %q", out, tc.want, tc.not)
			}
		})
	}
}
