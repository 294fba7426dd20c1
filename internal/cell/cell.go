// Package cell runs one cell of code in a session, the same way for every
// front end (the CLI, the HTTP service, MCP and the agent): it installs
// what the code imports first, runs it, installs a module a
// ModuleNotFoundError names afterwards, and brings back a session whose
// Python process has died.
//
// The events of one cell come in one order, whoever runs it:
//
//  1. a stderr note, when the session's process had ended since the last
//     cell and was restarted for this one (variables gone, files kept);
//  2. install events for what the code imports, its %pip lines and the
//     caller's package hints (Prepare);
//  3. the cell's own events as they happen: stdout, stderr, display,
//     error, file;
//  4. after an error, the reactive install's events and its stderr note
//     (the cell is never re-run: it may have had side effects), and a
//     stderr note when the session had to restart to use a new version;
//  5. after a FileNotFoundError for a file the workspace lacks, a stderr
//     note saying how this front end brings it in (Options.MissingFile);
//  6. the caller's own events, from Options.BeforeDone;
//  7. done, exactly once and always last, even when the cell could not
//     run at all (status died, with the reason).
//
// A cell that ends the Python process (a crash, the memory limit) ends
// with a died done event; the session is restarted before the next cell,
// not at once, so a front end that stops there pays nothing for it.
// Installs are bounded by Runner.InstallTimeout, each phase on its own.
package cell

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// DefaultInstallTimeout bounds the installs before a cell, and those after
// it, when Runner.InstallTimeout is 0.
const DefaultInstallTimeout = 3 * time.Minute

// Runner runs cells. The zero value runs them without installing anything.
type Runner struct {
	// Auto installs what cells need; nil turns installs off.
	Auto *deps.Auto
	// InstallTimeout bounds the installs before a cell, and those after
	// it, each; 0 means DefaultInstallTimeout.
	InstallTimeout time.Duration
}

// Options tune one cell.
type Options struct {
	// Timeout bounds the cell's run; 0 means the session's cell timeout.
	Timeout time.Duration
	// Name is what tracebacks call the cell (a file's name); "" keeps
	// "Cell In[N]".
	Name string
	// NoInstall runs the cell without installing anything.
	NoInstall bool
	// Packages are distributions the caller asks for, as a model's hints.
	Packages []string
	// MissingFile, if set, says how this front end brings a file into
	// the workspace: when the cell fails to open a file that is not
	// there (FileNotFoundError), it is given the path as the code wrote
	// it (relative to the workspace if inside it), and what it returns,
	// unless "", follows as a note (FileHint).
	MissingFile func(path string) string
	// BeforeDone, if set, is called with the done event before it is
	// emitted, and may emit events of its own: they come just before it.
	BeforeDone func(done event.Event, emit func(event.Event))
}

// Result is what happened to a cell, beside its events.
type Result struct {
	// Done is the done event, as emitted.
	Done event.Event
	// Failure is the cell's error event, if it raised.
	Failure *event.Event
	// Recovery is what the reactive install did after Failure.
	Recovery deps.Recovery
	// Restarted says the session was restarted before the cell, because
	// its process had ended; RestartedAfter, after it, to use a new
	// version of a package the cell had already imported.
	Restarted, RestartedAfter bool
}

// Run runs code as the next cell of s and calls emit with each event, in
// the package's order, done last. The error is non-nil only when the cell
// could not run (the session is closed, or its process could not be
// restarted); done then says died, with that reason.
func (r *Runner) Run(ctx context.Context, s *session.Session, code string, opts Options, emit func(event.Event)) (Result, error) {
	if emit == nil {
		emit = func(event.Event) {}
	}
	defer s.Hold()()
	var res Result
	finish := func(done event.Event) {
		if opts.BeforeDone != nil {
			opts.BeforeDone(done, emit)
		}
		res.Done = done
		emit(done)
	}
	k, restarted, err := revive(ctx, s)
	if err != nil {
		finish(event.Event{Type: event.Done, Status: event.StatusDied, Reason: err.Error()})
		return res, err
	}
	if restarted {
		res.Restarted = true
		emit(note("the Python process had ended and was restarted: variables are gone, files remain"))
	}
	install := r.Auto != nil && !opts.NoInstall
	if install {
		code = r.prepare(ctx, k, code, opts.Packages, emit)
	}
	var done event.Event
	_, err = s.Execute(ctx, code, session.ExecOptions{Timeout: opts.Timeout, Name: opts.Name}, func(ev event.Event) {
		switch ev.Type {
		case event.Done:
			done = ev // held back: what follows the cell comes before it
			return
		case event.Error:
			e := ev
			res.Failure = &e
		}
		emit(ev)
	})
	if err != nil {
		finish(event.Event{Type: event.Done, Status: event.StatusDied, Reason: err.Error()})
		return res, fmt.Errorf("cell: %w", err)
	}
	if install && res.Failure != nil && done.Status != event.StatusDied {
		res.Recovery = r.recover(ctx, k, *res.Failure, emit)
		if res.Recovery.Restart && s.Restart(ctx) == nil {
			res.RestartedAfter = true
			emit(note("the session was restarted so that the new version is used: variables are gone, files remain"))
		}
	}
	if res.Failure != nil && opts.MissingFile != nil {
		if hint := FileHint(*res.Failure, opts.MissingFile); hint != "" {
			emit(event.Event{Type: event.Stderr, Text: hint + "\n"})
		}
	}
	finish(done)
	return res, nil
}

// missingFile finds the path in a FileNotFoundError's message, as Python
// quotes it: [Errno 2] No such file or directory: 'data.csv'.
var missingFile = regexp.MustCompile(`No such file or directory: (?:'([^']+)'|"([^"]+)")`)

// MissingPath returns the path that a FileNotFoundError error event says
// is missing, relative to the workspace when it is inside it
// (/workspace/data.csv is data.csv); "" for any other event.
func MissingPath(failure event.Event) string {
	if failure.Type != event.Error || failure.EName != "FileNotFoundError" {
		return ""
	}
	m := missingFile.FindStringSubmatch(failure.EValue)
	if m == nil {
		return ""
	}
	name := m[1] + m[2]
	if rel, ok := strings.CutPrefix(name, sandbox.WorkspaceDir+"/"); ok {
		name = rel
	}
	return name
}

// FileHint is the note that follows a cell that failed to open a missing
// file, every front end's the same but for how it says to bring the file
// in: "[interp: data.csv is not in the sandbox; upload it with ...]".
// It is "" when failure is not such an error or how has nothing to say.
func FileHint(failure event.Event, how func(path string) string) string {
	name := MissingPath(failure)
	if name == "" {
		return ""
	}
	h := how(name)
	if h == "" {
		return ""
	}
	return fmt.Sprintf("[interp: %s is not in the sandbox; %s]", name, h)
}

// revive returns the session's kernel, restarting the session first when
// its process has ended.
func revive(ctx context.Context, s *session.Session) (*session.Kernel, bool, error) {
	k := s.Kernel()
	if k == nil {
		return nil, false, session.ErrClosed
	}
	if k.Alive() {
		return k, false, nil
	}
	if err := s.Restart(ctx); err != nil {
		return nil, false, fmt.Errorf("the Python process had ended and could not be restarted: %w", err)
	}
	if k = s.Kernel(); k == nil {
		return nil, false, session.ErrClosed
	}
	return k, true, nil
}

// prepare installs what code needs and returns the code to run: with its
// %pip lines done. When the code does not parse, it runs as it is and
// reports its own syntax error.
func (r *Runner) prepare(ctx context.Context, k *session.Kernel, code string, hints []string, emit func(event.Event)) string {
	ictx, cancel := context.WithTimeout(ctx, r.installTimeout())
	defer cancel()
	if prepared, err := r.Auto.Prepare(ictx, k, code, hints, emit); err == nil {
		return prepared
	}
	return code
}

// recover installs what a failed cell lacked.
func (r *Runner) recover(ctx context.Context, k *session.Kernel, failure event.Event, emit func(event.Event)) deps.Recovery {
	ictx, cancel := context.WithTimeout(ctx, r.installTimeout())
	defer cancel()
	return r.Auto.Recover(ictx, k, failure, emit)
}

func (r *Runner) installTimeout() time.Duration {
	if r.InstallTimeout > 0 {
		return r.InstallTimeout
	}
	return DefaultInstallTimeout
}

// note is a line of Interp's own in the cell's output.
func note(msg string) event.Event {
	return event.Event{Type: event.Stderr, Text: "[interp: " + msg + "]\n"}
}
