package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Settings are the resolved, typed settings of every front end: each one
// from a flag if given, else from the environment, else from the config
// file, else its default (see Table).
type Settings struct {
	// File is the config file as read, with the providers' keys, URLs
	// and hosts, the provider and the model resolved by Table (which
	// Config.ResolveDefault reads), and what Table does not hold
	// (temperatures, install.*).
	File *Config

	Home     string // where the base Python environment lives
	DataDir  string // where the history and the REPL's lines are kept by default; "" for the store's default
	History  string // the history's SQLite path or postgres:// DSN; "" for the store's default
	BlobDir  string // where the history's large content goes; "" for the store's default
	IndexURL string // the package index installs come from

	NoHistory bool // keep no history
	// Unsafe runs code on the host with no sandbox; the commands warn
	// each time.
	Unsafe bool

	// HistoryMaxAge and HistoryMaxSize prune the history whenever a
	// command opens it; 0 (or -1 for the size) keeps everything.
	HistoryMaxAge  time.Duration
	HistoryMaxSize int64

	Cache Cache
	Local LocalModel

	Provider, Model string // "" for Config.ResolveDefault's choice

	Yes     bool // run the model's code without asking
	Vision  bool // send the images the code displays to the model
	NoTools bool // ask the model for fenced code instead of tool calls
	// SmallModel turns the agent's measures for small models on or off
	// (see agent.Config.SmallModel); nil: on for local models only.
	SmallModel *bool

	Memory      int64         // a sandbox's memory limit, in bytes
	CellTimeout time.Duration // the time limit of one cell
	// ReplCellTimeout is the time limit of one cell of interp repl; 0
	// for none: the user is there to interrupt it.
	ReplCellTimeout time.Duration
	EvalTaskTimeout time.Duration // the time limit of one task of interp eval

	Agent  AgentLimits
	Server Server
	MCP    MCP

	modelFlag bool // Model came from --model
}

// Cache is where installs keep downloads and installed packages, and
// the bounds they are pruned to.
type Cache struct {
	Dir, StoreDir string // "" for their places in the state directory
	MaxSize       int64  // the package cache's bound
	StoreMaxSize  int64  // the store of installed packages' bound
	MaxAge        time.Duration
}

// LocalModel configures the local model's runtime, llama.cpp's llama-server.
type LocalModel struct {
	Server      string        // the program; "" for $INTERP_HOME/bin/llama-server, else one on the PATH
	IdleTimeout time.Duration // unload the model after this long unused; 0: never
	Threads     int           // 0: every core
	ContextSize int           // the context window, in tokens
}

// AgentLimits bound the agent loop of run, chat, eval and the server's
// tasks.
type AgentLimits struct {
	MaxSteps, MaxFailures, MaxRepeats, TokenBudget, StepTokens int
}

// Server is interp serve's configuration.
type Server struct {
	Listen       string
	MetricsToken string
	TLSCert      string
	TLSKey       string

	MaxSessions        int
	SessionIdleTimeout time.Duration
	PoolSize           int   // negative: no pool
	PoolMax            int   // the most the pool grows to under demand
	PoolMemory         int64 // the memory the pool's ready sessions may hold together
	PoolFork           bool  // fork what the pool cannot serve from a per-user template

	DefaultMemory, MaxMemory           int64
	DefaultCellTimeout, MaxCellTimeout time.Duration
	MaxBody, MaxUpload, MaxDownload    int64

	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	ShutdownTimeout, TaskTimeout                              time.Duration

	Quotas Quotas
}

// Quotas limit each user of the server; negative means no limit.
type Quotas struct {
	Sessions            int
	ExecutionsPerMinute int
	TokensPerDay        int64
	WorkspaceBytes      int64
}

// MCP is interp mcp's configuration.
type MCP struct {
	HTTP           string // serve streamable HTTP here instead of stdio
	Token          string // the bearer token HTTP requests must carry
	MaxCellTimeout time.Duration
	IdleTimeout    time.Duration // 0: never
	MaxSessions    int
	PoolSize       int
}

// Setting is one setting and the places that set it. A flag wins over the
// environment, which wins over the config file, which wins over the
// default.
type Setting struct {
	// Key is its place in the config file, dotted: server.limits.max_body.
	Key string
	// Env is the environment variable that sets it, if any.
	Env string
	// Flag is the flag that sets it, without dashes, if any. Commands
	// declare only the flags that concern them.
	Flag string
	// Default is the value when no source sets it, written as a source
	// would write it; "" for none.
	Default string
	// Help says what it is, for the flag's usage and the README's table.
	Help string
	// Short is the flag's one-letter form, if any.
	Short string

	kind  kind
	field func(*Settings) any // the typed field it sets
}

// kind is how a setting's text is read.
type kind int

const (
	text         kind = iota
	count             // an integer at least 1
	countNone         // an integer at least 1, or -1 for none
	number            // an integer at least 0
	size              // a size such as 512MiB, at least one byte
	sizeNone          // a size, or -1 for none
	duration          // a positive duration such as 90s
	durationZero      // a duration, 0 included
	boolean           // true or false
	onOff             // on or off; unset for the default's choice
)

// Table is every setting, in the README's order.
var Table = []Setting{
	{Key: "home", Env: "INTERP_HOME", Flag: "home", Default: DefaultHome, kind: text,
		Help: "directory of the base Python environment", field: func(s *Settings) any { return &s.Home }},
	{Key: "unsafe_no_sandbox", Env: "INTERP_UNSAFE_NO_SANDBOX", Flag: "unsafe-no-sandbox", Default: "false", kind: boolean,
		Help: "run code directly on this host, WITHOUT isolation", field: func(s *Settings) any { return &s.Unsafe }},
	{Key: "data_dir", Env: "INTERP_DATA_DIR", kind: text,
		Help: "where the history (history.db, blobs/) and the REPL's typed lines are kept unless history.dsn says otherwise (default $XDG_DATA_HOME/interp, else ~/.local/share/interp)", field: func(s *Settings) any { return &s.DataDir }},
	{Key: "history.dsn", Env: "INTERP_HISTORY", Flag: "history", kind: text,
		Help: "where history is kept: a SQLite path or a postgres:// DSN (default ~/.local/share/interp/history.db)", field: func(s *Settings) any { return &s.History }},
	{Key: "history.max_age", Env: "INTERP_HISTORY_MAX_AGE", Flag: "older-than", kind: durationZero,
		Help: "delete conversations not updated for this long, e.g. 2160h, whenever a command opens the history; 0 keeps them", field: func(s *Settings) any { return &s.HistoryMaxAge }},
	{Key: "history.max_size", Env: "INTERP_HISTORY_MAX_SIZE", Flag: "max-size", kind: sizeNone,
		Help: "delete the oldest conversations beyond this size, e.g. 2GiB, whenever a command opens the history; -1 keeps them", field: func(s *Settings) any { return &s.HistoryMaxSize }},
	{Key: "history.disabled", Env: "INTERP_NO_HISTORY", Flag: "no-history", Default: "false", kind: boolean,
		Help: "keep no history, nor the REPL's typed lines", field: func(s *Settings) any { return &s.NoHistory }},
	{Key: "server.blob_dir", Env: "INTERP_BLOB_DIR", Flag: "blob-dir", kind: text,
		Help: "where the history's large content goes; needed with a postgres:// history (default: beside a SQLite history)", field: func(s *Settings) any { return &s.BlobDir }},
	{Key: "index_url", Env: "INTERP_INDEX_URL", Flag: "index-url", Default: DefaultIndexURL, kind: text,
		Help: "the package index to install from", field: func(s *Settings) any { return &s.IndexURL }},
	{Key: "install.torch_index", Env: "INTERP_TORCH_INDEX", kind: text,
		Help: "where torch, torchvision and torchaudio come from, and nothing else: cpu for PyTorch's CPU-only builds, or an index URL (default: the package index)", field: func(s *Settings) any { return &s.File.Install.TorchIndex }},
	{Key: "cache.dir", Env: "INTERP_CACHE_DIR", kind: text,
		Help: "the package cache (downloaded and built wheels) installs share (default /var/tmp/interp-<uid>/uv-cache)", field: func(s *Settings) any { return &s.Cache.Dir }},
	{Key: "cache.store_dir", Env: "INTERP_STORE_DIR", kind: text,
		Help: "the store of installed packages sessions share (default /var/tmp/interp-<uid>/store)", field: func(s *Settings) any { return &s.Cache.StoreDir }},
	{Key: "cache.max_size", Env: "INTERP_CACHE_MAX_SIZE", Flag: "max-size", Default: "10GiB", kind: size,
		Help: "installs prune the package cache to this size once a day, oldest first", field: func(s *Settings) any { return &s.Cache.MaxSize }},
	{Key: "cache.store_max_size", Env: "INTERP_STORE_MAX_SIZE", Flag: "store-max-size", Default: "20GiB", kind: size,
		Help: "the store of installed packages is kept within this size, least recently used first; packages a session uses stay", field: func(s *Settings) any { return &s.Cache.StoreMaxSize }},
	{Key: "cache.max_age", Env: "INTERP_CACHE_MAX_AGE", Flag: "max-age", Default: "1440h", kind: duration,
		Help: "cached packages older than this, and stored ones unused for this long, are removed", field: func(s *Settings) any { return &s.Cache.MaxAge }},
	{Key: "provider", Env: "INTERP_PROVIDER", Flag: "provider", kind: text,
		Help: "local, openai, anthropic or ollama (default: the first the environment configures, else local)", field: func(s *Settings) any { return &s.Provider }},
	{Key: "model", Env: "INTERP_MODEL", Flag: "model", kind: text,
		Help: "the model to use (default: the provider's)", field: func(s *Settings) any { return &s.Model }},
	{Key: "openai.api_key", Env: "OPENAI_API_KEY", kind: text,
		Help: "OpenAI's API key, or an OpenAI-compatible server's; set, openai is the default provider", field: func(s *Settings) any { return &s.File.OpenAI.APIKey }},
	{Key: "openai.base_url", Env: "OPENAI_BASE_URL", kind: text,
		Help: "an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1; set without a model, the server is asked for its model (default: OpenAI's)", field: func(s *Settings) any { return &s.File.OpenAI.BaseURL }},
	{Key: "anthropic.api_key", Env: "ANTHROPIC_API_KEY", kind: text,
		Help: "Anthropic's API key; set, anthropic is the default provider unless openai is configured", field: func(s *Settings) any { return &s.File.Anthropic.APIKey }},
	{Key: "anthropic.base_url", Env: "ANTHROPIC_BASE_URL", kind: text,
		Help: "another address of Anthropic's API (default: Anthropic's)", field: func(s *Settings) any { return &s.File.Anthropic.BaseURL }},
	{Key: "ollama.host", Env: "OLLAMA_HOST", kind: text,
		Help: "an Ollama server, e.g. 127.0.0.1:11434; set, ollama is the default provider unless openai or anthropic is configured", field: func(s *Settings) any { return &s.File.Ollama.Host }},
	{Key: "local.server", Env: "INTERP_LOCAL_SERVER", kind: text,
		Help: "the llama-server program that runs the local model (default $INTERP_HOME/bin/llama-server, else one on the PATH)", field: func(s *Settings) any { return &s.Local.Server }},
	{Key: "local.idle_timeout", Env: "INTERP_LOCAL_IDLE_TIMEOUT", Default: "5m", kind: durationZero,
		Help: "unload the local model after this long unused; 0 for never", field: func(s *Settings) any { return &s.Local.IdleTimeout }},
	{Key: "local.threads", Env: "INTERP_LOCAL_THREADS", Flag: "threads", Default: "0", kind: number,
		Help: "CPU threads the local model generates with; 0 for every core", field: func(s *Settings) any { return &s.Local.Threads }},
	{Key: "local.context_size", Env: "INTERP_LOCAL_CONTEXT_SIZE", Flag: "context-size", Default: "16384", kind: count,
		Help: "the local model's context window, in tokens", field: func(s *Settings) any { return &s.Local.ContextSize }},
	{Key: "yes", Env: "INTERP_YES", Flag: "yes", Short: "y", Default: "false", kind: boolean,
		Help: "run the model's code without asking first", field: func(s *Settings) any { return &s.Yes }},
	{Key: "vision", Env: "INTERP_VISION", Default: "false", kind: boolean,
		Help: "send the images the code displays to the model", field: func(s *Settings) any { return &s.Vision }},
	{Key: "no_tools", Env: "INTERP_NO_TOOLS", Default: "false", kind: boolean,
		Help: "ask the model for fenced code instead of tool calls", field: func(s *Settings) any { return &s.NoTools }},
	{Key: "small_model", Env: "INTERP_SMALL_MODEL", Flag: "small-model", kind: onOff,
		Help: "on or off: the agent's measures for small models (default: on for local models)", field: func(s *Settings) any { return &s.SmallModel }},
	{Key: "limits.memory", Env: "INTERP_MEMORY", Flag: "memory", Default: FormatSize(DefaultMemory), kind: size,
		Help: "memory limit of a sandbox, e.g. 512MiB or 2GiB", field: func(s *Settings) any { return &s.Memory }},
	{Key: "limits.cell_timeout", Env: "INTERP_CELL_TIMEOUT", Flag: "timeout", Default: FormatDuration(DefaultCellTimeout), kind: duration,
		Help: "time limit of one run of code", field: func(s *Settings) any { return &s.CellTimeout }},
	{Key: "repl.cell_timeout", Env: "INTERP_REPL_CELL_TIMEOUT", Flag: "timeout", Default: "0", kind: durationZero,
		Help: "time limit of one cell in interp repl; 0 for none", field: func(s *Settings) any { return &s.ReplCellTimeout }},
	{Key: "eval.task_timeout", Env: "INTERP_EVAL_TASK_TIMEOUT", Flag: "task-timeout", Default: "10m", kind: duration,
		Help: "time limit of one task of interp eval's suite", field: func(s *Settings) any { return &s.EvalTaskTimeout }},
	{Key: "limits.max_steps", Env: "INTERP_MAX_STEPS", Default: "20", kind: count,
		Help: "the model's steps in one task", field: func(s *Settings) any { return &s.Agent.MaxSteps }},
	{Key: "limits.max_failures", Env: "INTERP_MAX_FAILURES", Default: "5", kind: count,
		Help: "failed runs of code in a row before a task stops", field: func(s *Settings) any { return &s.Agent.MaxFailures }},
	{Key: "limits.max_repeats", Env: "INTERP_MAX_REPEATS", Default: "2", kind: count,
		Help: "times the model may repeat the same code", field: func(s *Settings) any { return &s.Agent.MaxRepeats }},
	{Key: "limits.token_budget", Env: "INTERP_TOKEN_BUDGET", Default: "400000", kind: count,
		Help: "model tokens one task may use", field: func(s *Settings) any { return &s.Agent.TokenBudget }},
	{Key: "limits.step_tokens", Env: "INTERP_STEP_TOKENS", Default: "4096", kind: count,
		Help: "tokens of each answer of the model", field: func(s *Settings) any { return &s.Agent.StepTokens }},

	{Key: "server.listen", Env: "INTERP_SERVER_LISTEN", Flag: "listen", Default: "127.0.0.1:8080", kind: text,
		Help: "address to listen on", field: func(s *Settings) any { return &s.Server.Listen }},
	{Key: "server.tls_cert", Env: "INTERP_TLS_CERT", Flag: "tls-cert", kind: text,
		Help: "serve HTTPS with this PEM certificate (chain); needs --tls-key", field: func(s *Settings) any { return &s.Server.TLSCert }},
	{Key: "server.tls_key", Env: "INTERP_TLS_KEY", Flag: "tls-key", kind: text,
		Help: "the PEM private key of --tls-cert", field: func(s *Settings) any { return &s.Server.TLSKey }},
	{Key: "server.metrics_token", Env: "INTERP_METRICS_TOKEN", Flag: "metrics-token", kind: text,
		Help: "a bearer token GET /metrics then requires (default: none, /metrics is open)", field: func(s *Settings) any { return &s.Server.MetricsToken }},
	{Key: "server.max_sessions", Env: "INTERP_SERVER_MAX_SESSIONS", Flag: "max-sessions", Default: "64", kind: count,
		Help: "sessions open at once, all users together", field: func(s *Settings) any { return &s.Server.MaxSessions }},
	{Key: "server.session_idle_timeout", Env: "INTERP_SERVER_SESSION_IDLE_TIMEOUT", Flag: "session-idle-timeout", Default: "30m", kind: duration,
		Help: "close sessions unused for this long", field: func(s *Settings) any { return &s.Server.SessionIdleTimeout }},
	{Key: "server.pool_size", Env: "INTERP_SERVER_POOL_SIZE", Flag: "pool", Default: "2", kind: countNone,
		Help: "sessions kept ready, numpy, pandas and matplotlib imported; -1 for none", field: func(s *Settings) any { return &s.Server.PoolSize }},
	{Key: "server.pool_max", Env: "INTERP_SERVER_POOL_MAX", Flag: "pool-max", Default: "16", kind: count,
		Help: "the most sessions the pool grows to while they are asked for faster than it refills; it shrinks back when quiet", field: func(s *Settings) any { return &s.Server.PoolMax }},
	{Key: "server.pool_memory", Env: "INTERP_SERVER_POOL_MEMORY", Flag: "pool-memory", Default: "1GiB", kind: size,
		Help: "the memory the pool's ready sessions may hold together; it holds fewer rather than more", field: func(s *Settings) any { return &s.Server.PoolMemory }},
	{Key: "server.pool_fork", Env: "INTERP_SERVER_POOL_FORK", Flag: "pool-fork", Default: "true", kind: boolean,
		Help: "when no ready session is left, fork one from a template of the user's that has imported the pool's modules (false: start it from nothing)", field: func(s *Settings) any { return &s.Server.PoolFork }},
	{Key: "server.limits.default_memory", Env: "INTERP_SERVER_DEFAULT_MEMORY", Flag: "default-memory", Default: FormatSize(DefaultMemory), kind: size,
		Help: "a session's memory limit when it asks for none", field: func(s *Settings) any { return &s.Server.DefaultMemory }},
	{Key: "server.limits.max_memory", Env: "INTERP_SERVER_MAX_MEMORY", Flag: "max-memory", Default: "4GiB", kind: size,
		Help: "the most memory a session may ask for", field: func(s *Settings) any { return &s.Server.MaxMemory }},
	{Key: "server.limits.default_cell_timeout", Env: "INTERP_SERVER_DEFAULT_CELL_TIMEOUT", Flag: "default-cell-timeout", Default: FormatDuration(DefaultCellTimeout), kind: duration,
		Help: "time limit of one execution unless the session asks otherwise", field: func(s *Settings) any { return &s.Server.DefaultCellTimeout }},
	{Key: "server.limits.max_cell_timeout", Env: "INTERP_SERVER_MAX_CELL_TIMEOUT", Flag: "max-cell-timeout", Default: "10m", kind: duration,
		Help: "the longest time limit a session may ask for", field: func(s *Settings) any { return &s.Server.MaxCellTimeout }},
	{Key: "server.limits.max_body", Env: "INTERP_SERVER_MAX_BODY", Flag: "max-body", Default: "1MiB", kind: size,
		Help: "the largest JSON request body", field: func(s *Settings) any { return &s.Server.MaxBody }},
	{Key: "server.limits.max_upload", Env: "INTERP_SERVER_MAX_UPLOAD", Flag: "max-upload", Default: "100MiB", kind: size,
		Help: "the largest uploaded file", field: func(s *Settings) any { return &s.Server.MaxUpload }},
	{Key: "server.limits.max_download", Env: "INTERP_SERVER_MAX_DOWNLOAD", Flag: "max-download", Default: "64MiB", kind: size,
		Help: "the largest downloaded file", field: func(s *Settings) any { return &s.Server.MaxDownload }},
	{Key: "server.limits.read_header_timeout", Env: "INTERP_SERVER_READ_HEADER_TIMEOUT", Flag: "read-header-timeout", Default: "10s", kind: duration,
		Help: "time to read a request's headers", field: func(s *Settings) any { return &s.Server.ReadHeaderTimeout }},
	{Key: "server.limits.read_timeout", Env: "INTERP_SERVER_READ_TIMEOUT", Flag: "read-timeout", Default: "1m", kind: duration,
		Help: "time to read a request's body, uploads included", field: func(s *Settings) any { return &s.Server.ReadTimeout }},
	{Key: "server.limits.write_timeout", Env: "INTERP_SERVER_WRITE_TIMEOUT", Flag: "write-timeout", Default: "1m", kind: duration,
		Help: "time to write a response; per event for streams, after the code ran for executions", field: func(s *Settings) any { return &s.Server.WriteTimeout }},
	{Key: "server.limits.idle_timeout", Env: "INTERP_SERVER_IDLE_TIMEOUT", Flag: "idle-timeout", Default: "2m", kind: duration,
		Help: "how long an idle keep-alive connection stays open", field: func(s *Settings) any { return &s.Server.IdleTimeout }},
	{Key: "server.limits.shutdown_timeout", Env: "INTERP_SERVER_SHUTDOWN_TIMEOUT", Flag: "shutdown-timeout", Default: "30s", kind: durationZero,
		Help: "how long running code may finish at shutdown", field: func(s *Settings) any { return &s.Server.ShutdownTimeout }},
	{Key: "server.limits.task_timeout", Env: "INTERP_SERVER_TASK_TIMEOUT", Flag: "task-timeout", Default: "30m", kind: duration,
		Help: "time limit of one task of the model, all its steps", field: func(s *Settings) any { return &s.Server.TaskTimeout }},
	{Key: "server.quotas.sessions", Env: "INTERP_QUOTA_SESSIONS", Flag: "quota-sessions", Default: "4", kind: countNone,
		Help: "sessions a user may have open at once; -1 for no limit", field: func(s *Settings) any { return &s.Server.Quotas.Sessions }},
	{Key: "server.quotas.executions_per_minute", Env: "INTERP_QUOTA_EXECUTIONS_PER_MINUTE", Flag: "quota-executions", Default: "60", kind: countNone,
		Help: "executions a user may start in a minute; -1 for no limit", field: func(s *Settings) any { return &s.Server.Quotas.ExecutionsPerMinute }},
	{Key: "server.quotas.tokens_per_day", Env: "INTERP_QUOTA_TOKENS_PER_DAY", Flag: "quota-tokens", Default: "1000000", kind: countNone,
		Help: "model tokens a user's tasks may use in a UTC day; -1 for no limit", field: func(s *Settings) any { return &s.Server.Quotas.TokensPerDay }},
	{Key: "server.quotas.workspace_bytes", Env: "INTERP_QUOTA_WORKSPACE_BYTES", Flag: "quota-workspace", Default: "2GiB", kind: sizeNone,
		Help: "bytes of files in all a user's sessions' workspaces together, which also caps each sandbox's disk; -1 for no limit", field: func(s *Settings) any { return &s.Server.Quotas.WorkspaceBytes }},

	{Key: "mcp.http", Env: "INTERP_MCP_HTTP", Flag: "http", kind: text,
		Help: "serve streamable HTTP on this address, e.g. 127.0.0.1:8765, instead of stdio", field: func(s *Settings) any { return &s.MCP.HTTP }},
	{Key: "mcp.token", Env: "INTERP_MCP_TOKEN", Flag: "token", kind: text,
		Help: "with --http, the bearer token every request must carry; required off loopback", field: func(s *Settings) any { return &s.MCP.Token }},
	{Key: "mcp.max_cell_timeout", Env: "INTERP_MCP_MAX_CELL_TIMEOUT", Flag: "max-timeout", Default: "30m", kind: duration,
		Help: "the longest time limit a run_python call may ask for", field: func(s *Settings) any { return &s.MCP.MaxCellTimeout }},
	{Key: "mcp.idle_timeout", Env: "INTERP_MCP_IDLE_TIMEOUT", Flag: "idle-timeout", Default: "30m", kind: durationZero,
		Help: "close a client's Python session after this long unused; 0 for never", field: func(s *Settings) any { return &s.MCP.IdleTimeout }},
	{Key: "mcp.max_sessions", Env: "INTERP_MCP_MAX_SESSIONS", Flag: "max-sessions", Default: "16", kind: count,
		Help: "the most Python sessions open at once, one per client", field: func(s *Settings) any { return &s.MCP.MaxSessions }},
	{Key: "mcp.pool_size", Env: "INTERP_MCP_POOL_SIZE", Flag: "pool", Default: "0", kind: number,
		Help: "sandboxes kept started, numpy, pandas and matplotlib imported, for fast first calls", field: func(s *Settings) any { return &s.MCP.PoolSize }},
}

// Sources are where Resolve reads settings from, besides their defaults.
type Sources struct {
	// Path is the config file; a missing file sets nothing.
	Path string
	// Getenv reads the environment; nil reads nothing.
	Getenv func(string) string
	// Flag returns the value of st's flag, if the command declares it
	// and it was given on the command line; nil gives none. (Commands
	// declare different settings under the same flag name: --pool is
	// server.pool_size for serve and mcp.pool_size for mcp.)
	Flag func(st Setting) (string, bool)
}

// Resolve reads every setting of Table from its sources. An error names
// the setting's source and what to do, in one line.
func Resolve(src Sources) (*Settings, error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	file, root, err := load(src.Path)
	if err != nil {
		return nil, err
	}
	s := &Settings{File: file}
	for i := range Table {
		st := &Table[i]
		v, from := st.Default, "the default of "+st.Key
		if fv, ok := lookup(root, st.Key); ok {
			v, from = fv, src.Path+": "+st.Key
		}
		if ev := getenv(st.Env); st.Env != "" && ev != "" {
			v, from = ev, st.Env
		}
		// Config.ResolveDefault tells the provider and model of the file
		// and the environment from a flag's.
		switch st.Key {
		case "provider":
			file.Provider = strings.TrimSpace(v)
		case "model":
			file.Model = strings.TrimSpace(v)
		}
		if src.Flag != nil && st.Flag != "" {
			if fv, ok := src.Flag(*st); ok {
				v, from = fv, "--"+st.Flag
				s.modelFlag = s.modelFlag || st.Key == "model"
			}
		}
		if err := st.set(s, v); err != nil {
			return nil, fmt.Errorf("%s %q: %v", from, v, err)
		}
	}
	s.History = expandHome(s.History)
	file.History.DSN = s.History
	return s, nil
}

// ResolveModel picks the provider and model as Config.ResolveDefault
// does: a model from the file or the environment is for the provider
// configured there, not for the local fallback; a --model flag is for
// whichever provider is chosen.
func (s *Settings) ResolveModel() (provider, model string, defaulted bool, err error) {
	flagModel := ""
	if s.modelFlag {
		flagModel = s.Model
	}
	return s.File.ResolveDefault(s.Provider, flagModel)
}

// SmallModelFor says whether the agent's measures for small models are on
// for provider: as configured, else for local models only.
func (s *Settings) SmallModelFor(provider string) bool {
	if s.SmallModel != nil {
		return *s.SmallModel
	}
	return provider == Local
}

// ResolveLocalModel is ResolveModel for the local provider, whatever
// provider is configured: for commands that run only the local model.
func (s *Settings) ResolveLocalModel() (provider, model string, defaulted bool, err error) {
	flagModel := ""
	if s.modelFlag {
		flagModel = s.Model
	}
	return s.File.ResolveDefault(Local, flagModel)
}

// Defaults are the settings when no source sets any.
func Defaults() *Settings {
	s := &Settings{File: &Config{}}
	for i := range Table {
		if err := Table[i].set(s, Table[i].Default); err != nil {
			panic("config: the default of " + Table[i].Key + ": " + err.Error()) // a bad table: caught by its test
		}
	}
	return s
}

// set parses v into the setting's field of s. An empty v sets the zero
// value.
func (st *Setting) set(s *Settings, v string) error {
	v = strings.TrimSpace(v)
	dst := st.field(s)
	if v == "" {
		switch p := dst.(type) {
		case *string:
			*p = ""
		case *int:
			*p = 0
		case *int64:
			*p = 0
		case *time.Duration:
			*p = 0
		case *bool:
			*p = false
		case **bool:
			*p = nil
		}
		return nil
	}
	switch st.kind {
	case text:
		*dst.(*string) = v
		return nil
	case count, countNone, number:
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			return errors.New("want a whole number")
		case st.kind == count && n < 1:
			return errors.New("want a whole number of at least 1")
		case st.kind == countNone && n < 1 && n != -1:
			return errors.New("want a whole number of at least 1, or -1 for no limit")
		case st.kind == number && n < 0:
			return errors.New("want a whole number of at least 0")
		}
		switch p := dst.(type) {
		case *int:
			*p = int(n)
		case *int64:
			*p = n
		}
		return nil
	case size, sizeNone:
		if st.kind == sizeNone && v == "-1" {
			*dst.(*int64) = -1
			return nil
		}
		n, err := ParseSize(v)
		if err != nil {
			if st.kind == sizeNone {
				return errors.New("want a size such as 512MiB or 2GiB, or -1 for no limit")
			}
			return errors.New("want a size such as 512MiB or 2GiB")
		}
		*dst.(*int64) = n
		return nil
	case duration, durationZero:
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			return errors.New("want a duration such as 90s, 2m or 1h")
		case st.kind == duration && d <= 0:
			return errors.New("want a positive duration such as 90s, 2m or 1h")
		case d < 0:
			return errors.New("want a duration of 0 or more, such as 0, 90s or 2m")
		}
		*dst.(*time.Duration) = d
		return nil
	case boolean:
		switch strings.ToLower(v) {
		case "true", "1", "yes", "on":
			*dst.(*bool) = true
		case "false", "0", "no", "off":
			*dst.(*bool) = false
		default:
			return errors.New("want true or false (or 1 or 0)")
		}
		return nil
	case onOff:
		var on bool
		switch strings.ToLower(v) {
		case "on", "true", "1", "yes":
			on = true
		case "off", "false", "0", "no":
		default:
			return errors.New("want on or off")
		}
		*dst.(**bool) = &on
		return nil
	}
	return fmt.Errorf("unknown kind %d", st.kind)
}

// Lookup returns the setting whose file key is key.
func Lookup(key string) (Setting, bool) {
	for _, st := range Table {
		if st.Key == key {
			return st, true
		}
	}
	return Setting{}, false
}

// ParseSize parses sizes such as 512MiB, 2GiB, 100MB or 1048576 bytes.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 || n*float64(mult) < 1 {
		return 0, fmt.Errorf("%q is not a size such as 512MiB or 2GiB", s)
	}
	return int64(n * float64(mult)), nil
}

// lookup returns the scalar at the dotted key of a YAML document.
func lookup(root *yaml.Node, key string) (string, bool) {
	n := root
	if n == nil {
		return "", false
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(key, ".") {
		if n.Kind != yaml.MappingNode {
			return "", false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return "", false
		}
		n = next
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

// FormatDuration writes d as the settings read it: 2m rather than 2m0s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Type names what the setting takes, for a flag's usage: string, int,
// size or duration.
func (st Setting) Type() string {
	switch st.kind {
	case count, countNone, number:
		return "int"
	case size, sizeNone:
		return "size"
	case duration, durationZero:
		return "duration"
	case boolean:
		return "bool"
	case onOff:
		return "on|off"
	}
	return "string"
}
