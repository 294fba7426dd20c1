package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/store"
)

// A browser signs in once with an API key (or, under interp ui, with the
// one-time token in the URL it was given) and from then on carries an
// HttpOnly, SameSite=Strict session cookie: the key never reaches the
// page's storage. The key stays in the server's memory and is checked
// again on every request, so revoking it ends its browser sessions too.
//
// Requests that carry the cookie are refused when they come from another
// origin (Origin, Sec-Fetch-Site), and state-changing ones need the
// session's CSRF token in the X-CSRF-Token header as well.

const (
	// CookieName is the browser session's cookie.
	CookieName = "interp_session"
	// CSRFHeader carries a browser session's CSRF token.
	CSRFHeader = "X-CSRF-Token"

	webSessionTTL = 7 * 24 * time.Hour
	maxWebSession = 10000
)

// webSession is one signed-in browser.
type webSession struct {
	key     string // the API key signed in with; "" for the UI token's user
	userID  string // the user of a token sign-in
	csrf    string
	expires time.Time
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newWebSession remembers a signed-in browser and returns its cookie's
// value.
func (s *Server) newWebSession(ws *webSession) string {
	id := randomToken()
	ws.csrf = randomToken()
	ws.expires = s.now().Add(webSessionTTL)
	s.webMu.Lock()
	defer s.webMu.Unlock()
	now := s.now()
	for k, v := range s.web {
		if now.After(v.expires) {
			delete(s.web, k)
		}
	}
	if len(s.web) >= maxWebSession {
		// Forget the oldest half rather than grow without bound.
		oldest := now.Add(webSessionTTL / 2)
		for k, v := range s.web {
			if v.expires.Before(oldest) {
				delete(s.web, k)
			}
		}
	}
	s.web[id] = ws
	return id
}

// webSessionOf returns the browser session of a request's cookie.
func (s *Server) webSessionOf(r *http.Request) (string, *webSession) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return "", nil
	}
	s.webMu.Lock()
	defer s.webMu.Unlock()
	ws := s.web[c.Value]
	if ws == nil || s.now().After(ws.expires) {
		delete(s.web, c.Value)
		return "", nil
	}
	return c.Value, ws
}

func (s *Server) endWebSession(id string) {
	s.webMu.Lock()
	delete(s.web, id)
	s.webMu.Unlock()
}

func sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: CookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
}

// crossOrigin tells why a browser request does not come from this
// server's own pages, or "" when it does (or when it is no browser's).
func crossOrigin(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return "a " + site + " request"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if o == "null" || err != nil || !strings.EqualFold(u.Host, r.Host) {
			return "a request from origin " + o
		}
	}
	return ""
}

// safeMethod is a method that changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticateCookie authenticates a request by its session cookie, with
// the origin and CSRF checks. It returns nil, nil, nil when the request
// has no valid cookie.
func (s *Server) authenticateCookie(r *http.Request) (*store.User, *store.APIKey, error) {
	_, ws := s.webSessionOf(r)
	if ws == nil {
		return nil, nil, nil
	}
	deny := func(reason string) error {
		s.audit(r.Context(), &store.AuditEntry{Action: store.AuditAuthFailure, Result: store.ResultDenied,
			Detail: reason + ": " + r.Method + " " + r.URL.Path})
		return &problem{http.StatusForbidden, reason + " may not use this server's session cookie"}
	}
	if why := crossOrigin(r); why != "" {
		return nil, nil, deny(why)
	}
	if !safeMethod(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(ws.csrf)) != 1 {
		return nil, nil, deny("a request without the session's " + CSRFHeader + " header")
	}
	if ws.key != "" {
		u, k, err := s.d.Store.Authenticate(r.Context(), ws.key)
		if errors.Is(err, store.ErrRevoked) || errors.Is(err, store.ErrBadKey) {
			return nil, nil, &problem{http.StatusUnauthorized, "the API key of this sign-in is no longer valid: sign in again"}
		}
		return u, k, err
	}
	u, err := s.d.Store.GetUser(r.Context(), ws.userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, &problem{http.StatusUnauthorized, "the user of this sign-in no longer exists"}
	}
	return u, nil, err
}

// publicPath is a /v1 path that needs no credentials: signing in.
func publicPath(p string) bool {
	return p == "/v1/auth/login"
}

// SignInBody is an API key to sign in with.
type SignInBody struct {
	Key string `json:"key" minLength:"1" maxLength:"200" doc:"An API key (ik_...)."`
}

// WebSession describes a browser's sign-in.
type WebSession struct {
	User      *store.User `json:"user"`
	CSRFToken string      `json:"csrf_token,omitempty" doc:"Send it as the X-CSRF-Token header with every request that changes something. Only for cookie sign-ins."`
}

type signInOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      WebSession
}

type signInInput struct {
	Body SignInBody
}

func (s *Server) signIn(ctx context.Context, in *signInInput) (*signInOutput, error) {
	r := requestOf(ctx)
	if why := crossOrigin(r); why != "" {
		return nil, huma.Error403Forbidden(why + " may not sign in")
	}
	r.Header.Set("Authorization", "Bearer "+in.Body.Key)
	u, _, err := s.authenticate(r)
	if err != nil {
		var pe *problem
		if errors.As(err, &pe) {
			return nil, huma.NewError(pe.status, pe.msg)
		}
		return nil, err
	}
	ws := &webSession{key: strings.TrimSpace(in.Body.Key)}
	id := s.newWebSession(ws)
	s.audit(context.WithValue(ctx, userKey, u), &store.AuditEntry{Action: "auth.sign_in", Result: store.ResultOK, Detail: "browser session"})
	return &signInOutput{SetCookie: *sessionCookie(r, id, int(webSessionTTL.Seconds())), Body: WebSession{User: u, CSRFToken: ws.csrf}}, nil
}

type signOutOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
}

func (s *Server) signOut(ctx context.Context, _ *struct{}) (*signOutOutput, error) {
	r := requestOf(ctx)
	if id, _ := s.webSessionOf(r); id != "" {
		s.endWebSession(id)
	}
	return &signOutOutput{SetCookie: *sessionCookie(r, "", -1)}, nil
}

type webSessionOutput struct {
	Body WebSession
}

func (s *Server) getWebSession(ctx context.Context, _ *struct{}) (*webSessionOutput, error) {
	out := &webSessionOutput{Body: WebSession{User: userFrom(ctx)}}
	if _, ws := s.webSessionOf(requestOf(ctx)); ws != nil {
		out.Body.CSRFToken = ws.csrf
	}
	return out, nil
}

// uiToken signs a browser in with the one-time token of interp ui: GET
// /?token=T sets the session cookie and sends the browser on to /, so the
// token leaves the address bar and the history. It reports whether it
// answered the request.
func (s *Server) uiToken(w http.ResponseWriter, r *http.Request) bool {
	tok := r.URL.Query().Get("token")
	if tok == "" || s.cfg.UIToken == "" {
		return false
	}
	s.webMu.Lock()
	ok := s.uiTokenLeft && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.UIToken)) == 1
	if ok {
		s.uiTokenLeft = false
	}
	s.webMu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("This sign-in link has been used already or is wrong. Start `interp ui` again for a new one.\n"))
		return true
	}
	id := s.newWebSession(&webSession{userID: s.cfg.UIUser})
	http.SetCookie(w, sessionCookie(r, id, int(webSessionTTL.Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return true
}

// serveUI serves the web UI at / and every path the API does not own.
func (s *Server) serveUI(w http.ResponseWriter, r *http.Request) {
	if s.uiToken(w, r) {
		return
	}
	if s.d.UI == nil {
		writeProblem(w, http.StatusNotFound, "no web UI in this server; the API is under /v1 (docs at /docs)")
		return
	}
	s.d.UI.ServeHTTP(w, r)
}

func (s *Server) registerAuth() {
	api := s.api
	login := huma.Operation{
		OperationID: "sign-in", Method: http.MethodPost, Path: "/v1/auth/login", Summary: "Sign a browser in with an API key",
		Description: "Answers with an HttpOnly, SameSite=Strict session cookie and the session's CSRF token, for the web UI: the key stays on the server. " +
			"Requests with the cookie must come from this server's own pages, and those that change something must send the CSRF token as the X-CSRF-Token header.",
		Tags: []string{"users"}, Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden},
		MaxBodyBytes: 4096, BodyReadTimeout: s.cfg.ReadTimeout,
	}
	huma.Register(api, login, s.signIn)
	out := s.op("sign-out", http.MethodPost, "/v1/auth/logout", "Sign a browser out", "users", authErrors)
	out.DefaultStatus = http.StatusNoContent
	huma.Register(api, out, s.signOut)
	huma.Register(api, s.op("get-web-session", http.MethodGet, "/v1/auth/session", "Who is signed in, and the CSRF token of a cookie sign-in", "users", authErrors), s.getWebSession)
}
