package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// WebSession is a browser signed in to the web UI. The cookie that names
// it is never stored, only its hash.
type WebSession struct {
	UserID string
	// KeyID is the API key signed in with: revoking it ends the session.
	// "" for a sign-in without a key (interp ui's one-time token).
	KeyID string
	// CSRF is the token state-changing requests must carry with the
	// cookie.
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateWebSession records a browser session named by the cookie value
// token, and deletes expired ones on the way.
func (s *Store) CreateWebSession(ctx context.Context, token string, ws *WebSession) error {
	if token == "" || ws.UserID == "" || ws.CSRF == "" {
		return errors.New("store: a web session needs a token, a user and a CSRF token")
	}
	now := s.now()
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = now
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `DELETE FROM web_sessions WHERE expires_at <= ?`, millis(now)); err != nil {
			return fmt.Errorf("store: web session: %w", err)
		}
		_, err := s.txExec(ctx, tx, `INSERT INTO web_sessions (hash, user_id, key_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			hashKey(token), ws.UserID, nullString(ws.KeyID), ws.CSRF, millis(ws.CreatedAt), millis(ws.ExpiresAt))
		if err != nil {
			return fmt.Errorf("store: web session: %w", err)
		}
		return nil
	})
}

// GetWebSession returns the browser session a cookie value names, with
// its user and the key it signed in with (nil for none). An unknown,
// expired or ended session gives ErrNotFound; one whose key was revoked
// gives ErrRevoked.
func (s *Store) GetWebSession(ctx context.Context, token string) (*WebSession, *User, *APIKey, error) {
	ws := &WebSession{}
	u := &User{}
	var keyID sql.NullString
	var created, expires, userCreated int64
	err := s.queryRow(ctx, `SELECT w.user_id, w.key_id, w.csrf, w.created_at, w.expires_at, u.name, u.role, u.created_at
		FROM web_sessions w JOIN users u ON u.id = w.user_id WHERE w.hash = ? AND w.expires_at > ?`,
		hashKey(token), millis(s.now())).Scan(&ws.UserID, &keyID, &ws.CSRF, &created, &expires, &u.Name, &u.Role, &userCreated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, fmt.Errorf("%w: web session", ErrNotFound)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store: web session: %w", err)
	}
	ws.KeyID, ws.CreatedAt, ws.ExpiresAt = keyID.String, fromMillis(created), fromMillis(expires)
	u.ID, u.CreatedAt = ws.UserID, fromMillis(userCreated)
	if ws.KeyID == "" {
		return ws, u, nil, nil
	}
	k := &APIKey{}
	err = scanKey(s.queryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?`, ws.KeyID), k)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, fmt.Errorf("%w: web session", ErrNotFound)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store: web session: %w", err)
	}
	if k.Revoked() {
		return nil, nil, k, ErrRevoked
	}
	return ws, u, k, nil
}

// DeleteWebSession ends the browser session a cookie value names (a
// sign-out); an unknown one is no error.
func (s *Store) DeleteWebSession(ctx context.Context, token string) error {
	if _, err := s.exec(ctx, `DELETE FROM web_sessions WHERE hash = ?`, hashKey(token)); err != nil {
		return fmt.Errorf("store: end web session: %w", err)
	}
	return nil
}

// RevokeWebSessions ends every browser session of a user (by ID or name)
// and returns how many there were.
func (s *Store) RevokeWebSessions(ctx context.Context, user string) (int64, error) {
	u, err := s.GetUser(ctx, user)
	if err != nil {
		return 0, err
	}
	res, err := s.exec(ctx, `DELETE FROM web_sessions WHERE user_id = ? AND expires_at > ?`, u.ID, millis(s.now()))
	if err != nil {
		return 0, fmt.Errorf("store: revoke web sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
