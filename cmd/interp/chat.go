package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/cell"
	"github.com/interp-dev/interp/internal/chat"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
	"github.com/interp-dev/interp/internal/termimage"
)

func newChatCmd(g *globalFlags) *cobra.Command {
	f := &agentFlags{}
	var saveDir, resume string
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Chat with the model in a terminal UI; its code runs in one sandboxed session",
		Long: "chat opens an interactive conversation. Each message is a task: the model\n" +
			"writes Python, runs it in a sandboxed session that keeps its variables\n" +
			"between tasks, and answers; the conversation is remembered too.\n\n" +
			"Enter sends, Alt+Enter adds a line, Ctrl+C stops the running task,\n" +
			"Ctrl+D or /exit quits, /reset forgets the conversation, /help says more.\n" +
			"It needs a terminal: for scripts, use interp run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runChat(cmd.Context(), g, f, saveDir, resume, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&saveDir, "save-dir", "", "save images the code displays into this directory (default: a new temporary directory)")
	cmd.Flags().StringVar(&resume, "resume", "", "continue the conversation with this ID (see interp history list)")
	return cmd
}

func runChat(ctx context.Context, g *globalFlags, f *agentFlags, saveDir, resume string, stdin io.Reader, stdout, stderr io.Writer) error {
	if !chat.IsTerminal(stdin) || !chat.IsTerminal(stdout) {
		fmt.Fprintln(stderr, "interp chat needs a terminal; use interp run")
		return &exitError{code: exitUsage}
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	if st != nil {
		defer st.Close()
	}
	// An unknown ID is an error before any sandbox starts.
	var conv *store.Conversation
	if resume != "" {
		if st == nil {
			return &exitError{code: exitUsage, msg: "--resume needs the history, which --no-history turns off"}
		}
		if conv, err = getConversation(ctx, st, resume); err != nil {
			return err
		}
	}
	// The UI answers the agent's confirm, so it exists before the agent.
	opts := chat.Options{SaveDir: saveDir, Input: stdin, Output: stdout}
	if isTerminal(stdout) {
		opts.Images = termimage.Detect(os.Getenv)
	}
	ui := chat.New(opts)
	fmt.Fprintln(stderr, "interp: starting the Python session…")
	wb, err := newWorkbench(ctx, g, f, ui.Confirm, stderr)
	if err != nil {
		return err
	}
	defer wb.close()
	if err := f.files.upload(wb.session.Kernel().Workspace(), "", stderr); err != nil {
		return err
	}
	defer func() {
		if k := wb.session.Kernel(); k != nil {
			if err := f.files.download(k.Workspace(), stderr); err != nil {
				fmt.Fprintln(stderr, "interp: --out-dir:", err)
			}
		}
	}()
	var ag chat.Runner = wb.agent
	var rec *recordingAgent
	if st != nil {
		rec = &recordingAgent{wb: wb, st: st, stderr: stderr, files: &f.files}
		if conv != nil {
			rec.convID = conv.ID
			turns, notes, err := resumeConversation(ctx, st, wb, conv, stdin, stderr)
			if err != nil {
				return err
			}
			ui.SetEarlier(turns, notes)
		}
		ag = rec
	}
	ui.SetModel(wb.provider + " · " + wb.model)
	ag = namedFilesAgent{Runner: ag, wb: wb, files: &f.files}
	err = ui.Run(ctx, ag)
	if rec != nil && rec.convID != "" {
		fmt.Fprintf(stderr, "interp: conversation %s is in the history; continue it with: interp chat --resume %s\n", rec.convID, rec.convID)
	}
	if err != nil {
		return &exitError{code: exitInternal, msg: err.Error()}
	}
	return nil
}

// namedFilesAgent copies into the workspace the files of the current
// directory that a task names, before the task runs, and says how to pass
// one the code then fails to open.
type namedFilesAgent struct {
	chat.Runner
	wb    *workbench
	files *workspaceFiles
}

func (a namedFilesAgent) Run(ctx context.Context, task string, emit func(agent.Event)) (*agent.Result, error) {
	if k := a.wb.session.Kernel(); k != nil {
		a.files.uploadNamed(k.Workspace(), task, func(msg string) {
			emit(agent.Event{Event: session.Event{Type: event.Stderr, Text: msg + "\n"}})
		})
	}
	return a.Runner.Run(ctx, task, func(ev agent.Event) {
		emit(ev)
		if hint := cell.FileHint(ev.Event, hostFileHow("name it in a message, or pass it with -f ")); hint != "" {
			emit(agent.Event{Event: session.Event{Type: event.Stderr, Text: hint + "\n"}, Step: ev.Step})
		}
	})
}

// recordingAgent records each chat turn in the history, all in one
// conversation.
type recordingAgent struct {
	wb     *workbench
	st     *store.Store
	convID string
	stderr io.Writer
	files  *workspaceFiles // its uploads are recorded with the first turn
}

func (r *recordingAgent) Run(ctx context.Context, task string, emit func(agent.Event)) (*agent.Result, error) {
	rec, err := r.wb.startRecording(ctx, r.st, store.SourceChat, r.convID, task)
	if err != nil {
		// The chat goes on without history rather than not at all.
		fmt.Fprintln(r.stderr, "interp:", err)
		return r.wb.agent.Run(ctx, task, emit)
	}
	r.convID = rec.ConversationID()
	r.files.recordUploads(rec)
	return rec.RunTask(ctx, r.wb.agent, emit)
}

func (r *recordingAgent) SetHistory(h []llm.Message) {
	r.wb.agent.SetHistory(h)
	if h == nil {
		r.convID = "" // /reset starts a new conversation
	}
}

// resumeConversation gives the agent a recorded conversation's memory,
// copies the files uploaded to it back into the workspace and, after
// asking, rebuilds the session's state by re-running the code that ran
// without error. It returns the earlier turns and how resuming went, for
// the chat to show.
func resumeConversation(ctx context.Context, st *store.Store, wb *workbench, conv *store.Conversation, stdin io.Reader, stderr io.Writer) ([]chat.Turn, []string, error) {
	wb.agent.SetHistory(conv.History)
	// The cells go on numbering where the conversation stopped (In[4]
	// after three), after any re-run, so the history keeps one In[N] each.
	last := 0
	for _, c := range conv.Cells {
		last = max(last, c.ExecutionCount)
	}
	defer func() {
		if k := wb.session.Kernel(); k != nil {
			k.NumberFrom(last + 1)
		}
	}()
	var turns []chat.Turn
	for _, t := range conv.Tasks {
		answer := t.Answer
		if answer == "" {
			answer = "*(no answer: " + strings.TrimSpace(t.Stop+" "+t.Reason) + ")*"
		}
		turns = append(turns, chat.Turn{Prompt: t.Prompt, Answer: answer})
	}
	notes := []string{fmt.Sprintf("Resumed %s, %q: %d earlier turns.", conv.ID, conv.Title, len(conv.Tasks))}
	fmt.Fprintf(stderr, "interp: resuming %s, %q (%d turns).\n", conv.ID, conv.Title, len(conv.Tasks))

	// Inputs first: the recorded cells read them.
	ws := wb.session.Kernel().Workspace()
	restored := 0
	for _, fl := range conv.Files {
		if fl.Change != event.Uploaded {
			continue
		}
		_, data, err := st.FileContent(ctx, conv.ID, fl.Path)
		if err == nil {
			_, err = ws.Write(fl.Path, bytes.NewReader(data), maxUpload)
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("The uploaded file %s could not be restored: %v.", fl.Path, err))
			continue
		}
		restored++
	}
	if restored > 0 {
		notes = append(notes, fmt.Sprintf("Restored %d uploaded files from the history.", restored))
	}

	var cells []string
	for _, c := range conv.Cells {
		if c.Status == event.StatusOK && strings.TrimSpace(c.Code) != "" {
			cells = append(cells, c.Code)
		}
	}
	if len(cells) == 0 {
		return turns, notes, nil
	}
	fmt.Fprintf(stderr, "The Python session is gone. Re-run the %d recorded cells that succeeded, to rebuild its variables and files? [y/N] ", len(cells))
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		notes = append(notes, "The Python session starts empty; the model remembers the conversation.")
		return turns, notes, nil
	}
	failed := 0
	for i, code := range cells {
		fmt.Fprintf(stderr, "interp: re-running cell %d/%d\n", i+1, len(cells))
		done, err := wb.session.Execute(ctx, code, session.ExecOptions{}, nil)
		if err != nil {
			return nil, nil, &exitError{code: exitInternal, msg: fmt.Sprintf("rebuild the session: %v", err)}
		}
		if done.Status != event.StatusOK {
			failed++
		}
	}
	msg := fmt.Sprintf("Re-ran %d cells: %d ok", len(cells), len(cells)-failed)
	if failed > 0 {
		msg += fmt.Sprintf(", %d failed this time; the session may differ from before", failed)
	}
	notes = append(notes, msg+".")
	fmt.Fprintln(stderr, "interp: "+msg+".")
	return turns, notes, nil
}
