package server_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/store"
)

// TestAPIEdges covers inputs at the edges of what the API accepts: time
// limits too small to mean anything, JSON that is not UTF-8, code whose
// JSON escapes make the body larger than the code, and files whose names
// are not UTF-8.
func TestAPIEdges(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxBodyBytes = 64 << 10 })
	a := e.alice.key

	// A sub-millisecond time limit is refused, and changes nothing.
	e.do(a, "POST", "/v1/sessions", map[string]any{"cell_timeout": 1e-10}).want(t, 422)
	id := e.newSession(a, map[string]any{"cell_timeout": 30})
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": "1", "timeout": 1e-10}).want(t, 422)
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": "1", "timeout": 5}).want(t, 200)

	// Invalid UTF-8 and lone surrogates are refused, not replaced.
	for _, body := range []string{
		"{\"code\": \"print('\xff')\"}",
		`{"code": "print('\udc80')"}`,
		`{"code": "print('\ud800x')"}`,
	} {
		r := e.do(a, "POST", "/v1/sessions/"+id+"/execute", []byte(body), "Content-Type", "application/json").want(t, 400)
		if !strings.Contains(string(r.body), "UTF") {
			t.Errorf("%q: %s", body, r.body)
		}
	}
	// A proper surrogate pair is a character.
	r := e.do(a, "POST", "/v1/sessions/"+id+"/execute", []byte(`{"code": "print(len('\ud83d\ude00'))"}`), "Content-Type", "application/json").want(t, 200)
	if got := stdoutOf(r.obj(t)); got != "1\n" {
		t.Errorf("surrogate pair: %q", got)
	}

	// The code limit counts the code, not its escapes: code of newlines
	// just under the limit is twice as large as JSON.
	code := "x = 1" + strings.Repeat("\n", 64<<10-10)
	e.do(a, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": code}).want(t, 200)
	r = e.do(a, "POST", "/v1/sessions/"+id+"/execute", map[string]any{"code": code + strings.Repeat("\n", 20)}).want(t, 413)
	if !strings.Contains(string(r.body), "the code is") {
		t.Errorf("413 says %s", r.body)
	}

	// A file whose name is not UTF-8 can be listed, downloaded and deleted.
	e.execute(a, id, `open(b"caf\xe9.txt", "w").write("latin-1")`)
	var list struct {
		Files []struct {
			Path    string `json:"path"`
			PathB64 string `json:"path_b64"`
		} `json:"files"`
	}
	e.do(a, "GET", "/v1/sessions/"+id+"/files", nil).want(t, 200).json(t, &list)
	var b64 string
	for _, f := range list.Files {
		if f.PathB64 != "" {
			b64 = f.PathB64
		}
	}
	raw, _ := base64.StdEncoding.DecodeString(b64)
	if string(raw) != "caf\xe9.txt" {
		t.Fatalf("files %+v: no path_b64 for the Latin-1 name", list.Files)
	}
	q := "?path_b64=" + url.QueryEscape(b64)
	if r := e.do(a, "GET", "/v1/sessions/"+id+"/file"+q, nil).want(t, 200); string(r.body) != "latin-1" {
		t.Errorf("download: %q", r.body)
	}
	e.do(a, "GET", "/v1/sessions/"+id+"/file"+q+"&path=x", nil).want(t, 400)
	e.do(a, "GET", "/v1/sessions/"+id+"/file?path_b64=%21%21", nil).want(t, 400)
	e.do(a, "DELETE", "/v1/sessions/"+id+"/file"+q, nil).want(t, 204)
	e.do(a, "GET", "/v1/sessions/"+id+"/file"+q, nil).want(t, 404)
}

// TestLastAdminKey checks that the API refuses to lock every admin out.
func TestLastAdminKey(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	root, err := e.st.CreateUserWithRole(ctx, "root", store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	key, k, err := e.st.CreateAPIKey(ctx, root.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(key, "DELETE", "/v1/admin/keys/"+k.ID, nil).want(t, 409)
	if !strings.Contains(string(r.body), "last active API key of an admin") {
		t.Errorf("409 says %s", r.body)
	}
	e.do(key, "GET", "/v1/me", nil).want(t, 200)
	// With a second admin key, the first may go.
	key2, _, err := e.st.CreateAPIKey(ctx, root.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	e.do(key2, "DELETE", "/v1/admin/keys/"+k.ID, nil).want(t, 200)
	e.do(key, "GET", "/v1/me", nil).want(t, 401)
}
