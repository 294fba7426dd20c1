package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/session"
)

// TestCacheInfoPrune runs interp cache info and prune on a real cache
// directory, with the size budget taken from the config file, then a flag.
func TestCacheInfoPrune(t *testing.T) {
	root := t.TempDir()
	cache := filepath.Join(root, "uv-cache")
	t.Setenv("INTERP_CACHE_DIR", cache)
	cfg := filepath.Join(root, "config.yaml")
	os.WriteFile(cfg, []byte("cache: {max_size: 40KiB, max_age: 720h}\n"), 0o644)
	t.Setenv("INTERP_CONFIG", cfg)
	for i, size := range []int{30000, 20000, 10000} { // oldest first
		p := filepath.Join(cache, "archive-v0", string(rune('a'+i)))
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "f"), make([]byte, size), 0o644)
		when := time.Now().Add(-time.Duration(3-i) * time.Hour)
		os.Chtimes(p, when, when)
	}

	code, out, errOut := interp(t, "", "cache", "info", "--json")
	var info struct {
		Dir     string
		Bytes   int64
		Entries int
	}
	if code != exitOK || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("cache info --json: exit %d\n%s\n%s", code, out, errOut)
	}
	if info.Dir != cache || info.Bytes != 60000 || info.Entries != 3 {
		t.Errorf("cache info %+v, want %s with 60000 bytes in 3 entries", info, cache)
	}
	if code, out, _ := interp(t, "", "cache", "info"); code != exitOK || !strings.Contains(out, cache) ||
		!strings.Contains(out, "58.6 KiB in 3 entries, the oldest from ") || !strings.Contains(out, "budget 40.0 KiB, and entries older than 30 days go") {
		t.Errorf("cache info: exit %d\n%s", code, out)
	}

	// The configured 40KiB budget: the oldest entry (30000 bytes) goes.
	code, out, errOut = interp(t, "", "cache", "prune")
	if code != exitOK || !strings.Contains(out, "removed 1 entries") {
		t.Errorf("cache prune: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(cache, "archive-v0", "a")); err == nil {
		t.Error("the oldest entry survived the configured budget")
	}
	// A flag overrides the config.
	code, out, errOut = interp(t, "", "cache", "prune", "--max-size", "15KiB", "--json")
	var res struct {
		Removed int   `json:"removed"`
		Freed   int64 `json:"freed_bytes"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || res.Removed != 1 || res.Freed < 20000 {
		t.Errorf("cache prune --max-size 15KiB: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(cache, "archive-v0", "c")); err != nil {
		t.Errorf("the newest entry went: %v", err)
	}

	// The store: an entry no session uses goes; one a session links to stays.
	store := filepath.Join(root, "store")
	t.Setenv("INTERP_STORE_DIR", store)
	for i, name := range []string{"unused-1.0", "used-2.0"} {
		di := filepath.Join(store, "entries", strings.Repeat(string(rune('a'+i)), 64), name+".dist-info")
		os.MkdirAll(di, 0o755)
		os.WriteFile(filepath.Join(di, "INTERP_STORE"), make([]byte, 5000), 0o444)
	}
	site := filepath.Join(root, "site")
	os.Mkdir(site, 0o755)
	if err := os.Link(filepath.Join(store, "entries", strings.Repeat("b", 64), "used-2.0.dist-info", "INTERP_STORE"), filepath.Join(site, "INTERP_STORE")); err != nil {
		t.Fatal(err)
	}
	// Each stored package on a line, least recently used (the first to go) first.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(store, "entries", strings.Repeat("b", 64)), old, old)
	code, out, _ = interp(t, "", "cache", "info")
	lines := strings.Split(out, "\n")
	if code != exitOK || !strings.Contains(out, "9.8 KiB in 2 packages, 1 in use by sessions, 0 prewarmed; budget 20.0 GiB") ||
		len(lines) < 7 || !strings.HasPrefix(strings.Join(strings.Fields(lines[5]), " "), "used-2.0 4.9 KiB "+old.Format(time.DateOnly)) ||
		!strings.HasSuffix(strings.TrimSpace(lines[5]), " 1") || !strings.HasPrefix(strings.TrimSpace(lines[6]), "unused-1.0 ") {
		t.Errorf("cache info with a store: exit %d\n%s", code, out)
	}
	code, out, errOut = interp(t, "", "cache", "prune", "--store-max-size", "1KiB")
	if code != exitOK || !strings.Contains(out, "removed 1 stored packages") {
		t.Errorf("cache prune --store-max-size 1KiB: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(store, "entries", strings.Repeat("b", 64))); err != nil {
		t.Errorf("a stored package a session uses was pruned: %v", err)
	}

	for _, args := range [][]string{{"cache", "prune", "--max-size", "lots"}, {"cache", "prune", "--store-max-size", "lots"}, {"cache", "prune", "--max-age", "soon"}} {
		if code, _, errOut := interp(t, "", args...); code != exitUsage || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	// A bad size in the config: one line naming the key, for every command that reads it.
	for _, tt := range []struct{ config, key string }{
		{"cache: {max_size: huge}\n", "cache.max_size"},
		{"cache: {store_max_size: 12 parsecs}\n", "cache.store_max_size"},
		{"cache: {max_age: forever}\n", "cache.max_age"},
	} {
		os.WriteFile(cfg, []byte(tt.config), 0o644)
		for _, args := range [][]string{{"cache", "prune"}, {"cache", "info"}, {"exec", "-"}} {
			if code, _, errOut := interp(t, "print(1)", args...); code != exitUsage || !strings.Contains(errOut, tt.key) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("%s: %v: exit %d, %q", tt.key, args, code, errOut)
			}
		}
	}
}

// TestTorchIndexConfig: a torch index that is neither cpu nor a URL is
// refused in one line, before anything runs.
func TestTorchIndexConfig(t *testing.T) {
	root := t.TempDir()
	cfg := filepath.Join(root, "config.yaml")
	os.WriteFile(cfg, []byte("install: {torch_index: \"ftp://mirror\"}\n"), 0o644)
	t.Setenv("INTERP_CONFIG", cfg)
	script := filepath.Join(root, "x.py")
	os.WriteFile(script, []byte("print(1)\n"), 0o644)
	code, out, errOut := interp(t, "", "exec", script)
	if code != exitUsage || out != "" || !strings.Contains(errOut, "install.torch_index") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestCachePrewarm: interp cache prewarm fills the store from the
// configured list and says what it stored; a later session that imports
// the package gets it linked from the store with no request to the index;
// prune keeps it; --replace forgets it, and prune may then take it.
func TestCachePrewarm(t *testing.T) {
	root := installEnv(t)
	idx := pypitest.NewIndex(t,
		pypitest.Package{Name: "tinypkg", Version: "1.0", Modules: map[string]string{"tinypkg/__init__.py": "from tinydep import BASE\nVALUE = BASE + 41\n"}, Requires: []string{"tinydep"}},
		pypitest.Package{Name: "tinydep", Version: "1.2", Modules: map[string]string{"tinydep.py": "BASE = 1\n"}},
		pypitest.Package{Name: "tinymod", Version: "1.0", Modules: map[string]string{"tinymod/__init__.py": "X = 7\n"}})
	t.Setenv("INTERP_INDEX_URL", idx.URL())
	cfg := os.Getenv("INTERP_CONFIG")

	if code, _, errOut := interp(t, "", "cache", "prewarm"); code != exitUsage || !strings.Contains(errOut, "install.prewarm in "+cfg) {
		t.Errorf("nothing to prewarm: exit %d, %q", code, errOut)
	}
	if code, _, errOut := interp(t, "", "cache", "prewarm", "tinypkg; rm -rf /"); code != exitUsage || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Errorf("a bad requirement: exit %d, %q", code, errOut)
	}

	os.WriteFile(cfg, []byte("install: {prewarm: [tinypkg]}\n"), 0o644)
	code, out, errOut := interp(t, "", "cache", "prewarm")
	if code != exitOK || !strings.Contains(out, "prewarmed 2 packages, ") || !strings.Contains(out, "tinypkg-1.0") || !strings.Contains(out, "tinydep-1.2") ||
		!strings.Contains(errOut, "installed tinypkg 1.0") {
		t.Fatalf("cache prewarm: exit %d\n%s\n%s", code, out, errOut)
	}
	requests := len(idx.Requests())

	code, out, errOut = interp(t, "import tinypkg\nprint(tinypkg.VALUE)\n", "exec", "--json", "-")
	var installed []string
	for _, l := range strings.Split(out, "\n") {
		var ev struct{ Type, Phase, Package, Message, Text string }
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Type == "install" {
			installed = append(installed, ev.Phase+" "+ev.Package+": "+ev.Message)
		}
	}
	if code != exitOK || !strings.Contains(out, `"text":"42\n"`) || strings.Join(installed, "|") != "installed tinypkg: "+deps.PrewarmedMessage {
		t.Errorf("exec after prewarm: exit %d, install events %q\n%s\n%s", code, installed, out, errOut)
	}
	if n := len(idx.Requests()); n != requests {
		t.Errorf("the session's install asked the index %d times", n-requests)
	}

	code, out, _ = interp(t, "", "cache", "info")
	if code != exitOK || !strings.Contains(out, "2 prewarmed") || !regexp.MustCompile(`tinypkg-1\.0 .* 0  prewarmed\n`).MatchString(out) {
		t.Errorf("cache info after prewarm: exit %d\n%s", code, out)
	}
	if code, out, _ := interp(t, "", "cache", "prune", "--store-max-size", "1B"); code != exitOK || !strings.Contains(out, "removed 0 stored packages") {
		t.Errorf("prune with prewarmed packages: exit %d\n%s", code, out)
	}

	// --replace: only tinymod stays prewarmed; tinypkg can go.
	code, out, errOut = interp(t, "", "cache", "prewarm", "--replace", "--json", "tinymod")
	var res struct {
		Prewarmed []struct{ Name string }
	}
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || len(res.Prewarmed) != 1 || res.Prewarmed[0].Name != "tinymod-1.0" {
		t.Errorf("prewarm --replace tinymod: exit %d\n%s\n%s", code, out, errOut)
	}
	// A live session linking tinypkg and tinydep: prune keeps them, and
	// the session can still import them after.
	rt, _ := python.Find("")
	m, err := deps.LoadMap()
	if err != nil {
		t.Fatal(err)
	}
	k, err := session.Start(context.Background(), session.Config{Backend: sandboxtest.Backend(t), Runtime: rt, StateDir: root})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	in := &deps.Installer{UV: rt.UV, Python: rt.Executable, BaseLock: rt.BaseLock(), CacheDir: filepath.Join(root, "uv-cache"), IndexURL: idx.URL(), Map: m,
		Store: &deps.Store{Dir: filepath.Join(root, "store")}}
	if err := in.Install(context.Background(), k.SiteDir(), []deps.Requirement{{Name: "tinypkg"}}, nil); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := interp(t, "", "cache", "prune", "--store-max-size", "1B"); code != exitOK || !strings.Contains(out, "removed 0 stored packages") {
		t.Errorf("prune while a session uses tinypkg: exit %d\n%s", code, out)
	}
	var printed strings.Builder
	if _, err := k.Execute(context.Background(), "import tinypkg; print(tinypkg.VALUE)", session.ExecOptions{}, func(ev session.Event) { printed.WriteString(ev.Text) }); err != nil || printed.String() != "42\n" {
		t.Errorf("the live session after prune: %q, %v", printed.String(), err)
	}
	k.Close()
	if code, out, _ := interp(t, "", "cache", "prune", "--store-max-size", "1B"); code != exitOK || !strings.Contains(out, "removed 2 stored packages") {
		t.Errorf("prune after --replace and the session's end: exit %d\n%s", code, out)
	}
}

// TestServeAndMCPPrewarm: interp serve and interp mcp prewarm
// install.prewarm at start, in the background, and a session started
// after that has the package at once: its first cell imports it with no
// install event.
func TestServeAndMCPPrewarm(t *testing.T) {
	root := installEnv(t)
	idx := pypitest.NewIndex(t, pypitest.Package{Name: "warmpkg", Version: "1.0", Modules: map[string]string{"warmpkg/__init__.py": "X = 42\n"}})
	t.Setenv("INTERP_INDEX_URL", idx.URL())
	os.WriteFile(os.Getenv("INTERP_CONFIG"), []byte("install: {prewarm: [warmpkg]}\n"), 0o644)
	const code = "import warmpkg\nprint(warmpkg.X)\n"
	for _, name := range []string{"serve", "mcp"} {
		t.Run(name, func(t *testing.T) {
			dir := installDirs(t, root, name)
			// The server prewarms in the background: wait for it.
			prewarmed := func() {
				store := &deps.Store{Dir: filepath.Join(dir, "store")}
				for i := 0; ; i++ {
					st, _ := store.Info(context.Background())
					if len(st.Entries) == 1 && st.Entries[0].Pinned {
						return
					}
					if i == 600 {
						t.Fatalf("%s did not prewarm warmpkg in a minute: %+v", name, st)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			var stdout string
			var installs []string
			if name == "serve" {
				for _, ev := range serveStream(t, code, prewarmed) {
					switch ev.Type {
					case "stdout":
						stdout += ev.Text
					case "install":
						installs = append(installs, ev.Phase+" "+ev.Package)
					}
				}
			} else {
				out := mcpRunPython(t, code, prewarmed)
				stdout = out.Stdout
				for _, p := range out.Installed {
					installs = append(installs, p.Name)
				}
			}
			if stdout != "42\n" || len(installs) != 0 {
				t.Errorf("%s: stdout %q, installs %q: want 42 and no install", name, stdout, installs)
			}
		})
	}
}

// needUV skips where uv is missing, except on CI.
func needUV(t *testing.T) {
	t.Helper()
	if rt, err := python.Find(""); err != nil || rt.UV == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("uv missing on CI")
		}
		t.Skip("uv is not installed: run scripts/setup")
	}
}

// installEnv readies a test that installs packages with the CLI: a
// sandbox and uv, and a root directory under /var/tmp (uv runs as nobody,
// who cannot enter a test's temporary directory) holding the config file
// ($INTERP_CONFIG, empty), the package cache, the store and the history;
// no model is configured.
func installEnv(t *testing.T) string {
	t.Helper()
	needSandbox(t)
	needUV(t)
	root, err := os.MkdirTemp("/var/tmp", "interp-test-install-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	t.Setenv("INTERP_CONFIG", filepath.Join(root, "config.yaml"))
	for _, k := range []string{"OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OLLAMA_HOST", "INTERP_PROVIDER", "INTERP_MODEL", "INTERP_BLOB_DIR"} {
		t.Setenv(k, "")
	}
	installDirs(t, root, ".")
	return root
}

// installDirs points the package cache, the store and the history into
// root/name, and returns that directory.
func installDirs(t *testing.T, root, name string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	os.MkdirAll(dir, 0o755)
	t.Setenv("INTERP_CACHE_DIR", filepath.Join(dir, "uv-cache"))
	t.Setenv("INTERP_STORE_DIR", filepath.Join(dir, "store"))
	t.Setenv("INTERP_HISTORY", filepath.Join(dir, "history.db"))
	return dir
}
