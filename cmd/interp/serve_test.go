package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/store"
)

// adminEnv isolates the CLI from the host's configuration and models, and
// returns a fresh database path.
func adminEnv(t *testing.T) string {
	t.Helper()
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	for _, k := range []string{"OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OLLAMA_HOST", "INTERP_PROVIDER", "INTERP_MODEL", "INTERP_BLOB_DIR"} {
		t.Setenv(k, "")
	}
	db := filepath.Join(t.TempDir(), "users.db")
	// Anything that ignored --db would land here, not in db.
	t.Setenv("INTERP_HISTORY", filepath.Join(t.TempDir(), "other.db"))
	return db
}

// mustInterp runs the CLI and fails the test unless it exits 0.
func mustInterp(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := interp(t, "", args...)
	if code != exitOK {
		t.Fatalf("interp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// createdKey is `interp admin key create --json`'s output.
type createdKey struct {
	Key       string    `json:"key"`
	ID        string    `json:"id"`
	UserName  string    `json:"user_name"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"`
	RevokedAt time.Time `json:"revoked_at"`
}

func TestAdminUsersAndKeys(t *testing.T) {
	db := adminEnv(t)

	// Users.
	out, _ := mustInterp(t, "admin", "--db", db, "user", "create", "alice")
	if !strings.Contains(out, "created user alice (") || !strings.Contains(out, "interp admin key create alice") {
		t.Errorf("user create: %q", out)
	}
	if code, _, errOut := interp(t, "", "admin", "--db", db, "user", "create", "alice"); code != exitCodeFailed || !strings.Contains(errOut, "exists already") {
		t.Errorf("duplicate user: exit %d, %q", code, errOut)
	}
	if code, _, _ := interp(t, "", "admin", "--db", db, "user", "create", "bad name!"); code != exitUsage {
		t.Errorf("bad user name: exit %d, want %d", code, exitUsage)
	}
	if code, _, errOut := interp(t, "", "admin", "--db", db, "user", "create"); code != exitUsage {
		t.Errorf("user create without a name: exit %d, %q", code, errOut)
	}
	mustInterp(t, "admin", "--db", db, "user", "create", "bob")
	out, _ = mustInterp(t, "admin", "--db", db, "user", "list", "--json")
	var users []store.User
	if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" || users[0].ID == "" {
		t.Fatalf("user list --json: %v %s", err, out)
	}
	out, _ = mustInterp(t, "admin", "--db", db, "user", "list")
	if !strings.HasPrefix(out, "ID") || !strings.Contains(out, "alice") || !strings.Contains(out, users[1].ID) {
		t.Errorf("user list: %q", out)
	}

	// A key is printed once, alone on stdout, with a note on stderr.
	out, errOut := mustInterp(t, "admin", "--db", db, "key", "create", "alice", "--name", "laptop")
	key := strings.TrimSuffix(out, "\n")
	if !strings.HasPrefix(key, store.KeyPrefix) || strings.ContainsAny(key, " \n") || len(key) < 40 {
		t.Fatalf("key create printed %q", out)
	}
	if !strings.Contains(errOut, "cannot be shown again") || strings.Contains(errOut, key) {
		t.Errorf("key create's note: %q", errOut)
	}
	// By ID too, and as JSON.
	out, _ = mustInterp(t, "admin", "--db", db, "key", "create", users[1].ID, "--json")
	var bobKey createdKey
	if err := json.Unmarshal([]byte(out), &bobKey); err != nil || !strings.HasPrefix(bobKey.Key, store.KeyPrefix) ||
		bobKey.UserName != "bob" || bobKey.ID == "" || !strings.HasPrefix(bobKey.Key, bobKey.Prefix) {
		t.Fatalf("key create --json: %v %s", err, out)
	}
	if code, _, errOut := interp(t, "", "admin", "--db", db, "key", "create", "carol"); code != exitUsage || !strings.Contains(errOut, `no user "carol"`) {
		t.Errorf("key for a missing user: exit %d, %q", code, errOut)
	}

	// Listing never shows a key, only its prefix.
	out, _ = mustInterp(t, "admin", "--db", db, "key", "list")
	if strings.Contains(out, key) || strings.Contains(out, bobKey.Key) {
		t.Fatalf("key list shows a whole key:\n%s", out)
	}
	if !strings.Contains(out, key[:11]+"...") || !strings.Contains(out, "laptop") || strings.Count(out, "active") != 2 {
		t.Errorf("key list:\n%s", out)
	}
	out, _ = mustInterp(t, "admin", "--db", db, "key", "list", "--user", "alice", "--json")
	var keys []createdKey
	if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) != 1 || keys[0].Name != "laptop" || keys[0].Key != "" {
		t.Fatalf("key list --user alice --json: %v %s", err, out)
	}
	aliceKeyID := keys[0].ID
	if code, _, _ := interp(t, "", "admin", "--db", db, "key", "list", "--user", "carol"); code != exitUsage {
		t.Errorf("keys of a missing user: exit %d", code)
	}

	// Revoking, by ID and by prefix.
	out, _ = mustInterp(t, "admin", "--db", db, "key", "revoke", aliceKeyID)
	if !strings.Contains(out, "revoked key "+aliceKeyID) || !strings.Contains(out, "alice") {
		t.Errorf("key revoke: %q", out)
	}
	mustInterp(t, "admin", "--db", db, "key", "revoke", bobKey.Prefix)
	if code, _, errOut := interp(t, "", "admin", "--db", db, "key", "revoke", "k_nope"); code != exitUsage || !strings.Contains(errOut, "no key") {
		t.Errorf("revoke a missing key: exit %d, %q", code, errOut)
	}
	out, _ = mustInterp(t, "admin", "--db", db, "key", "list", "--json")
	if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) != 2 {
		t.Fatalf("key list --json: %v %s", err, out)
	}
	for _, k := range keys {
		if k.RevokedAt.IsZero() {
			t.Errorf("key %s of %s not revoked", k.ID, k.UserName)
		}
	}
	if out, _ = mustInterp(t, "admin", "--db", db, "key", "list"); strings.Count(out, "revoked") != 2 {
		t.Errorf("key list after revoking:\n%s", out)
	}

	// The database is the one given: the keys work there, as revoked.
	st, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.Authenticate(context.Background(), key); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("the revoked key authenticates with %v", err)
	}

	// Without --db, INTERP_HISTORY is the database.
	env := filepath.Join(t.TempDir(), "env.db")
	t.Setenv("INTERP_HISTORY", env)
	mustInterp(t, "admin", "user", "create", "dave")
	if out, _ = mustInterp(t, "admin", "--db", env, "user", "list"); !strings.Contains(out, "dave") {
		t.Errorf("INTERP_HISTORY was not used: %q", out)
	}
	if out, _ = mustInterp(t, "admin", "--db", db, "user", "list"); strings.Contains(out, "dave") {
		t.Errorf("dave landed in --db's database: %q", out)
	}
}

// TestServeBadSettings: bad settings are usage errors, before anything
// starts.
func TestServeBadSettings(t *testing.T) {
	db := adminEnv(t)
	for _, tt := range []struct {
		args  []string
		inErr string
	}{
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--quota-sessions", "many"}, "--quota-sessions"},
		{[]string{"--shutdown-timeout", "soon"}, "--shutdown-timeout"},
		{[]string{"--default-cell-timeout", "-5s"}, "--default-cell-timeout"},
		{[]string{"--listen", "127.0.0.1:99999", "--pool=-1", "--no-install"}, "--listen"},
		{[]string{"extra"}, "unknown command"},
		{[]string{"--tls-cert", "cert.pem", "--pool=-1", "--no-install"}, "go together"},
		{[]string{"--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key", "--pool=-1", "--no-install"}, "--tls-cert"},
	} {
		code, _, errOut := interp(t, "", append([]string{"serve", "--db", db}, tt.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tt.inErr) {
			t.Errorf("serve %v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, exitUsage, tt.inErr)
		}
	}
}

// logWatch collects serve's log and finds the address it listens on.
type logWatch struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addr  chan string
	found bool
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := w.buf.Len()
	w.buf.Write(p)
	if !w.found {
		sc := bufio.NewScanner(bytes.NewReader(w.buf.Bytes()[start:]))
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" && line.Addr != "" {
				w.found = true
				w.addr <- line.Addr
				break
			}
		}
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestServe starts `interp serve` in-process on a free port, with users
// and keys made by `interp admin`, and stops it by cancelling its context
// as SIGTERM does.
func TestServe(t *testing.T) {
	needSandbox(t)
	db := adminEnv(t)
	mustInterp(t, "admin", "--db", db, "user", "create", "alice")
	key, _ := mustInterp(t, "admin", "--db", db, "key", "create", "alice")
	key = strings.TrimSpace(key)
	out, _ := mustInterp(t, "admin", "--db", db, "key", "create", "alice", "--name", "doomed", "--json")
	var doomed createdKey
	if err := json.Unmarshal([]byte(out), &doomed); err != nil {
		t.Fatal(err)
	}

	base, logs, cancel, served := startServe(t, "--db", db, "--listen", "127.0.0.1:0", "--pool=-1", "--no-install", "--shutdown-timeout", "5s")
	defer cancel()
	if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0") {
		t.Fatalf("listening on %q", base)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", logs)
		}
	})

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path, key string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return res.StatusCode, m
	}

	if code, _ := get("/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	code, me := get("/v1/me", key)
	if code != http.StatusOK {
		t.Fatalf("/v1/me with a key: %d %v", code, me)
	}
	if u, _ := me["user"].(map[string]any); u["name"] != "alice" {
		t.Errorf("/v1/me: %v", me)
	}
	if code, _ := get("/v1/me", doomed.Key); code != http.StatusOK {
		t.Errorf("/v1/me with the second key: %d", code)
	}
	if code, _ := get("/v1/me", ""); code != http.StatusUnauthorized {
		t.Errorf("/v1/me without a key: %d", code)
	}
	if code, _ := get("/v1/me", store.KeyPrefix+strings.Repeat("x", len(key)-len(store.KeyPrefix))); code != http.StatusUnauthorized {
		t.Errorf("/v1/me with a made-up key: %d", code)
	}

	// Revoked while serving: refused at once; the other key still works.
	mustInterp(t, "admin", "--db", db, "key", "revoke", doomed.ID)
	code, body := get("/v1/me", doomed.Key)
	if detail, _ := body["detail"].(string); code != http.StatusUnauthorized || !strings.Contains(detail, "revoked") {
		t.Errorf("/v1/me with a revoked key: %d %v", code, body)
	}
	if code, _ := get("/v1/me", key); code != http.StatusOK {
		t.Errorf("/v1/me with the remaining key: %d", code)
	}
	if !strings.Contains(logs.String(), `"route":"GET /v1/me"`) {
		t.Errorf("no request log line")
	}

	// Cancelling the context (what SIGTERM does) stops it cleanly.
	client.CloseIdleConnections()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve returned %v after a cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after a cancel")
	}
	if !strings.Contains(logs.String(), `"msg":"shut down"`) {
		t.Errorf("no shutdown in the log")
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("still listening after stopping")
	}
}

func TestAdminRolesAndAudit(t *testing.T) {
	db := adminEnv(t)
	mustInterp(t, "admin", "--db", db, "user", "create", "root-user", "--admin")
	mustInterp(t, "admin", "--db", db, "user", "create", "carol")
	mustInterp(t, "admin", "--db", db, "user", "set-role", "carol", "admin")
	if code, _, _ := interp(t, "", "admin", "--db", db, "user", "set-role", "carol", "emperor"); code != exitUsage {
		t.Errorf("unknown role: exit %d, want %d", code, exitUsage)
	}
	out, _ := mustInterp(t, "admin", "--db", db, "user", "list", "--json")
	var users []store.User
	if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 2 {
		t.Fatalf("user list: %v %s", err, out)
	}
	for _, u := range users {
		if u.Role != "admin" {
			t.Errorf("%s has role %q, want admin", u.Name, u.Role)
		}
	}
	key, _ := mustInterp(t, "admin", "--db", db, "key", "create", "carol")
	out, _ = mustInterp(t, "admin", "--db", db, "audit")
	for _, want := range []string{"user.create", "user.role", "key.create"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %s:\n%s", want, out)
		}
	}
	if out, _ := mustInterp(t, "admin", "--db", db, "audit", "--user", "carol"); !strings.Contains(out, "name carol") || strings.Contains(out, "root-user") {
		t.Errorf("audit --user carol:\n%s", out)
	}
	if strings.Contains(out, strings.TrimSpace(key)) {
		t.Error("the audit log shows a whole key")
	}
}

// TestServeTLS serves HTTPS with a certificate of the test's own: a client
// that trusts it gets answers, plain HTTP does not.
func TestServeTLS(t *testing.T) {
	needSandbox(t)
	db := adminEnv(t)
	certFile, keyFile, pool := selfSigned(t)
	base, _, cancel, served := startServe(t, "--db", db, "--listen", "127.0.0.1:0", "--pool=-1", "--no-install", "--tls-cert", certFile, "--tls-key", keyFile)
	defer cancel()
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("listening on %q, want https", base)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET /healthz over TLS: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if resp, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered on the TLS port")
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// startServe runs `interp serve` with args in this process until cancel,
// and returns where it listens, its log, and its result.
func startServe(t *testing.T, args ...string) (base string, logs *logWatch, cancel context.CancelFunc, served <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &logWatch{addr: make(chan string, 1)}
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"serve"}, args...))
	cmd.SetIn(strings.NewReader(""))
	cmd.SetOut(io.Discard)
	cmd.SetErr(logs)
	result := make(chan error, 1)
	go func() { result <- cmd.ExecuteContext(ctx) }()
	select {
	case base = <-logs.addr:
	case err := <-result:
		cancel()
		t.Fatalf("serve ended at once: %v\n%s", err, logs)
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatalf("serve did not say where it listens:\n%s", logs)
	}
	return base, logs, cancel, result
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "interp test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
