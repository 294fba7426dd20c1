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

// adminCmd holds what every admin subcommand shares: the database flag
// and the output format.
type adminCmd struct {
	g      *globalFlags
	db     string
	asJSON bool
}

// adminRun is an admin subcommand's work on the opened database.
type adminRun func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error

// newAdminCmd is `interp admin`: the users and API keys of interp serve.
func newAdminCmd(g *globalFlags) *cobra.Command {
	a := &adminCmd{g: g}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage the users, roles and API keys of interp serve, and read its audit log",
		Long: "admin creates and lists users, and creates, lists and revokes their API keys,\n" +
			"in the database interp serve uses: --db, else --history, else INTERP_HISTORY\n" +
			"or the config file's history.dsn, else ~/.local/share/interp/history.db.\n" +
			"Keys are shown once, when made: only their hash is kept.",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&a.db, "db", "", "the database: a SQLite path or a postgres:// DSN (overrides --history)")
	declare(pf, "server.blob_dir")
	pf.BoolVar(&a.asJSON, "json", false, "print JSON")
	cmd.AddCommand(a.userCmd(), a.keyCmd(), a.auditCmd())
	return cmd
}

// withStore runs run on the database the settings and --db name.
func (a *adminCmd) withStore(run adminRun) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		s, err := a.g.settings()
		if err != nil {
			return err
		}
		st, err := openServerStore(c.Context(), s, a.db)
		if err != nil {
			return err
		}
		defer st.Close()
		return run(c.Context(), st, args, c.OutOrStdout(), c.ErrOrStderr())
	}
}

// printJSON prints v as indented JSON.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// adminAudit records what the command did, as done by the CLI (no user, no
// key), with the operating-system user in the detail.
func adminAudit(ctx context.Context, st *store.Store, errOut io.Writer, action, target, detail string) {
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

// when is a time for a table: local, to the minute, - for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// dash is s for a table, - for none.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// userCmd is `interp admin user`: create, set-role, list.
func (a *adminCmd) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Create and list users, and set their role"}
	cmd.AddCommand(a.createUserCmd(), a.setRoleCmd(), a.listUsersCmd())
	return cmd
}

func (a *adminCmd) createUserCmd() *cobra.Command {
	var makeAdmin bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user (--admin: with the admin role)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error {
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
			adminAudit(ctx, st, errOut, store.AuditUserCreate, u.ID, "name "+u.Name+", role "+u.Role)
			if a.asJSON {
				return printJSON(out, u)
			}
			fmt.Fprintf(out, "created user %s (%s), role %s\nmake a key with: interp admin key create %s\n", u.Name, u.ID, u.Role, u.Name)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&makeAdmin, "admin", false, "give the user the admin role: /v1/admin (users, keys, the audit log)")
	return cmd
}

func (a *adminCmd) setRoleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set-role NAME admin|user",
		Short: "Set a user's role",
		Args:  cobra.ExactArgs(2),
		RunE: a.withStore(func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error {
			u, err := st.SetUserRole(ctx, args[0], args[1])
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no user %q", args[0])}
			}
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			adminAudit(ctx, st, errOut, store.AuditUserRole, u.ID, "name "+u.Name+", role "+u.Role)
			if a.asJSON {
				return printJSON(out, u)
			}
			fmt.Fprintf(out, "user %s now has the role %s\n", u.Name, u.Role)
			return nil
		}),
	}
}

func (a *adminCmd) listUsersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(ctx context.Context, st *store.Store, _ []string, out, _ io.Writer) error {
			users, err := st.ListUsers(ctx)
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if a.asJSON {
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
	}
}

// keyCmd is `interp admin key`: create, list, revoke.
func (a *adminCmd) keyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Create, list and revoke API keys"}
	cmd.AddCommand(a.createKeyCmd(), a.listKeysCmd(), a.revokeKeyCmd())
	return cmd
}

func (a *adminCmd) createKeyCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create USER",
		Short: "Make an API key for a user (by name or ID), and print it: it is shown only once",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error {
			k, info, err := st.CreateAPIKey(ctx, args[0], name)
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no user %q: create it with interp admin user create", args[0])}
			}
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			adminAudit(ctx, st, errOut, store.AuditKeyCreate, info.ID, "key "+info.Prefix+"... for "+info.UserName+" ("+info.UserID+")")
			if a.asJSON {
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
	cmd.Flags().StringVar(&name, "name", "", "a name for the key, to tell keys apart")
	return cmd
}

func (a *adminCmd) listKeysCmd() *cobra.Command {
	var of string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys, revoked ones included",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(ctx context.Context, st *store.Store, _ []string, out, _ io.Writer) error {
			keys, err := st.ListAPIKeys(ctx, of)
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no user %q", of)}
			}
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if a.asJSON {
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
	cmd.Flags().StringVar(&of, "user", "", "only this user's keys")
	return cmd
}

func (a *adminCmd) revokeKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KEYID",
		Short: "Revoke an API key, by its ID or its prefix: it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(ctx context.Context, st *store.Store, args []string, out, errOut io.Writer) error {
			k, err := st.RevokeAPIKey(ctx, args[0])
			switch {
			case errors.Is(err, store.ErrNotFound):
				return &exitError{code: exitUsage, msg: fmt.Sprintf("no key %q (see interp admin key list)", args[0])}
			case err != nil:
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			adminAudit(ctx, st, errOut, store.AuditKeyRevoke, k.ID, "key "+k.Prefix+"... of "+k.UserName+" ("+k.UserID+")")
			if a.asJSON {
				return printJSON(out, k)
			}
			fmt.Fprintf(out, "revoked key %s (%s...) of %s\n", k.ID, k.Prefix, k.UserName)
			return nil
		}),
	}
}

// auditCmd is `interp admin audit`: the audit log, filtered.
func (a *adminCmd) auditCmd() *cobra.Command {
	var f store.AuditFilter
	var since string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Print the audit log, the newest first",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(ctx context.Context, st *store.Store, _ []string, out, _ io.Writer) error {
			var err error
			if f.Since, err = parseSince(since, time.Now()); err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			entries, err := st.AuditLog(ctx, f)
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if a.asJSON {
				return printJSON(out, entries)
			}
			return writeAuditLog(out, entries)
		}),
	}
	af := cmd.Flags()
	af.StringVar(&f.User, "user", "", "only this user's entries (name or ID)")
	af.StringVar(&f.Action, "action", "", "only this action: auth.failure, key.create, key.revoke, user.create, user.role, session.create, session.delete, file.upload, file.download, file.delete, task.start, quota.exceeded, admin.denied, admin.read")
	af.StringVar(&since, "since", "", "only entries since then: a duration (24h) or an RFC 3339 time")
	af.IntVar(&f.Limit, "limit", 100, "at most this many entries (up to 1000)")
	return cmd
}

// parseSince reads --since: a duration back from now, or an RFC 3339
// time; "" is the beginning.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: give a duration such as 24h or an RFC 3339 time", v)
}

// writeAuditLog prints audit entries as a table.
func writeAuditLog(out io.Writer, entries []store.AuditEntry) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tUSER\tKEY\tACTION\tRESULT\tTARGET\tIP\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"), dash(e.UserName),
			dash(e.KeyPrefix), e.Action, e.Result, dash(e.Target), dash(e.IP), e.Detail)
	}
	return tw.Flush()
}
