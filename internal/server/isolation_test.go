package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/store"
)

// TestIsolation: with her own key, alice gets 404 for every endpoint given
// bob's IDs (or a CLI conversation's), exactly as for IDs that do not
// exist, and bob's things are left alone.
func TestIsolation(t *testing.T) {
	e := newEnv(t, nil)
	e.llm.set(stubModel{}) // never reached: the IDs are refused first
	a, b := e.alice.key, e.bob.key

	bobSID := e.newSession(b, nil)
	e.do(b, "POST", "/v1/sessions/"+bobSID+"/files?path=secret.txt", []byte("bob's"), "Content-Type", "application/octet-stream").want(t, 201)
	e.execute(b, bobSID, "secret = 'bob'")
	bobConv, _ := e.do(b, "GET", "/v1/sessions/"+bobSID, nil).want(t, 200).obj(t)["conversation_id"].(string)
	if bobConv == "" {
		t.Fatal("bob's session has no conversation")
	}
	cliConv, err := e.st.NewConversation(context.Background(), store.ConversationInfo{Title: "from the CLI"})
	if err != nil {
		t.Fatal(err)
	}
	aliceSID := e.newSession(a, nil)

	for _, tc := range []struct {
		name         string
		method, path string
		body         any
	}{
		{"get session", "GET", "/v1/sessions/{s}", nil},
		{"delete session", "DELETE", "/v1/sessions/{s}", nil},
		{"restart", "POST", "/v1/sessions/{s}/restart", nil},
		{"interrupt", "POST", "/v1/sessions/{s}/interrupt", nil},
		{"execute", "POST", "/v1/sessions/{s}/execute", map[string]any{"code": "print(secret)"}},
		{"execute stream", "POST", "/v1/sessions/{s}/execute/stream", map[string]any{"code": "print(secret)"}},
		{"list files", "GET", "/v1/sessions/{s}/files", nil},
		{"upload", "POST", "/v1/sessions/{s}/files?path=x.txt", []byte("x")},
		{"download", "GET", "/v1/sessions/{s}/file?path=secret.txt", nil},
		{"delete file", "DELETE", "/v1/sessions/{s}/file?path=secret.txt", nil},
		{"task in session", "POST", "/v1/tasks", map[string]any{"prompt": "hi", "session_id": "{s}"}},
		{"task in conversation", "POST", "/v1/tasks", map[string]any{"prompt": "hi", "conversation_id": "{c}"}},
		{"get conversation", "GET", "/v1/conversations/{c}", nil},
		{"export", "GET", "/v1/conversations/{c}/export?format=json", nil},
		{"conversation files", "GET", "/v1/conversations/{c}/files", nil},
		{"conversation file", "GET", "/v1/conversations/{c}/file?path=out.txt", nil},
		{"delete conversation", "DELETE", "/v1/conversations/{c}", nil},
	} {
		for _, ids := range []struct{ who, s, c string }{
			{"bob's", bobSID, bobConv},
			{"the CLI's", "s_000000000000000000000000", cliConv},
			{"nobody's", "s_ffffffffffffffffffffffff", "conv_aaaaaaaaaaaaaaaa"},
		} {
			fill := func(s string) string {
				return strings.NewReplacer("{s}", ids.s, "{c}", ids.c).Replace(s)
			}
			body := tc.body
			if m, ok := body.(map[string]any); ok {
				c := map[string]any{}
				for k, v := range m {
					if s, ok := v.(string); ok {
						v = fill(s)
					}
					c[k] = v
				}
				body = c
			}
			r := e.do(a, tc.method, fill(tc.path), body)
			if r.status != 404 {
				t.Errorf("%s with %s IDs: %d %s, want 404", tc.name, ids.who, r.status, r.body)
				continue
			}
			var m map[string]any
			r.json(t, &m)
			if m["status"].(float64) != 404 || strings.Contains(string(r.body), "bob") {
				t.Errorf("%s: %s", tc.name, r.body)
			}
		}
	}
	// A conversation ID in a task for alice's own session is refused too.
	e.do(a, "POST", "/v1/tasks", map[string]any{"prompt": "hi", "session_id": aliceSID, "conversation_id": bobConv}).want(t, 404)

	// Listings show only one's own.
	for _, s := range e.do(a, "GET", "/v1/sessions", nil).want(t, 200).obj(t)["sessions"].([]any) {
		if s.(map[string]any)["id"] != aliceSID {
			t.Errorf("alice sees session %v", s)
		}
	}
	for _, c := range e.do(a, "GET", "/v1/conversations", nil).want(t, 200).obj(t)["conversations"].([]any) {
		if id := c.(map[string]any)["id"]; id == bobConv || id == cliConv {
			t.Errorf("alice sees conversation %v", id)
		}
	}

	// Bob's things are intact.
	if stdoutOf(e.execute(b, bobSID, "print(secret, open('secret.txt').read())")) != "bob bob's\n" {
		t.Fatal("bob's session was touched")
	}
	e.do(b, "GET", "/v1/conversations/"+bobConv, nil).want(t, 200)
	if n := len(e.srv.Manager().List()); n != 2 {
		t.Fatalf("%d sessions open, want 2", n)
	}
}

// TestAuth: /v1 needs a valid, unrevoked key; health, readiness, metrics
// and the document do not.
func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Bearer ik_nope", "Bearer " + e.alice.key + "x",
		"Bearer ik_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		var r *resp
		if h == "" {
			r = e.do("", "GET", "/v1/me", nil)
		} else {
			r = e.do("", "GET", "/v1/me", nil, "Authorization", h)
		}
		if r.status != 401 || r.header.Get("WWW-Authenticate") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("Authorization %q: %d %v %s", h, r.status, r.header, r.body)
		}
	}
	e.do("", "GET", "/v1/nothing-here", nil).want(t, 401)
	e.do(e.alice.key, "GET", "/v1/nothing-here", nil).want(t, 404)
	e.do(e.alice.key, "GET", "/v1/me", nil).want(t, 200)
	e.do("", "GET", "/v1/me", nil, "Authorization", "bearer "+e.alice.key).want(t, 200)

	// A revoked key stops working at once; the user's other keys do not.
	keys, err := e.st.ListAPIKeys(context.Background(), e.alice.id)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := e.st.CreateAPIKey(context.Background(), e.alice.id, "second")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.RevokeAPIKey(context.Background(), keys[0].ID); err != nil {
		t.Fatal(err)
	}
	r := e.do(e.alice.key, "GET", "/v1/me", nil).want(t, 401)
	if !strings.Contains(string(r.body), "revoked") {
		t.Errorf("revoked key: %s", r.body)
	}
	e.do(e.alice.key, "POST", "/v1/sessions", nil).want(t, 401)
	e.do(other, "GET", "/v1/me", nil).want(t, 200)

	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/openapi.yaml", "/docs"} {
		e.do("", "GET", p, nil).want(t, 200)
	}
	if m := string(e.do("", "GET", "/metrics", nil).body); !strings.Contains(m, `interp_errors_total{type="auth"}`) {
		t.Error("auth failures are not counted")
	}
}

// TestMetricsToken: with a metrics token, /metrics answers only to it; the
// other operational endpoints stay open.
func TestMetricsToken(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MetricsToken = "scrape-me" })
	r := e.do("", "GET", "/metrics", nil).want(t, 401)
	if r.header.Get("WWW-Authenticate") == "" || !strings.Contains(string(r.body), "metrics token") {
		t.Errorf("no token: %v %s", r.header, r.body)
	}
	e.do("wrong", "GET", "/metrics", nil).want(t, 401)
	if m := string(e.do("scrape-me", "GET", "/metrics", nil).want(t, 200).body); !strings.Contains(m, "interp_") {
		t.Errorf("metrics with the token: %.200s", m)
	}
	e.do("", "GET", "/healthz", nil).want(t, 200)
}
