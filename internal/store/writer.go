package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// SQLite lets one connection write at a time. With many sessions
// recording at once, each event in a transaction of its own made them
// queue for the lock in SQLite's busy handler, which sleeps and retries:
// slow, and slower at the tail. Instead, one goroutine per store writes
// the recording path's changes: it takes every write waiting, runs each
// in a savepoint of one transaction, and commits them together (a group
// commit). A recorder still waits until its write is committed, so what
// it returns from is as durable as before, but it waits for one commit
// shared with the others rather than for the lock. PostgreSQL locks rows,
// not the database: its writes run in transactions of their own.

// maxGroup bounds the writes of one group commit.
const maxGroup = 512

// writer is the store's group committer.
type writer struct {
	jobs chan *writeJob

	mu      sync.Mutex
	closed  bool
	stopped chan struct{}
}

type writeJob struct {
	fn  func(tx *sql.Tx) error
	err chan error
}

// errClosed is returned by a write after Close.
var errClosed = errors.New("store: closed")

func (s *Store) startWriter() {
	s.w = &writer{jobs: make(chan *writeJob, maxGroup), stopped: make(chan struct{})}
	go s.w.run(s)
}

// write runs fn in a transaction and returns once it is committed, or
// fn's error, in which case nothing fn did is kept.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.w == nil {
		return s.inTx(ctx, fn)
	}
	j := &writeJob{fn: fn, err: make(chan error, 1)}
	s.w.mu.Lock()
	if s.w.closed {
		s.w.mu.Unlock()
		return errClosed
	}
	// Sent under the lock, so that close never races a send.
	s.w.jobs <- j
	s.w.mu.Unlock()
	return <-j.err
}

// close commits what is queued and stops the writer.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.jobs)
	}
	w.mu.Unlock()
	<-w.stopped
}

func (w *writer) run(s *Store) {
	defer close(w.stopped)
	group := make([]*writeJob, 0, maxGroup)
	for j := range w.jobs {
		group = append(group[:0], j)
	more:
		for len(group) < maxGroup {
			select {
			case j, ok := <-w.jobs:
				if !ok {
					break more
				}
				group = append(group, j)
			default:
				break more
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup runs the writes of group in one transaction, each in a
// savepoint so that one that fails leaves the others, and tells each how
// it went once the transaction is committed.
func (s *Store) commitGroup(group []*writeJob) {
	errs := make([]error, len(group))
	ctx := context.Background()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		single := len(group) == 1
		for i, j := range group {
			if single {
				errs[i] = j.fn(tx)
				return errs[i]
			}
			if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
				return err
			}
			if errs[i] = j.fn(tx); errs[i] != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil {
				return err
			}
		}
		return nil
	})
	for i, j := range group {
		switch {
		case errs[i] != nil:
			j.err <- errs[i]
		case err != nil:
			j.err <- fmt.Errorf("store: group commit: %w", err)
		default:
			j.err <- nil
		}
	}
}
