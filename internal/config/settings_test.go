package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sample returns a valid value of st other than its default, and another.
func sample(st Setting) (string, string) {
	switch st.kind {
	case count, countNone, number:
		return "7", "9"
	case size, sizeNone:
		return "3MiB", "5MiB"
	case duration, durationZero:
		return "7s", "9s"
	case boolean:
		return "true", "false"
	case onOff:
		return "on", "off"
	}
	return "value-a", "value-b"
}

// bad returns a value st refuses.
func bad(st Setting) string {
	switch st.kind {
	case count, countNone, number:
		return "many"
	case size, sizeNone:
		return "big"
	case duration, durationZero:
		return "soon"
	case boolean, onOff:
		return "maybe"
	}
	return ""
}

// fileFor writes a config file setting key to v.
func fileFor(t *testing.T, key, v string) string {
	t.Helper()
	parts := strings.Split(key, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i < len(parts)-1 {
			b.WriteString("\n")
		}
	}
	b.WriteString(" " + v + "\n")
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// value is the typed field st sets in s, as text.
func value(st Setting, s *Settings) string {
	v := reflect.ValueOf(st.field(s)).Elem()
	if v.Kind() == reflect.Pointer { // small_model's *bool: nil is unset
		if v.IsNil() {
			return "unset"
		}
		v = v.Elem()
	}
	return fmt.Sprint(v.Interface())
}

// want is what st's field holds after reading v.
func want(t *testing.T, st Setting, v string) string {
	t.Helper()
	s := &Settings{File: &Config{}}
	if err := st.set(s, v); err != nil {
		t.Fatalf("%s: %q: %v", st.Key, v, err)
	}
	return value(st, s)
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// sharedFlags are flag names two commands give to different settings.
var sharedFlags = map[string]bool{"pool": true, "max-sessions": true, "idle-timeout": true, "max-size": true, "timeout": true, "task-timeout": true}

// flags gives flags by name, or by key for those declared twice.
func flags(m map[string]string) func(Setting) (string, bool) {
	return func(st Setting) (string, bool) {
		if v, ok := m[st.Key]; ok {
			return v, true
		}
		if v, ok := m[st.Flag]; ok && !sharedFlags[st.Flag] {
			return v, true
		}
		return "", false
	}
}

// TestResolveEverySetting sets each setting of the table from each source
// in turn, then from all of them at once, and checks the typed value.
func TestResolveEverySetting(t *testing.T) {
	t.Parallel()
	defaults := Defaults()
	for _, st := range Table {
		t.Run(st.Key, func(t *testing.T) {
			t.Parallel()
			a, b := sample(st)
			if got := value(st, defaults); got != want(t, st, st.Default) {
				t.Errorf("default: %s, want %s", got, want(t, st, st.Default))
			}
			file := fileFor(t, st.Key, a)
			s, err := Resolve(Sources{Path: file})
			if err != nil {
				t.Fatalf("from the file: %v", err)
			}
			if got := value(st, s); got != want(t, st, a) {
				t.Errorf("from the file: %s, want %s", got, want(t, st, a))
			}
			if st.Env != "" {
				s, err := Resolve(Sources{Path: file, Getenv: env(map[string]string{st.Env: b})})
				if err != nil {
					t.Fatalf("from %s: %v", st.Env, err)
				}
				if got := value(st, s); got != want(t, st, b) {
					t.Errorf("%s over the file: %s, want %s", st.Env, got, want(t, st, b))
				}
			}
			if st.Flag != "" {
				s, err := Resolve(Sources{Path: file, Getenv: env(map[string]string{st.Env: b}), Flag: flags(map[string]string{st.Key: st.Default})})
				if err != nil {
					t.Fatalf("from --%s: %v", st.Flag, err)
				}
				if got := value(st, s); got != want(t, st, st.Default) {
					t.Errorf("--%s over the environment and the file: %s, want %s", st.Flag, got, want(t, st, st.Default))
				}
			}
		})
	}
}

// TestResolveBadValues checks that a bad value is refused in one line
// naming where it came from.
func TestResolveBadValues(t *testing.T) {
	t.Parallel()
	for _, st := range Table {
		v := bad(st)
		if v == "" {
			continue
		}
		t.Run(st.Key, func(t *testing.T) {
			t.Parallel()
			file := fileFor(t, st.Key, v)
			cases := []struct {
				src  Sources
				from string
			}{{Sources{Path: file}, file + ": " + st.Key}}
			if st.Env != "" {
				cases = append(cases, struct {
					src  Sources
					from string
				}{Sources{Getenv: env(map[string]string{st.Env: v})}, st.Env})
			}
			if st.Flag != "" {
				cases = append(cases, struct {
					src  Sources
					from string
				}{Sources{Flag: flags(map[string]string{st.Key: v})}, "--" + st.Flag})
			}
			for _, c := range cases {
				_, err := Resolve(c.src)
				if err == nil {
					t.Errorf("%s %q: no error", c.from, v)
					continue
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, c.from+" ") || !strings.Contains(msg, "want ") || strings.Contains(msg, "\n") {
					t.Errorf("%s %q: error %q, want one line naming %s and saying what to give", c.from, v, msg, c.from)
				}
			}
		})
	}
}

func TestResolveValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags map[string]string
		check func(*Settings) bool
		err   string
	}{
		{name: "defaults", check: func(s *Settings) bool {
			return s.Memory == DefaultMemory && s.CellTimeout == DefaultCellTimeout && s.Server.MaxSessions == 64 &&
				s.Server.Quotas.WorkspaceBytes == 2<<30 && s.Home == DefaultHome && s.MCP.IdleTimeout == 30*time.Minute
		}},
		{name: "sizes", file: "limits: {memory: 512MiB}\nserver: {limits: {max_body: 1MB}}\n", check: func(s *Settings) bool {
			return s.Memory == 512<<20 && s.Server.MaxBody == 1_000_000
		}},
		{name: "no limit", env: map[string]string{"INTERP_QUOTA_WORKSPACE_BYTES": "-1", "INTERP_QUOTA_SESSIONS": "-1"}, check: func(s *Settings) bool {
			return s.Server.Quotas.WorkspaceBytes == -1 && s.Server.Quotas.Sessions == -1
		}},
		{name: "zero where it means never", flags: map[string]string{"mcp.idle_timeout": "0", "shutdown-timeout": "0"}, check: func(s *Settings) bool {
			return s.MCP.IdleTimeout == 0 && s.Server.ShutdownTimeout == 0
		}},
		{name: "an empty flag clears", file: "server: {metrics_token: secret}\n", flags: map[string]string{"metrics-token": ""}, check: func(s *Settings) bool {
			return s.Server.MetricsToken == ""
		}},
		{name: "history expands ~", env: map[string]string{"INTERP_HISTORY": "~/h.db"}, check: func(s *Settings) bool {
			return strings.HasSuffix(s.History, "/h.db") && !strings.HasPrefix(s.History, "~") && s.File.History.DSN == s.History
		}},
		{name: "zero sessions", flags: map[string]string{"server.max_sessions": "0"}, err: `--max-sessions "0": want a whole number of at least 1`},
		{name: "negative memory", env: map[string]string{"INTERP_MEMORY": "-2GiB"}, err: `INTERP_MEMORY "-2GiB": want a size`},
		{name: "negative timeout", flags: map[string]string{"limits.cell_timeout": "-1s"}, err: `--timeout "-1s": want a positive duration`},
		{name: "unknown key", file: "server: {max_sesions: 3}\n", err: "max_sesions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := Sources{Getenv: env(tt.env), Flag: flags(tt.flags)}
			if tt.file != "" {
				src.Path = filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(src.Path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Resolve(src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(s) {
				t.Errorf("settings %+v", s)
			}
		})
	}
}

// TestSmallModelFor: the measures for small models are on for local
// models unless small_model says otherwise, from any source.
func TestSmallModelFor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env           map[string]string
		flags         map[string]string
		local, openai bool
	}{
		{local: true},
		{env: map[string]string{"INTERP_SMALL_MODEL": "off"}},
		{env: map[string]string{"INTERP_SMALL_MODEL": "true"}, local: true, openai: true},
		{env: map[string]string{"INTERP_SMALL_MODEL": "off"}, flags: map[string]string{"small-model": "on"}, local: true, openai: true},
	} {
		s, err := Resolve(Sources{Getenv: env(tt.env), Flag: flags(tt.flags)})
		if err != nil {
			t.Fatal(err)
		}
		if l, o := s.SmallModelFor(Local), s.SmallModelFor(OpenAI); l != tt.local || o != tt.openai {
			t.Errorf("env %v flags %v: local %v, openai %v; want %v, %v", tt.env, tt.flags, l, o, tt.local, tt.openai)
		}
	}
}

// TestResolveModel checks that a file's model goes with the file's
// provider, and a --model with any.
func TestResolveModel(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("model: llama3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		flags           map[string]string
		env             map[string]string
		provider, model string
	}{
		{provider: Local, model: DefaultModels[Local]},
		{env: map[string]string{"OLLAMA_HOST": "h:1"}, provider: Ollama, model: "llama3"},
		{flags: map[string]string{"model": "qwen2.5-coder-1.5b"}, provider: Local, model: "qwen2.5-coder-1.5b"},
		{flags: map[string]string{"provider": "ollama"}, env: map[string]string{"OLLAMA_HOST": "h:1", "INTERP_MODEL": "m2"}, provider: Ollama, model: "m2"},
	}
	for _, tt := range tests {
		s, err := Resolve(Sources{Path: path, Getenv: env(tt.env), Flag: flags(tt.flags)})
		if err != nil {
			t.Fatal(err)
		}
		p, m, _, err := s.ResolveModel()
		if err != nil || p != tt.provider || m != tt.model {
			t.Errorf("flags %v env %v: %s %s %v, want %s %s", tt.flags, tt.env, p, m, err, tt.provider, tt.model)
		}
	}
}

// TestTable checks the table itself: keys and environment variables are
// unique, every default reads, and every key is one the file accepts.
func TestTable(t *testing.T) {
	t.Parallel()
	keys, envs := map[string]bool{}, map[string]bool{}
	for _, st := range Table {
		if keys[st.Key] || (st.Env != "" && envs[st.Env]) {
			t.Errorf("%s or %s is in the table twice", st.Key, st.Env)
		}
		keys[st.Key], envs[st.Env] = true, true
		if err := st.set(&Settings{File: &Config{}}, st.Default); err != nil {
			t.Errorf("%s: default %q: %v", st.Key, st.Default, err)
		}
		a, _ := sample(st)
		if _, err := Resolve(Sources{Path: fileFor(t, st.Key, a)}); err != nil {
			t.Errorf("%s: the file does not take it: %v", st.Key, err)
		}
	}
}
