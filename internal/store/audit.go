package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Audit actions: what the audit log records.
const (
	AuditAuthFailure   = "auth.failure"   // a refused API key; Detail says why
	AuditKeyCreate     = "key.create"     // an API key was made
	AuditKeyRevoke     = "key.revoke"     // an API key was revoked
	AuditUserCreate    = "user.create"    // a user was created
	AuditUserRole      = "user.role"      // a user's role changed
	AuditSessionCreate = "session.create" // a session started
	AuditSessionDelete = "session.delete" // a session was closed
	AuditFileUpload    = "file.upload"    // a file was uploaded
	AuditFileDownload  = "file.download"  // a file was downloaded
	AuditFileDelete    = "file.delete"    // a file was deleted
	AuditTaskStart     = "task.start"     // a task of the model started
	AuditQuotaExceeded = "quota.exceeded" // a request was refused by a quota
	AuditAdminDenied   = "admin.denied"   // a non-admin asked for an admin operation
	AuditAdminRead     = "admin.read"     // an admin listed users, keys or the audit log
)

// Results of audited actions.
const (
	ResultOK     = "ok"
	ResultDenied = "denied"
	ResultFailed = "failed"
)

// AuditEntry is one line of the audit log. It never holds a secret: keys
// appear by ID and public prefix only.
type AuditEntry struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	UserID    string    `json:"user_id,omitempty" doc:"Who acted; empty when unknown (a refused key) or for the CLI."`
	UserName  string    `json:"user_name,omitempty"`
	KeyID     string    `json:"key_id,omitempty" doc:"The API key used, if any."`
	KeyPrefix string    `json:"key_prefix,omitempty" doc:"The public prefix of the key presented."`
	Action    string    `json:"action" doc:"What was done, such as auth.failure, key.create, file.upload."`
	Target    string    `json:"target,omitempty" doc:"What it was done to: IDs, a path."`
	Detail    string    `json:"detail,omitempty" doc:"More: the reason of a failure, a quota's message."`
	IP        string    `json:"ip,omitempty" doc:"The client's address."`
	Result    string    `json:"result" enum:"ok,denied,failed"`
}

// AuditFilter selects audit entries; zero fields select all.
type AuditFilter struct {
	// User is a user's ID or name: entries by the user, or whose target
	// is the user (their creation, role changes).
	User   string
	Action string
	// Since and Until bound the time: Since <= at < Until.
	Since, Until time.Time
	// Limit (default 100, at most 1000) and Offset page the entries,
	// the newest first.
	Limit, Offset int
}

// auditSeq orders the entries this process writes within a millisecond.
var auditSeq atomic.Int64

// auditID is an ID that sorts as entries were written: a wall-clock
// sequence in nanoseconds (strictly increasing in this process), then
// randomness against other processes.
func auditID() string {
	for {
		last := auditSeq.Load()
		next := max(last+1, time.Now().UnixNano())
		if auditSeq.CompareAndSwap(last, next) {
			return fmt.Sprintf("aud_%016x%s", next, newID("")[:6])
		}
	}
}

// maxAuditField bounds a text field of an entry.
const maxAuditField = 1000

func clip(s string) string {
	if len(s) <= maxAuditField {
		return s
	}
	// A rune cut in two is dropped.
	return strings.ToValidUTF8(s[:maxAuditField], "")
}

// Audit appends an entry to the audit log. Its ID and time are set here
// when empty; Result defaults to ResultOK.
func (s *Store) Audit(ctx context.Context, e *AuditEntry) error {
	if e.Action == "" {
		return fmt.Errorf("store: audit: no action")
	}
	if e.ID == "" {
		e.ID = auditID()
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = fromMillis(millis(e.At))
	if e.Result == "" {
		e.Result = ResultOK
	}
	_, err := s.exec(ctx, `INSERT INTO audit_log (id, at, user_id, user_name, key_id, key_prefix, action, target, detail, ip, result)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, millis(e.At), clip(e.UserID), clip(e.UserName), clip(e.KeyID), clip(e.KeyPrefix), clip(e.Action),
		clip(e.Target), clip(e.Detail), clip(e.IP), clip(e.Result))
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// AuditLog returns the entries f selects, the newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var where []string
	var args []any
	if f.User != "" {
		// A user by ID or name; a deleted or unknown one still matches
		// entries by the name or ID recorded.
		id := f.User
		if u, err := s.GetUser(ctx, f.User); err == nil {
			id = u.ID
		}
		where = append(where, `(user_id = ? OR user_name = ? OR target = ?)`)
		args = append(args, id, f.User, id)
	}
	if f.Action != "" {
		where = append(where, `action = ?`)
		args = append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, millis(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, `at < ?`)
		args = append(args, millis(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := `SELECT id, at, user_id, user_name, key_id, key_prefix, action, target, detail, ip, result FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`
	args = append(args, limit, max(f.Offset, 0))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.UserID, &e.UserName, &e.KeyID, &e.KeyPrefix, &e.Action, &e.Target, &e.Detail, &e.IP, &e.Result); err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
