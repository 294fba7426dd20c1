// Package storetest gives tests fresh history databases: SQLite in a
// temporary directory, and PostgreSQL in a schema of its own on the server
// that INTERP_TEST_POSTGRES_DSN names (scripts/postgres starts one). Tests
// skip the PostgreSQL half when the variable is unset, unless CI=true:
// then they fail.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver
)

// EnvDSN names the variable with the test server's DSN.
const EnvDSN = "INTERP_TEST_POSTGRES_DSN"

// Backend is a database to test against.
type Backend struct {
	Name string // sqlite or postgres
	// DSN returns the DSN of a new, empty database and a blob directory
	// for it; both are removed when the test ends.
	DSN func(t testing.TB) (dsn, blobDir string)
}

// SQLite is a database file in the test's temporary directory.
var SQLite = Backend{Name: "sqlite", DSN: func(t testing.TB) (string, string) {
	dir := t.TempDir()
	return filepath.Join(dir, "history.db"), filepath.Join(dir, "blobs")
}}

// Postgres is a new schema on the test server.
var Postgres = Backend{Name: "postgres", DSN: PostgresDSN}

// Backends returns both backends.
func Backends() []Backend { return []Backend{SQLite, Postgres} }

// Each runs f as a subtest against each backend, the two in parallel
// (each has a database of its own), so f must not call t.Setenv.
func Each(t *testing.T, f func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// RequirePostgres returns the server's DSN, or skips the test (fails it
// under CI=true) when there is none.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: under CI the PostgreSQL tests must run (export %s=$(scripts/postgres))", EnvDSN, EnvDSN)
		}
		t.Skipf("PostgreSQL half skipped: %s is not set (run: export %s=$(scripts/postgres))", EnvDSN, EnvDSN)
	}
	return dsn
}

// PostgresDSN creates a schema of its own for the test, dropped when the
// test ends, and returns a DSN whose search_path is that schema.
func PostgresDSN(t testing.TB) (string, string) {
	t.Helper()
	base := RequirePostgres(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		t.Fatalf("create schema on %s: %v", redact(base), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), filepath.Join(t.TempDir(), "blobs")
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
