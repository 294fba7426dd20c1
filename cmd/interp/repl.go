package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/cell"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

func newReplCmd(g *globalFlags) *cobra.Command {
	f := &execFlags{}
	cmd := &cobra.Command{
		Use:   "repl",
		Short: "Open an interactive Python prompt in a sandboxed session",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRepl(cmd.Context(), g, f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	declare(fl, "limits.memory", "repl.cell_timeout")
	fl.StringVar(&f.saveDir, "save-dir", "", "save images the code displays into this directory")
	fl.StringArrayVarP(&f.files.in, "file", "f", nil, "copy this file into the session's workspace first (repeatable; "+uploadCommand+" FILE does it at the prompt)")
	registerEnv(cmd, &f.env)
	f.deps.register(cmd)
	return cmd
}

func runRepl(ctx context.Context, g *globalFlags, f *execFlags, in io.Reader, out, errOut io.Writer) error {
	s, err := g.settings()
	if err != nil {
		return err
	}
	timeout := s.ReplCellTimeout
	if timeout == 0 {
		timeout = -1
	}
	// Ctrl-C interrupts the running cell, not the prompt.
	signal.Ignore(os.Interrupt)
	defer signal.Reset(os.Interrupt)
	sess, closeSession, err := g.startSession(context.WithoutCancel(ctx), sandbox.Limits{Memory: s.Memory}, timeout, f.env)
	if err != nil {
		return err
	}
	defer closeSession()
	k := sess.Kernel()
	version, ipython := k.Python()
	mode := "plain"
	if ipython {
		mode = "IPython"
	}
	fmt.Fprintf(out, "Python %s in an interp sandbox (%s). Ctrl-C interrupts, Ctrl-D exits, %s FILE copies a file in.\n", version, mode, uploadCommand)
	if err := f.files.upload(k.Workspace(), "", errOut); err != nil {
		return err
	}

	rt, err := g.runtime()
	if err != nil {
		return err
	}
	auto, err := f.deps.auto(s, rt, errOut)
	if err != nil {
		return err
	}
	var r renderer = newTextRenderer(out, errOut, f.saveDir)
	// The cells typed are recorded as they run, as exec's files are.
	rec, stopRecording, err := g.recordExec(ctx, sess, store.SourceREPL, "repl", errOut)
	if err != nil {
		return err
	}
	defer stopRecording()
	if rec != nil {
		r = recordingRenderer{r, rec}
	}
	cells := &cellReader{}
	if isStdinTerminal(in) {
		tp := newTermPrompter(replHistoryFile(s), cells.completer(ctx, k))
		defer tp.close()
		cells.p = tp
	} else {
		cells.p = newPlainPrompter(in, out)
	}
	for {
		code, err := cells.read()
		if errors.Is(err, errPromptInterrupted) {
			fmt.Fprintln(out, "KeyboardInterrupt")
			continue
		}
		if err != nil {
			r.close()
			fmt.Fprintln(out)
			if errors.Is(err, io.EOF) {
				return nil
			}
			return &exitError{code: exitInternal, msg: fmt.Sprintf("reading input: %v", err)}
		}
		if strings.TrimSpace(code) == "" {
			continue
		}
		if names, ok := uploadArgs(code); ok {
			f.files.uploadREPL(sess.Kernel().Workspace(), names, errOut)
			if rec != nil {
				f.files.recordUploads(rec)
			}
			continue
		}
		cellCtx, stop := signal.NotifyContext(ctx, os.Interrupt)
		_, err = runCell(cellCtx, sess, code, "", hostFileHow("copy it in with "+uploadCommand+" "), &cell.Runner{Auto: auto}, rec, r)
		stop()
		signal.Ignore(os.Interrupt)
		if err != nil {
			return &exitError{code: exitInternal, msg: err.Error()}
		}
	}
}

// uploadCommand copies files of this machine into the workspace at the
// REPL's prompt. IPython has no magic of that name, and plain Python no
// line starting with %, so it takes nothing from either.
const uploadCommand = "%upload"

// uploadArgs reports whether code is an upload command, and its files.
func uploadArgs(code string) ([]string, bool) {
	line := strings.TrimSpace(code)
	if strings.Contains(line, "\n") {
		return nil, false
	}
	rest, ok := strings.CutPrefix(line, uploadCommand)
	if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return nil, false
	}
	return strings.Fields(rest), true
}

// uploadREPL copies the files names into ws, saying where each landed or
// why it did not.
func (w *workspaceFiles) uploadREPL(ws *session.Workspace, names []string, errOut io.Writer) {
	if len(names) == 0 {
		fmt.Fprintf(errOut, "interp: %s needs a file: %s data.csv\n", uploadCommand, uploadCommand)
	}
	for _, name := range names {
		if err := w.copyIn(ws, name); err != nil {
			fmt.Fprintf(errOut, "interp: %s %s: %v\n", uploadCommand, name, err)
			continue
		}
		fmt.Fprintf(errOut, "[interp: copied %s into the sandbox as %s]\n", name, workspacePath(name))
	}
}
