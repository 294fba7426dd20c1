package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/interp-dev/interp/internal/llm"
)

// NewConversation creates a conversation and returns its ID.
func (s *Store) NewConversation(ctx context.Context, info ConversationInfo) (string, error) {
	if info.Kind == "" {
		info.Kind = KindChat
	}
	if info.Kind != KindChat && info.Kind != KindExec {
		return "", fmt.Errorf("store: unknown conversation kind %q", info.Kind)
	}
	id := newID("conv_")
	now := millis(s.now())
	_, err := s.exec(ctx, `INSERT INTO conversations (id, kind, source, title, provider, model, user_id, created_at, updated_at, history)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')`, id, info.Kind, info.Source, info.Title, info.Provider, info.Model, nullString(info.UserID), now, now)
	if err != nil {
		return "", fmt.Errorf("store: new conversation: %w", err)
	}
	return id, nil
}

// LoadHistory returns a conversation's model history, to resume it with
// agent.SetHistory.
func (s *Store) LoadHistory(ctx context.Context, convID string) ([]llm.Message, error) {
	var h string
	err := s.queryRow(ctx, `SELECT history FROM conversations WHERE id = ?`, convID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: conversation %s", ErrNotFound, convID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: load history: %w", err)
	}
	var msgs []llm.Message
	if err := json.Unmarshal([]byte(h), &msgs); err != nil {
		return nil, fmt.Errorf("store: history of %s: %w", convID, err)
	}
	return msgs, nil
}

func marshalHistory(history []llm.Message) (string, error) {
	if history == nil {
		history = []llm.Message{}
	}
	b, err := json.Marshal(history)
	if err != nil {
		return "", fmt.Errorf("store: history: %w", err)
	}
	return string(b), nil
}

func mustAffect(res sql.Result, id string) error {
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return nil
}

// measureSQL recomputes conversations.bytes; it is the same sum as
// migration 00002's.
const measureSQL = `UPDATE conversations SET bytes =
    octet_length(history)
    + COALESCE((SELECT SUM(octet_length(e.payload)) FROM events e WHERE e.conversation_id = conversations.id), 0)
    + COALESCE((SELECT SUM(b.size) FROM event_blobs b WHERE b.conversation_id = conversations.id), 0)
    + COALESCE((SELECT SUM(f.size) FROM files f WHERE f.conversation_id = conversations.id AND f.sha256 IS NOT NULL), 0)
    WHERE id = ?`

func (s *Store) measure(ctx context.Context, tx *sql.Tx, convID string) error {
	if _, err := s.txExec(ctx, tx, measureSQL, convID); err != nil {
		return fmt.Errorf("store: measure: %w", err)
	}
	return nil
}
