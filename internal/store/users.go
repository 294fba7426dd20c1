package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors of users and keys.
var (
	// ErrExists is returned when creating a user whose name is taken.
	ErrExists = errors.New("store: already exists")
	// ErrBadKey is returned by Authenticate for a key that is malformed or
	// unknown.
	ErrBadKey = errors.New("store: invalid API key")
	// ErrRevoked is returned by Authenticate for a revoked key.
	ErrRevoked = errors.New("store: API key revoked")
)

// KeyPrefix begins every API key.
const KeyPrefix = "ik_"

// keyPrefixLen is how much of a key is kept in clear, to identify it:
// "ik_" and 8 characters of the random part (48 bits).
const keyPrefixLen = len(KeyPrefix) + 8

// keyBytes is the randomness of a key.
const keyBytes = 32

// User is a user of the HTTP service.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Role is RoleUser or RoleAdmin.
	Role      string    `json:"role" enum:"user,admin"`
	CreatedAt time.Time `json:"created_at"`
}

// Roles of users. Admins manage users, keys and read the audit log; they
// see no other user's sessions or history.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// IsAdmin reports whether the user has the admin role.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

func checkRole(role string) error {
	if role != RoleUser && role != RoleAdmin {
		return fmt.Errorf("store: role %q: want %q or %q", role, RoleUser, RoleAdmin)
	}
	return nil
}

// APIKey describes an API key; the key itself is never stored.
type APIKey struct {
	ID       string `json:"id"`
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
	Name     string `json:"name,omitempty"`
	// Prefix is the key's first characters, to recognise it.
	Prefix     string    `json:"prefix"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether the key was revoked.
func (k *APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// checkUserName accepts names of 1 to 64 letters, digits and ._@+-.
func checkUserName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return fmt.Errorf("store: a user name has 1 to 64 characters, not %q", name)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._@+-", r) {
			return fmt.Errorf("store: user name %q: only letters, digits and . _ @ + - are allowed", name)
		}
	}
	return nil
}

// CreateUser adds a user with the user role. Names are unique.
func (s *Store) CreateUser(ctx context.Context, name string) (*User, error) {
	return s.CreateUserWithRole(ctx, name, RoleUser)
}

// CreateUserWithRole adds a user with a role (RoleUser or RoleAdmin).
func (s *Store) CreateUserWithRole(ctx context.Context, name, role string) (*User, error) {
	if err := checkUserName(name); err != nil {
		return nil, err
	}
	if err := checkRole(role); err != nil {
		return nil, err
	}
	if _, err := s.GetUser(ctx, name); err == nil {
		return nil, fmt.Errorf("%w: user %q", ErrExists, name)
	}
	u := &User{ID: newID("user_"), Name: name, Role: role, CreatedAt: fromMillis(millis(s.now()))}
	_, err := s.exec(ctx, `INSERT INTO users (id, name, role, created_at) VALUES (?, ?, ?, ?)`, u.ID, u.Name, u.Role, millis(u.CreatedAt))
	if err != nil {
		// A concurrent create of the same name loses here.
		if _, gerr := s.GetUser(ctx, name); gerr == nil {
			return nil, fmt.Errorf("%w: user %q", ErrExists, name)
		}
		return nil, fmt.Errorf("store: create user: %w", err)
	}
	return u, nil
}

// GetUser returns the user with this ID or name.
func (s *Store) GetUser(ctx context.Context, idOrName string) (*User, error) {
	u := &User{}
	var created int64
	err := s.queryRow(ctx, `SELECT id, name, role, created_at FROM users WHERE id = ? OR name = ? ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`,
		idOrName, idOrName, idOrName).Scan(&u.ID, &u.Name, &u.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: user %q", ErrNotFound, idOrName)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get user: %w", err)
	}
	u.CreatedAt = fromMillis(created)
	return u, nil
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.query(ctx, `SELECT id, name, role, created_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.ID, &u.Name, &u.Role, &created); err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		u.CreatedAt = fromMillis(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

// hashKey is the stored form of a key.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey makes a new key for a user (by ID or name) and returns it:
// the only time the key is seen, since only its hash is kept.
func (s *Store) CreateAPIKey(ctx context.Context, user, name string) (string, *APIKey, error) {
	u, err := s.GetUser(ctx, user)
	if err != nil {
		return "", nil, err
	}
	if len(name) > 200 {
		return "", nil, errors.New("store: key name over 200 bytes")
	}
	var b [keyBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	k := &APIKey{
		ID: newID("key_"), UserID: u.ID, UserName: u.Name, Name: name,
		Prefix: key[:keyPrefixLen], CreatedAt: fromMillis(millis(s.now())),
	}
	_, err = s.exec(ctx, `INSERT INTO api_keys (id, user_id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.UserID, k.Name, k.Prefix, hashKey(key), millis(k.CreatedAt))
	if err != nil {
		return "", nil, fmt.Errorf("store: create key: %w", err)
	}
	return key, k, nil
}

const keyColumns = `k.id, k.user_id, u.name, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at`

func scanKey(sc interface{ Scan(...any) error }, k *APIKey, extra ...any) error {
	var created int64
	var used, revoked sql.NullInt64
	dst := append([]any{&k.ID, &k.UserID, &k.UserName, &k.Name, &k.Prefix, &created, &used, &revoked}, extra...)
	if err := sc.Scan(dst...); err != nil {
		return err
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMillis(created), fromNullMillis(used), fromNullMillis(revoked)
	return nil
}

// ListAPIKeys returns the keys of a user (by ID or name), or everyone's
// if user is "", revoked ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, user string) ([]APIKey, error) {
	q := `SELECT ` + keyColumns + ` FROM api_keys k JOIN users u ON u.id = k.user_id`
	var args []any
	if user != "" {
		u, err := s.GetUser(ctx, user)
		if err != nil {
			return nil, err
		}
		q += ` WHERE k.user_id = ?`
		args = append(args, u.ID)
	}
	rows, err := s.query(ctx, q+` ORDER BY k.created_at, k.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		if err := scanKey(rows, &k); err != nil {
			return nil, fmt.Errorf("store: list keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// ErrLastAdminKey refuses to revoke the last working key of any admin,
// which would leave nobody able to manage the service through its API.
var ErrLastAdminKey = errors.New("it is the last active API key of an admin, and revoking it would lock every admin out of the API: create another admin key first")

// RevokeAPIKey revokes a key by its ID or its prefix. Revoking a revoked
// key is not an error; revoking the last active key of an admin is
// ErrLastAdminKey.
func (s *Store) RevokeAPIKey(ctx context.Context, idOrPrefix string) (*APIKey, error) {
	rows, err := s.query(ctx, `SELECT `+keyColumns+` FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.id = ? OR k.prefix = ? LIMIT 2`, idOrPrefix, idOrPrefix)
	if err != nil {
		return nil, fmt.Errorf("store: revoke key: %w", err)
	}
	var found []APIKey
	for rows.Next() {
		var k APIKey
		if err := scanKey(rows, &k); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: revoke key: %w", err)
		}
		found = append(found, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: revoke key: %w", err)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: key %q", ErrNotFound, idOrPrefix)
	case 2:
		return nil, fmt.Errorf("%w: %q names several keys: give the key ID", ErrAmbiguous, idOrPrefix)
	}
	k := found[0]
	if k.Revoked() {
		return &k, nil
	}
	now := s.now()
	// The check and the update are one statement; on PostgreSQL the table
	// is locked against other writers first, so that two revocations at
	// once cannot both pass the check (SQLite has one writer at a time).
	var n int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		res, err := s.txExec(ctx, tx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
			AND (NOT EXISTS (SELECT 1 FROM users u WHERE u.id = api_keys.user_id AND u.role = ?)
			  OR EXISTS (SELECT 1 FROM api_keys k2 JOIN users u2 ON u2.id = k2.user_id
			             WHERE u2.role = ? AND k2.revoked_at IS NULL AND k2.id <> ?))`,
			millis(now), k.ID, RoleAdmin, RoleAdmin, k.ID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: revoke key: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("store: revoke key %s: %w", k.ID, ErrLastAdminKey)
	}
	k.RevokedAt = fromMillis(millis(now))
	return &k, nil
}

// lastUsedEvery is how often a key's last use is written down.
const lastUsedEvery = time.Minute

// Authenticate returns the user and key a presented key belongs to. The key
// is found by its prefix and checked by comparing hashes in constant time;
// a malformed or unknown key gives ErrBadKey, a revoked one ErrRevoked.
// With ErrRevoked, the key's description is returned too (not the user),
// so that the failure can be told apart in the audit log.
func (s *Store) Authenticate(ctx context.Context, key string) (*User, *APIKey, error) {
	if len(key) != len(KeyPrefix)+base64.RawURLEncoding.EncodedLen(keyBytes) || !strings.HasPrefix(key, KeyPrefix) {
		return nil, nil, ErrBadKey
	}
	want := hashKey(key)
	rows, err := s.query(ctx, `SELECT `+keyColumns+`, k.hash, u.created_at, u.role FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.prefix = ?`, key[:keyPrefixLen])
	if err != nil {
		return nil, nil, fmt.Errorf("store: authenticate: %w", err)
	}
	var match *APIKey
	var userCreated int64
	var userRole string
	for rows.Next() {
		var k APIKey
		var hash, role string
		var created int64
		if err := scanKey(rows, &k, &hash, &created, &role); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("store: authenticate: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(hash), []byte(want)) == 1 {
			match, userCreated, userRole = &k, created, role
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: authenticate: %w", err)
	}
	if match == nil {
		return nil, nil, ErrBadKey
	}
	if match.Revoked() {
		return nil, match, ErrRevoked
	}
	now := s.now()
	if now.Sub(match.LastUsedAt) >= lastUsedEvery {
		if _, err := s.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, millis(now), match.ID); err == nil {
			match.LastUsedAt = fromMillis(millis(now))
		}
	}
	return &User{ID: match.UserID, Name: match.UserName, Role: userRole, CreatedAt: fromMillis(userCreated)}, match, nil
}

// PublicKeyPrefix returns the public prefix of a presented key, the part
// that may be shown and logged, or "" if the string does not have the
// shape of a key (it might then be some other secret: none of it is kept).
func PublicKeyPrefix(key string) string {
	if len(key) != len(KeyPrefix)+base64.RawURLEncoding.EncodedLen(keyBytes) || !strings.HasPrefix(key, KeyPrefix) {
		return ""
	}
	return key[:keyPrefixLen]
}

// SetUserRole changes a user's role (by ID or name) and returns the user.
func (s *Store) SetUserRole(ctx context.Context, user, role string) (*User, error) {
	if err := checkRole(role); err != nil {
		return nil, err
	}
	u, err := s.GetUser(ctx, user)
	if err != nil {
		return nil, err
	}
	if _, err := s.exec(ctx, `UPDATE users SET role = ? WHERE id = ?`, role, u.ID); err != nil {
		return nil, fmt.Errorf("store: set role: %w", err)
	}
	u.Role = role
	return u, nil
}
