package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveProvider(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		file                    string
		env                     map[string]string
		flagProvider, flagModel string
		provider, model, err    string
	}{
		{name: "nothing", provider: "local", model: DefaultModels[Local]},
		{name: "local explicitly", flagProvider: "local", flagModel: "qwen2.5-coder-1.5b", provider: "local", model: "qwen2.5-coder-1.5b"},
		{name: "local in the file", file: "provider: local\nlocal: {idle_timeout: 1m, threads: 2}\n", provider: "local", model: DefaultModels[Local]},
		{name: "openai key", env: map[string]string{"OPENAI_API_KEY": "k"}, provider: "openai", model: DefaultModels[OpenAI]},
		// The server is asked which model it serves (resolveModel in cmd/interp).
		{name: "compatible server", env: map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, provider: "openai", model: ""},
		{name: "compatible server and key", env: map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1", "OPENAI_API_KEY": "k"}, provider: "openai", model: ""},
		{name: "openai's own URL and key", env: map[string]string{"OPENAI_BASE_URL": "https://api.openai.com/v1", "OPENAI_API_KEY": "k"}, provider: "openai", model: DefaultModels[OpenAI]},
		{name: "compatible server and model", env: map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1", "INTERP_MODEL": "m"}, provider: "openai", model: "m"},
		{name: "anthropic", env: map[string]string{"ANTHROPIC_API_KEY": "k"}, provider: "anthropic", model: DefaultModels[Anthropic]},
		{name: "ollama", env: map[string]string{"OLLAMA_HOST": "127.0.0.1:11434"}, provider: "ollama", model: DefaultModels[Ollama]},
		{name: "file", file: "provider: ollama\nmodel: llama3\n", provider: "ollama", model: "llama3"},
		{name: "flags win", file: "provider: ollama\nmodel: llama3\n", env: map[string]string{"ANTHROPIC_API_KEY": "k"}, flagProvider: "anthropic", flagModel: "m", provider: "anthropic", model: "m"},
		{name: "unknown provider", flagProvider: "bard", err: "unknown provider"},
		{name: "anthropic without key", flagProvider: "anthropic", err: "ANTHROPIC_API_KEY"},
		{name: "bad file", file: "provder: openai\n", err: "provder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "config.yaml")
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			given := map[string]string{}
			if tt.flagProvider != "" {
				given["provider"] = tt.flagProvider
			}
			if tt.flagModel != "" {
				given["model"] = tt.flagModel
			}
			s, err := Resolve(Sources{Path: path, Getenv: env(tt.env), Flag: flags(given)})
			var p, m string
			if err == nil {
				p, m, _, err = s.ResolveModel()
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || p != tt.provider || m != tt.model {
				t.Errorf("got %s %s %v, want %s %s", p, m, err, tt.provider, tt.model)
			}
		})
	}
	if p, _, defaulted, err := (&Config{}).ResolveDefault("", ""); p != Local || !defaulted || err != nil {
		t.Errorf("empty config: %s, defaulted %v, %v; want local, defaulted", p, defaulted, err)
	}
	if _, _, defaulted, _ := (&Config{}).ResolveDefault(Local, ""); defaulted {
		t.Error("an explicit --provider local is reported as a fallback")
	}
}

func TestHistoryPathExpandsHome(t *testing.T) {
	t.Setenv("INTERP_HISTORY", "")
	home := t.TempDir()
	t.Setenv("HOME", home)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("history: {dsn: ~/h/history.db}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(Sources{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "h", "history.db"); s.History != want || s.File.History.DSN != want {
		t.Errorf("dsn %q (the file's %q), want %q", s.History, s.File.History.DSN, want)
	}
}
