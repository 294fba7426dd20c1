package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/mcpserver"
	"github.com/interp-dev/interp/internal/sandbox"
)

// mcpFlags configure the MCP server.
type mcpFlags struct {
	http        string
	token       string
	timeout     time.Duration
	maxTimeout  time.Duration
	idleTimeout time.Duration
	memory      string
	maxSessions int
	pool        int
	verbose     bool
	deps        depsFlags
}

// newMCPCmd is `interp mcp`: a Model Context Protocol server over stdio
// or streamable HTTP.
func newMCPCmd(g *globalFlags) *cobra.Command {
	f := &mcpFlags{}
	cmd := &cobra.Command{
		Use:   "mcp [flags]",
		Short: "Serve the sandbox to MCP clients (Claude Desktop, Cursor, IDE agents) over stdio or HTTP",
		Long: "mcp runs a Model Context Protocol server whose tools run Python in a sandboxed,\n" +
			"persistent session per client: run_python, install_packages, read_file,\n" +
			"write_file, list_files and restart_session.\n\n" +
			"By default it speaks MCP over stdin and stdout, for clients that start it, e.g.\n" +
			"in Claude Desktop's configuration:\n\n" +
			"  {\"mcpServers\": {\"interp\": {\"command\": \"/path/to/interp\", \"args\": [\"mcp\"]}}}\n\n" +
			"With --http ADDR it serves streamable HTTP at http://ADDR/ instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMCP(cmd.Context(), g, f, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.http, "http", "", "serve streamable HTTP on this address, e.g. 127.0.0.1:8765, instead of stdio")
	fl.StringVar(&f.token, "token", os.Getenv("INTERP_MCP_TOKEN"), "with --http, the bearer token every request must carry (env INTERP_MCP_TOKEN); required off loopback")
	fl.DurationVar(&f.timeout, "timeout", mcpserver.DefaultCellTimeout, "default time limit of one run_python call")
	fl.DurationVar(&f.maxTimeout, "max-timeout", mcpserver.DefaultMaxCellTimeout, "the longest time limit a call may ask for")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", mcpserver.DefaultIdleTimeout, "close a client's Python session after this long unused (0: never)")
	fl.StringVar(&f.memory, "memory", config.FormatSize(config.DefaultMemory), "memory limit of each session's sandbox")
	fl.IntVar(&f.maxSessions, "max-sessions", mcpserver.DefaultMaxSessions, "the most Python sessions open at once (one per client)")
	fl.IntVar(&f.pool, "pool", 0, "sandboxes to keep started, with numpy, pandas and matplotlib imported, for fast first calls")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log sessions and requests to stderr")
	f.deps.register(cmd)
	return cmd
}

func runMCP(ctx context.Context, g *globalFlags, f *mcpFlags, stderr io.Writer) error {
	mem, err := parseBytes(f.memory)
	if err != nil {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--memory: %v", err)}
	}
	if f.timeout <= 0 || f.maxTimeout <= 0 {
		return &exitError{code: exitUsage, msg: "--timeout and --max-timeout must be positive"}
	}
	if f.maxSessions <= 0 || f.pool < 0 {
		return &exitError{code: exitUsage, msg: "--max-sessions must be positive and --pool not negative"}
	}
	if f.http != "" {
		if err := checkMCPAddr(f.http, f.token); err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
	}
	idle := f.idleTimeout
	if idle == 0 {
		idle = -1 // never
	}
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
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	cfg := mcpserver.Config{
		Backend:        b,
		Runtime:        rt,
		Auto:           auto,
		Limits:         sandbox.Limits{Memory: mem},
		CellTimeout:    f.timeout,
		MaxCellTimeout: f.maxTimeout,
		IdleTimeout:    idle,
		MaxSessions:    f.maxSessions,
		PoolSize:       f.pool,
		AuthToken:      f.token,
		Logger:         slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if f.pool > 0 {
		cfg.Preload = []string{"numpy", "pandas", "matplotlib.pyplot"}
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	if st != nil {
		defer st.Close()
		cfg.History = st
	}
	srv := mcpserver.New(cfg)
	defer srv.Close()

	if f.http == "" {
		// stdout carries the protocol: nothing else may be printed there.
		if err := srv.RunStdio(ctx); err != nil {
			return &exitError{code: exitInternal, msg: fmt.Sprintf("mcp: %v", err)}
		}
		return nil
	}
	return serveMCPHTTP(ctx, srv, f.http, stderr)
}

// checkMCPAddr refuses to serve code execution off the loopback interface
// without a token.
func checkMCPAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %q: %v (want HOST:PORT, e.g. 127.0.0.1:8765)", addr, err)
	}
	if token != "" {
		return nil
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("--http %s is reachable from other machines: it runs code for whoever connects, so set --token (or INTERP_MCP_TOKEN) too", addr)
}

// serveMCPHTTP serves streamable HTTP until ctx ends.
func serveMCPHTTP(ctx context.Context, srv *mcpserver.Server, addr string, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--http: %v", err)}
	}
	hs := &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "interp: MCP server listening on http://%s/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Close()
		return &exitError{code: exitInternal, msg: fmt.Sprintf("mcp: %v", err)}
	case <-ctx.Done():
	}
	// Ending the MCP sessions first ends their open streams, which
	// Shutdown would otherwise wait for.
	srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return &exitError{code: exitInternal, msg: fmt.Sprintf("mcp: %v", err)}
	}
	hs.Close()
	return nil
}
