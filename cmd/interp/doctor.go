package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/store"
)

// A finding is one check of `interp doctor`.
type finding struct {
	Area   string `json:"area"`
	Check  string `json:"check"`
	Status string `json:"status"` // ok, warn or fail
	Detail string `json:"detail"`
	// Fix says what to do about a warning or a failure.
	Fix string `json:"fix,omitempty"`
}

const (
	statusOK   = "ok"
	statusWarn = "warn"
	statusFail = "fail"
)

func newDoctorCmd(g *globalFlags) *cobra.Command {
	var asJSON, contact bool
	cmd := &cobra.Command{
		Use:   "doctor [--json] [--model]",
		Short: "Check that this host can run sandboxes, and what would make them slow or weaker",
		Long: "doctor checks the sandbox's host requirements, starts one sandbox, and looks\n" +
			"at the Python runtime, the model configuration and the history store. It\n" +
			"exits 0 when nothing failed, 6 when this host cannot sandbox, and 1 otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := g.doctor(cmd.Context())
			if contact {
				fs = append(fs, g.doctorModel(cmd.Context()))
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(fs); err != nil {
					return err
				}
			} else {
				printFindings(cmd.OutOrStdout(), fs)
			}
			return doctorVerdict(fs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
	cmd.Flags().BoolVar(&contact, "model", false, "also send the configured model one tiny request")
	return cmd
}

// doctorModel sends the configured model one tiny request, to show that
// the key, the address and the model name work.
func (g *globalFlags) doctorModel(ctx context.Context) finding {
	f := finding{Area: "model", Check: "request"}
	s, err := g.settings()
	if err != nil {
		f.Status, f.Detail = statusFail, err.Error()
		return f
	}
	cfg := s.File
	name, model, _, err := resolveModel(ctx, s, func(string) {})
	if err == nil {
		var p llm.Provider
		if p, err = g.newProvider(cfg, name, model); err == nil {
			defer closeProvider(p)
			ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			start := time.Now()
			var res *llm.Response
			res, err = p.Stream(ctx, &llm.Request{Model: model, MaxTokens: 16,
				Messages: []llm.Message{{Role: "user", Content: "Reply with the word OK."}}}, func(llm.Delta) {})
			if err == nil {
				f.Status = statusOK
				f.Detail = fmt.Sprintf("%s, model %s answered %q in %s", name, model, truncate(strings.TrimSpace(res.Message.Content), 40), time.Since(start).Round(time.Millisecond))
				return f
			}
		}
	}
	f.Status, f.Detail, f.Fix = statusFail, err.Error(), "check the provider's key, address and model name (interp doctor shows which are used)"
	return f
}

// doctor runs every check.
func (g *globalFlags) doctor(ctx context.Context) []finding {
	var fs []finding
	add := func(area, check, status, detail, fix string) {
		fs = append(fs, finding{Area: area, Check: check, Status: status, Detail: detail, Fix: fix})
	}

	rt, rtErr := g.runtime()
	h := sandbox.InspectHost()
	if h.UserNamespaces != nil {
		add("sandbox", "user namespaces", statusFail, h.UserNamespaces.Error(), "run interp on Linux with user namespaces enabled, outside a locked-down container")
	} else {
		add("sandbox", "user namespaces", statusOK, "available (Linux "+h.Kernel+")", "")
	}
	switch {
	case h.Cgroups == "":
		add("sandbox", "cgroups", statusFail, "no cgroup hierarchy: limits cannot be enforced", "mount cgroup2 (or the v1 memory, pids and cpu controllers) on /sys/fs/cgroup")
	case h.Cgroups == "v2":
		add("sandbox", "cgroups", statusOK, "v2: sandboxes are cloned straight into their cgroups", "")
	case h.FavorDynMods:
		add("sandbox", "cgroups", statusOK, h.Cgroups+", mounted with favordynmods", "")
	default:
		add("sandbox", "cgroups", statusWarn, h.Cgroups+" without favordynmods: each sandbox waits about 10 ms to join its cgroup",
			"run scripts/setup, or remount the cgroup2 hierarchy with -o remount,favordynmods; boot with cgroup_favordynmods=true to keep it")
	}
	if h.LandlockABI > 0 {
		add("sandbox", "Landlock", statusOK, fmt.Sprintf("ABI %d", h.LandlockABI), "")
	} else {
		add("sandbox", "Landlock", statusWarn, "not available: sandboxes rely on their mount namespace and seccomp alone", "use Linux 5.13 or later with lsm=landlock")
	}
	if h.Seccomp {
		add("sandbox", "seccomp", statusOK, "filters available", "")
	} else {
		add("sandbox", "seccomp", statusFail, "no seccomp filters in this kernel", "use a kernel built with CONFIG_SECCOMP_FILTER")
	}
	switch {
	case h.Init == "":
		add("sandbox", "init", statusFail, "no program to start sandboxes with", "build bin/interp-sandbox (make build) and keep it beside interp")
	case h.InitIsSelf:
		add("sandbox", "init", statusWarn, "interp-sandbox is not beside interp: each sandbox starts by re-executing interp, several milliseconds slower",
			"keep bin/interp-sandbox next to interp, or set "+sandbox.InitEnv)
	default:
		add("sandbox", "init", statusOK, h.Init, "")
	}
	fs = append(fs, g.doctorStart(ctx, rt, rtErr))

	switch {
	case rtErr != nil:
		add("python", "runtime", statusFail, rtErr.Error(), "run scripts/setup")
	default:
		detail := rt.Executable
		if out, err := exec.CommandContext(ctx, rt.Executable, "-c", "import sys; print(sys.version.split()[0])").Output(); err == nil {
			detail += " (Python " + strings.TrimSpace(string(out)) + ")"
		}
		if n := len(rt.Packages()); n > 0 {
			detail += fmt.Sprintf(", %d packages in the base environment", n)
		}
		add("python", "runtime", statusOK, detail, "")
		if rt.UV == "" {
			add("python", "installer", statusWarn, "uv is missing: missing packages will not be installed", "run scripts/setup")
		} else {
			add("python", "installer", statusOK, rt.UV, "")
		}
	}

	s, err := g.settings()
	if err != nil {
		add("model", "configuration", statusFail, err.Error(), "fix "+config.Path()+", the environment or the flags")
	} else if provider, model, defaulted, err := s.ResolveModel(); err != nil {
		add("model", "provider", statusFail, err.Error(), "")
	} else if provider != config.Local {
		if model == "" {
			model = "the one the server lists"
		}
		add("model", "provider", statusOK, provider+", model "+model+" (not contacted)", "")
	} else {
		detail := "local, model " + model
		if defaulted {
			detail += " (the default: no cloud provider is configured)"
		}
		add("model", "provider", statusOK, detail, "")
		fs = append(fs, g.doctorLocal(ctx, model, defaulted)...)
	}

	if s != nil && s.NoHistory {
		add("history", "store", statusOK, "off (--no-history)", "")
	} else if s != nil {
		dsn, err := historyDSN(s)
		if err == nil {
			var st *store.Store
			if st, err = store.Open(ctx, dsn, historyOptions(s, dsn)); err == nil {
				st.Close()
			}
		}
		if err != nil {
			add("history", "store", statusFail, err.Error(), "pass --history, or --no-history")
		} else {
			add("history", "store", statusOK, redactDSN(dsn), "")
		}
	}
	return fs
}

// doctorStart starts one sandbox, as every session does, and times it.
func (g *globalFlags) doctorStart(ctx context.Context, rt *python.Runtime, rtErr error) finding {
	f := finding{Area: "sandbox", Check: "start"}
	if s, err := g.settings(); err == nil && s.Unsafe {
		f.Status, f.Detail = statusWarn, "--unsafe-no-sandbox: code runs on this host with no isolation"
		return f
	}
	if rtErr != nil {
		f.Status, f.Detail = statusWarn, "not tried: no Python runtime"
		return f
	}
	b, err := sandbox.NewNamespaces()
	if err != nil {
		f.Status, f.Detail = statusFail, err.Error()
		return f
	}
	defer b.Close()
	t0 := time.Now()
	p, err := b.Start(ctx, &sandbox.Spec{Argv: []string{rt.Executable, "-S", "-c", "pass"}, Env: sandbox.DefaultEnv(), ReadOnly: rt.ReadOnly})
	if err == nil {
		var res *sandbox.Result
		if res, err = p.Wait(); err == nil {
			err = res.Err()
		}
	}
	if err != nil {
		f.Status, f.Detail = statusFail, err.Error()
		return f
	}
	f.Status = statusOK
	f.Detail = fmt.Sprintf("started one and ran python -S -c pass in %.1f ms, teardown included", float64(time.Since(t0).Microseconds())/1000)
	return f
}

// redactDSN hides a PostgreSQL password.
func redactDSN(dsn string) string {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok {
		if creds, host, ok := strings.Cut(rest, "@"); ok {
			if user, _, ok := strings.Cut(creds, ":"); ok {
				return scheme + "://" + user + ":***@" + host
			}
		}
	}
	return dsn
}

func printFindings(w io.Writer, fs []finding) {
	marks := map[string]string{statusOK: "ok", statusWarn: "WARN", statusFail: "FAIL"}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", marks[f.Status], f.Area, f.Check, f.Detail)
		if f.Fix != "" && f.Status != statusOK {
			fmt.Fprintf(tw, "\t\t\t→ %s\n", f.Fix)
		}
	}
	tw.Flush()
}

// doctorVerdict turns the findings into the exit status.
func doctorVerdict(fs []finding) error {
	var failed []string
	sandboxFailed := false
	for _, f := range fs {
		if f.Status == statusFail {
			failed = append(failed, f.Area+" "+f.Check)
			sandboxFailed = sandboxFailed || f.Area == "sandbox"
		}
	}
	switch {
	case sandboxFailed:
		return &exitError{code: exitUnsupported, msg: "doctor: this host cannot run sandboxes (" + strings.Join(failed, ", ") + " failed)"}
	case len(failed) > 0:
		return &exitError{code: exitCodeFailed, msg: "doctor: " + strings.Join(failed, ", ") + " failed"}
	}
	return nil
}
