package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
)

// recoverResult says what recoverInterrupted marked.
type recoverResult struct {
	Tasks int `json:"tasks"`
	Cells int `json:"cells"`
}

// recoverInterrupted marks as interrupted the tasks and cells left
// running by processes of this host that no longer exist (killed, or
// crashed). Their finish time is their last event's. Open calls it.
func (s *Store) recoverInterrupted(ctx context.Context) (recoverResult, error) {
	var res recoverResult
	type row struct {
		table, id, conv string
		o               owner
	}
	rows, err := s.query(ctx, `SELECT 'tasks', id, conversation_id, owner_pid, owner_host, owner_start FROM tasks WHERE status = 'running'
		UNION ALL SELECT 'cells', id, conversation_id, owner_pid, owner_host, owner_start FROM cells WHERE status = 'running'`)
	if err != nil {
		return res, fmt.Errorf("store: recover: %w", err)
	}
	var dead []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.table, &r.id, &r.conv, &r.o.pid, &r.o.host, &r.o.start); err != nil {
			rows.Close()
			return res, fmt.Errorf("store: recover: %w", err)
		}
		if !r.o.alive(s.self) {
			dead = append(dead, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("store: recover: %w", err)
	}
	if len(dead) == 0 {
		return res, nil
	}
	convs := map[string]bool{}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res = recoverResult{}
		for _, r := range dead {
			reason := fmt.Sprintf("interrupted: process %d on %s ended while it ran", r.o.pid, r.o.host)
			col := "task_id"
			if r.table == "cells" {
				col = "cell_id"
			}
			// The last sign of life: the last event, else the start.
			q := `UPDATE ` + r.table + ` SET status = 'interrupted', reason = ?,
				finished_at = COALESCE((SELECT MAX(at) FROM events WHERE conversation_id = ? AND ` + col + ` = ?), started_at)
				WHERE id = ? AND status = 'running'`
			n, err := s.txExec(ctx, tx, q, reason, r.conv, r.id, r.id)
			if err != nil {
				return err
			}
			if k, _ := n.RowsAffected(); k > 0 {
				if r.table == "tasks" {
					res.Tasks++
				} else {
					res.Cells++
				}
				convs[r.conv] = true
			}
		}
		ids := make([]string, 0, len(convs))
		for id := range convs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if err := s.measure(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return recoverResult{}, fmt.Errorf("store: recover: %w", err)
	}
	return res, nil
}
