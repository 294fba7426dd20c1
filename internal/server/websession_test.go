package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/session"
)

// cookieOf returns the session cookie a response sets.
func cookieOf(t *testing.T, r *resp) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == server.CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", server.CookieName, r.header)
	return nil
}

func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	// A wrong key is refused and sets nothing.
	bad := e.do("", "POST", "/v1/auth/login", map[string]string{"key": "ik_wrong"}).want(t, 401)
	if bad.header.Get("Set-Cookie") != "" {
		t.Fatalf("a refused sign-in set a cookie: %v", bad.header)
	}
	// Signing in from another origin is refused.
	e.do("", "POST", "/v1/auth/login", map[string]string{"key": e.alice.key}, "Origin", "https://evil.example").want(t, 403)

	r := e.do("", "POST", "/v1/auth/login", map[string]string{"key": e.alice.key}, "Origin", e.ts.URL, "Sec-Fetch-Site", "same-origin").want(t, 200)
	c := cookieOf(t, r)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/", c)
	}
	if strings.Contains(c.Value, e.alice.key) || strings.Contains(string(r.body), e.alice.key) {
		t.Error("the API key went back to the browser")
	}
	var ws server.WebSession
	r.json(t, &ws)
	if ws.User == nil || ws.User.ID != e.alice.id || ws.CSRFToken == "" {
		t.Fatalf("sign-in answered %s", r.body)
	}
	ck := "interp_session=" + c.Value

	// Reading with the cookie works, and tells the CSRF token again.
	var again server.WebSession
	e.do("", "GET", "/v1/auth/session", nil, "Cookie", ck).want(t, 200).json(t, &again)
	if again.CSRFToken != ws.CSRFToken || again.User.ID != e.alice.id {
		t.Errorf("session: %+v", again)
	}
	e.do("", "GET", "/v1/sessions", nil, "Cookie", ck, "Sec-Fetch-Site", "same-origin").want(t, 200)

	// Changing something needs the CSRF token.
	e.do("", "POST", "/v1/sessions", map[string]any{}, "Cookie", ck).want(t, 403)
	e.do("", "POST", "/v1/sessions", map[string]any{}, "Cookie", ck, server.CSRFHeader, "wrong").want(t, 403)
	sid := e.do("", "POST", "/v1/sessions", map[string]any{}, "Cookie", ck, server.CSRFHeader, ws.CSRFToken).want(t, 201).obj(t)["id"].(string)

	// Other origins may not use the cookie at all, not even to read.
	for _, h := range [][]string{
		{"Origin", "https://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
	} {
		e.do("", "GET", "/v1/sessions/"+sid, nil, "Cookie", ck, h[0], h[1]).want(t, 403)
		e.do("", "DELETE", "/v1/sessions/"+sid, nil, "Cookie", ck, server.CSRFHeader, ws.CSRFToken, h[0], h[1]).want(t, 403)
	}

	// Signing out ends the cookie.
	out := e.do("", "POST", "/v1/auth/logout", nil, "Cookie", ck, server.CSRFHeader, ws.CSRFToken).want(t, 204)
	if c := cookieOf(t, out); c.MaxAge >= 0 {
		t.Errorf("sign-out cookie %+v should expire", c)
	}
	e.do("", "GET", "/v1/sessions", nil, "Cookie", ck).want(t, 401)
}

func TestBrowserSessionEndsWithItsKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.do("", "POST", "/v1/auth/login", map[string]string{"key": e.bob.key}).want(t, 200)
	ck := "interp_session=" + cookieOf(t, r).Value
	e.do("", "GET", "/v1/me", nil, "Cookie", ck).want(t, 200)
	if _, err := e.st.RevokeAPIKey(context.Background(), e.bob.key[:11]); err != nil {
		t.Fatal(err)
	}
	e.do("", "GET", "/v1/me", nil, "Cookie", ck).want(t, 401)
}

func TestUIToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *server.Config) { c.UIToken, c.UIUser = "tok-456", "alice" })
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) *http.Response {
		t.Helper()
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get(e.ts.URL + "/?token=wrong"); res.StatusCode != 403 {
		t.Fatalf("wrong token: %d", res.StatusCode)
	}
	res := get(e.ts.URL + "/?token=tok-456")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("token sign-in: %d %v", res.StatusCode, res.Header)
	}
	var ck string
	for _, c := range res.Cookies() {
		if c.Name == server.CookieName && c.HttpOnly && c.SameSite == http.SameSiteStrictMode {
			ck = c.Name + "=" + c.Value
		}
	}
	if ck == "" {
		t.Fatal("no session cookie")
	}
	me := e.do("", "GET", "/v1/me", nil, "Cookie", ck).want(t, 200).obj(t)
	if me["user"].(map[string]any)["id"] != e.alice.id {
		t.Errorf("signed in as %v", me["user"])
	}
	// Once only.
	if res := get(e.ts.URL + "/?token=tok-456"); res.StatusCode != 403 {
		t.Errorf("second use of the token: %d", res.StatusCode)
	}
	// Without a UI, / says where the API is; unknown /v1 paths stay 404s.
	e.do("", "GET", "/", nil).want(t, 404)
}

// follow reads a stream with GET (or POST with body) until it ends or
// stop says so.
func follow(ctx context.Context, t *testing.T, method, url, key string, body any, stop func(sseEvent) bool) (*http.Response, []sseEvent) {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequestWithContext(ctx, method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return nil, nil
	}
	defer res.Body.Close()
	var evs []sseEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && cur.event != "":
			evs = append(evs, cur)
			if stop != nil && stop(cur) {
				return res, evs
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data)
		}
	}
	return res, evs
}

// Not parallel: under the package's parallel load, the task's new
// sandbox is sometimes killed while its runner starts (seen as signal 9),
// which has nothing to do with following.
func TestFollowTask(t *testing.T) {
	e := newEnv(t, nil)
	fake := llmtest.NewOpenAIServer(t,
		llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "import os, time\nprint('tick', 0, flush=True)\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\nfor i in range(1, 4):\n    print('tick', i, flush=True)"}`}}},
		llmtest.Turn{Text: "Ticked."},
	)
	p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: fake.URL, APIKey: "k", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	e.llm.set(p)

	// The first client goes away at the first tick; the task
	// goes on.
	ctx, cancel := context.WithCancel(context.Background())
	res, _ := follow(ctx, t, "POST", e.ts.URL+"/v1/tasks", e.alice.key, map[string]any{"prompt": "tick"},
		func(ev sseEvent) bool { return ev.event == "stdout" })
	cancel()
	conv := res.Header.Get("X-Conversation-ID")
	if conv == "" {
		t.Fatal("no conversation")
	}
	// Another client follows it from its start to its result.
	var got []string
	// The code waits for a file, which comes once the second client
	// follows: the task cannot end before.
	sid := res.Header.Get("X-Session-ID")
	released := false
	res, evs := follow(context.Background(), t, "GET", e.ts.URL+"/v1/conversations/"+conv+"/stream", e.alice.key, nil, func(sseEvent) bool {
		if !released {
			released = true
			e.do(e.alice.key, "POST", "/v1/sessions/"+sid+"/files?path=go", []byte("1"), "Content-Type", "application/octet-stream").want(t, 201)
		}
		return false
	})
	if res.Header.Get("X-Session-ID") == "" {
		t.Error("no X-Session-ID")
	}
	for _, ev := range evs {
		got = append(got, ev.event)
	}
	joined := strings.Join(got, " ")
	if out := text(evs, "stdout"); len(evs) == 0 || !strings.HasPrefix(joined, "code") || !strings.HasSuffix(joined, "result") ||
		!strings.Contains(out, "tick 0") || !strings.Contains(out, "tick 3") {
		t.Fatalf("followed events: %s", joined)
	}
	if evs[len(evs)-1].data["stop"] != "answer" {
		t.Errorf("result %v", evs[len(evs)-1].data)
	}
	// Once it is over there is nothing to follow; others cannot follow it.
	deadline := time.Now().Add(10 * time.Second)
	for e.do(e.alice.key, "GET", "/v1/conversations/"+conv+"/stream", nil).status != 204 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	e.do(e.alice.key, "GET", "/v1/conversations/"+conv+"/stream", nil).want(t, 204)
	e.do(e.bob.key, "GET", "/v1/conversations/"+conv+"/stream", nil).want(t, 404)

	// Renaming.
	e.do(e.alice.key, "PATCH", "/v1/conversations/"+conv, map[string]string{"title": "Ticks"}).want(t, 204)
	if title := e.do(e.alice.key, "GET", "/v1/conversations/"+conv, nil).want(t, 200).obj(t)["title"]; title != "Ticks" {
		t.Errorf("title %v", title)
	}
	e.do(e.bob.key, "PATCH", "/v1/conversations/"+conv, map[string]string{"title": "x"}).want(t, 404)
}

// Browser sessions live in the store: they outlive the server, and end
// when they expire, on sign-out, or when an admin signs the user out.
func TestBrowserSessionsOutliveARestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	signIn := func(base, key string) (string, string) {
		t.Helper()
		r := do(t, base, "", "POST", "/v1/auth/login", map[string]string{"key": key}).want(t, 200)
		var ws server.WebSession
		r.json(t, &ws)
		return "interp_session=" + cookieOf(t, r).Value, ws.CSRFToken
	}
	ck, csrf := signIn(e.ts.URL, e.alice.key)
	ck2, _ := signIn(e.ts.URL, e.alice.key)
	bobCk, bobCSRF := signIn(e.ts.URL, e.bob.key)

	// Another server on the same store: the cookies still sign in, the
	// CSRF tokens still hold.
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	b := backend(t)
	srv2, err := server.New(server.Config{PoolSize: -1}, server.Deps{Store: e.st, Kernel: session.Config{Backend: b, Runtime: rt}, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(srv2.Handler())
	t.Cleanup(func() {
		ts2.Close()
		_ = srv2.Shutdown(context.Background())
		b.Close()
	})
	e.ts.Close()
	var me map[string]any
	do(t, ts2.URL, "", "GET", "/v1/me", nil, "Cookie", ck).want(t, 200).json(t, &me)
	if me["user"].(map[string]any)["id"] != e.alice.id {
		t.Fatalf("after the restart, signed in as %v", me["user"])
	}
	var again server.WebSession
	do(t, ts2.URL, "", "GET", "/v1/auth/session", nil, "Cookie", ck).want(t, 200).json(t, &again)
	if again.CSRFToken != csrf {
		t.Errorf("the CSRF token changed across the restart")
	}
	do(t, ts2.URL, "", "PATCH", "/v1/conversations/conv_nope", map[string]string{"title": "x"}, "Cookie", ck).want(t, 403)
	do(t, ts2.URL, "", "PATCH", "/v1/conversations/conv_nope", map[string]string{"title": "x"}, "Cookie", ck, server.CSRFHeader, csrf).want(t, 404)

	// The cookie is not in the store, only its hash.
	if _, _, _, err := e.st.GetWebSession(context.Background(), strings.TrimPrefix(ck, "interp_session=")); err != nil {
		t.Fatalf("the store does not know the session: %v", err)
	}

	// Sign-out ends that session only, on every server.
	do(t, ts2.URL, "", "POST", "/v1/auth/logout", nil, "Cookie", ck, server.CSRFHeader, csrf).want(t, 204)
	do(t, ts2.URL, "", "GET", "/v1/me", nil, "Cookie", ck).want(t, 401)
	do(t, ts2.URL, "", "GET", "/v1/me", nil, "Cookie", ck2).want(t, 200)

	// An admin signs alice out everywhere; bob stays signed in. Users
	// cannot.
	do(t, ts2.URL, "", "DELETE", "/v1/admin/users/alice/web-sessions", nil, "Cookie", bobCk, server.CSRFHeader, bobCSRF).want(t, 403)
	admin := e.newAdmin("root").key
	var rev server.RevokedWebSessions
	do(t, ts2.URL, admin, "DELETE", "/v1/admin/users/alice/web-sessions", nil).want(t, 200).json(t, &rev)
	if rev.Revoked != 1 {
		t.Errorf("revoked %d sessions, want 1", rev.Revoked)
	}
	do(t, ts2.URL, "", "GET", "/v1/me", nil, "Cookie", ck2).want(t, 401)
	do(t, ts2.URL, "", "GET", "/v1/me", nil, "Cookie", bobCk).want(t, 200)
	do(t, ts2.URL, admin, "DELETE", "/v1/admin/users/carol/web-sessions", nil).want(t, 404)
}

// A browser session expires after a week, even across restarts.
func TestBrowserSessionExpires(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	e := newEnv(t, nil, func(d *server.Deps) { d.Now = clock })
	r := e.do("", "POST", "/v1/auth/login", map[string]string{"key": e.alice.key}).want(t, 200)
	ck := "interp_session=" + cookieOf(t, r).Value
	if c := cookieOf(t, r); c.MaxAge != 7*24*3600 {
		t.Errorf("cookie max-age %d, want a week", c.MaxAge)
	}
	mu.Lock()
	now = now.Add(7*24*time.Hour - time.Minute)
	mu.Unlock()
	e.do("", "GET", "/v1/me", nil, "Cookie", ck).want(t, 200)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	e.do("", "GET", "/v1/me", nil, "Cookie", ck).want(t, 401)
}
