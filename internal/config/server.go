package config

// ServerConfig configures the HTTP service, interp serve. Empty or zero
// fields take the server's defaults; the environment (INTERP_SERVER_*,
// INTERP_QUOTA_*) and flags override them. Sizes are like 512MiB, durations
// like 90s.
type ServerConfig struct {
	// Listen is the address to listen on, e.g. 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// MaxSessions caps the sessions open at once, all users together.
	MaxSessions string `yaml:"max_sessions"`
	// SessionIdleTimeout closes sessions unused for this long.
	SessionIdleTimeout string `yaml:"session_idle_timeout"`
	// PoolSize is how many ready sessions to keep warm.
	PoolSize string `yaml:"pool_size"`
	// PoolMax and PoolMemory: how many ready sessions the pool may grow
	// to under demand, and the memory they may hold together.
	PoolMax    string `yaml:"pool_max"`
	PoolMemory string `yaml:"pool_memory"`
	// PoolFork forks the sessions the pool cannot serve from a template
	// of their user's.
	PoolFork string `yaml:"pool_fork"`
	// BlobDir is where the history's large content goes (needed with a
	// postgres:// history DSN).
	BlobDir string `yaml:"blob_dir"`
	// TLSCert and TLSKey, PEM files, make the server speak HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string             `yaml:"metrics_token"`
	Limits       ServerLimitsConfig `yaml:"limits"`
	Quotas       QuotasConfig       `yaml:"quotas"`
}

// ServerLimitsConfig bounds sessions and requests.
type ServerLimitsConfig struct {
	// DefaultMemory and MaxMemory: a session's memory limit when it asks
	// for none, and the most it may ask for.
	DefaultMemory string `yaml:"default_memory"`
	MaxMemory     string `yaml:"max_memory"`
	// DefaultCellTimeout and MaxCellTimeout: the time limit of one
	// execution, and the most a session may ask for.
	DefaultCellTimeout string `yaml:"default_cell_timeout"`
	MaxCellTimeout     string `yaml:"max_cell_timeout"`
	// MaxBody caps a request's JSON body; MaxUpload an uploaded file;
	// MaxDownload a downloaded one.
	MaxBody     string `yaml:"max_body"`
	MaxUpload   string `yaml:"max_upload"`
	MaxDownload string `yaml:"max_download"`
	// Timeouts of the HTTP server: reading a request's headers, reading
	// its body, writing a non-streaming response, keeping an idle
	// connection, and draining at shutdown.
	ReadHeaderTimeout string `yaml:"read_header_timeout"`
	ReadTimeout       string `yaml:"read_timeout"`
	WriteTimeout      string `yaml:"write_timeout"`
	IdleTimeout       string `yaml:"idle_timeout"`
	ShutdownTimeout   string `yaml:"shutdown_timeout"`
	// TaskTimeout bounds one task of the model, all its steps.
	TaskTimeout string `yaml:"task_timeout"`
}

// QuotasConfig limits each user. Zero takes the default; negative means
// no limit.
type QuotasConfig struct {
	Sessions            string `yaml:"sessions"`              // open at once
	ExecutionsPerMinute string `yaml:"executions_per_minute"` // code executions
	TokensPerDay        string `yaml:"tokens_per_day"`        // model tokens, UTC day
	// WorkspaceBytes caps the files of all a user's sessions together, a
	// size like 2GiB, or -1 for no limit.
	WorkspaceBytes string `yaml:"workspace_bytes"`
}
