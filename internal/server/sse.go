package server

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// heartbeat is how often an idle stream gets a comment, so that proxies
// keep it open.
const heartbeat = 15 * time.Second

// sseWriter writes Server-Sent Events: "id: N", "event: TYPE" and
// "data: JSON".
// Each write must finish within the write timeout: a client that stops
// reading is dropped. It is safe for concurrent use.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration

	mu     sync.Mutex
	err    error
	stopHB chan struct{}
	wg     sync.WaitGroup
}

// startSSE writes a stream's headers and starts its heartbeat.
func startSSE(hctx huma.Context, streamID string, timeout time.Duration) *sseWriter {
	_, w := humago.Unwrap(hctx)
	h := w.Header()
	h.Set("X-Stream-ID", streamID)
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout, stopHB: make(chan struct{})}
	// Streams run as long as the code they report: no overall deadline,
	// one per write instead.
	_ = s.rc.SetReadDeadline(time.Time{})
	s.mu.Lock()
	_ = s.rc.SetWriteDeadline(time.Now().Add(timeout))
	w.WriteHeader(http.StatusOK)
	_ = s.rc.Flush()
	s.mu.Unlock()
	s.wg.Add(1)
	go s.heartbeat()
	return s
}

func (s *sseWriter) heartbeat() {
	defer s.wg.Done()
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.stopHB:
			return
		case <-t.C:
			s.write([]byte(": keep-alive\n\n"))
		}
	}
}

// send writes one framed event: its id, type and JSON data.
func (s *sseWriter) send(id int, event string, data []byte) {
	var b bytes.Buffer
	b.Grow(len(data) + len(event) + 32)
	b.WriteString("id: ")
	b.WriteString(strconv.Itoa(id))
	b.WriteString("\nevent: ")
	b.WriteString(event)
	b.WriteString("\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	s.write(b.Bytes())
}

// failed reports whether a write failed: the client is gone.
func (s *sseWriter) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

func (s *sseWriter) write(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.w.Write(b); err != nil {
		s.err = err
		return
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
}

// close stops the heartbeat.
func (s *sseWriter) close() {
	close(s.stopHB)
	s.wg.Wait()
}
