package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

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
