package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SetConversationUser makes a user the owner of a conversation.
func (s *Store) SetConversationUser(ctx context.Context, convID, userID string) error {
	res, err := s.exec(ctx, `UPDATE conversations SET user_id = ? WHERE id = ?`, nullString(userID), convID)
	if err != nil {
		return fmt.Errorf("store: set owner: %w", err)
	}
	return mustAffect(res, convID)
}

// ConversationUser returns the ID of the user who owns a conversation, ""
// for one that belongs to nobody (recorded by the CLI), and its kind.
func (s *Store) ConversationUser(ctx context.Context, convID string) (userID, kind string, err error) {
	var u sql.NullString
	err = s.queryRow(ctx, `SELECT user_id, kind FROM conversations WHERE id = ?`, convID).Scan(&u, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("%w: conversation %s", ErrNotFound, convID)
	}
	if err != nil {
		return "", "", fmt.Errorf("store: owner: %w", err)
	}
	return u.String, kind, nil
}

// ListUserConversations is ListConversations for one user's conversations.
func (s *Store) ListUserConversations(ctx context.Context, userID string, limit, offset int) ([]ConversationSummary, error) {
	return s.listConversations(ctx, "c.user_id = ?", []any{userID}, limit, offset)
}

// SearchUserConversations is ListUserConversations for the conversations
// whose title, task prompts, answers or code contain text, ignoring case
// (of ASCII letters: the same on SQLite and PostgreSQL). Empty text
// matches every conversation.
func (s *Store) SearchUserConversations(ctx context.Context, userID, text string, limit, offset int) ([]ConversationSummary, error) {
	if text == "" {
		return s.ListUserConversations(ctx, userID, limit, offset)
	}
	pat := "%" + likeEscaper.Replace(asciiLower(text)) + "%"
	return s.listConversations(ctx, `c.user_id = ? AND (LOWER(c.title) LIKE ? ESCAPE '\'
		OR EXISTS (SELECT 1 FROM tasks t WHERE t.conversation_id = c.id AND (LOWER(t.prompt) LIKE ? ESCAPE '\' OR LOWER(t.answer) LIKE ? ESCAPE '\'))
		OR EXISTS (SELECT 1 FROM cells x WHERE x.conversation_id = c.id AND LOWER(x.code) LIKE ? ESCAPE '\'))`,
		[]any{userID, pat, pat, pat, pat}, limit, offset)
}

// likeEscaper escapes LIKE's wildcards, with \ as the escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// asciiLower lowers ASCII letters only, as SQLite's LOWER does: a pattern
// lowered further (by Unicode rules) would miss what SQLite keeps.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Day is the UTC date of t, as token usage is counted.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// AddTokenUsage adds model tokens to what a user spent on day (see Day).
func (s *Store) AddTokenUsage(ctx context.Context, userID, day string, tokens int64) error {
	if tokens <= 0 {
		return nil
	}
	_, err := s.exec(ctx, `INSERT INTO token_usage (user_id, day, tokens) VALUES (?, ?, ?)
		ON CONFLICT (user_id, day) DO UPDATE SET tokens = token_usage.tokens + excluded.tokens`, userID, day, tokens)
	if err != nil {
		return fmt.Errorf("store: token usage: %w", err)
	}
	return nil
}

// TokenUsage returns the model tokens a user spent on day (see Day).
func (s *Store) TokenUsage(ctx context.Context, userID, day string) (int64, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT tokens FROM token_usage WHERE user_id = ? AND day = ?`, userID, day).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: token usage: %w", err)
	}
	return n, nil
}
