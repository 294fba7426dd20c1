package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
)

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	// Files is where the content of the files that file events name is
	// read from: a session's workspace (session.Session). Nil records file
	// events without content.
	Files Files
	// New describes the conversation to create when StartTask or
	// StartExec is given no conversation ID; its Kind is theirs.
	New ConversationInfo
}

// Files reads a workspace file for the history, at most max bytes.
type Files interface {
	ReadFile(path string, max int64) ([]byte, error)
}

// messageFlush is how long streamed message text may wait in memory
// before it is committed: at most this much of a message is lost to a
// killed process.
const messageFlush = time.Second

// Recorder records one task of a conversation (or, for exec
// conversations, a run of cells) as its events happen. Each event is
// committed before Event returns. It is safe for
// concurrent use, though events are expected from one goroutine, in order.
// The recorders of a SQLite store commit together, in groups (see
// writer.go): an event is committed when Event returns, but the wait is
// for a commit shared with every other recorder, not for the lock.
//
// Streamed message text is gathered into one event per step and flushed
// at most a second later; code deltas are not kept, since the tool event
// that follows carries the whole code.
type Recorder struct {
	s      *Store
	ctx    context.Context
	convID string
	taskID string
	prompt string // the task's, for RunTask
	kind   string
	files  Files

	mu       sync.Mutex
	seq      int64
	cellSeq  int
	cell     *openCell
	lastCell string
	pending  *pendingText
	bytes    int64 // recorded since the last flush into conversations.bytes
	err      error // the first error
	finished bool
}

type openCell struct {
	id      string
	step    int
	started time.Time
	toolSeq int64 // the seq of its tool event, 0 for none
}

type pendingText struct {
	typ   string
	step  int
	text  strings.Builder
	since time.Time
}

// SetTitle renames a conversation.
func (s *Store) SetTitle(ctx context.Context, convID, title string) error {
	res, err := s.exec(ctx, `UPDATE conversations SET title = ? WHERE id = ?`, title, convID)
	if err != nil {
		return fmt.Errorf("store: set title: %w", err)
	}
	return mustAffect(res, convID)
}

// SaveHistory replaces a conversation's model history, the messages a
// resumed agent starts from. Finish saves it too.
func (s *Store) SaveHistory(ctx context.Context, convID string, history []llm.Message) error {
	h, err := marshalHistory(history)
	if err != nil {
		return err
	}
	res, err := s.exec(ctx, `UPDATE conversations SET history = ?, updated_at = ? WHERE id = ?`, h, millis(s.now()), convID)
	if err != nil {
		return fmt.Errorf("store: save history: %w", err)
	}
	return mustAffect(res, convID)
}

// StartTask records the start of a task in a chat conversation and returns
// its recorder. An empty convID creates a conversation (opts.New, titled
// after the prompt unless it has a title): recording starts with one call. ctx bounds only the start: the recorder keeps recording after
// ctx is cancelled, so a stopped task is still recorded whole.
func (s *Store) StartTask(ctx context.Context, convID, prompt string, opts *RecorderOptions) (*Recorder, error) {
	r, err := s.startRecorder(ctx, convID, KindChat, titleOf(prompt), opts)
	if err != nil {
		return nil, err
	}
	convID = r.convID
	var n int
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM tasks WHERE conversation_id = ?`, convID).Scan(&n); err != nil {
		return nil, fmt.Errorf("store: start task: %w", err)
	}
	r.taskID, r.prompt = newID("task_"), prompt
	now := s.now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `INSERT INTO tasks (id, conversation_id, seq, prompt, status, started_at,
			owner_pid, owner_host, owner_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.taskID, convID, n+1, prompt, TaskRunning, millis(now), s.self.pid, s.self.host, s.self.start); err != nil {
			return err
		}
		_, err := s.txExec(ctx, tx, `UPDATE conversations SET updated_at = ?,
			title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?`, millis(now), titleOf(prompt), convID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: start task: %w", err)
	}
	return r, nil
}

// StartExec returns a recorder for cells run without a model, in an exec
// conversation; an empty convID creates one (opts.New). Call StartCell before each
// cell's events.
func (s *Store) StartExec(ctx context.Context, convID string, opts *RecorderOptions) (*Recorder, error) {
	return s.startRecorder(ctx, convID, KindExec, "", opts)
}

// startRecorder returns a recorder for convID, which must be of kind; an
// empty convID creates a conversation of kind (opts.New, titled title
// unless it has a title).
func (s *Store) startRecorder(ctx context.Context, convID, kind, title string, opts *RecorderOptions) (*Recorder, error) {
	if convID == "" {
		var info ConversationInfo
		if opts != nil {
			info = opts.New
		}
		info.Kind, info.Title = kind, cmp.Or(info.Title, title)
		id, err := s.NewConversation(ctx, info)
		if err != nil {
			return nil, err
		}
		convID = id
	}
	r, err := s.newRecorder(ctx, convID, opts)
	if err != nil {
		return nil, err
	}
	if r.kind != kind {
		return nil, fmt.Errorf("store: conversation %s is of kind %s, not %s", convID, r.kind, kind)
	}
	return r, nil
}

func (s *Store) newRecorder(ctx context.Context, convID string, opts *RecorderOptions) (*Recorder, error) {
	r := &Recorder{s: s, ctx: context.WithoutCancel(ctx), convID: convID}
	if opts != nil {
		r.files = opts.Files
	}
	err := s.queryRow(ctx, `SELECT kind,
		COALESCE((SELECT MAX(seq) FROM events WHERE conversation_id = c.id), 0),
		COALESCE((SELECT MAX(seq) FROM cells WHERE conversation_id = c.id), 0)
		FROM conversations c WHERE id = ?`, convID).Scan(&r.kind, &r.seq, &r.cellSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: conversation %s", ErrNotFound, convID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: recorder: %w", err)
	}
	return r, nil
}

// titleOf makes a title from a prompt: its first line, at most 80 runes.
func titleOf(prompt string) string {
	t := strings.TrimSpace(prompt)
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	if utf8.RuneCountInString(t) > 80 {
		r := []rune(t)
		t = string(r[:79]) + "…"
	}
	return t
}

// ConversationID returns the recorder's conversation.
func (r *Recorder) ConversationID() string { return r.convID }

// TaskID returns the recorder's task, "" for exec.
func (r *Recorder) TaskID() string { return r.taskID }

// Err returns the first error the recorder met. Event returns it too, but
// an emit callback usually has nowhere to send it.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Recorder) fail(err error) error {
	if err != nil && r.err == nil {
		r.err = err
	}
	return err
}

// StartCell starts a cell of code, for exec conversations (in chat ones
// the agent's tool event starts cells). The events up to the next done
// event belong to it.
func (r *Recorder) StartCell(code string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return ErrFinished
	}
	if err := r.flushPending(); err != nil {
		return r.fail(err)
	}
	return r.fail(r.startCell(code, 0, nil))
}

// SessionEvent records a session event: Event without the agent's fields.
func (r *Recorder) SessionEvent(ev event.Event) error {
	return r.Event(event.Task{Event: ev})
}

// Event records one event. A tool event starts a cell and a done event
// ends it; file events store the file's content, read with ReadFile;
// install events that ended add a package. It returns once the event is
// committed (message text: once it is buffered).
func (r *Recorder) Event(ev event.Task) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return ErrFinished
	}
	return r.fail(r.event(ev))
}

func (r *Recorder) event(ev event.Task) error {
	now := r.s.now()
	switch ev.Type {
	case event.Code:
		return nil // the tool event has the whole code
	case event.Message:
		p := r.pending
		if p != nil && (p.typ != ev.Type || p.step != ev.Step) {
			if err := r.flushPending(); err != nil {
				return err
			}
			p = nil
		}
		if p == nil {
			p = &pendingText{typ: ev.Type, step: ev.Step, since: now}
			r.pending = p
		}
		p.text.WriteString(ev.Text)
		if now.Sub(p.since) >= messageFlush {
			return r.flushPending()
		}
		return nil
	}
	if err := r.flushPending(); err != nil {
		return err
	}
	switch ev.Type {
	case event.Tool:
		if c := r.cell; c != nil && c.step == ev.Step && c.toolSeq != 0 && c.toolSeq == r.seq {
			// Nothing happened since the cell's tool event: the person
			// edited the code before it ran. The cell keeps what runs.
			return r.insert(ev, now, c.id, func(tx *sql.Tx, seq int64) error {
				if _, err := r.s.txExec(r.ctx, tx, `UPDATE cells SET code = ? WHERE id = ?`, ev.Text, c.id); err != nil {
					return fmt.Errorf("store: edited cell: %w", err)
				}
				c.toolSeq = seq
				return nil
			})
		}
		return r.startCell(ev.Text, ev.Step, &ev)
	case event.Done:
		if r.cell == nil && r.kind == KindExec {
			// An exec caller that did not call StartCell.
			if err := r.startCell("", 0, nil); err != nil {
				return err
			}
		}
		if r.cell == nil {
			return r.insert(ev, now, "", nil)
		}
		return r.endCell(ev, now)
	case event.File:
		return r.file(ev, now)
	case event.Install:
		return r.install(ev, now)
	}
	if r.cell == nil && r.kind == KindExec && isCellOutput(ev.Type) {
		if err := r.startCell("", 0, nil); err != nil {
			return err
		}
	}
	return r.insert(ev, now, r.cellID(), nil)
}

func isCellOutput(typ string) bool {
	switch typ {
	case event.Stdout, event.Stderr, event.Display, event.Error:
		return true
	}
	return false
}

func (r *Recorder) cellID() string {
	if r.cell != nil {
		return r.cell.id
	}
	return ""
}

// flushPending commits buffered message text.
func (r *Recorder) flushPending() error {
	p := r.pending
	if p == nil {
		return nil
	}
	r.pending = nil
	ev := event.Task{Event: event.Event{Type: p.typ, Text: p.text.String()}, Step: p.step}
	return r.insert(ev, p.since, "", nil)
}

// insert commits one event, with its blobs; extra, if set, adds rows in
// the same transaction.
func (r *Recorder) insert(ev event.Task, at time.Time, cellID string, extra func(tx *sql.Tx, seq int64) error) error {
	parts := r.extract(&ev)
	if err := r.putBlobs(parts); err != nil {
		return err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("store: event: %w", err)
	}
	seq := r.seq + 1
	s := r.s
	ctx := r.ctx
	args := []any{r.convID, seq, nullString(r.taskID), nullString(cellID), ev.Type, ev.Step, millis(at), string(payload)}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.stmt(ctx, tx, "event").ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("store: event: %w", err)
		}
		// Rows are locked in hash order, as deleters lock them: no
		// deadlock.
		sorted := append([]blobPart(nil), parts...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].ref.Hash < sorted[j].ref.Hash })
		for _, p := range sorted {
			if err := s.refBlob(ctx, tx, p.ref.Hash, p.ref.Size, p.data); err != nil {
				return err
			}
			if _, err := s.stmt(ctx, tx, "event_blob").ExecContext(ctx, r.convID, seq, p.ref.Field, p.ref.Hash, p.ref.Size, p.ref.Encoding); err != nil {
				return fmt.Errorf("store: event blob: %w", err)
			}
		}
		if extra != nil {
			return extra(tx, seq)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.seq = seq
	r.bytes += int64(len(payload))
	for _, p := range parts {
		r.bytes += p.ref.Size
	}
	return nil
}

// startCell inserts a running cell, and its tool event if ev is set. A
// cell still open has lost its done event: it is closed as died.
func (r *Recorder) startCell(code string, step int, ev *event.Task) error {
	if r.cell != nil {
		if err := r.closeCell(event.StatusDied, "no done event was recorded"); err != nil {
			return err
		}
	}
	s := r.s
	ctx := r.ctx
	now := s.now()
	c := &openCell{id: newID("cell_"), step: step, started: now}
	addCell := func(tx *sql.Tx) error {
		if _, err := s.stmt(ctx, tx, "cell").ExecContext(ctx, c.id, r.convID, nullString(r.taskID), r.cellSeq+1, step, code,
			millis(now), s.self.pid, s.self.host, s.self.start); err != nil {
			return fmt.Errorf("store: cell: %w", err)
		}
		return nil
	}
	if ev != nil {
		r.cell = c // the tool event belongs to its cell
		err := r.insert(*ev, now, c.id, func(tx *sql.Tx, seq int64) error {
			c.toolSeq = seq
			return addCell(tx)
		})
		if err != nil {
			r.cell = nil
			return err
		}
	} else if err := s.write(ctx, addCell); err != nil {
		return err
	}
	r.cell = c
	r.cellSeq++
	return nil
}

// endCell records a done event and the cell's outcome.
func (r *Recorder) endCell(ev event.Task, now time.Time) error {
	c := r.cell
	s := r.s
	ctx := r.ctx
	status := ev.Status
	if status == "" {
		status = event.StatusOK
	}
	err := r.insert(ev, now, c.id, func(tx *sql.Tx, _ int64) error {
		if _, err := s.stmt(ctx, tx, "cell_done").ExecContext(ctx, status, ev.Reason, ev.ExecutionCount, ev.Duration,
			ev.CPUTime, ev.PeakMemory, millis(now), c.id); err != nil {
			return fmt.Errorf("store: cell done: %w", err)
		}
		return r.flushBytes(tx, now)
	})
	if err != nil {
		return err
	}
	r.lastCell, r.cell = c.id, nil
	return nil
}

// closeCell ends a cell that got no done event.
func (r *Recorder) closeCell(status, reason string) error {
	c := r.cell
	now := r.s.now()
	err := r.s.write(r.ctx, func(tx *sql.Tx) error {
		if _, err := r.s.stmt(r.ctx, tx, "cell_done").ExecContext(r.ctx, status, reason, 0,
			now.Sub(c.started).Seconds(), 0.0, int64(0), millis(now), c.id); err != nil {
			return fmt.Errorf("store: cell done: %w", err)
		}
		return r.flushBytes(tx, now)
	})
	if err != nil {
		return err
	}
	r.lastCell, r.cell = c.id, nil
	return nil
}

// flushBytes adds the bytes recorded so far to the conversation's size.
func (r *Recorder) flushBytes(tx *sql.Tx, now time.Time) error {
	if _, err := r.s.stmt(r.ctx, tx, "conv_bytes").ExecContext(r.ctx, r.bytes, millis(now), r.convID); err != nil {
		return fmt.Errorf("store: conversation size: %w", err)
	}
	r.bytes = 0
	return nil
}

// file records a file event and, unless the file was deleted, its content.
func (r *Recorder) file(ev event.Task, now time.Time) error {
	var (
		data []byte
		hash string
		note string
	)
	switch {
	case ev.Change == event.Deleted:
	case r.files == nil:
		note = "no reader"
	case r.s.maxFileSize < 0 || ev.Size > r.s.maxFileSize:
		note = fmt.Sprintf("over the %d-byte limit", r.s.maxFileSize)
	default:
		b, err := r.files.ReadFile(ev.Path, r.s.maxFileSize)
		switch {
		case err != nil:
			note = "read: " + err.Error()
		case r.s.maxFileSize >= 0 && int64(len(b)) > r.s.maxFileSize:
			note = fmt.Sprintf("over the %d-byte limit", r.s.maxFileSize)
		default:
			data = b
		}
	}
	size := ev.Size
	if data != nil {
		h, n, err := r.s.putBytes(r.ctx, data)
		if err != nil {
			return err
		}
		hash, size = h, n
	}
	cellID := r.cellID()
	s := r.s
	ctx := r.ctx
	err := r.insert(ev, now, cellID, func(tx *sql.Tx, seq int64) error {
		if hash != "" {
			if err := s.refBlob(ctx, tx, hash, size, data); err != nil {
				return err
			}
		}
		if _, err := s.stmt(ctx, tx, "file").ExecContext(ctx, newID("file_"), r.convID, nullString(r.taskID), nullString(cellID),
			seq, ev.Path, size, nullString(hash), ev.Change, note, millis(now)); err != nil {
			return fmt.Errorf("store: file: %w", err)
		}
		return nil
	})
	if err == nil && hash != "" {
		r.bytes += size
	}
	return err
}

// install records an install event, and a package once it ended.
func (r *Recorder) install(ev event.Task, now time.Time) error {
	cellID := r.cellID()
	if cellID == "" {
		cellID = r.lastCell // installs after a failed cell belong to it
	}
	if ev.Phase != event.PhaseInstalled && ev.Phase != event.PhaseFailed {
		return r.insert(ev, now, cellID, nil)
	}
	s := r.s
	ctx := r.ctx
	return r.insert(ev, now, cellID, func(tx *sql.Tx, seq int64) error {
		if _, err := s.stmt(ctx, tx, "package").ExecContext(ctx, r.convID, seq, nullString(r.taskID), nullString(cellID),
			ev.Package, ev.Version, ev.Phase, ev.Message); err != nil {
			return fmt.Errorf("store: package: %w", err)
		}
		return nil
	})
}

// Finish records how the task ended and saves the model history, the
// messages to resume from (nil keeps the saved one). A nil result marks
// the task failed. For exec recorders, res and history are ignored. It
// returns the first error the recorder met, if any.
func (r *Recorder) Finish(ctx context.Context, res *TaskResult, history []llm.Message) error {
	status, stop, reason := TaskFailed, "", "the task ended without a result"
	if res != nil {
		stop, reason = res.Stop, res.Reason
		status = TaskStopped
		if res.Stop == event.StopAnswer {
			status = TaskAnswered
		}
	}
	return r.finish(ctx, status, stop, reason, res, history)
}

// Agent is what RunTask runs a task with: an agent.Agent, as the history
// sees it.
type Agent interface {
	Run(ctx context.Context, prompt string, emit func(event.Task)) (*TaskResult, error)
	History() []llm.Message
}

// RunTask runs the recorder's task (StartTask's prompt) with ag: the one
// way every front end records a task from its first event to its end.
// Each event is recorded, then passed to emit, so what was shown is in
// the history; after the first error of the history, events are only
// passed on (Err returns the error). However ag ends, the task is
// finished, once: with its result, or failed with its error, and with
// ag's conversation to resume from; a task stopped by ctx is recorded
// whole. It returns what ag.Run returned.
func (r *Recorder) RunTask(ctx context.Context, ag Agent, emit func(event.Task)) (*TaskResult, error) {
	if r.taskID == "" {
		return nil, errors.New("store: RunTask needs a task's recorder (StartTask)")
	}
	recording := true
	res, err := ag.Run(ctx, r.prompt, func(ev event.Task) {
		if recording && r.Event(ev) != nil {
			recording = false
		}
		emit(ev)
	})
	if err != nil {
		_ = r.Fail(ctx, err, ag.History())
	} else {
		_ = r.Finish(ctx, res, ag.History())
	}
	return res, err
}

// Fail records that the task could not work at all: Run returned err.
func (r *Recorder) Fail(ctx context.Context, err error, history []llm.Message) error {
	reason := "failed"
	if err != nil {
		reason = err.Error()
	}
	return r.finish(ctx, TaskFailed, "", reason, nil, history)
}

func (r *Recorder) finish(ctx context.Context, status, stop, reason string, res *TaskResult, history []llm.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return ErrFinished
	}
	r.finished = true
	ctx = context.WithoutCancel(ctx)
	if err := r.flushPending(); err != nil {
		r.fail(err)
	}
	if r.cell != nil {
		cs, why := event.StatusDied, "the task ended before the cell's done event"
		switch stop {
		case event.StopDeclined, event.StopRefused:
			cs, why = CellDeclined, reason
		case event.StopUser:
			cs, why = event.StatusInterrupted, reason
		}
		if err := r.closeCell(cs, why); err != nil {
			r.fail(err)
		}
	}
	s := r.s
	now := s.now()
	var hist string
	if history != nil && r.taskID != "" {
		h, err := marshalHistory(history)
		if err != nil {
			r.fail(err)
		}
		hist = h
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if r.taskID != "" {
			var answer string
			var steps, in, out int
			if res != nil {
				answer, steps, in, out = res.Answer, res.Steps, res.Usage.InputTokens, res.Usage.OutputTokens
			}
			if _, err := s.txExec(ctx, tx, `UPDATE tasks SET status = ?, stop = ?, reason = ?, answer = ?, steps = ?,
				tokens_in = ?, tokens_out = ?, finished_at = ? WHERE id = ?`,
				status, stop, reason, answer, steps, in, out, millis(now), r.taskID); err != nil {
				return fmt.Errorf("store: finish task: %w", err)
			}
		}
		if hist != "" {
			if _, err := s.txExec(ctx, tx, `UPDATE conversations SET history = ? WHERE id = ?`, hist, r.convID); err != nil {
				return fmt.Errorf("store: save history: %w", err)
			}
		}
		if _, err := s.txExec(ctx, tx, `UPDATE conversations SET updated_at = ? WHERE id = ?`, millis(now), r.convID); err != nil {
			return err
		}
		r.bytes = 0
		return s.measure(ctx, tx, r.convID)
	})
	r.fail(err)
	return r.err
}
