// Package config loads Interp's settings from its config file, the
// environment and flags, in that order of increasing precedence.
package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Providers Interp can talk to.
const (
	OpenAI    = "openai"
	Anthropic = "anthropic"
	Ollama    = "ollama"
	// Local is a model on this machine, run by llama.cpp: the default
	// when nothing else is configured.
	Local = "local"
)

// Defaults of the limits every front end shares: one value each, for
// exec, run, chat, eval, mcp and serve alike (repl has no time limit).
const (
	DefaultMemory      int64 = 2 << 30 // a sandbox's memory limit, in bytes
	DefaultCellTimeout       = 2 * time.Minute
	// DefaultHome is where scripts/setup installs the base environment.
	DefaultHome = "/opt/interp"
	// DefaultIndexURL is the package index installs come from.
	DefaultIndexURL = "https://pypi.org/simple"
)

// FormatSize writes a size of bytes as the settings read it, in the
// largest binary unit that divides it: 2GiB, 512MiB.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// DefaultModels are used when no model is configured.
var DefaultModels = map[string]string{
	OpenAI:    "gpt-4.1-mini",
	Anthropic: "claude-sonnet-4-5",
	Ollama:    "qwen2.5-coder:7b",
	Local:     "qwen2.5-coder-0.5b",
}

// Config is everything the file can set.
type Config struct {
	Provider  string          `yaml:"provider"`
	Model     string          `yaml:"model"`
	OpenAI    OpenAIConfig    `yaml:"openai"`
	Anthropic AnthropicConfig `yaml:"anthropic"`
	Ollama    OllamaConfig    `yaml:"ollama"`
	Local     LocalConfig     `yaml:"local"`
	// UnsafeNoSandbox runs code with no sandbox (Table's unsafe_no_sandbox).
	UnsafeNoSandbox string `yaml:"unsafe_no_sandbox"`
	// Yes, Vision, NoTools and SmallModel: Table says what each means.
	Yes        string       `yaml:"yes"`
	Vision     string       `yaml:"vision"`
	NoTools    string       `yaml:"no_tools"`
	SmallModel string       `yaml:"small_model"`
	Limits     LimitsConfig `yaml:"limits"`
	// Home is where the base Python environment lives.
	Home string `yaml:"home"`
	// DataDir is where the history is kept by default (Table's data_dir).
	DataDir string `yaml:"data_dir"`
	// IndexURL is the package index installs come from.
	IndexURL string `yaml:"index_url"`
	// History is where conversations are kept: a SQLite path or a
	// postgres:// DSN.
	History HistoryConfig `yaml:"history"`
	// Server configures interp serve; see ServerConfig.
	Server ServerConfig `yaml:"server"`
	// Cache bounds the package cache; see CacheConfig.
	Cache CacheConfig `yaml:"cache"`
	// Install configures package installs; see InstallConfig.
	Install InstallConfig `yaml:"install"`
	// MCP configures interp mcp; see MCPConfig.
	MCP MCPConfig `yaml:"mcp"`
	// Repl and Eval hold interp repl's and interp eval's own settings;
	// Table says what each key means.
	Repl struct {
		CellTimeout string `yaml:"cell_timeout"`
	} `yaml:"repl"`
	Eval struct {
		TaskTimeout string `yaml:"task_timeout"`
	} `yaml:"eval"`
}

// InstallConfig configures package installs.
type InstallConfig struct {
	// TorchIndex is the one index torch, torchvision and torchaudio come
	// from, and nothing else: "cpu" for PyTorch's CPU-only builds, or an
	// index URL. Empty: the package index, as for everything else.
	TorchIndex string `yaml:"torch_index"`
	// Prewarm lists packages kept installed in the package store and
	// importable in warm-pool kernels.
	Prewarm []string `yaml:"prewarm"`
}

// MCPConfig configures interp mcp; Table says what each key means.
type MCPConfig struct {
	HTTP           string `yaml:"http"`
	Token          string `yaml:"token"`
	MaxCellTimeout string `yaml:"max_cell_timeout"`
	IdleTimeout    string `yaml:"idle_timeout"`
	MaxSessions    string `yaml:"max_sessions"`
	PoolSize       string `yaml:"pool_size"`
}

// CacheConfig places and bounds the package cache and the store of
// installed packages; Table says what each key means.
type CacheConfig struct {
	Dir          string `yaml:"dir"`
	StoreDir     string `yaml:"store_dir"`
	MaxSize      string `yaml:"max_size"`
	MaxAge       string `yaml:"max_age"`
	StoreMaxSize string `yaml:"store_max_size"`
}

// OpenAIConfig configures OpenAI and compatible servers.
type OpenAIConfig struct {
	APIKey  string `yaml:"api_key"`
	BaseURL string `yaml:"base_url"`
	// Temperature overrides the agent's (low) default for this provider.
	Temperature *float64 `yaml:"temperature"`
}

// AnthropicConfig configures Anthropic.
type AnthropicConfig struct {
	APIKey      string   `yaml:"api_key"`
	BaseURL     string   `yaml:"base_url"`
	Temperature *float64 `yaml:"temperature"`
}

// OllamaConfig configures Ollama.
type OllamaConfig struct {
	Host        string   `yaml:"host"`
	Temperature *float64 `yaml:"temperature"`
}

// LocalConfig configures the local model's runtime, llama.cpp's
// llama-server, which Interp starts when first needed; Table says what
// each key means.
type LocalConfig struct {
	Server      string `yaml:"server"`
	IdleTimeout string `yaml:"idle_timeout"`
	Threads     string `yaml:"threads"`
	ContextSize string `yaml:"context_size"`
}

// LimitsConfig bounds the agent loop; zero means the default.
type LimitsConfig struct {
	MaxSteps    string `yaml:"max_steps"`
	MaxFailures string `yaml:"max_failures"`
	MaxRepeats  string `yaml:"max_repeats"`
	TokenBudget string `yaml:"token_budget"`
	CellTimeout string `yaml:"cell_timeout"`
	// Memory is a sandbox's memory limit, a size like 2GiB.
	Memory string `yaml:"memory"`
	// StepTokens caps the tokens of each answer of the model.
	StepTokens string `yaml:"step_tokens"`
}

// HistoryConfig configures the history store; Table says what each key
// means.
type HistoryConfig struct {
	DSN      string `yaml:"dsn"`
	MaxAge   string `yaml:"max_age"`
	MaxSize  string `yaml:"max_size"`
	Disabled string `yaml:"disabled"`
}

// Path returns the config file's path: $INTERP_CONFIG, else
// $XDG_CONFIG_HOME/interp/config.yaml, else ~/.config/interp/config.yaml.
func Path() string {
	if p := os.Getenv("INTERP_CONFIG"); p != "" {
		return p
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "interp", "config.yaml")
}

// load reads the file at path into a Config and a YAML tree (nil for no
// file); a missing file is an empty config. Resolve applies the rest.
func load(path string) (*Config, *yaml.Node, error) {
	c := &Config{}
	var root *yaml.Node
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, nil, fmt.Errorf("config: %w", err)
		default:
			dec := yaml.NewDecoder(strings.NewReader(string(b)))
			dec.KnownFields(true)
			if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
				return nil, nil, fmt.Errorf("config %s: %w", path, err)
			}
			root = &yaml.Node{}
			if err := yaml.Unmarshal(b, root); err != nil {
				return nil, nil, fmt.Errorf("config %s: %w", path, err)
			}
		}
	}
	return c, root, nil
}

// expandHome turns a leading ~/ into the home directory, as a shell would.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// Temperature is the sampling temperature configured for provider, or nil
// for the agent's default.
func (c *Config) Temperature(provider string) *float64 {
	switch provider {
	case OpenAI:
		return c.OpenAI.Temperature
	case Anthropic:
		return c.Anthropic.Temperature
	case Ollama:
		return c.Ollama.Temperature
	}
	return nil
}

// LocalNotice is what front ends say, once, when they fall back to the
// local model because no provider is configured.
func LocalNotice(model string) string {
	return "Using the local model " + model + " (no provider configured; set OPENAI_API_KEY, ANTHROPIC_API_KEY or OLLAMA_HOST, or pass --provider, for another)"
}

// AskServerModel reports whether provider's model, when none is
// configured, is the one its server lists: an OpenAI-compatible server
// given by its URL (with or without an API key), not OpenAI's own.
func (c *Config) AskServerModel(provider string) bool {
	return provider == OpenAI && c.OpenAI.BaseURL != "" && !officialOpenAI(c.OpenAI.BaseURL)
}

// officialOpenAI reports whether a base URL is OpenAI's own API, whose
// models are many and whose default is known.
func officialOpenAI(base string) bool {
	u, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Hostname(), "api.openai.com")
}

// ResolveDefault is Resolve, and reports whether the local model was
// chosen because nothing else is configured. With OPENAI_BASE_URL of a
// server other than OpenAI's and no model the model is left "": the
// server knows which it serves (llm.OpenAI.Models), OpenAI's default
// would be a guess.
func (c *Config) ResolveDefault(provider, model string) (name, resolvedModel string, defaulted bool, err error) {
	if provider == "" {
		provider = c.Provider
	}
	if provider == "" {
		switch {
		case c.OpenAI.APIKey != "" || c.OpenAI.BaseURL != "":
			provider = OpenAI
		case c.Anthropic.APIKey != "":
			provider = Anthropic
		case c.Ollama.Host != "":
			provider = Ollama
		default:
			provider, defaulted = Local, true
		}
	}
	if _, ok := DefaultModels[provider]; !ok {
		return "", "", false, fmt.Errorf("unknown provider %q: use local, openai, anthropic or ollama", provider)
	}
	switch {
	case provider == OpenAI && c.OpenAI.APIKey == "" && c.OpenAI.BaseURL == "":
		return "", "", false, errors.New("provider openai needs OPENAI_API_KEY, or OPENAI_BASE_URL for a compatible server")
	case provider == Anthropic && c.Anthropic.APIKey == "":
		return "", "", false, errors.New("provider anthropic needs ANTHROPIC_API_KEY")
	}
	if model == "" && !defaulted {
		// The file's model is for the file's provider, not the fallback.
		model = c.Model
	}
	if model == "" && !c.AskServerModel(provider) {
		model = DefaultModels[provider]
	}
	return provider, model, defaulted, nil
}
