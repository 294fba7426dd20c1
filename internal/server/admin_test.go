package server_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/store"
)

// newAdmin adds a user with the admin role and a key.
func (e *env) newAdmin(name string) user {
	e.t.Helper()
	u, err := e.st.CreateUserWithRole(context.Background(), name, store.RoleAdmin)
	if err != nil {
		e.t.Fatal(err)
	}
	key, _, err := e.st.CreateAPIKey(context.Background(), u.ID, "admin")
	if err != nil {
		e.t.Fatal(err)
	}
	return user{id: u.ID, key: key}
}

// auditLog reads the audit log through the admin endpoint.
func (e *env) auditLog(key, query string) []map[string]any {
	e.t.Helper()
	var out struct {
		Entries []map[string]any `json:"entries"`
	}
	e.do(key, "GET", "/v1/admin/audit?"+query, nil).want(e.t, 200).json(e.t, &out)
	return out.Entries
}

func TestAdminRoleAndKeys(t *testing.T) {
	e := newEnv(t, nil)
	root := e.newAdmin("root")

	// Users are refused every admin operation with 403, and it is audited.
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/admin/users"}, {"POST", "/v1/admin/users"}, {"GET", "/v1/admin/keys"},
		{"POST", "/v1/admin/users/bob/keys"}, {"DELETE", "/v1/admin/keys/key_x"}, {"GET", "/v1/admin/audit"},
	} {
		var body any
		if r.method == "POST" {
			body = map[string]any{"name": "mallory"}
		}
		e.do(e.alice.key, r.method, r.path, body).want(t, 403)
	}
	e.do("", "GET", "/v1/admin/users", nil).want(t, 401)
	if _, err := e.st.GetUser(context.Background(), "mallory"); err == nil {
		t.Fatal("a user made a user")
	}

	// An admin creates a user and a key; the key works, then is revoked.
	u := e.do(root.key, "POST", "/v1/admin/users", map[string]any{"name": "carol"}).want(t, 201).obj(t)
	if u["role"] != "user" || u["name"] != "carol" {
		t.Fatalf("user %v", u)
	}
	e.do(root.key, "POST", "/v1/admin/users", map[string]any{"name": "carol"}).want(t, 409)
	e.do(root.key, "POST", "/v1/admin/users", map[string]any{"name": "a b"}).want(t, 422)
	e.do(root.key, "POST", "/v1/admin/users", map[string]any{"name": "dave", "role": "admin"}).want(t, 201)
	e.do(root.key, "POST", "/v1/admin/users/nobody/keys", nil).want(t, 404)
	k := e.do(root.key, "POST", "/v1/admin/users/carol/keys", map[string]any{"name": "laptop"}).want(t, 201).obj(t)
	key, _ := k["key"].(string)
	keyID, _ := k["id"].(string)
	if !strings.HasPrefix(key, "ik_") || k["user_name"] != "carol" || k["name"] != "laptop" {
		t.Fatalf("key %v", k)
	}
	me := e.do(key, "GET", "/v1/me", nil).want(t, 200).obj(t)
	if me["user"].(map[string]any)["role"] != "user" {
		t.Fatalf("me %v", me)
	}
	// An admin sees no other user's sessions.
	sid := e.newSession(e.alice.key, nil)
	e.do(root.key, "GET", "/v1/sessions/"+sid, nil).want(t, 404)
	e.do(root.key, "GET", "/v1/sessions/"+sid+"/files", nil).want(t, 404)

	var users struct {
		Users []map[string]any `json:"users"`
	}
	e.do(root.key, "GET", "/v1/admin/users", nil).want(t, 200).json(t, &users)
	if len(users.Users) != 5 {
		t.Fatalf("users %v", users.Users)
	}
	for _, u := range users.Users {
		if u["name"] == "alice" && u["usage"].(map[string]any)["sessions"] != 1.0 {
			t.Fatalf("alice's usage %v", u)
		}
	}
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	e.do(root.key, "GET", "/v1/admin/keys?user=carol", nil).want(t, 200).json(t, &keys)
	if len(keys.Keys) != 1 || keys.Keys[0]["id"] != keyID {
		t.Fatalf("keys %v", keys.Keys)
	}
	e.do(root.key, "GET", "/v1/admin/keys?user=nobody", nil).want(t, 404)
	e.do(root.key, "DELETE", "/v1/admin/keys/key_nope", nil).want(t, 404)
	rk := e.do(root.key, "DELETE", "/v1/admin/keys/"+keyID, nil).want(t, 200).obj(t)
	if rk["revoked_at"] == nil {
		t.Fatalf("revoked %v", rk)
	}
	e.do(key, "GET", "/v1/me", nil).want(t, 401)
	unknown := "ik_" + strings.Repeat("A", 43)
	e.do(unknown, "GET", "/v1/me", nil).want(t, 401)
	e.do("hunter2-password", "GET", "/v1/me", nil).want(t, 401)

	// The audit log has it all, and no secret.
	byAction := func(action string) []map[string]any {
		return e.auditLog(root.key, "action="+action)
	}
	if d := byAction("admin.denied"); len(d) != 6 || d[0]["user_name"] != "alice" || d[0]["result"] != "denied" {
		t.Fatalf("admin.denied %v", d)
	}
	if c := byAction("user.create"); len(c) != 2 || c[0]["user_name"] != "root" {
		t.Fatalf("user.create %v", c)
	}
	if c := byAction("key.create"); len(c) != 1 || c[0]["target"] != keyID || c[0]["key_id"] == "" {
		t.Fatalf("key.create %v", c)
	}
	if c := byAction("key.revoke"); len(c) != 1 || c[0]["target"] != keyID {
		t.Fatalf("key.revoke %v", c)
	}
	if c := byAction("session.create"); len(c) != 1 || c[0]["target"] != sid || c[0]["ip"] != "127.0.0.1" {
		t.Fatalf("session.create %v", c)
	}
	fails := byAction("auth.failure")
	reasons := map[string]map[string]any{}
	for _, f := range fails {
		reason, _, _ := strings.Cut(f["detail"].(string), ":")
		reasons[reason] = f
	}
	if r := reasons["revoked key"]; r == nil || r["key_id"] != keyID || r["user_name"] != "carol" || r["key_prefix"] != key[:11] {
		t.Fatalf("revoked key failure %v (all %v)", r, fails)
	}
	if r := reasons["unknown key"]; r == nil || r["key_prefix"] != unknown[:11] || r["user_id"] != nil {
		t.Fatalf("unknown key failure %v", r)
	}
	if reasons["malformed key"] == nil || reasons["missing key"] == nil {
		t.Fatalf("failures %v", fails)
	}
	// Paging and filters.
	if p := e.auditLog(root.key, "action=auth.failure&limit=1&offset=1"); len(p) != 1 || p[0]["id"] != fails[1]["id"] {
		t.Fatalf("page %v", p)
	}
	if p := e.auditLog(root.key, "user=alice"); len(p) == 0 {
		t.Fatal("no entries of alice")
	} else {
		for _, x := range p {
			if x["user_name"] != "alice" {
				t.Fatalf("entry of another user %v", x)
			}
		}
	}
	if p := e.auditLog(root.key, "since=2999-01-01T00:00:00Z"); len(p) != 0 {
		t.Fatalf("future %v", p)
	}
	e.do(root.key, "GET", "/v1/admin/audit?since=yesterday", nil).want(t, 422)

	// No key is stored whole, anywhere in the database.
	assertNoSecret(t, e, key, unknown, "hunter2-password", root.key, e.alice.key)
}

// assertNoSecret dumps every text column of the audit log and the keys
// and fails if a secret is in it.
func assertNoSecret(t *testing.T, e *env, secrets ...string) {
	t.Helper()
	entries, err := e.st.AuditLog(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for _, x := range entries {
		fmt.Fprintf(&all, "%+v\n", x)
	}
	for _, s := range secrets {
		if strings.Contains(all.String(), s) {
			t.Fatalf("the audit log holds a secret %q", s)
		}
	}
}

func TestAuditFiles(t *testing.T) {
	e := newEnv(t, nil)
	root := e.newAdmin("root")
	id := e.newSession(e.alice.key, nil)
	e.do(e.alice.key, "POST", "/v1/sessions/"+id+"/files?path=d/a.txt", []byte("hello"), "Content-Type", "application/octet-stream").want(t, 201)
	e.do(e.alice.key, "GET", "/v1/sessions/"+id+"/file?path=d/a.txt", nil).want(t, 200)
	e.do(e.alice.key, "DELETE", "/v1/sessions/"+id+"/file?path=d/a.txt", nil).want(t, 204)
	e.do(e.alice.key, "DELETE", "/v1/sessions/"+id, nil).want(t, 204)
	log := e.auditLog(root.key, "user=alice")
	var got []string
	for i := len(log) - 1; i >= 0; i-- {
		got = append(got, fmt.Sprintf("%s %s", log[i]["action"], log[i]["target"]))
	}
	want := []string{
		"session.create " + id, "file.upload " + id + ":d/a.txt", "file.download " + id + ":d/a.txt",
		"file.delete " + id + ":d/a.txt", "session.delete " + id,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, x := range log {
		if x["key_prefix"] != e.alice.key[:11] || x["key_id"] == nil || x["ip"] == nil {
			t.Fatalf("entry %v", x)
		}
	}
}

func TestWorkspaceQuota(t *testing.T) {
	const mib = 1 << 20
	e := newEnv(t, func(c *server.Config) {
		c.Quotas.WorkspaceBytes = 4 * mib
		c.Quotas.Sessions = 3
	})
	root := e.newAdmin("root")
	a := e.newSession(e.alice.key, nil)
	b := e.newSession(e.alice.key, nil)
	up := func(key, id, path string, n int) *resp {
		return e.do(key, "POST", "/v1/sessions/"+id+"/files?path="+path, bytes.Repeat([]byte("x"), n), "Content-Type", "application/octet-stream")
	}
	// Larger than the whole quota: 413, it could never fit.
	r := up(e.alice.key, a, "huge", 5*mib).want(t, 413)
	if !strings.Contains(string(r.body), "whole workspace quota") {
		t.Fatalf("413: %s", r.body)
	}
	up(e.alice.key, a, "one", mib).want(t, 201)
	up(e.alice.key, b, "small", 5*mib/2).want(t, 201)
	// Over what is left: 429, with the message.
	r = up(e.alice.key, b, "two", mib).want(t, 429)
	if !strings.Contains(string(r.body), "workspace quota of 4194304 bytes exceeded: delete files first") || r.header.Get("Retry-After") == "" {
		t.Fatalf("429: %v %s", r.header, r.body)
	}
	// Replacing a file counts its old bytes as free; others' are their own.
	up(e.alice.key, a, "one", 5*mib/4).want(t, 201)
	up(e.bob.key, e.newSession(e.bob.key, nil), "bob", 3*mib).want(t, 201)
	e.do(e.alice.key, "DELETE", "/v1/sessions/"+a+"/file?path=one", nil).want(t, 204)
	e.do(e.alice.key, "DELETE", "/v1/sessions/"+b+"/file?path=small", nil).want(t, 204)

	// Each sandbox's disk is capped by the quota: 5 MiB cannot be written.
	res := e.execute(e.alice.key, a, "open('big', 'wb').write(b'x' * (5 << 20))")
	if res["status"] != "error" {
		t.Fatalf("a 5 MiB file in a 4 MiB quota: %v", res)
	}
	e.execute(e.alice.key, a, "import os; os.remove('big') if os.path.exists('big') else None")

	// Two sessions together go over it: the execution says so, in an
	// error event before done, and no more code runs.
	e.execute(e.alice.key, a, "open('big', 'wb').write(b'x' * (3 << 20))")
	_, evs := e.stream(e.alice.key, "/v1/sessions/"+b+"/execute/stream", map[string]any{"code": "open('big', 'wb').write(b'x' * (3 << 20))"}, nil)
	n := len(evs)
	if n < 2 || evs[n-1].event != "done" || evs[n-2].event != "error" || evs[n-2].data["ename"] != server.EWorkspaceQuota ||
		!strings.Contains(evs[n-2].data["evalue"].(string), "delete files first") {
		t.Fatalf("events %v", evs)
	}
	r = e.do(e.alice.key, "POST", "/v1/sessions/"+a+"/execute", map[string]any{"code": "1"}).want(t, 429)
	if !strings.Contains(string(r.body), "workspace quota of 4194304 bytes exceeded") {
		t.Fatalf("429: %s", r.body)
	}
	me := e.do(e.alice.key, "GET", "/v1/me", nil).want(t, 200).obj(t)
	if u := me["usage"].(map[string]any)["workspace_bytes"].(float64); u != 6*mib {
		t.Fatalf("usage %v", me)
	}
	// Deleting a file lets code run again.
	e.do(e.alice.key, "DELETE", "/v1/sessions/"+b+"/file?path=big", nil).want(t, 204)
	if out := stdoutOf(e.execute(e.alice.key, a, "print(6 * 7)")); out != "42\n" {
		t.Fatalf("stdout %q", out)
	}
	if q := e.auditLog(root.key, "action=quota.exceeded&user=alice"); len(q) != 4 {
		t.Fatalf("quota.exceeded entries %v", q)
	}
}

// TestWorkspaceQuotaDuringTask: the quota holds at each step of a task,
// not only at its start. Another session holds most of it; the task's
// first step goes over; its second step's code does not run, and the task
// says why.
func TestWorkspaceQuotaDuringTask(t *testing.T) {
	const mib = 1 << 20
	e := newEnv(t, func(c *server.Config) { c.Quotas.WorkspaceBytes = 2 * mib })
	fake := llmtest.NewOpenAIServer(t,
		llmtest.Turn{ToolCalls: []llmtest.Call{call("open('fill', 'wb').write(b'x' * (1 << 20))")}},
		llmtest.Turn{ToolCalls: []llmtest.Call{call("open('second', 'w').write('ran')")}},
		llmtest.Turn{Text: "never reached"},
	)
	p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: fake.URL, APIKey: "k", Model: "gpt-test", MaxRetries: 1, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.llm.set(p)
	other := e.newSession(e.alice.key, nil)
	e.do(e.alice.key, "POST", "/v1/sessions/"+other+"/files?path=held", bytes.Repeat([]byte("x"), 3*mib/2), "Content-Type", "application/octet-stream").want(t, 201)
	id := e.newSession(e.alice.key, nil)
	_, evs := e.stream(e.alice.key, "/v1/tasks", map[string]any{"prompt": "fill the disk", "session_id": id}, nil)
	result := evs[len(evs)-1].data
	if result["stop"] != "refused" || !strings.Contains(fmt.Sprint(result["reason"]), "workspace quota") {
		t.Fatalf("task result %v", result)
	}
	files := e.do(e.alice.key, "GET", "/v1/sessions/"+id+"/files", nil).want(t, 200).obj(t)["files"].([]any)
	var names []string
	for _, f := range files {
		names = append(names, f.(map[string]any)["path"].(string))
	}
	if strings.Join(names, " ") != "fill" {
		t.Errorf("files %v: only the first step's should exist", names)
	}
}
