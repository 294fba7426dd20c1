package llm

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults shared by the providers.
const (
	// DefaultTimeout is how long a provider waits for an answer to start,
	// and for the next piece of it once it has started, before giving up
	// on the attempt.
	DefaultTimeout = 5 * time.Minute
	// DefaultMaxRetries is how many times a transient failure is retried.
	DefaultMaxRetries = 2
	// maxRetryAfter is the longest Retry-After a provider waits for: a
	// server asking for more is reported at once (as OpenAI's SDK does).
	maxRetryAfter = 2 * time.Minute
)

// retries turns a config's MaxRetries into a count: 0 means the default,
// negative means none.
func retries(n int) int {
	switch {
	case n < 0:
		return 0
	case n == 0:
		return DefaultMaxRetries
	}
	return n
}

// timeout turns a config's Timeout into a duration: 0 means the default,
// negative means none (0).
func timeout(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return DefaultTimeout
	}
	return d
}

// idleTimeoutError ends an attempt that heard nothing for too long.
type idleTimeoutError struct{ d time.Duration }

func (e *idleTimeoutError) Error() string {
	return fmt.Sprintf("nothing heard from the server for %v", e.d)
}
func (e *idleTimeoutError) Timeout() bool   { return true }
func (e *idleTimeoutError) Temporary() bool { return true }

// idleTimeoutTransport bounds the wait for the response headers and every
// pause between two reads of the body, so that a long answer that keeps
// coming is never cut while a server that stalls is.
type idleTimeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *idleTimeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	terr := &idleTimeoutError{t.timeout}
	timer := time.AfterFunc(t.timeout, func() { cancel(terr) })
	res, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		fired := errors.Is(context.Cause(ctx), terr)
		cancel(nil)
		if fired {
			return nil, terr
		}
		return nil, err
	}
	res.Body = &idleBody{rc: res.Body, ctx: ctx, cancel: cancel, timer: timer, terr: terr}
	return res, nil
}

type idleBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	terr   *idleTimeoutError
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && errors.Is(context.Cause(b.ctx), b.terr) {
		return n, b.terr
	}
	if n > 0 {
		b.timer.Reset(b.terr.d)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// withTransport returns a copy of base (or of a default client) whose
// transport is wrapped by wrap.
func withTransport(base *http.Client, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = wrap(rt)
	return c
}

// parseRetryAfter reads Retry-After-Ms or Retry-After (seconds or an HTTP
// date). It returns 0 if there is none.
func parseRetryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && f < 1e12 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f > 0 && f < 1e9 {
			return time.Duration(f * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// hasRetryAfter reports whether h names a wait at all (even zero).
func hasRetryAfter(h http.Header) bool {
	return h != nil && (h.Get("Retry-After") != "" || h.Get("Retry-After-Ms") != "")
}

// backoff is the wait before retry n (0-based) when the server named none:
// 0.5s doubling, at most 8s, less up to a quarter of jitter.
func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n, 4)
	var b [1]byte
	_, _ = rand.Read(b[:])
	return d - d/4*time.Duration(b[0])/255
}

// newCallID makes an ID for a tool call that came without one.
func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "call_" + hex.EncodeToString(b[:])
}

// dataURL encodes an image as a data: URL.
func dataURL(img Image) string {
	return "data:" + imageMIME(img) + ";base64," + base64.StdEncoding.EncodeToString(img.Data)
}

// imageMIME is img's MIME type, sniffed if it has none.
func imageMIME(img Image) string {
	if img.MIME != "" {
		return img.MIME
	}
	return http.DetectContentType(img.Data)
}

// jsonObject returns args if it is a JSON object, else "{}": the APIs
// that take tool arguments back as an object refuse anything else.
func jsonObject(args string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(args), &m); err != nil || m == nil {
		return json.RawMessage("{}")
	}
	return json.RawMessage(args)
}

// toolCallAcc accumulates an answer as it streams: text, and tool calls
// from their fragments. It emits each piece as a Delta.
type toolCallAcc struct {
	emit    func(Delta)
	text    strings.Builder
	calls   []*accCall
	byIndex map[int]int // the provider's index to ours
}

type accCall struct {
	ToolCall
	serverID bool // the ID came from the server
}

func newToolCallAcc(emit func(Delta)) *toolCallAcc {
	if emit == nil {
		emit = func(Delta) {}
	}
	return &toolCallAcc{emit: emit, byIndex: map[int]int{}}
}

func (a *toolCallAcc) addText(s string) {
	if s == "" {
		return
	}
	a.text.WriteString(s)
	a.emit(Delta{Text: s})
}

// fragment adds a piece of the tool call the provider numbers index. id
// and name may come with any fragment; a different id on a known index
// starts a new call (some compatible servers number every call 0).
func (a *toolCallAcc) fragment(index int, id, name, args string) {
	i, ok := a.byIndex[index]
	if ok && id != "" && a.calls[i].serverID && a.calls[i].ID != id {
		ok = false
	}
	var d ToolCallDelta
	if !ok {
		i = len(a.calls)
		a.byIndex[index] = i
		c := &accCall{}
		if id != "" {
			c.ID, c.serverID = id, true
		} else {
			c.ID = newCallID()
		}
		a.calls = append(a.calls, c)
		d.ID = c.ID
	} else if c := a.calls[i]; id != "" && !c.serverID {
		// The ID came late: take it, and say so.
		c.ID, c.serverID = id, true
		d.ID = id
	}
	c := a.calls[i]
	if name != "" && c.Name == "" {
		c.Name = name
		d.Name = name
	}
	c.Arguments += args
	if d.ID == "" && d.Name == "" && args == "" {
		return
	}
	d.Index = i
	d.Arguments = args
	a.emit(Delta{ToolCall: &d})
}

// message finishes the answer: a call without arguments gets "{}" (also
// emitted, so that the fragments still add up to the arguments).
func (a *toolCallAcc) message() Message {
	m := Message{Role: RoleAssistant, Content: a.text.String()}
	for i, c := range a.calls {
		if strings.TrimSpace(c.Arguments) == "" {
			c.Arguments = "{}"
			a.emit(Delta{ToolCall: &ToolCallDelta{Index: i, Arguments: "{}"}})
		}
		m.ToolCalls = append(m.ToolCalls, c.ToolCall)
	}
	return m
}

// started reports whether anything of the answer was emitted.
func (a *toolCallAcc) started() bool { return a.text.Len() > 0 || len(a.calls) > 0 }

// errCtx knows enough about a call to turn its failure into an *Error
// with a message that says what to do.
type errCtx struct {
	provider string
	endpoint string // the base URL
	model    string
	authHint string // what to check when the key is refused: "check OPENAI_API_KEY"
	noKey    bool   // no key was configured
	attempts int    // how many requests were sent
}

// oneLine squeezes an API's message into one short line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}

func (c *errCtx) stillAfter() string {
	switch n := c.attempts - 1; {
	case n == 1:
		return ", still after 1 retry"
	case n > 1:
		return fmt.Sprintf(", still after %d retries", n)
	}
	return ""
}

// status makes the error for an HTTP error response. apiMsg is the
// message the API gave, apiCode its error type or code.
func (c *errCtx) status(status int, h http.Header, apiMsg, apiCode string, err error) *Error {
	e := &Error{Provider: c.provider, Status: status, Err: err, RetryAfter: parseRetryAfter(h)}
	apiMsg = oneLine(apiMsg)
	paren := ""
	if apiMsg != "" {
		paren = " (" + apiMsg + ")"
	}
	switch {
	case status == http.StatusUnauthorized:
		e.Kind = ErrAuth
		e.Message = "the API key was rejected" + paren + ": " + c.authHint
		if c.noKey {
			e.Message = "the server wants an API key, and none was set" + paren + ": " + c.authHint
		}
	case status == http.StatusForbidden:
		e.Kind = ErrAuth
		e.Message = fmt.Sprintf("access denied%s: %s, and that the key may use model %q", paren, c.authHint, c.model)
	case status == http.StatusTooManyRequests:
		e.Kind = ErrRateLimit
		switch {
		case apiCode == "insufficient_quota":
			e.Message = "out of quota" + paren + ": check the plan and billing of the account"
		case e.RetryAfter > 0:
			e.Message = fmt.Sprintf("rate limited%s%s: wait %v and try again", paren, c.stillAfter(), e.RetryAfter.Round(time.Second))
		default:
			e.Message = fmt.Sprintf("rate limited%s%s: wait a minute and try again, or send fewer requests", paren, c.stillAfter())
		}
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind = ErrTimeout
		e.Message = fmt.Sprintf("the server timed out%s%s: try again later", paren, c.stillAfter())
	case status == http.StatusNotFound:
		e.Kind = ErrRequest
		e.Message = fmt.Sprintf("not found%s: check the model name %q and the base URL %s", paren, c.model, c.endpoint)
	case status == http.StatusRequestEntityTooLarge:
		e.Kind = ErrRequest
		e.Message = "the request is too large" + paren + ": shorten the conversation or send fewer or smaller images"
	case status == http.StatusPaymentRequired:
		e.Kind = ErrOther
		e.Message = "payment required" + paren + ": check the billing of the account"
	case status == http.StatusServiceUnavailable || status == 529:
		e.Kind = ErrServer
		e.Message = fmt.Sprintf("the service is overloaded or down%s%s: try again later", paren, c.stillAfter())
	case status >= 500:
		e.Kind = ErrServer
		e.Message = fmt.Sprintf("the server failed%s%s: try again later", paren, c.stillAfter())
	case status >= 400:
		e.Kind = ErrRequest
		if apiMsg == "" {
			apiMsg = http.StatusText(status)
		}
		e.Message = fmt.Sprintf("the request was refused: %s (check the model %q and the conversation sent)", apiMsg, c.model)
	default:
		e.Kind = ErrOther
		e.Message = fmt.Sprintf("unexpected HTTP status %d%s", status, paren)
	}
	return e
}

// failure makes the error for anything but an HTTP error response:
// cancellation, timeouts, unreachable servers, broken or garbled streams.
// started says whether the answer had begun to arrive.
func (c *errCtx) failure(ctx context.Context, err error, started bool) *Error {
	e := &Error{Provider: c.provider, Err: err}
	var idle *idleTimeoutError
	var netErr net.Error
	var urlErr *url.Error
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		e.Kind = ErrOther
		e.Message = "canceled"
		e.Err = errors.Join(ctx.Err(), err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		e.Kind = ErrTimeout
		e.Message = "no complete answer before the deadline: allow more time, or ask for a shorter answer"
		if !errors.Is(err, context.DeadlineExceeded) {
			e.Err = errors.Join(context.DeadlineExceeded, err)
		}
	case errors.As(err, &idle):
		e.Kind = ErrTimeout
		what := "no answer within"
		if started {
			what = "the answer stalled for"
		}
		e.Message = fmt.Sprintf("%s %v%s: the server may be busy or still loading the model; try again, or raise the timeout", what, idle.d, c.stillAfter())
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Kind = ErrTimeout
		e.Message = fmt.Sprintf("timed out%s (%v): try again, or raise the timeout", c.stillAfter(), oneLine(err.Error()))
	case errors.As(err, &urlErr) && !started:
		e.Kind = ErrOther
		e.Message = fmt.Sprintf("cannot reach %s%s (%s): check that the server runs and the base URL is right", c.endpoint, c.stillAfter(), oneLine(urlErr.Err.Error()))
	case errors.As(err, &syntaxErr) || errors.As(err, &typeErr):
		e.Kind = ErrBrokenReply
		e.Message = fmt.Sprintf("the server sent an answer that makes no sense (%s): try again; if it persists, check that %s speaks the %s API", oneLine(err.Error()), c.endpoint, c.provider)
	default:
		e.Kind = ErrBrokenReply
		e.Message = fmt.Sprintf("the answer broke off (%s): try again", oneLine(err.Error()))
	}
	return e
}

// broken makes the error for a stream that ended without its end.
func (c *errCtx) broken(what string) *Error {
	return &Error{Provider: c.provider, Kind: ErrBrokenReply, Err: io.ErrUnexpectedEOF,
		Message: "the answer broke off: " + what + ": try again"}
}

// modelFor checks req and returns the model to ask: the request's, or
// the config's.
func modelFor(provider string, req *Request, model string) (string, error) {
	if req == nil {
		return "", &Error{Provider: provider, Kind: ErrRequest, Message: "no request given: pass one"}
	}
	if req.Model != "" {
		model = req.Model
	}
	if model == "" {
		return "", &Error{Provider: provider, Kind: ErrRequest, Message: "no model given: name one in the request or the provider's config"}
	}
	return model, nil
}
