package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSettingsBadValues: every command reads its settings the same way,
// and a bad value, from a flag, the environment or the config file, is a
// usage error of one line naming where it came from, before anything
// starts.
func TestSettingsBadValues(t *testing.T) {
	adminEnv(t)
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("limits: {memory: lots}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args   []string
		env    map[string]string
		source string
	}{
		{args: []string{"exec", "--memory", "lots", "-"}, source: `--memory "lots": want a size`},
		{args: []string{"exec", "--timeout", "-1s", "-"}, source: `--timeout "-1s": want a positive duration`},
		{args: []string{"exec", "-"}, env: map[string]string{"INTERP_CELL_TIMEOUT": "soon"}, source: `INTERP_CELL_TIMEOUT "soon"`},
		{args: []string{"exec", "-"}, env: map[string]string{"INTERP_CONFIG": file}, source: file + `: limits.memory "lots"`},
		{args: []string{"run", "--memory", "0", "task"}, source: `--memory "0"`},
		{args: []string{"eval", "--memory", "lots", "eval/suite.jsonl"}, source: `--memory "lots"`},
		{args: []string{"mcp", "--max-sessions", "0"}, source: `--max-sessions "0": want a whole number of at least 1`},
		{args: []string{"mcp", "--pool", "-1"}, source: `--pool "-1": want a whole number of at least 0`},
		{args: []string{"mcp"}, env: map[string]string{"INTERP_MCP_IDLE_TIMEOUT": "-1s"}, source: `INTERP_MCP_IDLE_TIMEOUT "-1s"`},
		{args: []string{"serve", "--pool", "0"}, source: `--pool "0": want a whole number of at least 1, or -1`},
		{args: []string{"serve"}, env: map[string]string{"INTERP_SERVER_MAX_BODY": "big"}, source: `INTERP_SERVER_MAX_BODY "big"`},
		{args: []string{"repl"}, env: map[string]string{"INTERP_MEMORY": "-5"}, source: `INTERP_MEMORY "-5"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			t.Chdir(filepath.Join(pkgDir, "..", ".."))
			code, _, errOut := interp(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.source) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want %d and one line with %q", code, errOut, exitUsage, tt.source)
			}
		})
	}
}

// TestSettingsReachCommands: a setting from the environment or the config
// file reaches the command, and a flag wins over both.
func TestSettingsReachCommands(t *testing.T) {
	adminEnv(t)
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("limits: {cell_timeout: 1s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("INTERP_CONFIG", file)
	slow := "import time\ntime.sleep(3)\nprint('slept')\n"
	// From the file: the cell runs over its second.
	if code, out, errOut := interp(t, slow, "exec", "--no-install", "-"); code != exitTimeout {
		t.Errorf("limits.cell_timeout 1s: exit %d, %q %q; want a timeout (%d)", code, out, errOut, exitTimeout)
	}
	// The environment wins over the file, the flag over both.
	t.Setenv("INTERP_CELL_TIMEOUT", "1m")
	if code, out, errOut := interp(t, slow, "exec", "--no-install", "-"); code != exitOK || !strings.Contains(out, "slept") {
		t.Errorf("INTERP_CELL_TIMEOUT 1m: exit %d, %q %q", code, out, errOut)
	}
	if code, _, _ := interp(t, slow, "exec", "--no-install", "--timeout", "1s", "-"); code != exitTimeout {
		t.Errorf("--timeout 1s over INTERP_CELL_TIMEOUT: exit %d, want %d", code, exitTimeout)
	}
}

// TestSettingsMovedBadValues: the settings that were read outside
// config.Table (history.*, cache.*, local.*, --no-history,
// --unsafe-no-sandbox) refuse a bad value from a flag, the environment or
// the config file in one line naming its source, before anything starts.
func TestSettingsMovedBadValues(t *testing.T) {
	adminEnv(t)
	for _, tt := range []struct {
		args   []string
		env    map[string]string
		file   string
		source string
	}{
		{args: []string{"--no-history=maybe", "exec", "-"}, source: `--no-history "maybe": want true or false`},
		{args: []string{"history", "list"}, env: map[string]string{"INTERP_NO_HISTORY": "maybe"}, source: `INTERP_NO_HISTORY "maybe"`},
		{args: []string{"history", "list"}, file: "history: {disabled: maybe}\n", source: `history.disabled "maybe"`},
		{args: []string{"--unsafe-no-sandbox=perhaps", "exec", "-"}, source: `--unsafe-no-sandbox "perhaps": want true or false`},
		{args: []string{"exec", "-"}, env: map[string]string{"INTERP_UNSAFE_NO_SANDBOX": "perhaps"}, source: `INTERP_UNSAFE_NO_SANDBOX "perhaps"`},
		{args: []string{"exec", "-"}, file: "unsafe_no_sandbox: perhaps\n", source: `unsafe_no_sandbox "perhaps"`},
		{args: []string{"history", "prune", "--older-than", "soon"}, source: `--older-than "soon": want a duration`},
		{args: []string{"history", "list"}, env: map[string]string{"INTERP_HISTORY_MAX_AGE": "-1h"}, source: `INTERP_HISTORY_MAX_AGE "-1h": want a duration of 0 or more`},
		{args: []string{"history", "list"}, file: "history: {max_age: soon}\n", source: `history.max_age "soon"`},
		{args: []string{"history", "prune", "--max-size", "big"}, source: `--max-size "big": want a size`},
		{args: []string{"history", "list"}, env: map[string]string{"INTERP_HISTORY_MAX_SIZE": "big"}, source: `INTERP_HISTORY_MAX_SIZE "big"`},
		{args: []string{"history", "list"}, file: "history: {max_size: big}\n", source: `history.max_size "big"`},
		{args: []string{"cache", "prune", "--max-size", "lots"}, source: `--max-size "lots": want a size`},
		{args: []string{"cache", "info"}, env: map[string]string{"INTERP_CACHE_MAX_SIZE": "0"}, source: `INTERP_CACHE_MAX_SIZE "0"`},
		{args: []string{"cache", "prune"}, file: "cache: {max_size: huge}\n", source: `cache.max_size "huge"`},
		{args: []string{"cache", "prune", "--store-max-size", "lots"}, source: `--store-max-size "lots"`},
		{args: []string{"cache", "prune"}, env: map[string]string{"INTERP_STORE_MAX_SIZE": "lots"}, source: `INTERP_STORE_MAX_SIZE "lots"`},
		{args: []string{"cache", "prune", "--max-age", "soon"}, source: `--max-age "soon": want a duration`},
		{args: []string{"cache", "prune"}, env: map[string]string{"INTERP_CACHE_MAX_AGE": "0"}, source: `INTERP_CACHE_MAX_AGE "0": want a positive duration`},
		{args: []string{"models", "serve", "--threads", "many"}, source: `--threads "many": want a whole number`},
		{args: []string{"models", "serve", "--context-size", "0"}, source: `--context-size "0": want a whole number of at least 1`},
		{args: []string{"run", "task"}, env: map[string]string{"INTERP_LOCAL_THREADS": "-2"}, source: `INTERP_LOCAL_THREADS "-2"`},
		{args: []string{"run", "task"}, env: map[string]string{"INTERP_LOCAL_IDLE_TIMEOUT": "later"}, source: `INTERP_LOCAL_IDLE_TIMEOUT "later"`},
		{args: []string{"run", "task"}, file: "local: {context_size: wide}\n", source: `local.context_size "wide"`},
		{args: []string{"run", "--yes=perhaps", "task"}, source: `--yes "perhaps": want true or false`},
		{args: []string{"run", "task"}, env: map[string]string{"INTERP_YES": "perhaps"}, source: `INTERP_YES "perhaps"`},
		{args: []string{"run", "task"}, file: "vision: maybe\n", source: `vision "maybe": want true or false`},
		{args: []string{"run", "task"}, env: map[string]string{"INTERP_NO_TOOLS": "maybe"}, source: `INTERP_NO_TOOLS "maybe"`},
		{args: []string{"eval", "--small-model", "maybe", filepath.Join(pkgDir, "..", "..", "eval", "suite.jsonl")}, source: `--small-model "maybe": want on or off`},
		{args: []string{"run", "task"}, file: "small_model: sometimes\n", source: `small_model "sometimes": want on or off`},
	} {
		t.Run(strings.Join(tt.args, " ")+fmt.Sprint(tt.env)+tt.file, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.file != "" {
				file := filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(file, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("INTERP_CONFIG", file)
				tt.source = file + ": " + tt.source
			}
			code, _, errOut := interp(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.source) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want %d and one line with %q", code, errOut, exitUsage, tt.source)
			}
		})
	}
}

// TestNoHistoryAndUnsafeReachCommands: history.disabled and
// unsafe_no_sandbox reach the commands from each source, and a flag wins.
func TestNoHistoryAndUnsafeReachCommands(t *testing.T) {
	adminEnv(t)
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		file string
		off  bool
	}{
		{name: "flag", args: []string{"--no-history"}, off: true},
		{name: "flag after the command", args: []string{"--no-history=true"}, off: true},
		{name: "env", env: map[string]string{"INTERP_NO_HISTORY": "1"}, off: true},
		{name: "file", file: "history: {disabled: true}\n", off: true},
		{name: "flag over env", args: []string{"--no-history=false"}, env: map[string]string{"INTERP_NO_HISTORY": "1"}},
		{name: "env over file", env: map[string]string{"INTERP_NO_HISTORY": "0"}, file: "history: {disabled: true}\n"},
		{name: "default"},
	} {
		t.Run("history "+tt.name, func(t *testing.T) {
			settingSources(t, tt.env, tt.file)
			code, _, errOut := interp(t, "", append([]string{"history", "list"}, tt.args...)...)
			if off := code == exitUsage && strings.Contains(errOut, "history is off"); off != tt.off || (!off && code != exitOK) {
				t.Errorf("history list: exit %d, %q; want history off: %v", code, errOut, tt.off)
			}
		})
	}
	for _, tt := range []struct {
		name   string
		args   []string
		env    map[string]string
		file   string
		unsafe bool
	}{
		{name: "flag", args: []string{"--unsafe-no-sandbox"}, unsafe: true},
		{name: "env", env: map[string]string{"INTERP_UNSAFE_NO_SANDBOX": "1"}, unsafe: true},
		{name: "file", file: "unsafe_no_sandbox: true\n", unsafe: true},
		{name: "flag over env", args: []string{"--unsafe-no-sandbox=false"}, env: map[string]string{"INTERP_UNSAFE_NO_SANDBOX": "true"}},
	} {
		t.Run("unsafe "+tt.name, func(t *testing.T) {
			settingSources(t, tt.env, tt.file)
			_, out, errOut := interp(t, "", append([]string{"doctor", "--json"}, tt.args...)...)
			var fs []finding
			if err := json.Unmarshal([]byte(out), &fs); err != nil {
				t.Fatalf("doctor --json: %v\n%s%s", err, out, errOut)
			}
			for _, f := range fs {
				if f.Area+"/"+f.Check != "sandbox/start" {
					continue
				}
				if unsafe := f.Status == statusWarn && strings.Contains(f.Detail, "no isolation"); unsafe != tt.unsafe {
					t.Errorf("sandbox/start %s %q; want the unsafe mode: %v", f.Status, f.Detail, tt.unsafe)
				}
			}
		})
	}
}

// TestHistoryRetentionReachesCommands: history.max_age prunes the
// history whenever a command opens it, from the file or the environment,
// and is history prune's --older-than.
func TestHistoryRetentionReachesCommands(t *testing.T) {
	adminEnv(t)
	t.Setenv("INTERP_HISTORY", filepath.Join(t.TempDir(), "history.db"))
	count := func() int {
		t.Helper()
		code, out, errOut := interp(t, "", "history", "list", "--json")
		var convs []json.RawMessage
		if code != exitOK || json.Unmarshal([]byte(out), &convs) != nil {
			t.Fatalf("history list --json: exit %d\n%s%s", code, out, errOut)
		}
		return len(convs)
	}
	record := func() {
		t.Helper()
		if code, out, errOut := interp(t, "print(1)\n", "exec", "--no-install", "-"); code != exitOK {
			t.Fatalf("exec: exit %d\n%s%s", code, out, errOut)
		}
	}
	record()
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("history: {max_age: 1ns}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("INTERP_CONFIG", file)
	t.Setenv("INTERP_HISTORY_MAX_AGE", "0") // the environment keeps them, over the file
	if n := count(); n != 1 {
		t.Fatalf("INTERP_HISTORY_MAX_AGE=0 over the file: %d conversations, want 1", n)
	}
	t.Setenv("INTERP_HISTORY_MAX_AGE", "")
	if n := count(); n != 0 {
		t.Errorf("history.max_age 1ns in the file: %d conversations left, want 0", n)
	}
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	record()
	if code, out, errOut := interp(t, "", "history", "prune"); code != exitUsage || !strings.Contains(errOut, "--older-than") {
		t.Errorf("history prune with nothing set: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := interp(t, "", "history", "prune", "--older-than", "1ns"); code != exitOK || !strings.Contains(out, "Conversations:1") {
		t.Errorf("history prune --older-than 1ns: exit %d\n%s%s", code, out, errOut)
	}
	if n := count(); n != 0 {
		t.Errorf("after history prune --older-than 1ns: %d conversations, want 0", n)
	}
}

// TestCacheSettingsReachCommands: cache.dir and cache.max_size from the
// environment and the file reach interp cache.
func TestCacheSettingsReachCommands(t *testing.T) {
	adminEnv(t)
	root := t.TempDir()
	cache := filepath.Join(root, "cache-from-file")
	t.Setenv("INTERP_CACHE_DIR", "")
	t.Setenv("INTERP_STORE_DIR", filepath.Join(root, "store"))
	settingSources(t, nil, "cache: {dir: "+cache+"}\n")
	for i, size := range []int{30000, 20000} { // oldest first
		p := filepath.Join(cache, "archive-v0", string(rune('a'+i)))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "f"), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-time.Duration(2-i) * time.Hour)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, errOut := interp(t, "", "cache", "info"); code != exitOK || !strings.Contains(out, cache) || !strings.Contains(out, "in 2 entries") {
		t.Errorf("cache info with cache.dir in the file: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("INTERP_CACHE_MAX_SIZE", "25KiB")
	if code, out, errOut := interp(t, "", "cache", "prune"); code != exitOK || !strings.Contains(out, "removed 1 entries") {
		t.Errorf("cache prune with INTERP_CACHE_MAX_SIZE 25KiB: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(cache, "archive-v0", "a")); err == nil {
		t.Error("the oldest entry survived INTERP_CACHE_MAX_SIZE")
	}
}

// TestLocalSettings: local.* reach the llama-server's configuration from
// the file, the environment and models serve's flags.
func TestLocalSettings(t *testing.T) {
	adminEnv(t)
	settingSources(t, map[string]string{"INTERP_LOCAL_SERVER": "/opt/llama/llama-server", "INTERP_LOCAL_THREADS": "3"},
		"local: {idle_timeout: 0, threads: 1, context_size: 2048}\n")
	g := &globalFlags{}
	g.cmd = newModelsServeCmd(g)
	if err := g.cmd.ParseFlags([]string{"--context-size", "4096"}); err != nil {
		t.Fatal(err)
	}
	s, err := g.settings()
	if err != nil {
		t.Fatal(err)
	}
	got := g.localConfig(s)
	if got.Binary != "/opt/llama/llama-server" || got.Threads != 3 || got.ContextSize != 4096 || got.IdleTimeout >= 0 {
		t.Errorf("llama-server config %+v; want the environment's program and threads, the flag's context size, and 0 as never (negative)", got)
	}
}

// settingSources sets the environment and writes the config file (none
// when file is "") for one case.
func settingSources(t *testing.T, env map[string]string, file string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if file != "" {
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("INTERP_CONFIG", path)
}
