package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/event"
)

func TestUsersAndKeys(t *testing.T) {
	t.Parallel()
	eachClockedStore(t, func(t *testing.T, ctx context.Context, s *testStore, clk *clock) {

		alice, err := s.CreateUser(ctx, "alice")
		must(t, err)
		if !strings.HasPrefix(alice.ID, "user_") || alice.Name != "alice" {
			t.Fatalf("user %+v", alice)
		}
		if _, err := s.CreateUser(ctx, "alice"); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate user: %v, want ErrExists", err)
		}
		for _, bad := range []string{"", "a b", "x/y", strings.Repeat("a", 65)} {
			if _, err := s.CreateUser(ctx, bad); err == nil {
				t.Errorf("CreateUser(%q) accepted", bad)
			}
		}
		bob, err := s.CreateUser(ctx, "bob")
		must(t, err)
		if u, err := s.GetUser(ctx, alice.ID); err != nil || u.Name != "alice" {
			t.Fatalf("GetUser by ID: %+v, %v", u, err)
		}
		if _, err := s.GetUser(ctx, "carol"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetUser(carol): %v", err)
		}
		users, err := s.ListUsers(ctx)
		must(t, err)
		if len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" {
			t.Fatalf("users %+v", users)
		}

		key, info, err := s.CreateAPIKey(ctx, "alice", "laptop")
		must(t, err)
		if !strings.HasPrefix(key, KeyPrefix) || len(key) != 46 || !strings.HasPrefix(key, info.Prefix) || len(info.Prefix) != 11 {
			t.Fatalf("key %q, info %+v", key, info)
		}
		key2, _, err := s.CreateAPIKey(ctx, bob.ID, "")
		must(t, err)
		if key2 == key {
			t.Fatal("two keys are equal")
		}
		// Only the hash is stored.
		var n int
		must(t, s.queryRow(ctx, `SELECT COUNT(*) FROM api_keys WHERE hash = ? OR prefix = ?`, key, key).Scan(&n))
		if n != 0 {
			t.Fatal("the key is stored in clear")
		}

		u, k, err := s.Authenticate(ctx, key)
		must(t, err)
		if u.ID != alice.ID || k.ID != info.ID || k.LastUsedAt.IsZero() {
			t.Fatalf("Authenticate: %+v %+v", u, k)
		}
		for _, bad := range []string{"", "ik_", key[:len(key)-1], key[:len(key)-1] + "A", "xx" + key[2:], strings.ToUpper(key)} {
			if bad == key {
				continue
			}
			if _, _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrBadKey) {
				t.Errorf("Authenticate(%q): %v, want ErrBadKey", bad, err)
			}
		}

		keys, err := s.ListAPIKeys(ctx, "")
		must(t, err)
		if len(keys) != 2 {
			t.Fatalf("keys %+v", keys)
		}
		keys, err = s.ListAPIKeys(ctx, "alice")
		must(t, err)
		if len(keys) != 1 || keys[0].UserName != "alice" || keys[0].Name != "laptop" || keys[0].Revoked() {
			t.Fatalf("alice's keys %+v", keys)
		}

		clk.Add(time.Minute)
		rk, err := s.RevokeAPIKey(ctx, info.ID)
		must(t, err)
		if !rk.Revoked() {
			t.Fatalf("revoked key %+v", rk)
		}
		if _, _, err := s.Authenticate(ctx, key); !errors.Is(err, ErrRevoked) {
			t.Fatalf("revoked key authenticates: %v", err)
		}
		if _, err := s.RevokeAPIKey(ctx, info.ID); err != nil {
			t.Fatalf("revoking twice: %v", err)
		}
		if _, err := s.RevokeAPIKey(ctx, "key_nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}
		// Bob's key still works; a key is also found by its prefix.
		if _, _, err := s.Authenticate(ctx, key2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeAPIKey(ctx, key2[:11]); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Authenticate(ctx, key2); !errors.Is(err, ErrRevoked) {
			t.Fatalf("key revoked by prefix authenticates: %v", err)
		}
	})
}

func TestConversationOwnersAndUsage(t *testing.T) {
	t.Parallel()
	eachClockedStore(t, func(t *testing.T, ctx context.Context, s *testStore, clk *clock) {
		us := users(t, ctx, s, "alice", "bob")
		alice, bob := us[0], us[1]

		a1, err := s.NewConversation(ctx, ConversationInfo{Title: "a1"})
		must(t, err)
		must(t, s.SetConversationUser(ctx, a1, alice.ID))
		clk.Add(time.Second)
		a2, err := s.NewConversation(ctx, ConversationInfo{Kind: KindExec})
		must(t, err)
		must(t, s.SetConversationUser(ctx, a2, alice.ID))
		b1, err := s.NewConversation(ctx, ConversationInfo{Title: "b1"})
		must(t, err)
		must(t, s.SetConversationUser(ctx, b1, bob.ID))
		cli, err := s.NewConversation(ctx, ConversationInfo{Title: "cli"})
		must(t, err)

		if err := s.SetConversationUser(ctx, "conv_nope", alice.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("SetConversationUser(unknown): %v", err)
		}
		for id, want := range map[string]string{a1: alice.ID, b1: bob.ID, cli: ""} {
			got, kind, err := s.ConversationUser(ctx, id)
			must(t, err)
			if got != want || kind != KindChat {
				t.Errorf("owner of %s = %q (%s), want %q (chat)", id, got, kind, want)
			}
		}
		if _, kind, _ := s.ConversationUser(ctx, a2); kind != KindExec {
			t.Errorf("kind of %s = %q", a2, kind)
		}
		if _, _, err := s.ConversationUser(ctx, "conv_nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ConversationUser(unknown): %v", err)
		}
		list, err := s.ListUserConversations(ctx, alice.ID, 0, 0)
		must(t, err)
		if len(list) != 2 || list[0].ID != a2 || list[1].ID != a1 {
			t.Fatalf("alice's conversations %+v", list)
		}
		list, err = s.ListUserConversations(ctx, "user_nobody", 0, 0)
		must(t, err)
		if len(list) != 0 {
			t.Fatalf("nobody's conversations %+v", list)
		}
		all, err := s.ListConversations(ctx, 0, 0)
		must(t, err)
		if len(all) != 4 {
			t.Fatalf("all conversations: %d", len(all))
		}

		day := Day(clk.Now())
		if n, err := s.TokenUsage(ctx, alice.ID, day); err != nil || n != 0 {
			t.Fatalf("usage %d, %v", n, err)
		}
		must(t, s.AddTokenUsage(ctx, alice.ID, day, 100))
		must(t, s.AddTokenUsage(ctx, alice.ID, day, 23))
		must(t, s.AddTokenUsage(ctx, alice.ID, day, 0))
		must(t, s.AddTokenUsage(ctx, bob.ID, day, 5))
		if n, _ := s.TokenUsage(ctx, alice.ID, day); n != 123 {
			t.Fatalf("alice used %d, want 123", n)
		}
		if n, _ := s.TokenUsage(ctx, alice.ID, "2000-01-01"); n != 0 {
			t.Fatalf("another day: %d", n)
		}
		must(t, s.Ping(ctx))
	})
}

func TestSearchUserConversations(t *testing.T) {
	t.Parallel()
	eachClockedStore(t, func(t *testing.T, ctx context.Context, s *testStore, clk *clock) {
		// A clock of its own: the empty search lists the latest first, and
		// conversations made in the same millisecond would tie.
		us := users(t, ctx, s, "alice", "bob")
		alice, bob := us[0], us[1]
		conv := func(user, title, prompt, code, answer string) string {
			t.Helper()
			clk.Add(time.Second)
			id, err := s.NewConversation(ctx, ConversationInfo{Title: title})
			must(t, err)
			must(t, s.SetConversationUser(ctx, id, user))
			if prompt == "" {
				return id
			}
			rec, err := s.StartTask(ctx, id, prompt, nil)
			must(t, err)
			if code != "" {
				must(t, rec.Event(event.Task{Event: event.Event{Type: event.Tool, Text: code}, Step: 1}))
			}
			must(t, rec.Finish(ctx, &TaskResult{Stop: event.StopAnswer, Answer: answer}, nil))
			return id
		}
		byTitle := conv(alice.ID, "Sales Report", "", "", "")
		byPrompt := conv(alice.ID, "", "统计 data.csv 每列的平均值", "", "")
		byCode := conv(alice.ID, "", "plot it", "import matplotlib.pyplot as plt", "done")
		byAnswer := conv(alice.ID, "", "what is 6*7", "", "The answer is 42_000%")
		conv(bob.ID, "sales of bob", "sales", "", "")

		for _, c := range []struct {
			q    string
			want []string
		}{
			{"sales", []string{byTitle}},     // case-insensitive; not bob's
			{"平均值", []string{byPrompt}},      // CJK
			{"MATPLOTLIB", []string{byCode}}, // the code
			{"42_000%", []string{byAnswer}},  // wildcards are literal
			{"_", []string{byAnswer}},
			{"%", []string{byAnswer}},
			{"nothing like it", nil},
			{"", []string{byAnswer, byCode, byPrompt, byTitle}},
		} {
			list, err := s.SearchUserConversations(ctx, alice.ID, c.q, 0, 0)
			must(t, err)
			var got []string
			for _, l := range list {
				got = append(got, l.ID)
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("search %q = %v, want %v", c.q, got, c.want)
			}
		}
	})
}
