package mcpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/store"
)

// stdioEnv makes the test binary serve MCP over stdio, for TestStdio.
const stdioEnv = "INTERP_MCPSERVER_TEST_STDIO"

func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	if dir := os.Getenv(stdioEnv); dir != "" {
		os.Exit(serveStdio(dir))
	}
	os.Exit(m.Run())
}

// serveStdio is the server side of TestStdio, in a child process.
func serveStdio(stateDir string) int {
	b, err := sandbox.NewNamespaces()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer b.Close()
	cfg, err := testConfig(b, stateDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := New(cfg)
	defer srv.Close()
	if err := srv.RunStdio(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testConfig is a server configuration with real sandboxes, and installs
// when uv is there.
func testConfig(b sandbox.Backend, stateDir string) (Config, error) {
	rt, err := python.Find("")
	if err != nil {
		return Config{}, err
	}
	// The cell time limit only stops a hung test: a first import of
	// matplotlib took over 30 s on a loaded machine.
	cfg := Config{Backend: b, Runtime: rt, StateDir: stateDir, CellTimeout: 2 * time.Minute}
	m, err := deps.LoadMap()
	if err != nil {
		return Config{}, err
	}
	if rt.UV != "" {
		cfg.Auto = &deps.Auto{Map: m, Installer: &deps.Installer{
			UV: rt.UV, Python: rt.Executable, CacheDir: filepath.Join(stateDir, "uv-cache"), Map: m, Timeout: time.Minute,
		}}
	}
	return cfg, nil
}

// stateDir is a state directory that the sandbox user and uv, running
// as nobody, can use.
func stateDir(t testing.TB) string {
	t.Helper()
	// Not under /tmp: a sandbox's own /tmp covers the host's.
	dir, err := os.MkdirTemp("/var/tmp", "interp-mcpserver-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func backend(t testing.TB) sandbox.Backend { return sandboxtest.Backend(t) }

func newServer(t testing.TB, edit func(*Config)) *Server {
	t.Helper()
	cfg, err := testConfig(backend(t), stateDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&cfg)
	}
	srv := New(cfg)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// connect connects a client to srv in memory.
func connect(t testing.TB, srv *Server) *mcp.ClientSession {
	t.Helper()
	st, ct := mcp.NewInMemoryTransports()
	ctx := context.Background()
	if _, err := srv.MCP().Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func call(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return res
}

// run runs code and fails the test unless it succeeds.
func run(t testing.TB, cs *mcp.ClientSession, code string) (string, RunPythonOutput) {
	t.Helper()
	res := call(t, cs, ToolRunPython, map[string]any{"code": code})
	text := textOf(res)
	if res.IsError {
		t.Fatalf("run_python %q failed:\n%s", code, text)
	}
	return text, structured[RunPythonOutput](t, res)
}

func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func structured[T any](t testing.TB, res *mcp.CallToolResult) T {
	t.Helper()
	var v T
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return v
}

func TestListTools(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	cs := connect(t, srv)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{ // tool -> required input properties
		ToolRunPython:       {"code"},
		ToolInstallPackages: {"packages"},
		ToolReadFile:        {"path"},
		ToolWriteFile:       {"path"},
		ToolListFiles:       nil,
		ToolRestartSession:  nil,
	}
	got := map[string]bool{}
	for _, tool := range res.Tools {
		got[tool.Name] = true
		req, ok := want[tool.Name]
		if !ok {
			t.Errorf("unexpected tool %s", tool.Name)
			continue
		}
		if tool.Description == "" {
			t.Errorf("%s has no description", tool.Name)
		}
		in, _ := tool.InputSchema.(map[string]any)
		if in["type"] != "object" {
			t.Errorf("%s input schema %v", tool.Name, tool.InputSchema)
		}
		var required []string
		if r, ok := in["required"].([]any); ok {
			for _, x := range r {
				required = append(required, x.(string))
			}
		}
		if !slices.Equal(required, req) {
			t.Errorf("%s requires %v, want %v", tool.Name, required, req)
		}
		out, _ := tool.OutputSchema.(map[string]any)
		if out["type"] != "object" {
			t.Errorf("%s output schema %v", tool.Name, tool.OutputSchema)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("tool %s is missing", name)
		}
	}
	props := res.Tools[slices.IndexFunc(res.Tools, func(t *mcp.Tool) bool { return t.Name == ToolRunPython })].InputSchema.(map[string]any)["properties"].(map[string]any)
	if _, ok := props["timeout_seconds"]; !ok {
		t.Errorf("run_python has no timeout_seconds: %v", props)
	}
}

func TestRunPythonKeepsState(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	run(t, cs, "x = 41\ndef inc(v):\n    return v + 1")
	text, out := run(t, cs, "print(inc(x))\ninc(x) * 2")
	if out.Stdout != "42\n" || !slices.Equal(out.Results, []string{"84"}) {
		t.Errorf("output %+v", out)
	}
	if out.Status != "ok" || out.ExecutionCount != 2 {
		t.Errorf("status %q, execution count %d", out.Status, out.ExecutionCount)
	}
	if !strings.HasPrefix(text, "[status: ok]") || !strings.Contains(text, "stdout:\n42") || !strings.Contains(text, "result:\n84") {
		t.Errorf("text:\n%s", text)
	}
}

func TestRunPythonError(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	res := call(t, cs, ToolRunPython, map[string]any{"code": "def f():\n    return 1 / 0\n\nprint('before')\nf()"})
	if !res.IsError {
		t.Fatal("isError is not set")
	}
	text := textOf(res)
	for _, want := range []string{"[status: error]", "ZeroDivisionError", "Traceback", "return 1 / 0", "before"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	out := structured[RunPythonOutput](t, res)
	if out.Status != "error" || out.Error == nil || out.Error.Name != "ZeroDivisionError" || !strings.Contains(out.Error.Traceback, "in f") {
		t.Errorf("structured %+v", out)
	}
	// The session survives.
	if _, out := run(t, cs, "print('after')"); out.Stdout != "after\n" {
		t.Errorf("after the error: %+v", out)
	}
}

func TestRunPythonTimeout(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	run(t, cs, "y = 7")
	res := call(t, cs, ToolRunPython, map[string]any{"code": "import time\ntime.sleep(30)", "timeout_seconds": 1})
	out := structured[RunPythonOutput](t, res)
	if !res.IsError || out.Status != "timeout" {
		t.Fatalf("isError %v, output %+v", res.IsError, out)
	}
	if _, out := run(t, cs, "print(y)"); out.Stdout != "7\n" {
		t.Errorf("after the timeout: %+v", out)
	}
	res = call(t, cs, ToolRunPython, map[string]any{"code": "1", "timeout_seconds": 1e9})
	if !res.IsError || !strings.Contains(textOf(res), "timeout_seconds") {
		t.Errorf("huge timeout: %s", textOf(res))
	}
}

func TestRunPythonImage(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	res := call(t, cs, ToolRunPython, map[string]any{"code": "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('hi')"})
	if res.IsError {
		t.Fatal(textOf(res))
	}
	var imgs []*mcp.ImageContent
	for _, c := range res.Content {
		if ic, ok := c.(*mcp.ImageContent); ok {
			imgs = append(imgs, ic)
		}
	}
	if len(imgs) != 1 || imgs[0].MIMEType != "image/png" {
		t.Fatalf("images %v; text:\n%s", imgs, textOf(res))
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(imgs[0].Data))
	if err != nil || cfg.Width < 100 {
		t.Errorf("png: %v, %+v", err, cfg)
	}
	out := structured[RunPythonOutput](t, res)
	if len(out.Images) != 1 || out.Images[0].Width != cfg.Width || out.Images[0].Omitted {
		t.Errorf("images %+v", out.Images)
	}
	if !strings.Contains(textOf(res), "[image 1:") {
		t.Errorf("text:\n%s", textOf(res))
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	res := call(t, cs, ToolWriteFile, map[string]any{"path": "data/hello.txt", "content": "héllo\n"})
	if res.IsError {
		t.Fatal(textOf(res))
	}
	if w := structured[WriteFileOutput](t, res); w.Size != int64(len("héllo\n")) {
		t.Errorf("write: %+v", w)
	}
	if _, out := run(t, cs, "print(open('data/hello.txt').read(), end='')\nopen('out.bin', 'wb').write(bytes(range(256)))"); out.Stdout != "héllo\n" ||
		len(out.Files) != 1 || out.Files[0].Path != "out.bin" || out.Files[0].Change != "created" || out.Files[0].Size != 256 {
		t.Errorf("python saw %+v", out)
	}

	res = call(t, cs, ToolReadFile, map[string]any{"path": "data/hello.txt"})
	if res.IsError || textOf(res) != "héllo\n" {
		t.Errorf("read text: %v %q", res.IsError, textOf(res))
	}
	if r := structured[ReadFileOutput](t, res); r.Encoding != "utf-8" || r.Content != "héllo\n" {
		t.Errorf("read text: %+v", r)
	}
	res = call(t, cs, ToolReadFile, map[string]any{"path": "out.bin"})
	r := structured[ReadFileOutput](t, res)
	raw, _ := base64.StdEncoding.DecodeString(r.Content)
	if res.IsError || r.Encoding != "base64" || len(raw) != 256 || raw[255] != 255 {
		t.Errorf("read binary: %v %+v", res.IsError, r)
	}

	// Binary in, through base64.
	res = call(t, cs, ToolWriteFile, map[string]any{"path": "in.bin", "content_base64": base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255})})
	if res.IsError {
		t.Fatal(textOf(res))
	}
	if _, out := run(t, cs, "print(list(open('in.bin', 'rb').read()))"); out.Stdout != "[0, 1, 2, 255]\n" {
		t.Errorf("python read %q", out.Stdout)
	}

	res = call(t, cs, ToolListFiles, nil)
	l := structured[ListFilesOutput](t, res)
	var paths []string
	for _, f := range l.Files {
		paths = append(paths, f.Path)
	}
	if !slices.Equal(paths, []string{"data", "data/hello.txt", "in.bin", "out.bin"}) || res.IsError {
		t.Errorf("list: %v\n%s", paths, textOf(res))
	}

	res = call(t, cs, ToolReadFile, map[string]any{"path": "missing.txt"})
	if !res.IsError {
		t.Errorf("reading a missing file: %s", textOf(res))
	}
}

func TestFileLimits(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, func(c *Config) { c.MaxFileBytes = 1000 }))
	res := call(t, cs, ToolWriteFile, map[string]any{"path": "big.txt", "content": strings.Repeat("x", 1001)})
	if !res.IsError || !strings.Contains(textOf(res), "limit") {
		t.Errorf("big write: %s", textOf(res))
	}
	run(t, cs, "open('big.txt', 'w').write('y' * 2000)")
	res = call(t, cs, ToolReadFile, map[string]any{"path": "big.txt"})
	if !res.IsError || !strings.Contains(textOf(res), "limit") {
		t.Errorf("big read: %s", textOf(res))
	}
}

func TestPathEscapes(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	run(t, cs, "import os\nos.symlink('/etc/passwd', 'link')\nos.symlink('/etc', 'etcdir')")
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{ToolReadFile, map[string]any{"path": "../../../etc/passwd"}},
		{ToolReadFile, map[string]any{"path": "/etc/passwd"}},
		{ToolReadFile, map[string]any{"path": "link"}},
		{ToolReadFile, map[string]any{"path": "etcdir/passwd"}},
		{ToolReadFile, map[string]any{"path": ""}},
		{ToolWriteFile, map[string]any{"path": "../evil.txt", "content": "x"}},
		{ToolWriteFile, map[string]any{"path": "/tmp/evil.txt", "content": "x"}},
		{ToolWriteFile, map[string]any{"path": "etcdir/evil.txt", "content": "x"}},
		{ToolWriteFile, map[string]any{"path": "link", "content": "x"}},
	} {
		res := call(t, cs, tc.tool, tc.args)
		text := textOf(res)
		if !res.IsError || strings.Contains(text, "root:") {
			t.Errorf("%s %v was not refused: %s", tc.tool, tc.args, text)
		} else if !strings.Contains(text, "workspace") && !strings.Contains(text, "path") {
			t.Errorf("%s %v: unclear message %q", tc.tool, tc.args, text)
		}
	}
	if _, err := os.Stat("/tmp/evil.txt"); err == nil {
		t.Error("/tmp/evil.txt was written on the host")
	}
}

func TestInstallRefused(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	if srv.cfg.Auto == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("uv is not installed on CI: scripts/setup must install it")
		}
		t.Skip("uv is not installed: run scripts/setup")
	}
	cs := connect(t, srv)
	for _, tc := range []struct {
		pkgs []string
		want string
	}{
		{[]string{"colourama"}, "deny list"},
		{[]string{"humanize", "request"}, "deny list"},
		{[]string{"https://example.com/evil.whl"}, "not a package requirement"},
		{[]string{"--index-url=http://evil/ x"}, "not a package requirement"},
		{[]string{"x; rm -rf /"}, "not a package requirement"},
		{[]string{}, "minItems"},
	} {
		res := call(t, cs, ToolInstallPackages, map[string]any{"packages": tc.pkgs})
		if !res.IsError || !strings.Contains(textOf(res), tc.want) || !strings.Contains(textOf(res), "nothing was installed") && len(tc.pkgs) > 0 {
			t.Errorf("install %q: isError %v, %s", tc.pkgs, res.IsError, textOf(res))
		}
	}
	// Nothing was started for refused installs.
	if n := len(srv.mgr.List()); n != 0 {
		t.Errorf("%d sessions started", n)
	}
}

func TestInstallsOff(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, func(c *Config) { c.Auto = nil }))
	res := call(t, cs, ToolInstallPackages, map[string]any{"packages": []string{"humanize"}})
	if !res.IsError || !strings.Contains(textOf(res), "turned off") {
		t.Errorf("%s", textOf(res))
	}
}

// TestInstallFromPyPI installs a small package from the real index.
func TestInstallFromPyPI(t *testing.T) {
	t.Parallel()
	if testing.Short() || os.Getenv("INTERP_TEST_OFFLINE") == "1" {
		t.Skip("needs PyPI")
	}
	srv := newServer(t, nil)
	if srv.cfg.Auto == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("uv is not installed on CI: scripts/setup must install it")
		}
		t.Skip("uv is not installed: run scripts/setup")
	}
	cs := connect(t, srv)
	// Imported, so installed first.
	text, out := run(t, cs, "import humanize\nprint(humanize.naturalsize(10**9))")
	if out.Stdout != "1.0 GB\n" || len(out.Installed) == 0 || out.Installed[0].Name != "humanize" || !strings.Contains(text, "installed: humanize") {
		t.Errorf("auto install:\n%s", text)
	}
	// Asked for: already there, from the cache.
	res := call(t, cs, ToolInstallPackages, map[string]any{"packages": []string{"humanize"}})
	inst := structured[InstallPackagesOutput](t, res)
	if res.IsError || len(inst.Installed) != 1 || inst.Installed[0].Name != "humanize" || inst.Installed[0].Version == "" {
		t.Errorf("install_packages: %s", textOf(res))
	}
}

func TestRestartSession(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	if res := call(t, cs, ToolRestartSession, nil); res.IsError || !strings.Contains(textOf(res), "new Python session") {
		t.Errorf("first restart: %s", textOf(res))
	}
	run(t, cs, "x = 1\nopen('keep.txt', 'w').write('kept')")
	if res := call(t, cs, ToolRestartSession, nil); res.IsError || !strings.Contains(textOf(res), "Restarted") {
		t.Errorf("restart: %s", textOf(res))
	}
	if _, out := run(t, cs, "print('x' in globals(), open('keep.txt').read())"); out.Stdout != "False kept\n" {
		t.Errorf("after restart: %q", out.Stdout)
	}
}

func TestProcessDeath(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	run(t, cs, "open('f.txt', 'w').write('still here')")
	res := call(t, cs, ToolRunPython, map[string]any{"code": "import os\nos._exit(3)"})
	out := structured[RunPythonOutput](t, res)
	if !res.IsError || out.Status != "died" || !strings.Contains(textOf(res), "restarted") {
		t.Errorf("isError %v, %s", res.IsError, textOf(res))
	}
	if _, out := run(t, cs, "print(open('f.txt').read())"); out.Stdout != "still here\n" {
		t.Errorf("after the death: %+v", out)
	}
}

func TestSeparateClients(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	a, b := connect(t, srv), connect(t, srv)
	run(t, a, "secret = 'a'\nopen('a.txt', 'w').write('a')")
	if _, out := run(t, b, "import os\nprint('secret' in globals(), os.path.exists('a.txt'))"); out.Stdout != "False False\n" {
		t.Errorf("b sees a's state: %q", out.Stdout)
	}
	if res := call(t, b, ToolReadFile, map[string]any{"path": "a.txt"}); !res.IsError {
		t.Errorf("b read a's file: %s", textOf(res))
	}
	if n := len(srv.mgr.List()); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
	// A client that goes away takes its session with it.
	a.Close()
	waitFor(t, func() bool { return len(srv.mgr.List()) == 1 }, "a's session to close")
	if _, out := run(t, b, "print(1)"); out.Stdout != "1\n" {
		t.Errorf("b after a left: %+v", out)
	}
}

func TestIdleSessionReplaced(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	cs := connect(t, srv)
	run(t, cs, "x = 1")
	waitFor(t, func() bool { return len(srv.mgr.List()) == 0 }, "the idle session to be reaped")
	text, out := run(t, cs, "print('x' in globals())")
	if out.Stdout != "False\n" || !strings.Contains(text, "idle") {
		t.Errorf("after idling:\n%s", text)
	}
}

func TestCloseEndsSessions(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	cs := connect(t, srv)
	done := make(chan *mcp.CallToolResult, 1)
	run(t, cs, "1")
	go func() {
		res, _ := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: ToolRunPython, Arguments: map[string]any{"code": "import time\ntime.sleep(60)"}})
		done <- res
	}()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	srv.Close()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %s", d)
	}
	if n := len(srv.mgr.List()); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("the running call did not end")
	}
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bearer adds a token to every request.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func TestStreamableHTTP(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(c *Config) { c.AuthToken = "s3cret" })
	ts := httptest.NewServer(srv.HTTPHandler())
	t.Cleanup(ts.Close)
	// Before ts.Close, which waits for the clients' open streams.
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()

	// Without the token: refused.
	resp, err := http.Post(ts.URL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d", resp.StatusCode)
	}

	connectHTTP := func() *mcp.ClientSession {
		client := mcp.NewClient(&mcp.Implementation{Name: "http-test", Version: "1"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint: ts.URL, HTTPClient: &http.Client{Transport: bearer{"s3cret"}}, MaxRetries: -1,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	a, b := connectHTTP(), connectHTTP()
	run(t, a, "n = 20")
	if _, out := run(t, a, "n + 1"); !slices.Equal(out.Results, []string{"21"}) {
		t.Errorf("state over HTTP: %+v", out)
	}
	if _, out := run(t, b, "print('n' in globals())"); out.Stdout != "False\n" {
		t.Errorf("second HTTP client: %+v", out)
	}
	res := call(t, a, ToolRunPython, map[string]any{"code": "import matplotlib.pyplot as plt\nplt.plot([1, 2])"})
	if n := slices.IndexFunc(res.Content, func(c mcp.Content) bool { _, ok := c.(*mcp.ImageContent); return ok }); n < 0 {
		t.Errorf("no image over HTTP: %s", textOf(res))
	}
	if n := len(srv.mgr.List()); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
	// Closing the client deletes its MCP session, and so its Python one.
	a.Close()
	waitFor(t, func() bool { return len(srv.mgr.List()) == 1 }, "the HTTP client's session to close")
}

func TestStdio(t *testing.T) {
	t.Parallel()
	backend(t) // skips where this host cannot sandbox
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), stdioEnv+"="+stateDir(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr.String())
	}
	run(t, cs, "import sys\nv = sys.version_info.major")
	if _, out := run(t, cs, "print(v)"); out.Stdout != "3\n" {
		t.Errorf("stdio: %+v", out)
	}
	res := call(t, cs, ToolWriteFile, map[string]any{"path": "a.txt", "content": "over stdio"})
	if res.IsError {
		t.Error(textOf(res))
	}
	if res := call(t, cs, ToolReadFile, map[string]any{"path": "a.txt"}); textOf(res) != "over stdio" {
		t.Errorf("read: %s", textOf(res))
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v; stderr:\n%s", err, stderr.String())
	}
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Errorf("server process: %v; stderr:\n%s", cmd.ProcessState, stderr.String())
	}
}

// TestHistory records an MCP session's calls as one conversation, with its
// cells, output and files, closed when the MCP session ends.
func TestHistory(t *testing.T) {
	t.Parallel()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "history.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := newServer(t, func(c *Config) { c.History = st })
	cs := connect(t, srv)
	run(t, cs, "x = 6 * 7")
	run(t, cs, "print(x); open('out.txt', 'w').write('made by MCP')")
	if res := call(t, cs, "run_python", map[string]any{"code": "1/0"}); !res.IsError && !strings.Contains(textOf(res), "ZeroDivisionError") {
		t.Fatalf("1/0: %s", textOf(res))
	}
	cs.Close()

	var conv *store.Conversation
	waitFor(t, func() bool {
		list, err := st.ListConversations(context.Background(), 10, 0)
		if err != nil || len(list) != 1 || list[0].Cells != 3 {
			return false
		}
		conv, err = st.GetConversation(context.Background(), list[0].ID)
		return err == nil && len(conv.Cells) == 3 && conv.Cells[2].Status != ""
	}, "the MCP session's conversation in the history")
	if conv.Kind != store.KindExec || conv.Title != "MCP: test" {
		t.Errorf("conversation kind %q, title %q", conv.Kind, conv.Title)
	}
	if c := conv.Cells; c[0].Code != "x = 6 * 7" || c[0].Status != event.StatusOK || c[2].Status != event.StatusError {
		t.Errorf("cells: %+v", c)
	}
	var printed, file bool
	for _, ev := range conv.Events {
		printed = printed || strings.Contains(ev.Text, "42")
	}
	for _, f := range conv.Files {
		file = file || f.Path == "out.txt"
	}
	if !printed || !file {
		t.Errorf("recorded output %v, file %v: %+v", printed, file, conv)
	}
}
