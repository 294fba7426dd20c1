package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/interp-dev/interp/internal/event"
)

// TestRecordersAtOnce records from many recorders at once, as a server
// with many sessions does: every event of every one is kept, in order,
// with its cells.
func TestRecordersAtOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		const recorders, cells = 40, 10
		ids := make([]string, recorders)
		var wg sync.WaitGroup
		errs := make(chan error, recorders)
		for i := range recorders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.StartExec(ctx, "", nil)
				if err != nil {
					errs <- err
					return
				}
				ids[i] = r.ConversationID()
				for c := range cells {
					if err := r.StartCell(fmt.Sprintf("print(%d)", c)); err != nil {
						errs <- err
						return
					}
					for _, e := range []event.Task{
						ev(event.Stdout, func(e *event.Task) { e.Text = fmt.Sprintf("%d-%d\n", i, c) }),
						ev(event.Done, func(e *event.Task) { e.Status = event.StatusOK }),
					} {
						if err := r.Event(e); err != nil {
							errs <- err
							return
						}
					}
				}
				errs <- r.Finish(ctx, nil, nil)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		for i, id := range ids {
			conv, err := s.GetConversation(ctx, id)
			must(t, err)
			if len(conv.Cells) != cells {
				t.Fatalf("recorder %d: %d cells, want %d", i, len(conv.Cells), cells)
			}
			n := 0
			for _, e := range conv.Events {
				if e.Type == event.Stdout {
					if want := fmt.Sprintf("%d-%d\n", i, n); e.Text != want {
						t.Fatalf("recorder %d: event %q, want %q", i, e.Text, want)
					}
					n++
				}
			}
			if n != cells {
				t.Fatalf("recorder %d: %d outputs, want %d", i, n, cells)
			}
		}
	})
}

// TestGroupCommitIsolation checks that a write that fails in a group
// commit leaves nothing behind and fails no other write of the group.
func TestGroupCommitIsolation(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		const n = 60
		ids := make([]string, n)
		for i := range ids {
			id, err := s.NewConversation(ctx, ConversationInfo{Kind: KindExec, Title: "before"})
			must(t, err)
			ids[i] = id
		}
		boom := errors.New("boom")
		var wg sync.WaitGroup
		got := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = s.write(ctx, func(tx *sql.Tx) error {
					if _, err := s.txExec(ctx, tx, `UPDATE conversations SET title = ? WHERE id = ?`, "after", ids[i]); err != nil {
						return err
					}
					if i%2 == 1 {
						return boom
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for i, id := range ids {
			conv, err := s.GetConversation(ctx, id)
			must(t, err)
			want, wantErr := "after", error(nil)
			if i%2 == 1 {
				want, wantErr = "before", boom
			}
			if conv.Title != want || !errors.Is(got[i], wantErr) {
				t.Errorf("write %d: title %q, error %v; want %q, %v", i, conv.Title, got[i], want, wantErr)
			}
		}
	})
}
