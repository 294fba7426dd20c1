// Package llmtest provides scripted fake model servers that speak each
// provider's real wire protocol over HTTP (OpenAI's Chat Completions with
// SSE, Anthropic's Messages with SSE, Ollama's /api/chat with NDJSON), for
// tests.
//
// A server replays a script: each request it accepts consumes the next
// Turn, which says what to answer, text or tool calls streamed piece by
// piece, or a failure: an HTTP error in the provider's own error format, a
// stream cut mid-way, an answer that comes too late. The server checks
// requests roughly as the real API does (credentials, required fields,
// tool results that answer tool calls) and records every request body so
// that tests can assert on what the client sent.
//
//	srv := llmtest.NewOpenAIServer(t,
//		llmtest.Turn{Status: 429, RetryAfter: "0"},
//		llmtest.Turn{Text: "Hello there!"},
//	)
//	p, _ := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: srv.URL, APIKey: "test-key", Model: "gpt-test"})
//
// The package does not import package llm, so that llm's own tests can
// use it.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// BadKey is the API key the servers reject as the real APIs reject a
// wrong key, with 401 and the provider's error JSON.
const BadKey = "bad-key"

// Call is a tool call for a Turn to make.
type Call struct {
	// ID is the call's ID. If empty, OpenAI's and Anthropic's servers
	// make one up; Ollama's sends none, as older Ollama servers do.
	ID   string
	Name string
	// Arguments is the JSON text of the arguments. OpenAI's and
	// Anthropic's servers stream it in several pieces; Ollama's sends it
	// whole, as an object, so it must be a JSON object there.
	Arguments string
}

// Usage is the token count a Turn reports.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// Turn is what a server answers to one request.
type Turn struct {
	// Text is the answer's text, streamed a few characters at a time.
	Text string
	// ToolCalls are streamed after the text.
	ToolCalls []Call
	// StopReason overrides the provider's usual one (stop/tool_calls,
	// end_turn/tool_use, stop).
	StopReason string
	// Usage is reported with the answer: as the provider does when
	// asked (OpenAI: only if the request asks with stream_options), and
	// not at all if zero (Anthropic always reports, zeros then).
	Usage Usage

	// Status, if not 0, makes the answer an HTTP error with the
	// provider's error JSON, ErrorMessage in it (a usual one if empty),
	// and the Retry-After header if RetryAfter is set.
	Status       int
	RetryAfter   string
	ErrorMessage string

	// BreakAfter, if not 0, cuts the connection abruptly after that many
	// events (SSE events, or NDJSON lines for Ollama) of the answer.
	BreakAfter int
	// StallAfter, if not 0, stops the answer after that many events and
	// keeps the connection open, silent, until the client gives up.
	StallAfter int
	// Delay is waited before answering; a client that gives up first
	// ends it.
	Delay time.Duration

	// StreamError, if set, follows the answer's text with the provider's
	// error event holding this message, which ends the stream: a data
	// chunk holding an error object (OpenAI-compatible servers), an
	// error event of type overloaded_error (Anthropic), an {"error": ...}
	// line (Ollama).
	StreamError string
	// Raw, if set, is the whole answer, sent verbatim with status 200
	// and the provider's streaming content type: for malformed streams.
	Raw string

	// Repeat makes this turn answer every later request too: the script
	// never moves past it ("a model that never stops", "a server that
	// is always overloaded").
	Repeat bool
}

// Server is a scripted fake model server.
type Server struct {
	// URL is the base URL to give the client: http://127.0.0.1:port/v1
	// for OpenAI, http://127.0.0.1:port for Anthropic and Ollama.
	URL string

	t     testing.TB
	proto protocol
	srv   *httptest.Server
	done  chan struct{}

	mu       sync.Mutex
	script   []Turn
	next     int
	served   int
	requests []map[string]any
	headers  []http.Header
	models   []string // what GET /v1/models lists (OpenAI)
	modelReq int      // how many asked
}

// defaultModels are what the fake OpenAI server lists, as OpenAI does:
// several, among them Interp's default.
var defaultModels = []string{"gpt-4.1", "gpt-4.1-mini", "gpt-4o-mini"}

// SetModels sets the models the OpenAI server's GET /v1/models lists,
// like a compatible server of one's own (vLLM, llama.cpp) does.
func (s *Server) SetModels(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = ids
}

// ModelRequests is how many times GET /v1/models was asked.
func (s *Server) ModelRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modelReq
}

// protocol is what differs between the providers' APIs.
type protocol interface {
	// path is the endpoint, like /v1/chat/completions.
	path() string
	// check checks a request as the API would: a non-zero status and a
	// message reject it.
	check(h http.Header, body map[string]any) (status int, msg string)
	// errorBody is the API's error JSON for status.
	errorBody(status int, msg string) any
	// answer streams turn, the answer to request number n (from 1).
	answer(e *events, turn Turn, body map[string]any, n int)
	// contentType is the content type of the streamed answer.
	contentType() string
}

func newServer(t testing.TB, proto protocol, urlSuffix string, script []Turn) *Server {
	t.Helper()
	s := &Server{t: t, proto: proto, script: script, done: make(chan struct{}), models: defaultModels}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL + urlSuffix
	t.Cleanup(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// Script replaces the turns not yet served with turns: for tests that
// script the model as they go, such as a browser's end-to-end tests
// driving one server through many tasks.
func (s *Server) Script(turns ...Turn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script[:s.next:s.next], turns...)
}

// Requests returns the body of every request received so far, decoded
// from JSON, in order (those rejected too).
func (s *Server) Requests() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.requests...)
}

// Headers returns the headers of every request received so far, in order.
func (s *Server) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

// Served is how many requests consumed a turn of the script.
func (s *Server) Served() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

// take returns the next turn of the script.
func (s *Server) take() (Turn, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next >= len(s.script) {
		if n := len(s.script); n > 0 && s.script[n-1].Repeat {
			s.served++
			return s.script[n-1], s.served, true
		}
		return Turn{}, 0, false
	}
	turn := s.script[s.next]
	if !turn.Repeat {
		s.next++
	}
	s.served++
	return turn, s.served, true
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.proto.(openAIProto); ok && r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
		s.listModels(w, r)
		return
	}
	raw, err := io.ReadAll(r.Body)
	var body map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	s.mu.Lock()
	s.requests = append(s.requests, body)
	s.headers = append(s.headers, r.Header.Clone())
	s.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != s.proto.path() {
		s.t.Errorf("llmtest: unexpected request %s %s (want POST %s)", r.Method, r.URL.Path, s.proto.path())
		s.writeError(w, Turn{Status: http.StatusNotFound, ErrorMessage: "no route for " + r.Method + " " + r.URL.Path})
		return
	}
	if err != nil {
		s.t.Logf("llmtest: rejected a request: its body is not JSON: %v", err)
		s.writeError(w, Turn{Status: http.StatusBadRequest, ErrorMessage: "the request body is not valid JSON: " + err.Error()})
		return
	}
	if status, msg := s.proto.check(r.Header, body); status != 0 {
		if status != http.StatusUnauthorized {
			s.t.Logf("llmtest: rejected a request: %d %s", status, msg)
		}
		s.writeError(w, Turn{Status: status, ErrorMessage: msg})
		return
	}
	turn, n, ok := s.take()
	if !ok {
		s.t.Errorf("llmtest: request %d, but the script has only %d turns", len(s.Requests()), len(s.script))
		s.writeError(w, Turn{Status: http.StatusInternalServerError, ErrorMessage: "llmtest: the script is over"})
		return
	}
	if turn.Delay > 0 {
		timer := time.NewTimer(turn.Delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		case <-s.done:
			timer.Stop()
			return
		}
	}
	if turn.Status != 0 {
		s.writeError(w, turn)
		return
	}
	if turn.Raw != "" {
		w.Header().Set("Content-Type", s.proto.contentType())
		_, _ = io.WriteString(w, turn.Raw)
		return
	}
	wait := func() {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	}
	s.proto.answer(&events{w: w, breakAfter: turn.BreakAfter, stallAfter: turn.StallAfter, stall: wait}, turn, body, n)
}

func (s *Server) writeError(w http.ResponseWriter, turn Turn) {
	msg := turn.ErrorMessage
	if msg == "" {
		msg = defaultMessage(turn.Status)
	}
	if turn.RetryAfter != "" {
		w.Header().Set("Retry-After", turn.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(turn.Status)
	_ = json.NewEncoder(w).Encode(s.proto.errorBody(turn.Status, msg))
}

func defaultMessage(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "Rate limit reached. Please try again later."
	case status >= 500:
		return "The server had an error while processing your request. Sorry about that!"
	}
	return http.StatusText(status)
}

// events writes the events of an answer, flushing each, and cuts the
// connection after breakAfter of them, or stalls after stallAfter.
type events struct {
	w          http.ResponseWriter
	n          int
	breakAfter int
	stallAfter int
	stall      func() // waits until the client or the server is gone
}

// send writes one event, already framed.
func (e *events) send(frame string) {
	_, _ = io.WriteString(e.w, frame)
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
	e.n++
	if e.breakAfter > 0 && e.n >= e.breakAfter {
		// Abort: net/http closes the connection without ending the
		// chunked body, so the client sees the stream break.
		panic(http.ErrAbortHandler)
	}
	if e.stallAfter > 0 && e.n >= e.stallAfter {
		e.stall()
		panic(http.ErrAbortHandler) // and send nothing more
	}
}

// sse sends data as a server-sent event, typed if event is not empty.
func (e *events) sse(event string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	frame := "data: " + string(b) + "\n\n"
	if event != "" {
		frame = "event: " + event + "\n" + frame
	}
	e.send(frame)
}

// tokens splits text into pieces the way a model streams it, roughly a
// word at a time, long words in pieces; they add up to text.
func tokens(text string) []string {
	var out []string
	for _, w := range strings.SplitAfter(text, " ") {
		for utf8.RuneCountInString(w) > 6 {
			i := 0
			for n := 0; n < 4; n++ {
				_, size := utf8.DecodeRuneInString(w[i:])
				i += size
			}
			out = append(out, w[:i])
			w = w[i:]
		}
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// pieces splits s into about n pieces at rune boundaries.
func pieces(s string, n int) []string {
	runes := []rune(s)
	if len(runes) == 0 {
		return nil
	}
	size := max(1, (len(runes)+n-1)/n)
	var out []string
	for i := 0; i < len(runes); i += size {
		out = append(out, string(runes[i:min(i+size, len(runes))]))
	}
	return out
}

// Small helpers to look into decoded JSON.

func str(v any) (string, bool) { s, ok := v.(string); return s, ok }

func list(v any) ([]any, bool) { l, ok := v.([]any); return l, ok }

func obj(v any) (map[string]any, bool) { m, ok := v.(map[string]any); return m, ok }

func bearer(h http.Header) (string, bool) {
	a := h.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:]), true
	}
	return "", false
}

func checkImageURL(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") ||
		(strings.HasPrefix(u, "data:image/") && strings.Contains(u, ";base64,"))
}

func errorf(format string, args ...any) (int, string) {
	return http.StatusBadRequest, fmt.Sprintf(format, args...)
}

// listModels answers GET /v1/models as OpenAI does: for a key, the
// models it serves.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.modelReq++
	ids := s.models
	s.mu.Unlock()
	if key, ok := bearer(r.Header); !ok || key == "" || key == BadKey {
		s.writeError(w, Turn{Status: http.StatusUnauthorized, ErrorMessage: "You didn't provide a valid API key."})
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, id := range ids {
		list.Data = append(list.Data, model{ID: id, Object: "model", OwnedBy: "llmtest"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
