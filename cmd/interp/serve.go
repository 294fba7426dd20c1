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
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
	"github.com/interp-dev/interp/web"
)

// serveKeys are the settings interp serve declares flags for.
var serveKeys = []string{
	"server.listen", "server.blob_dir", "provider", "model", "server.tls_cert", "server.tls_key",
	"server.limits.shutdown_timeout", "server.metrics_token", "server.max_sessions",
	"server.session_idle_timeout", "server.pool_size", "server.pool_max", "server.pool_memory", "server.pool_fork",
	"server.limits.default_memory",
	"server.limits.max_memory", "server.limits.default_cell_timeout", "server.limits.max_cell_timeout",
	"server.limits.max_body", "server.limits.max_upload", "server.limits.max_download",
	"server.limits.read_header_timeout", "server.limits.read_timeout", "server.limits.write_timeout",
	"server.limits.idle_timeout", "server.limits.task_timeout", "server.quotas.sessions",
	"server.quotas.executions_per_minute", "server.quotas.tokens_per_day", "server.quotas.workspace_bytes",
}

// serveFlags are interp serve's flags that are not settings.
type serveFlags struct {
	db, logLevel string
	deps         depsFlags
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
	fl.StringVar(&f.db, "db", "", "the database of users, keys and history; overrides --history (env INTERP_HISTORY)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	declare(fl, serveKeys...)
	f.deps.register(cmd)
	return cmd
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

// openServerStore opens the database of users, keys and history: db (the
// --db flag of admin and serve) if given, else the history's.
func openServerStore(ctx context.Context, s *config.Settings, db string) (*store.Store, error) {
	dsn := db
	if dsn == "" {
		var err error
		if dsn, err = historyDSN(s); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(ctx, dsn, &store.Options{BlobDir: s.BlobDir})
	if err != nil {
		return nil, &exitError{code: exitInternal, msg: fmt.Sprintf("database: %v", err)}
	}
	return st, nil
}

// runServe runs interp serve, or interp ui's local mode when ui is set.
func runServe(cmd *cobra.Command, g *globalFlags, f *serveFlags, ui *uiOptions) error {
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	s, err := g.settings()
	if err != nil {
		return err
	}
	cfg := s.File
	sc := server.ConfigFrom(s)
	listen := s.Server.Listen
	if ui != nil {
		if listen, err = ui.listenAddr(); err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
	}
	shutdownTimeout := s.Server.ShutdownTimeout
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--log-level %q: want debug, info, warn or error", f.logLevel)}
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	var llmFactory server.LLMFactory
	var defModel *server.LLM
	name, model, defaulted, err := resolveModel(ctx, s, func(msg string) { log.Warn(msg) })
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
		m := &server.LLM{Provider: p, Name: name, Model: model, Temperature: cfg.Temperature(name), SmallModel: s.SmallModelFor(name)}
		llmFactory = func(context.Context) (*server.LLM, error) { return m, nil }
		defModel = m
	}
	choices, modelFor, closeModels := g.serveModels(s, defModel)
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
	auto, err := f.deps.auto(s, rt, stderr)
	if err != nil {
		return err
	}
	st, err := openServerStore(ctx, s, f.db)
	if err != nil {
		return err
	}
	defer st.Close()

	if ui != nil {
		if err := ui.prepare(ctx, st, &sc); err != nil {
			return &exitError{code: exitInternal, msg: err.Error()}
		}
	}
	prepareSite, err := prewarm(ctx, cfg, auto, log)
	if err != nil {
		return err
	}
	kernel := session.Config{Backend: b, Runtime: rt, PrepareSite: prepareSite}
	srv, err := server.New(sc, server.Deps{
		Store: st, Kernel: kernel, Auto: auto, LLM: llmFactory, Models: choices, ModelFor: modelFor, Logger: log,
		UI: web.Handler(),
	})
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	tlsConfig, err := serveTLS(s.Server.TLSCert, s.Server.TLSKey)
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
