package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/store"
)

type ctxKey int

const (
	userKey ctxKey = iota
	infoKey
	apiKeyKey
)

// requestInfo is filled in as a request goes through the layers, for its
// log line.
type requestInfo struct {
	id   string
	user string
	ip   string
	rc   *http.ResponseController
	req  *http.Request
}

// requestOf returns the HTTP request a handler serves.
func requestOf(ctx context.Context) *http.Request {
	if info, ok := ctx.Value(infoKey).(*requestInfo); ok && info.req != nil {
		return info.req
	}
	return &http.Request{Header: http.Header{}}
}

// longRequest prepares the connection for a handler that runs for long:
// it lifts the body's read deadline (whose expiry would cancel the
// request) and gives the response write a deadline of write from now,
// none if write is negative.
func longRequest(ctx context.Context, write time.Duration) {
	info, ok := ctx.Value(infoKey).(*requestInfo)
	if !ok || info.rc == nil {
		return
	}
	_ = info.rc.SetReadDeadline(time.Time{})
	if write < 0 {
		_ = info.rc.SetWriteDeadline(time.Time{})
	} else {
		_ = info.rc.SetWriteDeadline(time.Now().Add(write))
	}
}

// userFrom returns the authenticated user of a /v1 request.
func userFrom(ctx context.Context) *store.User {
	u, _ := ctx.Value(userKey).(*store.User)
	return u
}

// statusWriter records the status and size of a response. It passes
// Flush and the ResponseController's deadlines through.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware wraps the router: logging and metrics, panics, draining,
// deadlines, body size, and authentication of /v1.
// jsonByDefault marks a request body as JSON when it has no type, or
// curl -d's form type, and is a JSON object: the routes that take a body
// of either type take JSON, and no form encoding starts with "{". Uploads,
// whose raw bodies may be anything, keep their type.
func jsonByDefault(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || strings.HasSuffix(r.URL.Path, "/files") {
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "" && ct != "application/x-www-form-urlencoded" {
		return
	}
	br := bufio.NewReader(r.Body)
	for i := 1; i <= 512; i++ {
		b, err := br.Peek(i)
		if err != nil || len(b) < i {
			break
		}
		if c := b[i-1]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		} else if c == '{' {
			r.Header.Set("Content-Type", "application/json")
		}
		break
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: newRequestID(), ip: remoteIP(r.RemoteAddr)}
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Request-ID", info.id)
		sw.Header().Set("X-Content-Type-Options", "nosniff")
		r = r.WithContext(context.WithValue(r.Context(), infoKey, info))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { //nolint:errorlint // a recovered value, compared as net/http does
					panic(p)
				}
				s.log.Error("panic", "request_id", info.id, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					writeProblem(sw, http.StatusInternalServerError, "internal error")
				}
			}
			route := r.Pattern
			if route == "" {
				// Refused before routing (authentication, limits).
				if _, p := s.mux.Handler(r); p != "" {
					route = p
				} else {
					route = "unmatched"
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.request(route, r.Method, status, d)
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			s.log.LogAttrs(context.Background(), level, "request",
				slog.String("request_id", info.id),
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				slog.Int64("bytes", sw.bytes),
				slog.String("user", info.user),
				slog.String("remote", r.RemoteAddr),
			)
		}()

		if s.draining.Load() && r.URL.Path != "/healthz" {
			sw.Header().Set("Connection", "close")
			sw.Header().Set("Retry-After", "5")
			writeProblem(sw, http.StatusServiceUnavailable, "the server is shutting down")
			return
		}
		rc := http.NewResponseController(sw)
		info.rc = rc
		// Non-streaming responses must be written within the write
		// timeout; handlers that stream or run code move the deadline.
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		_ = rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))

		// No request body may be larger than the largest any route takes;
		// each route then holds its own, smaller or not.
		limit := max(s.codeBodyBytes(), s.cfg.MaxUploadBytes+multipartSlack)
		if r.ContentLength > limit {
			sw.Header().Set("Connection", "close")
			writeProblem(sw, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is %d bytes, over the limit of %d", r.ContentLength, limit))
			return
		}

		jsonByDefault(r)

		if (strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/v1") && !publicPath(r.URL.Path) {
			u, k, err := s.authenticateRequest(r)
			if err != nil {
				var pe *problem
				if errors.As(err, &pe) {
					if pe.status == http.StatusUnauthorized {
						sw.Header().Set("WWW-Authenticate", `Bearer realm="interp"`)
						s.metrics.errors.WithLabelValues("auth").Inc()
					}
					writeProblem(sw, pe.status, pe.msg)
					return
				}
				s.log.Error("authenticate", "request_id", info.id, "err", err)
				writeProblem(sw, http.StatusServiceUnavailable, "cannot check the API key now: try again")
				return
			}
			info.user = u.Name
			ctx := context.WithValue(r.Context(), userKey, u)
			r = r.WithContext(context.WithValue(ctx, apiKeyKey, k))
		}
		info.req = r
		next.ServeHTTP(sw, r)
	})
}

// multipartSlack is what a multipart upload may add to the file's size.
const multipartSlack = 64 << 10

// problem is an error for the middleware to answer with.
type problem struct {
	status int
	msg    string
}

func (p *problem) Error() string { return p.msg }

// authenticateRequest authenticates a request by its bearer key, or
// else by a browser's session cookie.
func (s *Server) authenticateRequest(r *http.Request) (*store.User, *store.APIKey, error) {
	if r.Header.Get("Authorization") == "" {
		if u, k, err := s.authenticateCookie(r); u != nil || err != nil {
			return u, k, err
		}
	}
	return s.authenticate(r)
}

// authenticate checks the request's bearer key. Refused keys go to the
// audit log with the reason, by their public prefix at most: never whole.
func (s *Server) authenticate(r *http.Request) (*store.User, *store.APIKey, error) {
	fail := func(reason, msg string, e *store.AuditEntry) error {
		e.Action, e.Result = store.AuditAuthFailure, store.ResultDenied
		e.Detail = reason + ": " + r.Method + " " + r.URL.Path
		s.audit(r.Context(), e)
		return &problem{http.StatusUnauthorized, msg}
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil, fail("missing key", "missing API key: send Authorization: Bearer <key>", &store.AuditEntry{})
	}
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, nil, fail("malformed header", "the Authorization header must be: Bearer <key>", &store.AuditEntry{})
	}
	key = strings.TrimSpace(key)
	u, k, err := s.d.Store.Authenticate(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrRevoked):
		e := &store.AuditEntry{KeyPrefix: store.PublicKeyPrefix(key)}
		if k != nil {
			e.UserID, e.UserName, e.KeyID = k.UserID, k.UserName, k.ID
		}
		return nil, nil, fail("revoked key", "this API key has been revoked", e)
	case errors.Is(err, store.ErrBadKey):
		reason := "unknown key"
		if store.PublicKeyPrefix(key) == "" {
			reason = "malformed key"
		}
		return nil, nil, fail(reason, "invalid API key", &store.AuditEntry{KeyPrefix: store.PublicKeyPrefix(key)})
	case err != nil:
		return nil, nil, err
	}
	return u, k, nil
}

// remoteIP is the host of a remote address.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// writeProblem writes an error in huma's error model (RFC 9457).
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(&huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail})
}

// tooMany is a 429 with Retry-After.
func tooMany(msg string, retry time.Duration) error {
	secs := int((retry + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return huma.ErrorWithHeaders(huma.Error429TooManyRequests(fmt.Sprintf("%s; retry in %d s", msg, secs)),
		http.Header{"Retry-After": {strconv.Itoa(secs)}})
}
