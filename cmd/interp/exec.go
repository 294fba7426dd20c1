package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/cell"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

type execFlags struct {
	json    bool
	saveDir string
	env     []string
	deps    depsFlags
	files   workspaceFiles
}

func newExecCmd(g *globalFlags) *cobra.Command {
	f := &execFlags{}
	cmd := &cobra.Command{
		Use:   "exec [flags] FILE...",
		Short: "Run Python files, or - for stdin, as cells of one sandboxed session",
		Long: "exec runs each FILE as a cell of one persistent Python session in a fresh\n" +
			"sandbox: variables defined by one file are there for the next.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), g, f, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	declare(fl, "limits.cell_timeout", "limits.memory")
	fl.BoolVar(&f.json, "json", false, "print events as JSON Lines, one per line")
	fl.StringVar(&f.saveDir, "save-dir", "", "save images the code displays into this directory")
	registerEnv(cmd, &f.env)
	f.deps.register(cmd)
	f.files.register(cmd)
	return cmd
}

func runExec(ctx context.Context, g *globalFlags, f *execFlags, files []string, stdin io.Reader, stdout, stderr io.Writer) error {
	s, err := g.settings()
	if err != nil {
		return err
	}
	cells := make([]string, len(files))
	for i, name := range files {
		var b []byte
		if name == "-" {
			b, err = io.ReadAll(stdin)
		} else {
			b, err = os.ReadFile(name)
		}
		if err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
		cells[i] = string(b)
		if strings.HasSuffix(name, ".ipynb") {
			if cells[i], err = notebookCode(b); err != nil {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("%s: %v", name, err)}
			}
		}
	}
	sess, closeSession, err := g.startSession(ctx, sandbox.Limits{Memory: s.Memory}, s.CellTimeout, f.env)
	if err != nil {
		return err
	}
	defer closeSession()
	if err := f.files.upload(sess.Kernel().Workspace(), strings.Join(cells, "\n"), stderr); err != nil {
		return err
	}
	for i, name := range files {
		dir := "."
		if name != "-" {
			dir = filepath.Dir(name)
		}
		f.files.copyLocalModules(sess.Kernel().Workspace(), dir, cells[i], func(msg string) { fmt.Fprintln(stderr, msg) })
	}
	defer func() {
		if k := sess.Kernel(); k != nil {
			if err := f.files.download(k.Workspace(), stderr); err != nil {
				fmt.Fprintln(stderr, "interp: --out-dir:", err)
			}
		}
	}()

	var r renderer = newTextRenderer(stdout, stderr, f.saveDir)
	if f.json {
		r = newJSONRenderer(stdout, f.saveDir)
	}
	rt, err := g.runtime()
	if err != nil {
		return err
	}
	auto, err := f.deps.auto(s, rt, stderr)
	if err != nil {
		return err
	}
	rec, stopRecording, err := g.recordExec(ctx, sess, store.SourceExec, strings.Join(files, " "), stderr)
	if err != nil {
		return err
	}
	if rec != nil {
		f.files.recordUploads(rec)
	}
	defer stopRecording()
	if rec != nil {
		r = recordingRenderer{r, rec}
	}
	runner := &cell.Runner{Auto: auto}
	for i, code := range cells {
		// Tracebacks name the file; a notebook's joined cells have no
		// line numbers of their own in it.
		name := files[i]
		switch {
		case name == "-":
			name = "<stdin>"
		case strings.HasSuffix(name, ".ipynb"):
			name = ""
		}
		done, err := runCell(ctx, sess, code, name, hostFileHow("pass it with -f "), runner, rec, r)
		if err != nil {
			return &exitError{code: exitInternal, msg: fmt.Sprintf("%s: %v", files[i], err)}
		}
		if err := doneError(files[i], done); err != nil {
			r.close()
			return err
		}
	}
	r.close()
	return nil
}

// notebookCode returns the code cells of a Jupyter notebook, in order,
// as one cell's source.
func notebookCode(b []byte) (string, error) {
	var nb struct {
		Cells []struct {
			CellType string          `json:"cell_type"`
			Source   json.RawMessage `json:"source"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &nb); err != nil || nb.Cells == nil {
		return "", fmt.Errorf("not a Jupyter notebook (nbformat 4): %v", cmp.Or[any](err, "no cells"))
	}
	var parts []string
	for _, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		// source is a string or a list of lines.
		var one string
		if err := json.Unmarshal(c.Source, &one); err != nil {
			var lines []string
			if err := json.Unmarshal(c.Source, &lines); err != nil {
				return "", fmt.Errorf("a code cell's source is neither text nor lines")
			}
			one = strings.Join(lines, "")
		}
		parts = append(parts, strings.TrimRight(one, "\n"))
	}
	return strings.Join(parts, "\n"), nil
}

// registerEnv adds --env, the variables given to the sandbox.
func registerEnv(cmd *cobra.Command, env *[]string) {
	cmd.Flags().StringArrayVar(env, "env", nil, "set NAME=VALUE in the sandbox's environment (repeatable); the host's own variables never go in")
}

// recordExec starts recording cells run outside a model in the history,
// as a conversation with title started by source (store.SourceExec,
// store.SourceREPL). It returns a nil recorder when history is
// off, and a function that finishes the recording.
func (g *globalFlags) recordExec(ctx context.Context, sess *session.Session, source, title string, stderr io.Writer) (*store.Recorder, func(), error) {
	st, err := g.openStore(ctx)
	if err != nil || st == nil {
		return nil, func() {}, err
	}
	rec, err := st.StartExec(ctx, "", &store.RecorderOptions{Files: sess, New: store.ConversationInfo{Source: source, Title: title}})
	if err != nil {
		st.Close()
		return nil, nil, &exitError{code: exitInternal, msg: fmt.Sprintf("history: %v", err)}
	}
	return rec, func() {
		_ = rec.Finish(context.WithoutCancel(ctx), nil, nil)
		if err := rec.Err(); err != nil {
			fmt.Fprintln(stderr, "interp: history:", err)
		}
		st.Close()
	}, nil
}

// runCell runs one cell through runner, its events shown through r; rec,
// if not nil, records the cell's code, and r its events. name is what
// tracebacks call the cell ("" for Cell In[N]); missing says how to bring
// in a file the code fails to open (cell.Options.MissingFile).
func runCell(ctx context.Context, sess *session.Session, code, name string, missing func(string) string, runner *cell.Runner, rec *store.Recorder, r renderer) (event.Event, error) {
	if rec != nil {
		_ = rec.StartCell(code)
	}
	res, err := runner.Run(ctx, sess, code, cell.Options{Name: name, MissingFile: missing}, r.event)
	return res.Done, err
}

// recordingRenderer shows events and records them in the history.
type recordingRenderer struct {
	renderer
	rec *store.Recorder
}

// event records ev, then shows it: what was shown is in the history.
func (r recordingRenderer) event(ev session.Event) {
	_ = r.rec.SessionEvent(ev)
	r.renderer.event(ev)
}

// doneError maps a finished cell to the CLI's exit status and message.
func doneError(name string, done session.Event) error {
	switch done.Status {
	case event.StatusOK:
		return nil
	case event.StatusTimeout:
		return &exitError{code: exitTimeout, msg: fmt.Sprintf("%s: time limit exceeded", name)}
	case event.StatusInterrupted:
		return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("%s: interrupted", name)}
	case event.StatusDied:
		switch done.Reason {
		case event.ReasonMemory:
			return &exitError{code: exitMemory, msg: fmt.Sprintf("%s: %s", name, done.Reason)}
		case event.ReasonCPUTime:
			return &exitError{code: exitCPUTime, msg: fmt.Sprintf("%s: %s", name, done.Reason)}
		}
		return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("%s: %s", name, done.Reason)}
	}
	// The error itself was already shown with its traceback.
	return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("%s: the code raised an exception", name)}
}

// startSession starts a session of its own with the global flags' backend
// and runtime. The returned function closes both.
func (g *globalFlags) startSession(ctx context.Context, limits sandbox.Limits, cellTimeout time.Duration, env []string) (*session.Session, func(), error) {
	if err := session.CheckEnv(env); err != nil {
		return nil, nil, &exitError{code: exitUsage, msg: "--env: " + err.Error()}
	}
	rt, err := g.runtime()
	if err != nil {
		return nil, nil, &exitError{code: exitUnsupported, msg: err.Error()}
	}
	b, err := g.backend()
	if err != nil {
		return nil, nil, err
	}
	// As a Manager would: package directories of a killed interp go.
	session.SweepStale("")
	s, err := session.Open(ctx, session.Config{Backend: b, Runtime: rt, Limits: limits, CellTimeout: cellTimeout, Env: env})
	if err != nil {
		b.Close()
		return nil, nil, &exitError{code: exitInternal, msg: err.Error()}
	}
	return s, func() { s.Close(); b.Close() }, nil
}
