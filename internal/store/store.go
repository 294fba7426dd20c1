// Package store is Interp's history: it records every task, model message,
// cell (code, status, timings), output event, installed package and
// produced file, so that users can look back, resume, re-run and export.
//
// One schema serves two databases, chosen by the DSN given to Open: SQLite
// by default (a file path or "sqlite:PATH"; pure Go, in WAL mode, with a
// busy timeout and foreign keys on) and PostgreSQL for production
// ("postgres://..." or "postgresql://..."). Versioned migrations, embedded
// SQL run by goose, are applied at Open.
//
// Large content (files the code writes, images, long outputs) goes to a
// BlobStore by SHA-256, so it is stored once however often it appears; the
// database counts references, and deleting a conversation deletes the blobs
// no other conversation uses.
//
// A Recorder commits each event in its own small transaction as it happens:
// a process killed mid-run loses nothing it had recorded, and the next Open
// (or recoverInterrupted) marks the tasks and cells it left running as
// interrupted.
//
// The files follow the concerns: store.go opens the database and migrates
// it; conversation.go creates conversations and keeps their model history;
// recorder.go is the write path of a task or exec run (every event goes
// through Recorder.insert, one transaction each); blob.go is content by
// hash; query.go reads conversations back; retention.go deletes, prunes
// and collects garbage; recover.go marks runs a dead process left;
// users.go, audit.go and quota.go are the service's users and keys, audit
// log, and ownership and token usage.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Errors.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrRunning is returned when deleting a conversation that a live
	// process is still recording.
	ErrRunning = errors.New("store: the conversation has a running task")
	// ErrFinished is returned by a Recorder used after Finish.
	ErrFinished = errors.New("store: the recorder is finished")
)

// Options configure Open. The zero value is usable with SQLite.
type Options struct {
	// Blobs is where large content goes. If nil, a DirBlobs in BlobDir.
	Blobs BlobStore
	// BlobDir is the blob directory when Blobs is nil. Its default, for
	// SQLite, is the database's path with "-blobs" appended; PostgreSQL
	// needs one of Blobs or BlobDir.
	BlobDir string
	// InlineLimit is the size above which an event's text or MIME value
	// goes to the blob store. Default 8 KiB.
	InlineLimit int
	// MaxFileSize bounds the produced files whose content is kept.
	// Default 64 MiB; negative keeps no content.
	MaxFileSize int64
	// SyncCommit makes every commit wait until it is on disk: SQLite's
	// synchronous=FULL, PostgreSQL's synchronous_commit=on. By default a
	// commit is safe from a killed process, not from a power failure or a
	// database server crash, which may lose the last fraction of a second
	// (SQLite's synchronous=NORMAL in WAL mode, PostgreSQL's
	// synchronous_commit=off); recording is then several times faster. A
	// synchronous_commit given in a PostgreSQL DSN wins.
	SyncCommit bool
	// NoRecover skips recoverInterrupted at Open.
	NoRecover bool
	// Now is the clock; time.Now by default. For tests.
	Now func() time.Time
}

const (
	defaultInlineLimit = 8 << 10
	defaultMaxFileSize = 64 << 20
)

// Store is an open history database. It is safe for concurrent use.
type Store struct {
	db          *sql.DB
	dialect     string
	blobs       BlobStore
	now         func() time.Time
	inlineLimit int
	maxFileSize int64
	self        owner

	stmts map[string]*sql.Stmt
	mu    sync.Mutex
	// w commits the recording path's writes in groups (SQLite only).
	w *writer
}

// ParseDSN tells which database a DSN names: "postgres" for postgres:// and
// postgresql:// URLs, else "sqlite" with the file's path.
func ParseDSN(dsn string) (dialect, target string, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		target = strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "sqlite:"):
		target = strings.TrimPrefix(dsn, "sqlite:")
	default:
		target = dsn
	}
	if target == "" {
		return "", "", errors.New("store: empty database path")
	}
	if strings.ContainsAny(target, "?#") || target == ":memory:" || strings.HasPrefix(target, "file:") {
		return "", "", fmt.Errorf("store: unsupported SQLite path %q: give a plain file path", target)
	}
	return SQLite, target, nil
}

// DefaultDir is where Interp keeps its history unless configured
// (config's data_dir): $XDG_DATA_HOME/interp, else ~/.local/share/interp.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "interp"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("store: no data directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "interp"), nil
}

// Open opens (creating if needed) the database dsn names, migrates it to
// the latest schema, and, unless opts.NoRecover, marks the tasks left
// running by dead processes as interrupted.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	dialect, target, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dialect:     dialect,
		blobs:       o.Blobs,
		now:         o.Now,
		inlineLimit: o.InlineLimit,
		maxFileSize: o.MaxFileSize,
		self:        currentOwner(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.inlineLimit <= 0 {
		s.inlineLimit = defaultInlineLimit
	}
	if s.maxFileSize == 0 {
		s.maxFileSize = defaultMaxFileSize
	}
	if s.blobs == nil {
		dir := o.BlobDir
		if dir == "" {
			if dialect != SQLite {
				return nil, errors.New("store: PostgreSQL needs Options.BlobDir or Options.Blobs")
			}
			dir = target + "-blobs"
		}
		if s.blobs, err = NewDirBlobs(dir); err != nil {
			return nil, err
		}
	}

	var sessionLocker lock.SessionLocker
	switch dialect {
	case SQLite:
		if dir := filepath.Dir(target); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
		}
		// synchronous=NORMAL in WAL mode loses nothing to a killed process,
		// only the last commits to a power failure, and keeps commits fast.
		syncMode := "NORMAL"
		if o.SyncCommit {
			syncMode = "FULL"
		}
		q := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
			"&_pragma=synchronous(" + syncMode + ")&_txlock=immediate"
		s.db, err = sql.Open("sqlite", target+q)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		s.db.SetMaxIdleConns(4)
	case Postgres:
		if target, err = pgDSN(target, o.SyncCommit); err != nil {
			return nil, err
		}
		s.db, err = sql.Open("pgx", target)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		s.db.SetMaxIdleConns(4)
		s.db.SetConnMaxIdleTime(5 * time.Minute)
		if sessionLocker, err = lock.NewPostgresSessionLocker(); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := s.migrate(ctx, 0, sessionLocker); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if !o.NoRecover {
		if _, err := s.recoverInterrupted(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	if s.dialect == SQLite {
		s.startWriter()
	}
	return s, nil
}

// pgDSN sets synchronous_commit in a PostgreSQL URL, unless it has one.
func pgDSN(dsn string, syncCommit bool) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", errors.New("store: unparsable PostgreSQL URL")
	}
	q := u.Query()
	if q.Get("synchronous_commit") == "" {
		v := "off"
		if syncCommit {
			v = "on"
		}
		q.Set("synchronous_commit", v)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// migrate applies the migrations up to version, or all if 0.
func (s *Store) migrate(ctx context.Context, version int64, locker lock.SessionLocker) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	popts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if locker != nil {
		popts = append(popts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, s.db, fsys, popts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if version > 0 {
		_, err = p.UpTo(ctx, version)
	} else {
		_, err = p.Up(ctx)
	}
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// schemaVersion returns the schema's migration version.
func (s *Store) schemaVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version").Scan(&v)
	return v.Int64, err
}

// Close closes the database.
func (s *Store) Close() error {
	if s.w != nil {
		s.w.close()
	}
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.mu.Unlock()
	return s.db.Close()
}

// The statements of the recording path, prepared once.
var statements = map[string]string{
	"event": `INSERT INTO events (conversation_id, seq, task_id, cell_id, type, step, at, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
	"event_blob": `INSERT INTO event_blobs (conversation_id, seq, field, hash, size, encoding)
		VALUES (?, ?, ?, ?, ?, ?)`,
	"blob_ref": `INSERT INTO blobs (hash, size, refs, created_at) VALUES (?, ?, 1, ?)
		ON CONFLICT (hash) DO UPDATE SET refs = blobs.refs + 1`,
	"cell": `INSERT INTO cells (id, conversation_id, task_id, seq, step, code, status, started_at,
		owner_pid, owner_host, owner_start) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)`,
	"cell_done": `UPDATE cells SET status = ?, reason = ?, execution_count = ?, duration = ?,
		cpu_time = ?, peak_memory = ?, finished_at = ? WHERE id = ?`,
	"file": `INSERT INTO files (id, conversation_id, task_id, cell_id, seq, path, size, sha256, change, note, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"package": `INSERT INTO packages (conversation_id, seq, task_id, cell_id, name, version, phase, message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
	"conv_bytes": `UPDATE conversations SET bytes = bytes + ?, updated_at = ? WHERE id = ?`,
}

func (s *Store) prepare(ctx context.Context) error {
	s.stmts = make(map[string]*sql.Stmt, len(statements))
	for name, q := range statements {
		st, err := s.db.PrepareContext(ctx, s.rebind(q))
		if err != nil {
			return fmt.Errorf("store: prepare %s: %w", name, err)
		}
		s.stmts[name] = st
	}
	return nil
}

// stmt returns a prepared statement, inside tx if it is not nil.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, name string) *sql.Stmt {
	st := s.stmts[name]
	if tx != nil {
		return tx.StmtContext(ctx, st)
	}
	return st
}

// rebind turns ? placeholders into PostgreSQL's $n. The queries here have
// no ? in literals.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.rebind(q), args...)
}

// inTx runs f in a transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (s *Store) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	return tx.ExecContext(ctx, s.rebind(q), args...)
}

// millis is how times are stored.
func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix and 16 random characters.
func newID(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + idEncoding.EncodeToString(b[:])
}

// nullString is NULL for "".
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}
