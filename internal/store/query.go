package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ListConversations returns conversations, the most recently updated
// first.
func (s *Store) ListConversations(ctx context.Context, limit, offset int) ([]ConversationSummary, error) {
	return s.listConversations(ctx, "", nil, limit, offset)
}

// listConversations lists the conversations a WHERE clause on c selects.
func (s *Store) listConversations(ctx context.Context, where string, args []any, limit, offset int) ([]ConversationSummary, error) {
	if limit <= 0 {
		limit = 50
	}
	if offset < 0 {
		offset = 0
	}
	if where != "" {
		where = "WHERE " + where
	}
	rows, err := s.query(ctx, `SELECT c.id, c.kind, c.source, c.title, c.provider, c.model, c.created_at, c.updated_at, c.bytes,
		(SELECT COUNT(*) FROM tasks t WHERE t.conversation_id = c.id),
		(SELECT COUNT(*) FROM cells x WHERE x.conversation_id = c.id),
		COALESCE((SELECT t.status FROM tasks t WHERE t.conversation_id = c.id ORDER BY t.seq DESC LIMIT 1), ''),
		COALESCE((SELECT t.stop FROM tasks t WHERE t.conversation_id = c.id ORDER BY t.seq DESC LIMIT 1), ''),
		COALESCE((SELECT x.status FROM cells x WHERE x.conversation_id = c.id ORDER BY x.seq DESC LIMIT 1), ''),
		COALESCE((SELECT x.reason FROM cells x WHERE x.conversation_id = c.id ORDER BY x.seq DESC LIMIT 1), '')
		FROM conversations c `+where+` ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	defer rows.Close()
	out := []ConversationSummary{}
	for rows.Next() {
		var c ConversationSummary
		var created, updated int64
		var taskStatus, taskStop, cellStatus, cellReason string
		if err := rows.Scan(&c.ID, &c.Kind, &c.Source, &c.Title, &c.Provider, &c.Model, &created, &updated, &c.Bytes,
			&c.Tasks, &c.Cells, &taskStatus, &taskStop, &cellStatus, &cellReason); err != nil {
			return nil, fmt.Errorf("store: list: %w", err)
		}
		c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
		if taskStatus != "" {
			c.Status, c.State = taskStatus, taskState(taskStatus, taskStop)
		} else {
			c.Status, c.State = cellStatus, CellState(cellStatus, cellReason)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetConversation returns a conversation with its tasks, cells, events
// (their blob fields put back), files and packages.
func (s *Store) GetConversation(ctx context.Context, id string) (*Conversation, error) {
	c := &Conversation{ID: id}
	var created, updated int64
	var hist string
	err := s.queryRow(ctx, `SELECT kind, source, title, provider, model, created_at, updated_at, bytes, history
		FROM conversations WHERE id = ?`, id).Scan(&c.Kind, &c.Source, &c.Title, &c.Provider, &c.Model, &created, &updated, &c.Bytes, &hist)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: conversation %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	if err := json.Unmarshal([]byte(hist), &c.History); err != nil {
		return nil, fmt.Errorf("store: history of %s: %w", id, err)
	}
	if len(c.History) == 0 {
		c.History = nil
	}
	for _, load := range []func(context.Context, *Conversation) error{
		s.loadTasks, s.loadCells, s.loadEvents, s.loadFiles, s.loadPackages,
	} {
		if err := load(ctx, c); err != nil {
			return nil, fmt.Errorf("store: get %s: %w", id, err)
		}
	}
	return c, nil
}

func (s *Store) loadTasks(ctx context.Context, c *Conversation) error {
	rows, err := s.query(ctx, `SELECT id, seq, prompt, status, stop, reason, answer, steps, tokens_in, tokens_out,
		started_at, finished_at, owner_pid, owner_host FROM tasks WHERE conversation_id = ? ORDER BY seq`, c.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		t := Task{ConversationID: c.ID}
		var started int64
		var finished sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Seq, &t.Prompt, &t.Status, &t.Stop, &t.Reason, &t.Answer, &t.Steps,
			&t.TokensIn, &t.TokensOut, &started, &finished, &t.OwnerPID, &t.OwnerHost); err != nil {
			return err
		}
		t.StartedAt, t.FinishedAt = fromMillis(started), fromNullMillis(finished)
		c.Tasks = append(c.Tasks, t)
	}
	return rows.Err()
}

func (s *Store) loadCells(ctx context.Context, c *Conversation) error {
	rows, err := s.query(ctx, `SELECT id, task_id, seq, step, code, status, reason, execution_count, duration,
		cpu_time, peak_memory, started_at, finished_at FROM cells WHERE conversation_id = ? ORDER BY seq`, c.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		x := Cell{ConversationID: c.ID}
		var task sql.NullString
		var started int64
		var finished sql.NullInt64
		if err := rows.Scan(&x.ID, &task, &x.Seq, &x.Step, &x.Code, &x.Status, &x.Reason, &x.ExecutionCount,
			&x.Duration, &x.CPUTime, &x.PeakMemory, &started, &finished); err != nil {
			return err
		}
		x.TaskID = task.String
		x.StartedAt, x.FinishedAt = fromMillis(started), fromNullMillis(finished)
		c.Cells = append(c.Cells, x)
	}
	return rows.Err()
}

func (s *Store) loadEvents(ctx context.Context, c *Conversation) error {
	refs := map[int64][]BlobRef{}
	rows, err := s.query(ctx, `SELECT seq, field, hash, size, encoding FROM event_blobs
		WHERE conversation_id = ? ORDER BY seq, field`, c.ID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var seq int64
		var b BlobRef
		if err := rows.Scan(&seq, &b.Field, &b.Hash, &b.Size, &b.Encoding); err != nil {
			rows.Close()
			return err
		}
		refs[seq] = append(refs[seq], b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = s.query(ctx, `SELECT seq, task_id, cell_id, at, payload FROM events
		WHERE conversation_id = ? ORDER BY seq`, c.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var task, cell sql.NullString
		var at int64
		var payload string
		if err := rows.Scan(&e.Seq, &task, &cell, &at, &payload); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(payload), &e.Task); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		e.TaskID, e.CellID, e.At = task.String, cell.String, fromMillis(at)
		e.Blobs = refs[e.Seq]
		c.Events = append(c.Events, e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for i := range c.Events {
		if err := s.hydrate(ctx, &c.Events[i]); err != nil {
			return err
		}
	}
	return nil
}

// hydrate puts an event's blob fields back.
func (s *Store) hydrate(ctx context.Context, e *Event) error {
	for _, b := range e.Blobs {
		data, err := s.readBlob(ctx, b.Hash)
		if err != nil {
			return fmt.Errorf("event %d %s: %w", e.Seq, b.Field, err)
		}
		val := string(data)
		if b.Encoding == "base64" {
			val = base64.StdEncoding.EncodeToString(data)
		}
		switch {
		case b.Field == "text":
			e.Text = val
		case strings.HasPrefix(b.Field, "data:"):
			if e.Data == nil {
				e.Data = map[string]any{}
			}
			e.Data[strings.TrimPrefix(b.Field, "data:")] = val
		}
	}
	return nil
}

// readBlob returns a blob's content.
func (s *Store) readBlob(ctx context.Context, hash string) ([]byte, error) {
	rc, err := s.blobs.Get(ctx, hash)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Files lists the files a conversation's code created, changed or deleted,
// in order (a path may come more than once).
func (s *Store) Files(ctx context.Context, convID string) ([]File, error) {
	c := &Conversation{ID: convID}
	if err := s.loadFiles(ctx, c); err != nil {
		return nil, fmt.Errorf("store: files: %w", err)
	}
	return c.Files, nil
}

// FileContent returns the last kept version of the file at path in a
// conversation, with its record. ErrNotFound when there is none, or when
// its last change deleted it or its content was not kept.
func (s *Store) FileContent(ctx context.Context, convID, path string) (*File, []byte, error) {
	files, err := s.Files(ctx, convID)
	if err != nil {
		return nil, nil, err
	}
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if f.Path != path {
			continue
		}
		if f.Change == "deleted" {
			return nil, nil, fmt.Errorf("%w: %s was deleted", ErrNotFound, path)
		}
		if f.SHA256 == "" {
			return nil, nil, fmt.Errorf("%w: the content of %s was not kept (%s)", ErrNotFound, path, f.Note)
		}
		data, err := s.readBlob(ctx, f.SHA256)
		if err != nil {
			return nil, nil, fmt.Errorf("store: %s: %w", path, err)
		}
		return &f, data, nil
	}
	return nil, nil, fmt.Errorf("%w: no file %s in %s", ErrNotFound, path, convID)
}

func (s *Store) loadFiles(ctx context.Context, c *Conversation) error {
	rows, err := s.query(ctx, `SELECT id, task_id, cell_id, seq, path, size, sha256, change, note, created_at
		FROM files WHERE conversation_id = ? ORDER BY seq`, c.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f := File{ConversationID: c.ID}
		var task, cell, hash sql.NullString
		var created int64
		if err := rows.Scan(&f.ID, &task, &cell, &f.Seq, &f.Path, &f.Size, &hash, &f.Change, &f.Note, &created); err != nil {
			return err
		}
		f.TaskID, f.CellID, f.SHA256, f.CreatedAt = task.String, cell.String, hash.String, fromMillis(created)
		c.Files = append(c.Files, f)
	}
	return rows.Err()
}

func (s *Store) loadPackages(ctx context.Context, c *Conversation) error {
	rows, err := s.query(ctx, `SELECT seq, task_id, cell_id, name, version, phase, message
		FROM packages WHERE conversation_id = ? ORDER BY seq`, c.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p := Package{ConversationID: c.ID}
		var task, cell sql.NullString
		if err := rows.Scan(&p.Seq, &task, &cell, &p.Name, &p.Version, &p.Phase, &p.Message); err != nil {
			return err
		}
		p.TaskID, p.CellID = task.String, cell.String
		c.Packages = append(c.Packages, p)
	}
	return rows.Err()
}

// running reports whether a live process is recording into a
// conversation.
func (s *Store) running(ctx context.Context, convID string) (bool, error) {
	rows, err := s.query(ctx, `SELECT owner_pid, owner_host, owner_start FROM tasks WHERE conversation_id = ? AND status = 'running'
		UNION ALL SELECT owner_pid, owner_host, owner_start FROM cells WHERE conversation_id = ? AND status = 'running'`, convID, convID)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var o owner
		if err := rows.Scan(&o.pid, &o.host, &o.start); err != nil {
			return false, err
		}
		if o.alive(s.self) {
			return true, nil
		}
	}
	return false, rows.Err()
}

// ErrAmbiguous is returned by ResolveID for a prefix of several IDs.
var ErrAmbiguous = errors.New("store: ambiguous conversation ID")

// ResolveID returns the conversation whose ID is idOrPrefix, or the only
// one it begins (with or without "conv_"), for a CLI that accepts
// shortened IDs.
func (s *Store) ResolveID(ctx context.Context, idOrPrefix string) (string, error) {
	if idOrPrefix == "" {
		return "", fmt.Errorf("%w: empty ID", ErrNotFound)
	}
	p := idOrPrefix
	if !strings.HasPrefix(p, "conv_") {
		p = "conv_" + p
	}
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(p)
	rows, err := s.query(ctx, `SELECT id FROM conversations WHERE id = ? OR id = ? OR id LIKE ? ESCAPE '\' ORDER BY id LIMIT 3`,
		idOrPrefix, p, esc+"%")
	if err != nil {
		return "", fmt.Errorf("store: resolve: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		if id == idOrPrefix || id == p {
			return id, nil
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%w: conversation %s", ErrNotFound, idOrPrefix)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%w: %s", ErrAmbiguous, idOrPrefix)
}
