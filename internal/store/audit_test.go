package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRolesAndAudit(t *testing.T) {
	t.Parallel()
	eachClockedStore(t, func(t *testing.T, ctx context.Context, s *testStore, clk *clock) {

		alice, err := s.CreateUser(ctx, "alice")
		must(t, err)
		if alice.Role != RoleUser || alice.IsAdmin() {
			t.Fatalf("default role %q", alice.Role)
		}
		root, err := s.CreateUserWithRole(ctx, "root", RoleAdmin)
		must(t, err)
		if !root.IsAdmin() {
			t.Fatalf("role %q", root.Role)
		}
		if _, err := s.CreateUserWithRole(ctx, "x", "god"); err == nil {
			t.Fatal("bad role accepted")
		}
		if _, err := s.SetUserRole(ctx, "alice", "god"); err == nil {
			t.Fatal("bad role accepted")
		}
		u, err := s.SetUserRole(ctx, "alice", RoleAdmin)
		must(t, err)
		if !u.IsAdmin() {
			t.Fatal("not admin")
		}
		if u, _ := s.GetUser(ctx, alice.ID); !u.IsAdmin() {
			t.Fatal("role not stored")
		}
		if _, err := s.SetUserRole(ctx, "nobody", RoleAdmin); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		key, _, err := s.CreateAPIKey(ctx, "root", "")
		must(t, err)
		au, _, err := s.Authenticate(ctx, key)
		must(t, err)
		if !au.IsAdmin() {
			t.Fatalf("authenticated role %q", au.Role)
		}
		users, err := s.ListUsers(ctx)
		must(t, err)
		if len(users) != 2 || users[0].Role != RoleAdmin || users[1].Role != RoleAdmin {
			t.Fatalf("users %+v", users)
		}
		// A revoked key says which key it was.
		_, k, err := s.CreateAPIKey(ctx, "alice", "")
		must(t, err)
		_, err = s.RevokeAPIKey(ctx, k.ID)
		must(t, err)
		// root's key is the last working admin key: it stays.
		keys, err := s.ListAPIKeys(ctx, "root")
		must(t, err)
		if _, err := s.RevokeAPIKey(ctx, keys[0].ID); !errors.Is(err, ErrLastAdminKey) {
			t.Fatalf("revoking the last admin key: %v", err)
		}
		if _, _, err := s.Authenticate(ctx, key); err != nil {
			t.Fatalf("the last admin key stopped working: %v", err)
		}
		// With another admin key, either may go, but not both.
		_, k2, err := s.CreateAPIKey(ctx, "alice", "")
		must(t, err)
		_, err = s.RevokeAPIKey(ctx, keys[0].ID)
		must(t, err)
		if _, err := s.RevokeAPIKey(ctx, k2.ID); !errors.Is(err, ErrLastAdminKey) {
			t.Fatalf("revoking the last admin key: %v", err)
		}
		if PublicKeyPrefix(key) != key[:11] || PublicKeyPrefix("hunter2") != "" {
			t.Fatal("PublicKeyPrefix")
		}

		// The log.
		must(t, s.Audit(ctx, &AuditEntry{Action: AuditAuthFailure, KeyPrefix: "ik_abcdefgh", Detail: "unknown key", IP: "10.0.0.1", Result: ResultDenied}))
		clk.Add(time.Second)
		must(t, s.Audit(ctx, &AuditEntry{Action: AuditKeyCreate, UserID: root.ID, UserName: "root", Target: "key_1", Detail: strings.Repeat("é", 1000)}))
		clk.Add(time.Second)
		mid := clk.Now()
		must(t, s.Audit(ctx, &AuditEntry{Action: AuditFileUpload, UserID: alice.ID, UserName: "alice", Target: "s_1:a.txt"}))
		if err := s.Audit(ctx, &AuditEntry{}); err == nil {
			t.Fatal("an entry without action was written")
		}

		all, err := s.AuditLog(ctx, AuditFilter{})
		must(t, err)
		if len(all) != 3 || all[0].Action != AuditFileUpload || all[2].Action != AuditAuthFailure {
			t.Fatalf("log %+v", all)
		}
		if all[2].Result != ResultDenied || all[1].Result != ResultOK || all[2].IP != "10.0.0.1" || all[2].KeyPrefix != "ik_abcdefgh" {
			t.Fatalf("entry %+v", all[2])
		}
		if len(all[1].Detail) > maxAuditField || !strings.HasPrefix(all[1].Detail, "éé") {
			t.Fatalf("detail of %d bytes", len(all[1].Detail))
		}
		byUser, err := s.AuditLog(ctx, AuditFilter{User: "alice"})
		must(t, err)
		if len(byUser) != 1 || byUser[0].UserID != alice.ID {
			t.Fatalf("by user %+v", byUser)
		}
		byAction, err := s.AuditLog(ctx, AuditFilter{Action: AuditKeyCreate})
		must(t, err)
		if len(byAction) != 1 || byAction[0].UserName != "root" {
			t.Fatalf("by action %+v", byAction)
		}
		since, err := s.AuditLog(ctx, AuditFilter{Since: mid})
		must(t, err)
		until, err := s.AuditLog(ctx, AuditFilter{Until: mid})
		must(t, err)
		if len(since) != 1 || len(until) != 2 {
			t.Fatalf("since %d, until %d", len(since), len(until))
		}
		page, err := s.AuditLog(ctx, AuditFilter{Limit: 1, Offset: 1})
		must(t, err)
		if len(page) != 1 || page[0].Action != AuditKeyCreate {
			t.Fatalf("page %+v", page)
		}
	})
}
