package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// UserSettings reads a user's settings, a JSON document, into v; a user
// who saved none leaves v as it is.
func (s *Store) UserSettings(ctx context.Context, userID string, v any) error {
	var doc string
	err := s.queryRow(ctx, `SELECT settings FROM user_settings WHERE user_id = ?`, userID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: user settings: %w", err)
	}
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return fmt.Errorf("store: user settings of %s: %w", userID, err)
	}
	return nil
}

// SetUserSettings saves a user's settings, v as JSON, in place of the
// last.
func (s *Store) SetUserSettings(ctx context.Context, userID string, v any) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: user settings: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO user_settings (user_id, settings, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
		userID, string(doc), millis(s.now()))
	if err != nil {
		return fmt.Errorf("store: user settings: %w", err)
	}
	return nil
}
