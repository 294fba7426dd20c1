package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
	"github.com/interp-dev/interp/web"
)

// serveSetting is one setting of interp serve: a flag, which wins over an
// environment variable, which wins over the config file's server: section,
// which wins over the server's default.
type serveSetting struct {
	flag, env, help string
	file            func(c *config.ServerConfig) string
	apply           func(v string, c *server.Config) error
}

func sizeSetting(dst func(*server.Config) *int64) func(string, *server.Config) error {
	return func(v string, c *server.Config) error {
		n, err := parseBytes(v)
		*dst(c) = n
		return err
	}
}

func durationSetting(dst func(*server.Config) *time.Duration) func(string, *server.Config) error {
	return func(v string, c *server.Config) error {
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = errors.New("must be positive")
		}
		*dst(c) = d
		return err
	}
}

func intSetting(dst func(*server.Config) *int) func(string, *server.Config) error {
	return func(v string, c *server.Config) error {
		n, err := strconv.Atoi(v)
		*dst(c) = n
		return err
	}
}

func fileInt(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// serveSettings are interp serve's settings. Quotas take -1 for none.
var serveSettings = []serveSetting{
	{"metrics-token", "INTERP_METRICS_TOKEN", "a bearer token GET /metrics then requires (default: none, /metrics is open)",
		func(c *config.ServerConfig) string { return c.MetricsToken },
		func(v string, c *server.Config) error { c.MetricsToken = v; return nil }},
	{"max-sessions", "INTERP_SERVER_MAX_SESSIONS", "sessions open at once, all users together (default 64)",
		func(c *config.ServerConfig) string { return fileInt(c.MaxSessions) },
		intSetting(func(c *server.Config) *int { return &c.MaxSessions })},
	{"session-idle-timeout", "INTERP_SERVER_SESSION_IDLE_TIMEOUT", "close sessions unused for this long (default 30m)",
		func(c *config.ServerConfig) string { return c.SessionIdleTimeout },
		durationSetting(func(c *server.Config) *time.Duration { return &c.SessionIdleTimeout })},
	{"pool", "INTERP_SERVER_POOL_SIZE", "sessions kept ready, numpy, pandas and matplotlib imported; -1 for none (default 2)",
		func(c *config.ServerConfig) string { return fileInt(c.PoolSize) },
		intSetting(func(c *server.Config) *int { return &c.PoolSize })},
	{"pool-max", "INTERP_SERVER_POOL_MAX", "the most sessions the pool grows to while they are asked for faster than it refills; it shrinks back when quiet (default 16)",
		func(c *config.ServerConfig) string { return fileInt(c.PoolMax) },
		intSetting(func(c *server.Config) *int { return &c.PoolMax })},
	{"pool-memory", "INTERP_SERVER_POOL_MEMORY", "the memory the pool's ready sessions may hold together; it holds fewer rather than more (default 1GiB)",
		func(c *config.ServerConfig) string { return c.PoolMemory },
		sizeSetting(func(c *server.Config) *int64 { return &c.PoolMemory })},
	{"default-memory", "INTERP_SERVER_DEFAULT_MEMORY", "a session's memory limit when it asks for none (default 2GiB)",
		func(c *config.ServerConfig) string { return c.Limits.DefaultMemory },
		sizeSetting(func(c *server.Config) *int64 { return &c.DefaultMemory })},
	{"max-memory", "INTERP_SERVER_MAX_MEMORY", "the most memory a session may ask for (default 4GiB)",
		func(c *config.ServerConfig) string { return c.Limits.MaxMemory },
		sizeSetting(func(c *server.Config) *int64 { return &c.MaxMemory })},
	{"default-cell-timeout", "INTERP_SERVER_DEFAULT_CELL_TIMEOUT", "time limit of one execution unless the session asks otherwise (default 2m)",
		func(c *config.ServerConfig) string { return c.Limits.DefaultCellTimeout },
		durationSetting(func(c *server.Config) *time.Duration { return &c.DefaultCellTimeout })},
	{"max-cell-timeout", "INTERP_SERVER_MAX_CELL_TIMEOUT", "the longest time limit a session may ask for (default 10m)",
		func(c *config.ServerConfig) string { return c.Limits.MaxCellTimeout },
		durationSetting(func(c *server.Config) *time.Duration { return &c.MaxCellTimeout })},
	{"max-body", "INTERP_SERVER_MAX_BODY", "the largest JSON request body (default 1MiB)",
		func(c *config.ServerConfig) string { return c.Limits.MaxBody },
		sizeSetting(func(c *server.Config) *int64 { return &c.MaxBodyBytes })},
	{"max-upload", "INTERP_SERVER_MAX_UPLOAD", "the largest uploaded file (default 100MiB)",
		func(c *config.ServerConfig) string { return c.Limits.MaxUpload },
		sizeSetting(func(c *server.Config) *int64 { return &c.MaxUploadBytes })},
	{"max-download", "INTERP_SERVER_MAX_DOWNLOAD", "the largest downloaded file (default 64MiB)",
		func(c *config.ServerConfig) string { return c.Limits.MaxDownload },
		sizeSetting(func(c *server.Config) *int64 { return &c.MaxDownloadBytes })},
	{"read-header-timeout", "INTERP_SERVER_READ_HEADER_TIMEOUT", "time to read a request's headers (default 10s)",
		func(c *config.ServerConfig) string { return c.Limits.ReadHeaderTimeout },
		durationSetting(func(c *server.Config) *time.Duration { return &c.ReadHeaderTimeout })},
	{"read-timeout", "INTERP_SERVER_READ_TIMEOUT", "time to read a request's body, uploads included (default 60s)",
		func(c *config.ServerConfig) string { return c.Limits.ReadTimeout },
		durationSetting(func(c *server.Config) *time.Duration { return &c.ReadTimeout })},
	{"write-timeout", "INTERP_SERVER_WRITE_TIMEOUT", "time to write a response; per event for streams, after the code ran for executions (default 60s)",
		func(c *config.ServerConfig) string { return c.Limits.WriteTimeout },
		durationSetting(func(c *server.Config) *time.Duration { return &c.WriteTimeout })},
	{"idle-timeout", "INTERP_SERVER_IDLE_TIMEOUT", "how long an idle keep-alive connection stays open (default 2m)",
		func(c *config.ServerConfig) string { return c.Limits.IdleTimeout },
		durationSetting(func(c *server.Config) *time.Duration { return &c.IdleTimeout })},
	{"task-timeout", "INTERP_SERVER_TASK_TIMEOUT", "time limit of one task of the model, all its steps (default 30m)",
		func(c *config.ServerConfig) string { return c.Limits.TaskTimeout },
		durationSetting(func(c *server.Config) *time.Duration { return &c.TaskTimeout })},
	{"quota-sessions", "INTERP_QUOTA_SESSIONS", "sessions a user may have open at once; -1 for no limit (default 4)",
		func(c *config.ServerConfig) string { return fileInt(c.Quotas.Sessions) },
		intSetting(func(c *server.Config) *int { return &c.Quotas.Sessions })},
	{"quota-executions", "INTERP_QUOTA_EXECUTIONS_PER_MINUTE", "executions a user may start in a minute; -1 for no limit (default 60)",
		func(c *config.ServerConfig) string { return fileInt(c.Quotas.ExecutionsPerMinute) },
		intSetting(func(c *server.Config) *int { return &c.Quotas.ExecutionsPerMinute })},
	{"quota-tokens", "INTERP_QUOTA_TOKENS_PER_DAY", "model tokens a user's tasks may use in a UTC day; -1 for no limit (default 1000000)",
		func(c *config.ServerConfig) string {
			if c.Quotas.TokensPerDay == 0 {
				return ""
			}
			return strconv.FormatInt(c.Quotas.TokensPerDay, 10)
		},
		func(v string, c *server.Config) error {
			n, err := strconv.ParseInt(v, 10, 64)
			c.Quotas.TokensPerDay = n
			return err
		}},
	{"quota-workspace", "INTERP_QUOTA_WORKSPACE_BYTES", "bytes of files in all a user's sessions' workspaces together, which also caps each sandbox's disk; -1 for no limit (default 2GiB)",
		func(c *config.ServerConfig) string { return c.Quotas.WorkspaceBytes },
		func(v string, c *server.Config) error {
			if v == "-1" {
				c.Quotas.WorkspaceBytes = -1
				return nil
			}
			n, err := parseBytes(v)
			c.Quotas.WorkspaceBytes = n
			return err
		}},
}

// serveFlags are interp serve's other flags.
type serveFlags struct {
	listen, db, blobDir, provider, model, logLevel string
	shutdownTimeout, tlsCert, tlsKey               string
	deps                                           depsFlags
}

// newServeCmd is `interp serve`: Interp as a multi-user HTTP service.
func newServeCmd(g *globalFlags) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve Interp over HTTP to many users, with API keys and quotas",
		Long: "serve runs the HTTP API: sessions, code execution streamed as Server-Sent\n" +
			"Events, files, tasks for the model, and history, under /v1, described by\n" +
			"/openapi.json (docs at /docs). Every /v1 request needs an API key: make\n" +
			"users and keys with `interp admin`, on the same database (--db or --history).\n" +
			"/healthz and /readyz need none, nor does /metrics (Prometheus) unless\n" +
			"--metrics-token is set.\n\n" +
			"Settings come from the config file's server: section, then the environment,\n" +
			"then flags. SIGTERM or SIGINT stops it gracefully: running code may finish\n" +
			"within --shutdown-timeout.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, g, f, nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address to listen on (env INTERP_SERVER_LISTEN; default 127.0.0.1:8080)")
	fl.StringVar(&f.db, "db", "", "the database of users, keys and history; overrides --history (env INTERP_HISTORY)")
	fl.StringVar(&f.blobDir, "blob-dir", "", "where the history's large content goes; needed with a postgres:// database (env INTERP_BLOB_DIR)")
	fl.StringVar(&f.provider, "provider", "", "the model's provider for tasks: openai, anthropic or ollama (default: from the config file or the environment)")
	fl.StringVar(&f.model, "model", "", "the model for tasks")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain); needs --tls-key (env INTERP_TLS_CERT)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key of --tls-cert (env INTERP_TLS_KEY)")
	fl.StringVar(&f.shutdownTimeout, "shutdown-timeout", "", "how long running code may finish at shutdown (env INTERP_SERVER_SHUTDOWN_TIMEOUT; default 30s)")
	for _, s := range serveSettings {
		fl.String(s.flag, "", s.help+" (env "+s.env+")")
	}
	f.deps.register(cmd)
	return cmd
}

// layered returns a flag's value if set, else the environment's, else the
// file's.
func layered(cmd *cobra.Command, flag, env, file string) string {
	if fl := cmd.Flags().Lookup(flag); fl != nil && fl.Changed {
		return fl.Value.String()
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return file
}

// serveConfig builds the server's configuration from the file, the
// environment and the flags.
func serveConfig(cmd *cobra.Command, cfg *config.Config) (server.Config, error) {
	sc := server.Config{}
	for _, s := range serveSettings {
		v := layered(cmd, s.flag, s.env, s.file(&cfg.Server))
		if v == "" {
			continue
		}
		if err := s.apply(v, &sc); err != nil {
			return sc, fmt.Errorf("--%s (%s, server config): %q: %v", s.flag, s.env, v, err)
		}
	}
	sc.Agent = agent.Limits{
		MaxSteps: cfg.Limits.MaxSteps, MaxFailures: cfg.Limits.MaxFailures,
		MaxRepeats: cfg.Limits.MaxRepeats, TokenBudget: cfg.Limits.TokenBudget,
		StepTokens: cfg.Limits.StepTokens,
	}
	if cfg.Limits.CellTimeout != "" {
		d, err := time.ParseDuration(cfg.Limits.CellTimeout)
		if err != nil {
			return sc, fmt.Errorf("limits.cell_timeout: %v", err)
		}
		sc.Agent.CellTimeout = d
	}
	sc.Vision, sc.NoTools = cfg.Vision, cfg.NoTools
	return sc, nil
}

// serveTLS loads the certificate and key to serve HTTPS with, or returns
// nil when neither is given.
func serveTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("--tls-cert and --tls-key go together: give both, or neither")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert, --tls-key: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// storeDSN is the database admin and serve use: --db, else --history, else
// INTERP_HISTORY or the config file, else the default.
func storeDSN(g *globalFlags, db string, cfg *config.Config) (string, error) {
	switch {
	case db != "":
		return db, nil
	case g.history != "":
		return g.history, nil
	case cfg.History.DSN != "":
		return cfg.History.DSN, nil
	}
	return store.DefaultDSN()
}

// openServerStore opens the database of users, keys and history.
func openServerStore(ctx context.Context, g *globalFlags, cmd *cobra.Command, db string, cfg *config.Config) (*store.Store, error) {
	dsn, err := storeDSN(g, db, cfg)
	if err != nil {
		return nil, &exitError{code: exitInternal, msg: err.Error()}
	}
	blobs := layered(cmd, "blob-dir", "INTERP_BLOB_DIR", cfg.Server.BlobDir)
	st, err := store.Open(ctx, dsn, &store.Options{BlobDir: blobs})
	if err != nil {
		return nil, &exitError{code: exitInternal, msg: fmt.Sprintf("database: %v", err)}
	}
	return st, nil
}

// runServe runs interp serve, or interp ui's local mode when ui is set.
func runServe(cmd *cobra.Command, g *globalFlags, f *serveFlags, ui *uiOptions) error {
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	cfg, err := config.Load(config.Path())
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	sc, err := serveConfig(cmd, cfg)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	listen := layered(cmd, "listen", "INTERP_SERVER_LISTEN", cfg.Server.Listen)
	if listen == "" {
		listen = "127.0.0.1:8080"
	}
	if ui != nil {
		if listen, err = ui.listenAddr(); err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
	}
	shutdownTimeout := 30 * time.Second
	if v := layered(cmd, "shutdown-timeout", "INTERP_SERVER_SHUTDOWN_TIMEOUT", cfg.Server.Limits.ShutdownTimeout); v != "" {
		if shutdownTimeout, err = time.ParseDuration(v); err != nil || shutdownTimeout < 0 {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("--shutdown-timeout %q: want a duration such as 30s", v)}
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--log-level %q: want debug, info, warn or error", f.logLevel)}
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	var llmFactory server.LLMFactory
	var defModel *server.LLM
	name, model, defaulted, err := resolveModel(ctx, cfg, f.provider, f.model)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	if p, err := g.newProvider(cfg, name, model); err != nil {
		if !defaulted {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
		log.Warn("tasks are off: no language model is configured, and the local one is not usable", "why", err.Error())
	} else {
		defer closeProvider(p)
		if defaulted {
			log.Info(config.LocalNotice(model))
		}
		m := &server.LLM{Provider: p, Name: name, Model: model, Temperature: cfg.Temperature(name), SmallModel: cfg.SmallModelFor(name)}
		llmFactory = func(context.Context) (*server.LLM, error) { return m, nil }
		defModel = m
	}
	choices, modelFor, closeModels := g.serveModels(cfg, defModel)
	defer closeModels()

	rt, err := g.runtime()
	if err != nil {
		return &exitError{code: exitUnsupported, msg: err.Error()}
	}
	b, err := g.backend()
	if err != nil {
		return err
	}
	defer b.Close()
	auto, err := f.deps.auto(rt, stderr)
	if err != nil {
		return err
	}
	st, err := openServerStore(ctx, g, cmd, f.db, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	if ui != nil {
		if err := ui.prepare(ctx, st, &sc); err != nil {
			return &exitError{code: exitInternal, msg: err.Error()}
		}
	}
	kernel := session.Config{Backend: b, Runtime: rt}
	if err := prewarm(ctx, cfg, auto, &kernel, log); err != nil {
		return err
	}
	srv, err := server.New(sc, server.Deps{
		Store: st, Kernel: kernel, Auto: auto, LLM: llmFactory, Models: choices, ModelFor: modelFor, Logger: log,
		UI: web.Handler(),
	})
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	tlsConfig, err := serveTLS(layered(cmd, "tls-cert", "INTERP_TLS_CERT", cfg.Server.TLSCert), layered(cmd, "tls-key", "INTERP_TLS_KEY", cfg.Server.TLSKey))
	if err != nil {
		srv.Shutdown(context.Background())
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		srv.Shutdown(context.Background())
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--listen: %v", err)}
	}
	scheme := "http://"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "https://"
	} else if host, _, _ := net.SplitHostPort(listen); !isLoopback(host) {
		log.Warn("listening beyond this machine without TLS: pass --tls-cert and --tls-key, or put a TLS-terminating proxy in front", "addr", ln.Addr().String())
	}
	if h := sandbox.InspectHost(); h.Cgroups != "v2" && h.Cgroups != "" && !h.FavorDynMods {
		log.Warn("cgroups are mounted without favordynmods: each sandbox waits about 10 ms to join its cgroup (run scripts/setup; see interp doctor)")
	}
	users, _ := st.ListUsers(ctx)
	if ui != nil {
		ui.announce(cmd.OutOrStdout(), scheme+ln.Addr().String())
	} else if len(users) == 0 {
		log.Warn("no users yet: create one with `interp admin user create NAME` and a key with `interp admin key create NAME`")
	}
	log.Info("listening", "addr", scheme+ln.Addr().String(), "docs", scheme+ln.Addr().String()+"/docs")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		srv.Shutdown(context.Background())
		return &exitError{code: exitInternal, msg: fmt.Sprintf("serve: %v", err)}
	case <-ctx.Done():
	}
	// A second signal stops at once.
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	log.Info("stopping: letting running code finish", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return &exitError{code: exitInternal, msg: fmt.Sprintf("shutdown: %v", err)}
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return &exitError{code: exitInternal, msg: fmt.Sprintf("serve: %v", err)}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
