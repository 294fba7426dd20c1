package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if code, out, _ := interp(t, "", "cache", "info"); code != exitOK || !strings.Contains(out, cache) || !strings.Contains(out, "58.6 KiB") {
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
	if code, out, _ := interp(t, "", "cache", "info"); code != exitOK || !strings.Contains(out, "9.8 KiB in 2 packages, 1 in use by sessions") {
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
	os.WriteFile(cfg, []byte("cache: {max_size: huge}\n"), 0o644)
	if code, _, errOut := interp(t, "", "cache", "prune"); code != exitUsage || !strings.Contains(errOut, "cache.max_size") {
		t.Errorf("a bad cache.max_size: exit %d, %q", code, errOut)
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
