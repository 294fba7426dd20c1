package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peterh/liner"
	"golang.org/x/term"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/session"
)

// errPromptInterrupted is Ctrl-C at a prompt: the cell being typed is dropped.
var errPromptInterrupted = errors.New("interrupted")

// prompter reads one line after a prompt: io.EOF at the end of input.
type prompter interface {
	prompt(p string) (string, error)
	addHistory(line string)
	close() error
}

// plainPrompter reads lines from a pipe or file: no editing, no history.
type plainPrompter struct {
	lines *bufio.Scanner
	out   io.Writer
}

func newPlainPrompter(in io.Reader, out io.Writer) *plainPrompter {
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	return &plainPrompter{lines: lines, out: out}
}

func (p *plainPrompter) prompt(s string) (string, error) {
	fmt.Fprint(p.out, s)
	if !p.lines.Scan() {
		if err := p.lines.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
	return p.lines.Text(), nil
}

func (p *plainPrompter) addHistory(string) {}
func (p *plainPrompter) close() error      { return nil }

// termPrompter edits lines in a terminal: arrows, Ctrl-R search, Tab
// completion from the kernel, and a history kept across runs in a file.
type termPrompter struct {
	st   *liner.State
	file string // the history file, "" when there is none
}

// replHistoryFile is where the REPL's typed lines are kept between runs;
// "" with history.disabled, which keeps nothing of a run, typed lines
// included.
func replHistoryFile(s *config.Settings) string {
	if s.NoHistory {
		return ""
	}
	dir, err := dataDir(s)
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "repl_history")
}

func newTermPrompter(file string, complete liner.WordCompleter) *termPrompter {
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	st.SetTabCompletionStyle(liner.TabPrints)
	st.SetWordCompleter(complete)
	p := &termPrompter{st: st, file: file}
	if file != "" {
		if f, err := os.Open(file); err == nil {
			_, _ = st.ReadHistory(f)
			f.Close()
		}
	}
	return p
}

func (p *termPrompter) prompt(s string) (string, error) {
	line, err := p.st.Prompt(s)
	if errors.Is(err, liner.ErrPromptAborted) {
		return "", errPromptInterrupted
	}
	return line, err
}

func (p *termPrompter) addHistory(line string) {
	if strings.TrimSpace(line) != "" {
		p.st.AppendHistory(line)
	}
}

// close restores the terminal and saves the history (private: it holds
// what was typed).
func (p *termPrompter) close() error {
	defer p.st.Close()
	if p.file == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p.file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(p.file, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := p.st.WriteHistory(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isStdinTerminal reports whether in is this process's terminal.
func isStdinTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	return ok && f == os.Stdin && term.IsTerminal(int(f.Fd()))
}

// cellReader reads cells: a line, or a block that opens with a colon, a
// backslash, a decorator or a %% magic, and ends with an empty line.
type cellReader struct {
	p       prompter
	pending []string // the lines of the cell read so far, for completion
}

func (r *cellReader) read() (string, error) {
	r.pending = r.pending[:0]
	first, err := r.p.prompt(">>> ")
	if err != nil {
		return "", err
	}
	r.p.addHistory(first)
	trimmed := strings.TrimRight(first, " \t")
	if !strings.HasSuffix(trimmed, ":") && !strings.HasSuffix(trimmed, "\\") &&
		!strings.HasPrefix(trimmed, "@") && !strings.HasPrefix(trimmed, "%%") {
		return first, nil
	}
	r.pending = append(r.pending, first)
	for {
		line, err := r.p.prompt("... ")
		if errors.Is(err, io.EOF) || (err == nil && strings.TrimSpace(line) == "") {
			return strings.Join(r.pending, "\n"), nil
		}
		if err != nil {
			return "", err
		}
		r.p.addHistory(line)
		r.pending = append(r.pending, line)
	}
}

// completer completes the word before the cursor from the kernel's
// namespace; Tab on a blank line indents.
func (r *cellReader) completer(ctx context.Context, k *session.Kernel) liner.WordCompleter {
	return func(line string, pos int) (string, []string, string) {
		runes := []rune(line)
		pos = max(0, min(pos, len(runes)))
		before, after := string(runes[:pos]), string(runes[pos:])
		if strings.TrimSpace(before) == "" {
			return before, []string{"    "}, after
		}
		prefix := ""
		if len(r.pending) > 0 {
			prefix = strings.Join(r.pending, "\n") + "\n"
		}
		code := prefix + before
		// Bounded so a busy or dead kernel never freezes the prompt.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		matches, start, err := k.Complete(cctx, code, len(code))
		if err != nil || start < len(prefix) {
			return before, nil, after
		}
		return code[len(prefix):start], matches, after
	}
}
