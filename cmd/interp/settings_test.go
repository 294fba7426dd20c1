package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
