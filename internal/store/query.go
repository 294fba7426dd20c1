package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
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
	rows, err := s.query(ctx, `SELECT c.id, c.kind, c.title, c.provider, c.model, c.created_at, c.updated_at, c.bytes,
		(SELECT COUNT(*) FROM tasks t WHERE t.conversation_id = c.id),
		(SELECT COUNT(*) FROM cells x WHERE x.conversation_id = c.id),
		COALESCE((SELECT t.status FROM tasks t WHERE t.conversation_id = c.id ORDER BY t.seq DESC LIMIT 1),
			(SELECT x.status FROM cells x WHERE x.conversation_id = c.id ORDER BY x.seq DESC LIMIT 1), '')
		FROM conversations c `+where+` ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	defer rows.Close()
	out := []ConversationSummary{}
	for rows.Next() {
		var c ConversationSummary
		var created, updated int64
		if err := rows.Scan(&c.ID, &c.Kind, &c.Title, &c.Provider, &c.Model, &created, &updated, &c.Bytes,
			&c.Tasks, &c.Cells, &c.Status); err != nil {
			return nil, fmt.Errorf("store: list: %w", err)
		}
		c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
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
	err := s.queryRow(ctx, `SELECT kind, title, provider, model, created_at, updated_at, bytes, history
		FROM conversations WHERE id = ?`, id).Scan(&c.Kind, &c.Title, &c.Provider, &c.Model, &created, &updated, &c.Bytes, &hist)
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
		data, err := s.ReadBlob(ctx, b.Hash)
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

// ReadBlob returns a blob's content.
func (s *Store) ReadBlob(ctx context.Context, hash string) ([]byte, error) {
	rc, err := s.blobs.Get(ctx, hash)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
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

// DeleteConversation deletes a conversation with everything recorded in
// it, and the blobs no other conversation uses. It refuses with
// ErrRunning while a live process records into it.
func (s *Store) DeleteConversation(ctx context.Context, id string) error {
	busy, err := s.running(ctx, id)
	if err != nil {
		return fmt.Errorf("store: delete: %w", err)
	}
	if busy {
		return fmt.Errorf("%w: %s", ErrRunning, id)
	}
	_, err = s.deleteConversation(ctx, id)
	return err
}

// deleteConversation deletes a conversation and returns the size it had.
func (s *Store) deleteConversation(ctx context.Context, id string) (int64, error) {
	var hashes []string
	var size int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		hashes = hashes[:0]
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT bytes FROM conversations WHERE id = ?`), id).Scan(&size); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: conversation %s", ErrNotFound, id)
			}
			return err
		}
		counts := map[string]int64{}
		rows, err := tx.QueryContext(ctx, s.rebind(`SELECT hash, COUNT(*) FROM event_blobs WHERE conversation_id = ? GROUP BY hash
			UNION ALL SELECT sha256, COUNT(*) FROM files WHERE conversation_id = ? AND sha256 IS NOT NULL GROUP BY sha256`), id, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h string
			var n int64
			if err := rows.Scan(&h, &n); err != nil {
				rows.Close()
				return err
			}
			counts[h] += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, `DELETE FROM conversations WHERE id = ?`, id); err != nil {
			return err
		}
		for h := range counts {
			hashes = append(hashes, h)
		}
		sort.Strings(hashes) // a fixed order: no deadlock between two deleters
		for _, h := range hashes {
			if _, err := s.txExec(ctx, tx, `UPDATE blobs SET refs = refs - ? WHERE hash = ?`, counts[h], h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return 0, err
		}
		return 0, fmt.Errorf("store: delete %s: %w", id, err)
	}
	return size, s.sweep(ctx, hashes)
}

// sweep deletes the blobs among hashes that no row uses any more. Each is
// deleted inside a transaction that holds its row, so a recorder taking a
// new reference meanwhile waits, then finds the content gone and puts it
// back.
func (s *Store) sweep(ctx context.Context, hashes []string) error {
	var errs []error
	for _, h := range hashes {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := s.txExec(ctx, tx, `DELETE FROM blobs WHERE hash = ? AND refs <= 0`, h)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				return s.blobs.Delete(ctx, h)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("store: sweep %s: %w", h, err))
		}
	}
	return errors.Join(errs...)
}

// PruneResult says what Prune deleted.
type PruneResult struct {
	Conversations int   `json:"conversations"`
	Bytes         int64 `json:"bytes"`
}

// Prune deletes conversations, the least recently updated first: those
// not updated for maxAge (if > 0), then more until all left take at most
// maxBytes (if > 0). Conversations a live process records into are kept.
func (s *Store) Prune(ctx context.Context, maxAge time.Duration, maxBytes int64) (PruneResult, error) {
	var res PruneResult
	if maxAge <= 0 && maxBytes <= 0 {
		return res, nil
	}
	type conv struct {
		id      string
		updated int64
		bytes   int64
	}
	rows, err := s.query(ctx, `SELECT id, updated_at, bytes FROM conversations ORDER BY updated_at, id`)
	if err != nil {
		return res, fmt.Errorf("store: prune: %w", err)
	}
	var all []conv
	var total int64
	for rows.Next() {
		var c conv
		if err := rows.Scan(&c.id, &c.updated, &c.bytes); err != nil {
			rows.Close()
			return res, fmt.Errorf("store: prune: %w", err)
		}
		all = append(all, c)
		total += c.bytes
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("store: prune: %w", err)
	}
	cutoff := millis(s.now().Add(-maxAge))
	for _, c := range all {
		old := maxAge > 0 && c.updated < cutoff
		over := maxBytes > 0 && total > maxBytes
		if !old && !over {
			break // the rest are newer
		}
		busy, err := s.running(ctx, c.id)
		if err != nil {
			return res, fmt.Errorf("store: prune: %w", err)
		}
		if busy {
			continue
		}
		size, err := s.deleteConversation(ctx, c.id)
		if errors.Is(err, ErrNotFound) {
			total -= c.bytes // deleted meanwhile
			continue
		}
		if err != nil {
			return res, err
		}
		total -= c.bytes
		res.Conversations++
		res.Bytes += size
	}
	return res, nil
}

// GCResult says what GC deleted.
type GCResult struct {
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// GC deletes blobs no row uses: those whose count fell to zero (a sweep
// that failed midway) and, where the blob store can list its content,
// those the database does not know and that are older than grace (a
// crash between a Put and its commit). Deletes keep the blobs consistent
// by themselves; GC only reclaims what failures leave behind.
func (s *Store) GC(ctx context.Context, grace time.Duration) (GCResult, error) {
	var res GCResult
	rows, err := s.query(ctx, `SELECT hash, size FROM blobs WHERE refs <= 0`)
	if err != nil {
		return res, fmt.Errorf("store: gc: %w", err)
	}
	var zero []string
	sizes := map[string]int64{}
	for rows.Next() {
		var h string
		var n int64
		if err := rows.Scan(&h, &n); err != nil {
			rows.Close()
			return res, err
		}
		zero = append(zero, h)
		sizes[h] = n
	}
	rows.Close()
	if err := s.sweep(ctx, zero); err != nil {
		return res, err
	}
	for _, h := range zero {
		res.Blobs++
		res.Bytes += sizes[h]
	}
	w, ok := s.blobs.(BlobWalker)
	if !ok {
		return res, nil
	}
	cutoff := s.now().Add(-grace)
	var orphans []string
	err = w.Walk(ctx, func(hash string, mod time.Time) error {
		if mod.After(cutoff) {
			return nil
		}
		var n int
		if err := s.queryRow(ctx, `SELECT COUNT(*) FROM blobs WHERE hash = ?`, hash).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			orphans = append(orphans, hash)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("store: gc: %w", err)
	}
	for _, h := range orphans {
		// Like a sweep, with a row of no references first: a recorder
		// taking a reference meanwhile conflicts on it and waits.
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.txExec(ctx, tx, `INSERT INTO blobs (hash, size, refs, created_at) VALUES (?, 0, 0, ?)
				ON CONFLICT (hash) DO NOTHING`, h, millis(s.now())); err != nil {
				return err
			}
			r, err := s.txExec(ctx, tx, `DELETE FROM blobs WHERE hash = ? AND refs <= 0`, h)
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n == 0 {
				return nil
			}
			res.Blobs++
			return s.blobs.Delete(ctx, h)
		})
		if err != nil {
			return res, fmt.Errorf("store: gc: %w", err)
		}
	}
	return res, nil
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
