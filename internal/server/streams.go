package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// streamRetention is how long a finished stream's events are kept for a
// client to resume it, and streamKeptBytes the most data all finished
// streams keep together: past it the oldest go first.
const (
	streamRetention = 5 * time.Minute
	streamKeptBytes = 64 << 20
)

// journal is one stream's events, kept while it runs and for a while
// after, so that a client that lost the connection can resume it with
// GET /v1/streams/{id} and Last-Event-ID. The stream's work goes on when
// its client goes away.
type journal struct {
	id   string
	user string

	mu      sync.Mutex
	events  []journalEvent
	size    int // bytes of data
	done    bool
	doneAt  time.Time
	changed chan struct{} // closed, and replaced, on each change
}

type journalEvent struct {
	event string
	data  []byte
}

// streamRegistry holds the journals of running and recently finished
// streams. Its zero value is ready.
type streamRegistry struct {
	mu       sync.Mutex
	journals map[string]*journal
	finished []*journal // in the order they finished
	kept     int        // bytes of the finished journals
	maxKept  int        // streamKeptBytes if 0
}

func (r *streamRegistry) start(user string) *journal {
	var b [12]byte
	_, _ = rand.Read(b[:])
	j := &journal{id: "st_" + hex.EncodeToString(b[:]), user: user, changed: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.journals == nil {
		r.journals = map[string]*journal{}
	}
	r.journals[j.id] = j
	r.evict(time.Now())
	return j
}

// finish marks the journal done; it is kept for streamRetention, while
// the finished journals hold at most streamKeptBytes.
func (r *streamRegistry) finish(j *journal) {
	now := time.Now()
	j.mu.Lock()
	j.done, j.doneAt = true, now
	close(j.changed)
	j.changed = make(chan struct{})
	size := j.size
	j.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = append(r.finished, j)
	r.kept += size
	r.evict(now)
}

// evict forgets the finished journals past their retention or over the
// byte budget, oldest first. r.mu is held.
func (r *streamRegistry) evict(now time.Time) {
	n := 0
	for ; n < len(r.finished); n++ {
		j := r.finished[n]
		budget := r.maxKept
		if budget == 0 {
			budget = streamKeptBytes
		}
		if r.kept <= budget && now.Sub(j.doneAt) < streamRetention {
			break
		}
		delete(r.journals, j.id)
		r.kept -= j.size
		r.finished[n] = nil
	}
	r.finished = r.finished[n:]
}

// get returns the user's journal id, or nil.
func (r *streamRegistry) get(user, id string) *journal {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.journals[id]
	if j == nil || j.user != user {
		return nil
	}
	return j
}

// add appends an event and returns its ID, from 1.
func (j *journal) add(event string, data []byte) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, journalEvent{event, data})
	j.size += len(data)
	close(j.changed)
	j.changed = make(chan struct{})
	return len(j.events)
}

// after returns the events after the first n, whether the stream is
// done, and a channel closed at the next change.
func (j *journal) after(n int) ([]journalEvent, bool, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.events[min(n, len(j.events)):], j.done, j.changed
}

// eventStream is a stream being sent: its journal and the first
// client's connection.
type eventStream struct {
	reg *streamRegistry
	j   *journal
	w   *sseWriter
}

// startStream starts a journalled SSE stream of the user's.
func (s *Server) startStream(hctx huma.Context, user string) *eventStream {
	j := s.streams.start(user)
	return &eventStream{reg: &s.streams, j: j, w: startSSE(hctx, j.id, s.cfg.WriteTimeout)}
}

// send journals an event and writes it to the client, if it is still
// there. data must marshal to a JSON object.
func (es *eventStream) send(event string, data any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		return
	}
	js := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	id := es.j.add(event, js)
	es.w.send(id, event, js)
}

// close ends the stream: the journal is done and kept for a while.
func (es *eventStream) close() {
	es.reg.finish(es.j)
	es.w.close()
}

type resumeInput struct {
	ID          string `path:"id" maxLength:"64" doc:"The stream's ID, from the X-Stream-ID header of the response that started it."`
	LastEventID string `header:"Last-Event-ID" maxLength:"32" doc:"The id of the last event received; the stream resumes after it. From the first event if absent."`
}

// resumeStream sends a stream's events after Last-Event-ID, then follows
// it until it ends.
func (s *Server) resumeStream(ctx context.Context, in *resumeInput) (*huma.StreamResponse, error) {
	j := s.streams.get(userFrom(ctx).ID, in.ID)
	if j == nil {
		return nil, huma.Error404NotFound(fmt.Sprintf("no stream %q: it never was yours, or it ended more than %s ago (or was dropped to make room for newer ones)", in.ID, streamRetention))
	}
	from := 0
	if v := strings.TrimSpace(in.LastEventID); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, huma.Error400BadRequest(fmt.Sprintf("Last-Event-ID %q is not an event's id: give the number of the id: line of the last event received", v))
		}
		from = n
	}
	return s.followJournal(j, from, nil), nil
}

// followJournal sends a journal's events after the first from, then
// follows it until it ends; header, if set, adds response headers.
func (s *Server) followJournal(j *journal, from int, header func(huma.Context)) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		if header != nil {
			header(hctx)
		}
		w := startSSE(hctx, j.id, s.cfg.WriteTimeout)
		defer w.close()
		for {
			evs, done, changed := j.after(from)
			for _, ev := range evs {
				from++
				w.send(from, ev.event, ev.data)
			}
			if done || w.failed() {
				return
			}
			select {
			case <-changed:
			case <-hctx.Context().Done():
				return
			case <-s.workCtx.Done():
				return
			}
		}
	}}
}
