package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/chat"
)

func newChatCmd(g *globalFlags) *cobra.Command {
	f := &agentFlags{}
	var saveDir string
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
			return runChat(cmd.Context(), g, f, saveDir, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&saveDir, "save-dir", "", "save images the code displays into this directory (default: a new temporary directory)")
	return cmd
}

func runChat(ctx context.Context, g *globalFlags, f *agentFlags, saveDir string, stdin io.Reader, stdout, stderr io.Writer) error {
	if !chat.IsTerminal(stdin) || !chat.IsTerminal(stdout) {
		fmt.Fprintln(stderr, "interp chat needs a terminal; use interp run")
		return &exitError{code: exitUsage}
	}
	// The UI answers the agent's confirm, so it exists before the agent.
	ui := chat.New(chat.Options{SaveDir: saveDir, Input: stdin, Output: stdout})
	fmt.Fprintln(stderr, "interp: starting the Python session…")
	wb, err := newWorkbench(ctx, g, f, ui.Confirm, stderr)
	if err != nil {
		return err
	}
	defer wb.close()
	if name, model, err := wb.cfg.Resolve(f.provider, f.model); err == nil {
		ui.SetModel(name + " · " + model)
	}
	if err := ui.Run(ctx, wb.agent); err != nil {
		return &exitError{code: exitInternal, msg: err.Error()}
	}
	return nil
}
