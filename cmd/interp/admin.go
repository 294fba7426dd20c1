package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/store"
)

// newAdminCmd is `interp admin`: the users and API keys of interp serve.
func newAdminCmd(g *globalFlags) *cobra.Command {
	var db string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage the users, roles and API keys of interp serve, and read its audit log",
		Long: "admin creates and lists users, and creates, lists and revokes their API keys,\n" +
			"in the database interp serve uses: --db, else --history, else INTERP_HISTORY\n" +
			"or the config file's history.dsn, else ~/.local/share/interp/history.db.\n" +
			"Keys are shown once, when made: only their hash is kept.",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&db, "db", "", "the database: a SQLite path or a postgres:// DSN (overrides --history)")
	declare(pf, "server.blob_dir")
	pf.BoolVar(&asJSON, "json", false, "print JSON")

	withStore := func(run func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			s, err := g.settings()
			if err != nil {
				return err
			}
			st, err := openServerStore(c.Context(), s, db)
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
	// audit records what the command did, as done by the CLI (no user,
	// no key), with the operating-system user in the detail.
	audit := func(ctx context.Context, st *store.Store, errOut io.Writer, action, target, detail string) {
		who := "unknown"
		if u, err := user.Current(); err == nil {
			who = u.Username
		}
		host, _ := os.Hostname()
		e := &store.AuditEntry{Action: action, Target: target, Detail: strings.TrimSpace(detail + " (interp admin, by " + who + "@" + host + ")")}
		if err := st.Audit(ctx, e); err != nil {
			fmt.Fprintf(errOut, "warning: the audit log: %v\n", err)
		}
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04")
	}

	var makeAdmin bool
	userCmd := &cobra.Command{Use: "user", Short: "Create and list users, and set their role"}
	createUser := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user (--admin: with the admin role)",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error {
			role := store.RoleUser
			if makeAdmin {
				role = store.RoleAdmin
			}
			u, err := st.CreateUserWithRole(ctx, args[0], role)
			if errors.Is(err, store.ErrExists) {
				return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("user %q exists already", args[0])}
			}
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			audit(ctx, st, errOut, store.AuditUserCreate, u.ID, "name "+u.Name+", role "+u.Role)
			if asJSON {
				return printJSON(out, u)
			}
			fmt.Fprintf(out, "created user %s (%s), role %s\nmake a key with: interp admin key create %s\n", u.Name, u.ID, u.Role, u.Name)
			return nil
		}),
	}
	createUser.Flags().BoolVar(&makeAdmin, "admin", false, "give the user the admin role: /v1/admin (users, keys, the audit log)")
	setRole := &cobra.Command{
		Use:   "set-role NAME admin|user",
		Short: "Set a user's role",
		Args:  cobra.ExactArgs(2),
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error {
			u, err := st.SetUserRole(ctx, args[0], args[1])
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no user %q", args[0])}
			}
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			audit(ctx, st, errOut, store.AuditUserRole, u.ID, "name "+u.Name+", role "+u.Role)
			if asJSON {
				return printJSON(out, u)
			}
			fmt.Fprintf(out, "user %s now has the role %s\n", u.Name, u.Role)
			return nil
		}),
	}
	userCmd.AddCommand(createUser, setRole, &cobra.Command{
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
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Role, when(u.CreatedAt))
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
			audit(ctx, st, errOut, store.AuditKeyCreate, info.ID, "key "+info.Prefix+"... for "+info.UserName+" ("+info.UserID+")")
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
		RunE: withStore(func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error {
			k, err := st.RevokeAPIKey(ctx, args[0])
			switch {
			case errors.Is(err, store.ErrNotFound):
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no key %q (see interp admin key list)", args[0])}
			case err != nil:
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			audit(ctx, st, errOut, store.AuditKeyRevoke, k.ID, "key "+k.Prefix+"... of "+k.UserName+" ("+k.UserID+")")
			if asJSON {
				return printJSON(out, k)
			}
			fmt.Fprintf(out, "revoked key %s (%s...) of %s\n", k.ID, k.Prefix, k.UserName)
			return nil
		}),
	}
	key.AddCommand(create, list, revoke)

	var auditUser, auditAction, auditSince string
	var auditLimit int
	auditCmd := &cobra.Command{
		Use:   "audit",
		Short: "Print the audit log, the newest first",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, st *store.Store, _ []string, out, _ io.Writer) error {
			f := store.AuditFilter{User: auditUser, Action: auditAction, Limit: auditLimit}
			if auditSince != "" {
				if d, err := time.ParseDuration(auditSince); err == nil {
					f.Since = time.Now().Add(-d)
				} else if t, err := time.Parse(time.RFC3339, auditSince); err == nil {
					f.Since = t
				} else {
					return &exitError{code: exitUsage, msg: fmt.Sprintf("--since %q: give a duration such as 24h or an RFC 3339 time", auditSince)}
				}
			}
			entries, err := st.AuditLog(ctx, f)
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if asJSON {
				return printJSON(out, entries)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tUSER\tKEY\tACTION\tRESULT\tTARGET\tIP\tDETAIL")
			dash := func(s string) string {
				if s == "" {
					return "-"
				}
				return s
			}
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"), dash(e.UserName),
					dash(e.KeyPrefix), e.Action, e.Result, dash(e.Target), dash(e.IP), e.Detail)
			}
			return tw.Flush()
		}),
	}
	af := auditCmd.Flags()
	af.StringVar(&auditUser, "user", "", "only this user's entries (name or ID)")
	af.StringVar(&auditAction, "action", "", "only this action: auth.failure, key.create, key.revoke, user.create, user.role, session.create, session.delete, file.upload, file.download, file.delete, task.start, quota.exceeded, admin.denied, admin.read")
	af.StringVar(&auditSince, "since", "", "only entries since then: a duration (24h) or an RFC 3339 time")
	af.IntVar(&auditLimit, "limit", 100, "at most this many entries (up to 1000)")
	cmd.AddCommand(userCmd, key, auditCmd)
	return cmd
}
