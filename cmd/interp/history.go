package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/export"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/store"
)

// dataDir is where the history and the REPL's typed lines are kept by
// default: data_dir, else the store's default.
func dataDir(s *config.Settings) (string, error) {
	if s.DataDir != "" {
		return s.DataDir, nil
	}
	return store.DefaultDir()
}

// historyDSN is where the settings keep the history: history.db in the
// data directory unless set.
func historyDSN(s *config.Settings) (string, error) {
	if s.History != "" {
		return s.History, nil
	}
	dir, err := dataDir(s)
	if err != nil {
		return "", &exitError{code: exitInternal, msg: fmt.Sprintf("history: %v (or pass --no-history)", err)}
	}
	return filepath.Join(dir, "history.db"), nil
}

// historyOptions says where the history's large contents go: as for the
// server (server.blob_dir), so that the CLI and a server can share one
// PostgreSQL history; else the store's default, beside a SQLite file or in
// the data directory for PostgreSQL.
func historyOptions(s *config.Settings, dsn string) *store.Options {
	dir := s.BlobDir
	if dialect, _, err := store.ParseDSN(dsn); dir == "" && err == nil && dialect != store.SQLite {
		if d, err := dataDir(s); err == nil {
			dir = filepath.Join(d, "blobs")
		}
	}
	return &store.Options{BlobDir: dir}
}

// historyOff is what a history command says when history is off.
func historyOff() error {
	return &exitError{code: exitUsage, msg: "history is off (--no-history, INTERP_NO_HISTORY or history.disabled)"}
}

// openStore opens the history store the settings name, and prunes it to
// history.max_age and history.max_size. It returns nil when history is
// off.
func (g *globalFlags) openStore(ctx context.Context) (*store.Store, error) {
	st, s, err := g.openHistory(ctx)
	if st == nil || err != nil {
		return nil, err
	}
	if s.HistoryMaxAge > 0 || s.HistoryMaxSize > 0 {
		if _, err := st.Prune(ctx, s.HistoryMaxAge, max(s.HistoryMaxSize, 0)); err != nil {
			fmt.Fprintln(os.Stderr, "interp: history: prune:", err)
		}
	}
	return st, nil
}

// openHistory opens the history store the settings name, or returns nil
// when history is off.
func (g *globalFlags) openHistory(ctx context.Context) (*store.Store, *config.Settings, error) {
	s, err := g.settings()
	if err != nil || s.NoHistory {
		return nil, s, err
	}
	dsn, err := historyDSN(s)
	if err != nil {
		return nil, s, err
	}
	st, err := store.Open(ctx, dsn, historyOptions(s, dsn))
	if err != nil {
		return nil, s, &exitError{code: exitInternal, msg: fmt.Sprintf("history: %v (or pass --no-history)", err)}
	}
	return st, s, nil
}

func newHistoryCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Look back at conversations: list, show, rm, export, prune",
	}
	withStore := func(run func(ctx context.Context, st *store.Store, args []string, out io.Writer) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			st, err := g.openStore(c.Context())
			if err != nil {
				return err
			}
			if st == nil {
				return historyOff()
			}
			defer st.Close()
			return run(c.Context(), st, args, c.OutOrStdout())
		}
	}

	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List conversations, newest first",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, st *store.Store, _ []string, out io.Writer) error {
			convs, err := st.ListConversations(ctx, limit, 0)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(out).Encode(convs)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tUPDATED\tTASKS\tCELLS\tSIZE\tSTATUS\tTITLE")
			for _, c := range convs {
				// Older conversations have no source: their kind says what is known.
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", c.ID, cmp.Or(c.Source, c.Kind), c.UpdatedAt.Local().Format("2006-01-02 15:04"),
					c.Tasks, c.Cells, sandbox.FormatBytes(c.Bytes), cmp.Or(c.State, c.Status), truncate(c.Title, 50))
			}
			return tw.Flush()
		}),
	}
	list.Flags().IntVarP(&limit, "limit", "n", 50, "how many to list")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a conversation as markdown",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
			c, err := getConversation(ctx, st, args[0])
			if err != nil {
				return err
			}
			// Images as a line each, not pages of base64.
			placeholder := func(mime string, data []byte) (string, error) {
				return fmt.Sprintf("%s, %s, not shown; see interp history export %s", mime, config.FormatSize(int64(len(data))), c.ID), nil
			}
			return export.Write(out, c, export.Markdown, &export.Options{ImageLink: placeholder})
		}),
	}

	rm := &cobra.Command{
		Use:   "rm ID...",
		Short: "Delete conversations and their files",
		Args:  cobra.MinimumNArgs(1),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
			for _, a := range args {
				id, err := st.ResolveID(ctx, a)
				if err != nil {
					return &exitError{code: exitUsage, msg: err.Error()}
				}
				if err := st.DeleteConversation(ctx, id); err != nil {
					return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("%s: %v", id, err)}
				}
				fmt.Fprintln(out, "deleted", id)
			}
			return nil
		}),
	}

	var format, output string
	exp := &cobra.Command{
		Use:   "export ID",
		Short: "Export a conversation as ipynb, py, md or json",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
			c, err := getConversation(ctx, st, args[0])
			if err != nil {
				return err
			}
			w := out
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return &exitError{code: exitUsage, msg: err.Error()}
				}
				defer f.Close()
				w = f
			}
			if err := export.Write(w, c, format, nil); err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			return nil
		}),
	}
	exp.Flags().StringVarP(&format, "format", "f", export.IPynb, "one of "+strings.Join(export.Formats(), ", "))
	exp.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")

	prune := &cobra.Command{
		Use:   "prune",
		Short: "Delete the oldest conversations beyond an age or a total size (history.max_age, history.max_size)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			// Not withStore: opening it there would prune first.
			ctx := c.Context()
			st, s, err := g.openHistory(ctx)
			if err != nil {
				return err
			}
			if st == nil {
				return historyOff()
			}
			defer st.Close()
			if s.HistoryMaxAge <= 0 && s.HistoryMaxSize <= 0 {
				return &exitError{code: exitUsage, msg: "give --older-than or --max-size (or set history.max_age or history.max_size)"}
			}
			res, err := st.Prune(ctx, s.HistoryMaxAge, max(s.HistoryMaxSize, 0))
			if err != nil {
				return err
			}
			if _, err := st.GC(ctx, time.Hour); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "pruned: %+v\n", res)
			return nil
		},
	}
	declare(prune.Flags(), "history.max_age", "history.max_size")

	files := &cobra.Command{
		Use:   "files ID",
		Short: "List the files a conversation's code created or changed",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
			c, err := getConversation(ctx, st, args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tSIZE\tCHANGE\tKEPT")
			for _, f := range c.Files {
				kept := "yes"
				if f.SHA256 == "" {
					kept = "no " + f.Note
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", f.Path, f.Size, f.Change, strings.TrimSpace(kept))
			}
			return tw.Flush()
		}),
	}

	var getOut string
	get := &cobra.Command{
		Use:   "get ID PATH",
		Short: "Write the last kept version of a file of a conversation (into the current directory, or -o)",
		Args:  cobra.ExactArgs(2),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
			id, err := st.ResolveID(ctx, args[0])
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			_, data, err := st.FileContent(ctx, id, args[1])
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: exitUsage, msg: err.Error() + " (see interp history files " + id + ")"}
			}
			if err != nil {
				return err
			}
			if getOut == "-" {
				_, err := out.Write(data)
				return err
			}
			dst := getOut
			if dst == "" {
				dst = path.Base(args[1])
			}
			saved, err := writeNew(dst, data)
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			if saved == "" {
				saved = dst + " (unchanged)"
			}
			fmt.Fprintln(out, "saved", saved)
			return nil
		}),
	}
	get.Flags().StringVarP(&getOut, "output", "o", "", "write here instead (- for stdout); an existing file is never overwritten")

	cmd.AddCommand(list, show, rm, exp, prune, files, get)
	return cmd
}

func getConversation(ctx context.Context, st *store.Store, idOrPrefix string) (*store.Conversation, error) {
	id, err := st.ResolveID(ctx, idOrPrefix)
	if err != nil {
		return nil, &exitError{code: exitUsage, msg: err.Error()}
	}
	return st.GetConversation(ctx, id)
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
