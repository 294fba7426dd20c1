package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/store"
)

// newAdminCmd is `interp admin`: the users and API keys of interp serve.
func newAdminCmd(g *globalFlags) *cobra.Command {
	var db string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage the users and API keys of interp serve",
		Long: "admin creates and lists users, and creates, lists and revokes their API keys,\n" +
			"in the database interp serve uses: --db, else --history, else INTERP_HISTORY\n" +
			"or the config file's history.dsn, else ~/.local/share/interp/history.db.\n" +
			"Keys are shown once, when made: only their hash is kept.",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&db, "db", "", "the database: a SQLite path or a postgres:// DSN (overrides --history)")
	pf.String("blob-dir", "", "the history's blob directory; needed with a postgres:// database (env INTERP_BLOB_DIR)")
	pf.BoolVar(&asJSON, "json", false, "print JSON")

	withStore := func(run func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			cfg, err := config.Load(config.Path())
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			st, err := openServerStore(c.Context(), g, c, db, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			return run(c.Context(), st, args, c.OutOrStdout(), c.ErrOrStderr())
		}
	}
	printJSON := func(out io.Writer, v any) error {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04")
	}

	user := &cobra.Command{Use: "user", Short: "Create and list users"}
	user.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create a user",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out, _ io.Writer) error {
			u, err := st.CreateUser(ctx, args[0])
			if errors.Is(err, store.ErrExists) {
				return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("user %q exists already", args[0])}
			}
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			if asJSON {
				return printJSON(out, u)
			}
			fmt.Fprintf(out, "created user %s (%s)\nmake a key with: interp admin key create %s\n", u.Name, u.ID, u.Name)
			return nil
		}),
	}, &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, st *store.Store, _ []string, out, _ io.Writer) error {
			users, err := st.ListUsers(ctx)
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if asJSON {
				if users == nil {
					users = []store.User{}
				}
				return printJSON(out, users)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.ID, u.Name, when(u.CreatedAt))
			}
			return tw.Flush()
		}),
	})

	var keyName, keyUser string
	key := &cobra.Command{Use: "key", Short: "Create, list and revoke API keys"}
	create := &cobra.Command{
		Use:   "create USER",
		Short: "Make an API key for a user (by name or ID), and print it: it is shown only once",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error {
			k, info, err := st.CreateAPIKey(ctx, args[0], keyName)
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no user %q: create it with interp admin user create", args[0])}
			}
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			if asJSON {
				return printJSON(out, struct {
					Key string `json:"key"`
					*store.APIKey
				}{k, info})
			}
			fmt.Fprintln(out, k)
			fmt.Fprintf(errOut, "key %s (%s...) for %s: keep it now, it cannot be shown again\n", info.ID, info.Prefix, info.UserName)
			return nil
		}),
	}
	create.Flags().StringVar(&keyName, "name", "", "a name for the key, to tell keys apart")
	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys, revoked ones included",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, st *store.Store, _ []string, out, _ io.Writer) error {
			keys, err := st.ListAPIKeys(ctx, keyUser)
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no user %q", keyUser)}
			}
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if asJSON {
				if keys == nil {
					keys = []store.APIKey{}
				}
				return printJSON(out, keys)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPREFIX\tUSER\tNAME\tCREATED\tLAST USED\tSTATUS")
			for _, k := range keys {
				status := "active"
				if k.Revoked() {
					status = "revoked " + when(k.RevokedAt)
				}
				fmt.Fprintf(tw, "%s\t%s...\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.UserName, k.Name, when(k.CreatedAt), when(k.LastUsedAt), status)
			}
			return tw.Flush()
		}),
	}
	list.Flags().StringVar(&keyUser, "user", "", "only this user's keys")
	revoke := &cobra.Command{
		Use:   "revoke KEYID",
		Short: "Revoke an API key, by its ID or its prefix: it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out, _ io.Writer) error {
			k, err := st.RevokeAPIKey(ctx, args[0])
			switch {
			case errors.Is(err, store.ErrNotFound):
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no key %q (see interp admin key list)", args[0])}
			case err != nil:
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			if asJSON {
				return printJSON(out, k)
			}
			fmt.Fprintf(out, "revoked key %s (%s...) of %s\n", k.ID, k.Prefix, k.UserName)
			return nil
		}),
	}
	key.AddCommand(create, list, revoke)
	cmd.AddCommand(user, key)
	return cmd
}
