package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
)

// version is the module's version (with the commit when it was built
// from a checkout), and the Go that built it.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}

// globalFlags are shared by every command.
type globalFlags struct {
	cmd      *cobra.Command   // the command running, whose flags settings reads
	resolved *config.Settings // its settings, once read
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "interp",
		Short: "An AI Python code interpreter with a secure sandbox",
		Long: "interp runs Python, written by a language model or by you, in a sandbox\n" +
			"that keeps state between steps and isolates it from the host.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version(),
		// Runs before every command.
		PersistentPreRun: g.runningCommand,
	}
	root.SetVersionTemplate("interp {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("%v (see '%s --help')", err, c.CommandPath())}
	})
	pf := root.PersistentFlags()
	declare(pf, "home", "history.dsn", "unsafe_no_sandbox", "history.disabled")
	root.AddCommand(newExecCmd(g), newReplCmd(g), newDepsCmd(g), newRunCmd(g), newChatCmd(g), newHistoryCmd(g), newMCPCmd(g), newServeCmd(g), newUICmd(g), newAdminCmd(g), newDoctorCmd(g), newEvalCmd(g), newModelsCmd(g), newCacheCmd(g))
	return root
}

// backend returns the sandbox backend the flags ask for. On a host that
// cannot sandbox it refuses, unless the unsafe mode was chosen, which
// warns every time.
func (g *globalFlags) backend() (sandbox.Backend, error) {
	s, err := g.settings()
	if err != nil {
		return nil, err
	}
	if s.Unsafe {
		fmt.Fprintln(os.Stderr, "interp: WARNING: --unsafe-no-sandbox: code runs on this host with no isolation and full access to your files, network and environment")
		return sandbox.NewUnsafe(), nil
	}
	b, err := sandbox.NewNamespaces()
	if err != nil {
		return nil, &exitError{code: exitUnsupported, msg: fmt.Sprintf("%v; interp refuses to run code unsandboxed (--unsafe-no-sandbox overrides this, at your own risk)", err)}
	}
	return b, nil
}

// runtime returns the Python runtime sandboxes run.
func (g *globalFlags) runtime() (*python.Runtime, error) {
	s, err := g.settings()
	if err != nil {
		return nil, err
	}
	rt, err := python.Find(s.Home)
	if err != nil {
		return nil, err
	}
	return rt, rt.Validate()
}
