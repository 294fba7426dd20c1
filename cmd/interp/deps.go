package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
)

// depsFlags configure automatic installs.
type depsFlags struct {
	noInstall bool
}

func (d *depsFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&d.noInstall, "no-install", false, "do not install missing packages")
	declare(cmd.Flags(), "index_url")
}

// auto returns the automatic installer for rt, from the index the settings
// name, or nil when installs are off or impossible, saying why in the
// latter case.
func (d *depsFlags) auto(s *config.Settings, rt *python.Runtime, stderr io.Writer) (*deps.Auto, error) {
	if d.noInstall {
		return nil, nil
	}
	if rt.UV == "" {
		fmt.Fprintln(stderr, "interp: uv is not installed, so missing packages will not be installed: run scripts/setup")
		return nil, nil
	}
	m, err := deps.LoadMap()
	if err != nil {
		return nil, err
	}
	limits, storeLimits := cacheLimits(s)
	cacheDir, storeDir := cacheDirs(s)
	torchIndex, err := torchIndex(s.File)
	if err != nil {
		return nil, err
	}
	return &deps.Auto{Map: m, Installer: &deps.Installer{
		TorchIndex:  torchIndex,
		ConfigFile:  config.Path(),
		UV:          rt.UV,
		Python:      rt.Executable,
		CacheDir:    cacheDir,
		CacheLimits: limits,
		Store:       &deps.Store{Dir: storeDir, Limits: storeLimits},
		IndexURL:    s.IndexURL,
		BaseLock:    rt.BaseLock(),
		Map:         m,
	}}, nil
}

// torchIndex is the configured install.torch_index: "cpu" is PyTorch's
// CPU-only index.
func torchIndex(cfg *config.Config) (string, error) {
	v := strings.TrimSpace(cfg.Install.TorchIndex)
	switch v {
	case "":
		return "", nil
	case "cpu":
		return deps.TorchCPUIndex, nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", &exitError{code: exitUsage, msg: fmt.Sprintf("install.torch_index: %q is neither cpu nor an http(s) index URL", v)}
	}
	return v, nil
}

// prewarmList parses the packages to prewarm: args, else install.prewarm.
func prewarmList(cfg *config.Config, args []string) ([]deps.Requirement, error) {
	where := "install.prewarm: "
	list := cfg.Install.Prewarm
	if len(args) > 0 {
		where, list = "", args
	}
	reqs := make([]deps.Requirement, len(list))
	for i, p := range list {
		r, err := deps.ParseRequirement(p)
		if err != nil {
			return nil, &exitError{code: exitUsage, msg: where + err.Error()}
		}
		reqs[i] = r
	}
	return reqs, nil
}

// prewarm keeps the packages of install.prewarm in the package store,
// installing them in the background, and returns the hook that has every
// new kernel's package directory (the warm pool's too) link what is
// there, so that they import at once in a new session: for a long-lived
// server (serve, mcp). Nil when there is nothing to prewarm.
func prewarm(ctx context.Context, cfg *config.Config, auto *deps.Auto, log *slog.Logger) (func(context.Context, string) error, error) {
	reqs, err := prewarmList(cfg, nil)
	if err != nil || len(reqs) == 0 {
		return nil, err
	}
	if auto == nil || auto.Installer.Store == nil {
		log.Warn("install.prewarm is ignored: installs are off")
		return nil, nil
	}
	in := auto.Installer
	go func() {
		if err := in.Pin(context.WithoutCancel(ctx), reqs, nil); err != nil {
			log.Warn("prewarm", "packages", cfg.Install.Prewarm, "err", err)
			return
		}
		log.Info("prewarmed", "packages", cfg.Install.Prewarm)
	}()
	return in.Store.LinkPinned, nil
}

func newDepsCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deps [--json] FILE",
		Short: "List a Python file's imports: stdlib, installed, local or missing, and what would be installed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeps(cmd.Context(), g, args[0], asJSON, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func runDeps(ctx context.Context, g *globalFlags, file string, asJSON bool, stdin io.Reader, stdout io.Writer) error {
	var code []byte
	var err error
	if file == "-" {
		code, err = io.ReadAll(stdin)
	} else {
		code, err = os.ReadFile(file)
	}
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	m, err := deps.LoadMap()
	if err != nil {
		return err
	}
	sess, closeSession, err := g.startSession(ctx, sandbox.Limits{}, 0, nil)
	if err != nil {
		return err
	}
	defer closeSession()
	k := sess.Kernel()
	dir := "."
	if file != "-" {
		dir = filepath.Dir(file)
	}
	// Modules beside the script are local: reported so, never installed.
	var local workspaceFiles
	local.copyLocalModules(k.Workspace(), dir, string(code), func(string) {})
	auto := &deps.Auto{Map: m}
	plan, err := auto.Plan(ctx, k, string(code), nil)
	if err != nil {
		return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("%s: %v", file, err)}
	}
	imports := plan.Imports
	if imports == nil {
		imports = []deps.ImportStatus{}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(imports)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tLINE\tSTATUS\tINSTALLS")
	for _, imp := range imports {
		dist := "-"
		if imp.Distribution != nil {
			dist = *imp.Distribution
			if imp.Ambiguous {
				dist += " (ambiguous)"
			}
		} else if imp.Note != "" {
			dist = "- (" + imp.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", imp.Module, imp.Line, imp.Status, dist)
	}
	return tw.Flush()
}
