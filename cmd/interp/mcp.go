package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/mcpserver"
	"github.com/interp-dev/interp/internal/sandbox"
)

// mcpFlags are interp mcp's flags that are not settings.
type mcpFlags struct {
	verbose bool
	deps    depsFlags
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
	declare(fl, "mcp.http", "mcp.token", "limits.cell_timeout", "mcp.max_cell_timeout", "mcp.idle_timeout",
		"limits.memory", "mcp.max_sessions", "mcp.pool_size")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log sessions and requests to stderr")
	f.deps.register(cmd)
	return cmd
}

func runMCP(ctx context.Context, g *globalFlags, f *mcpFlags, stderr io.Writer) error {
	s, err := g.settings()
	if err != nil {
		return err
	}
	m := s.MCP
	if m.HTTP != "" {
		if err := checkMCPAddr(m.HTTP, m.Token); err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
	}
	idle := m.IdleTimeout
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
	auto, err := f.deps.auto(s, rt, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	prepareSite, err := prewarm(ctx, s.File, auto, log)
	if err != nil {
		return err
	}
	cfg := mcpserver.Config{
		Backend:        b,
		Runtime:        rt,
		Auto:           auto,
		Limits:         sandbox.Limits{Memory: s.Memory},
		CellTimeout:    s.CellTimeout,
		MaxCellTimeout: m.MaxCellTimeout,
		IdleTimeout:    idle,
		MaxSessions:    m.MaxSessions,
		PoolSize:       m.PoolSize,
		AuthToken:      m.Token,
		Logger:         log,
		PrepareSite:    prepareSite,
	}
	if m.PoolSize > 0 {
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

	if m.HTTP == "" {
		// stdout carries the protocol: nothing else may be printed there.
		if err := srv.RunStdio(ctx); err != nil {
			return &exitError{code: exitInternal, msg: fmt.Sprintf("mcp: %v", err)}
		}
		return nil
	}
	return serveMCPHTTP(ctx, srv, m.HTTP, stderr)
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
