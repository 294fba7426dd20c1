package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWebSessions(t *testing.T) {
	t.Parallel()
	eachClockedStore(t, func(t *testing.T, ctx context.Context, s *testStore, clk *clock) {
		us := users(t, ctx, s, "alice", "bob")
		alice, bob := us[0], us[1]
		_, info, err := s.CreateAPIKey(ctx, "alice", "")
		must(t, err)
		week := clk.Now().Add(7 * 24 * time.Hour)
		must(t, s.CreateWebSession(ctx, "cookie-a", &WebSession{UserID: alice.ID, KeyID: info.ID, CSRF: "csrf-a", ExpiresAt: week}))
		must(t, s.CreateWebSession(ctx, "cookie-a2", &WebSession{UserID: alice.ID, CSRF: "csrf-a2", ExpiresAt: week}))
		must(t, s.CreateWebSession(ctx, "cookie-b", &WebSession{UserID: bob.ID, CSRF: "csrf-b", ExpiresAt: clk.Now().Add(time.Hour)}))

		ws, u, k, err := s.GetWebSession(ctx, "cookie-a")
		must(t, err)
		if u.ID != alice.ID || u.Name != "alice" || k == nil || k.ID != info.ID || ws.CSRF != "csrf-a" {
			t.Fatalf("session %+v, user %+v, key %+v", ws, u, k)
		}
		if ws, u, k, err := s.GetWebSession(ctx, "cookie-a2"); err != nil || k != nil || u.ID != alice.ID || ws.KeyID != "" {
			t.Fatalf("token session %+v %+v %+v %v", ws, u, k, err)
		}
		// Only hashes are stored.
		var n int
		must(t, s.queryRow(ctx, `SELECT COUNT(*) FROM web_sessions WHERE hash IN ('cookie-a', 'cookie-a2', 'cookie-b')`).Scan(&n))
		if n != 0 {
			t.Fatal("a cookie is stored in clear")
		}
		if _, _, _, err := s.GetWebSession(ctx, "cookie-nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown cookie: %v", err)
		}

		// Expiry: bob's hour passes.
		clk.Add(2 * time.Hour)
		if _, _, _, err := s.GetWebSession(ctx, "cookie-b"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		// ... and the next sign-in deletes it.
		must(t, s.CreateWebSession(ctx, "cookie-b2", &WebSession{UserID: bob.ID, CSRF: "x", ExpiresAt: week}))
		must(t, s.queryRow(ctx, `SELECT COUNT(*) FROM web_sessions WHERE user_id = ?`, bob.ID).Scan(&n))
		if n != 1 {
			t.Fatalf("bob has %d session rows, want 1 (the expired one deleted)", n)
		}

		// Sign-out ends one session.
		must(t, s.DeleteWebSession(ctx, "cookie-b2"))
		if _, _, _, err := s.GetWebSession(ctx, "cookie-b2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("signed-out session: %v", err)
		}
		// Revoking the key ends its sessions; revoking the user's ends
		// all of theirs.
		_, err = s.RevokeAPIKey(ctx, info.ID)
		must(t, err)
		if _, _, _, err := s.GetWebSession(ctx, "cookie-a"); !errors.Is(err, ErrRevoked) {
			t.Fatalf("session of a revoked key: %v", err)
		}
		got, err := s.RevokeWebSessions(ctx, "alice")
		must(t, err)
		if got != 2 {
			t.Fatalf("revoked %d sessions, want 2", got)
		}
		if _, _, _, err := s.GetWebSession(ctx, "cookie-a2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoked session: %v", err)
		}
		if _, err := s.RevokeWebSessions(ctx, "carol"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke for an unknown user: %v", err)
		}
	})
}

func TestUserSettings(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ctx context.Context, s *testStore) {
		alice, err := s.CreateUser(ctx, "alice")
		must(t, err)
		type settings struct {
			Model   string `json:"model"`
			Memory  int64  `json:"memory"`
			Confirm bool   `json:"confirm,omitempty"`
		}
		got := settings{Model: "default"}
		must(t, s.UserSettings(ctx, alice.ID, &got))
		if got.Model != "default" {
			t.Fatalf("no settings changed the value: %+v", got)
		}
		must(t, s.SetUserSettings(ctx, alice.ID, settings{Model: "a", Memory: 1 << 30}))
		must(t, s.SetUserSettings(ctx, alice.ID, settings{Model: "b", Memory: 2 << 30, Confirm: true}))
		must(t, s.UserSettings(ctx, alice.ID, &got))
		if got.Model != "b" || got.Memory != 2<<30 || !got.Confirm {
			t.Fatalf("settings %+v", got)
		}
		if err := s.SetUserSettings(ctx, "user_nobody", settings{}); err == nil {
			t.Error("settings saved for no user")
		}
	})
}
