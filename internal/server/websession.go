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
// page's storage. Browser sessions live in the store, by the cookie's hash
// only, so that they outlive a restart of the server; each expires after
// webSessionTTL, ends with a sign-out, with the key it signed in with
// (revoking the key revokes them), or all of a user's at once
// (POST /v1/admin/users/{user}/sign-out).
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
)

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newWebSession records a signed-in browser of user u (signed in with key
// k, or nil) and returns its cookie's value and its CSRF token.
func (s *Server) newWebSession(ctx context.Context, u *store.User, k *store.APIKey) (string, string, error) {
	id := randomToken()
	ws := &store.WebSession{UserID: u.ID, CSRF: randomToken(), ExpiresAt: s.now().Add(webSessionTTL)}
	if k != nil {
		ws.KeyID = k.ID
	}
	if err := s.d.Store.CreateWebSession(ctx, id, ws); err != nil {
		return "", "", err
	}
	return id, ws.CSRF, nil
}

// cookieOf returns the value of a request's session cookie, or "".
func cookieOf(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
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
	token := cookieOf(r)
	if token == "" {
		return nil, nil, nil
	}
	ws, u, k, err := s.d.Store.GetWebSession(r.Context(), token)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, nil
	case errors.Is(err, store.ErrRevoked):
		return nil, nil, &problem{http.StatusUnauthorized, "the API key of this sign-in is no longer valid: sign in again"}
	case err != nil:
		return nil, nil, err
	}
	if !s.now().Before(ws.ExpiresAt) {
		// The server's clock set the expiry; the store's may differ.
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
	if !safeMethod(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(ws.CSRF)) != 1 {
		return nil, nil, deny("a request without the session's " + CSRFHeader + " header")
	}
	return u, k, nil
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
	u, k, err := s.authenticate(r)
	if err != nil {
		var pe *problem
		if errors.As(err, &pe) {
			return nil, huma.NewError(pe.status, pe.msg)
		}
		return nil, err
	}
	id, csrf, err := s.newWebSession(ctx, u, k)
	if err != nil {
		return nil, err
	}
	s.audit(context.WithValue(ctx, userKey, u), &store.AuditEntry{Action: "auth.sign_in", Result: store.ResultOK, Detail: "browser session"})
	return &signInOutput{SetCookie: *sessionCookie(r, id, int(webSessionTTL.Seconds())), Body: WebSession{User: u, CSRFToken: csrf}}, nil
}

type signOutOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
}

func (s *Server) signOut(ctx context.Context, _ *struct{}) (*signOutOutput, error) {
	r := requestOf(ctx)
	if token := cookieOf(r); token != "" {
		if err := s.d.Store.DeleteWebSession(ctx, token); err != nil {
			return nil, err
		}
	}
	return &signOutOutput{SetCookie: *sessionCookie(r, "", -1)}, nil
}

type webSessionOutput struct {
	Body WebSession
}

func (s *Server) getWebSession(ctx context.Context, _ *struct{}) (*webSessionOutput, error) {
	out := &webSessionOutput{Body: WebSession{User: userFrom(ctx)}}
	if token := cookieOf(requestOf(ctx)); token != "" {
		if ws, _, _, err := s.d.Store.GetWebSession(ctx, token); err == nil {
			out.Body.CSRFToken = ws.CSRF
		}
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
	u, err := s.d.Store.GetUser(r.Context(), s.cfg.UIUser)
	var id string
	if err == nil {
		id, _, err = s.newWebSession(r.Context(), u, nil)
	}
	if err != nil {
		s.log.Error("interp ui sign-in", "err", err)
		writeProblem(w, http.StatusInternalServerError, "the sign-in failed: "+err.Error())
		return true
	}
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
