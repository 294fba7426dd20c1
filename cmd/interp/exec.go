package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/sandbox"
)

type execFlags struct {
	timeout time.Duration
	memory  string
	json    bool
}

func newExecCmd(g *globalFlags) *cobra.Command {
	f := &execFlags{}
	cmd := &cobra.Command{
		Use:   "exec [flags] FILE...",
		Short: "Run Python files, or - for stdin, as cells in a sandbox",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), g, f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "wall-clock limit per cell")
	fl.StringVar(&f.memory, "memory", "1GiB", "memory limit, e.g. 512MiB or 2GiB")
	fl.BoolVar(&f.json, "json", false, "print events as JSON Lines")
	return cmd
}

func runExec(ctx context.Context, g *globalFlags, f *execFlags, files []string, stdout, stderr io.Writer) error {
	mem, err := parseBytes(f.memory)
	if err != nil {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--memory: %v", err)}
	}
	if f.timeout <= 0 {
		return &exitError{code: exitUsage, msg: "--timeout must be positive"}
	}
	cells := make([][]byte, len(files))
	for i, name := range files {
		if name == "-" {
			cells[i], err = io.ReadAll(os.Stdin)
		} else {
			cells[i], err = os.ReadFile(name)
		}
		if err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
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

	limits := sandbox.Limits{Memory: mem, Timeout: f.timeout}
	for i, code := range cells {
		var out, errOut io.Writer = stdout, stderr
		var outBuf, errBuf bytes.Buffer
		if f.json {
			out, errOut = &outBuf, &errBuf
		}
		p, err := b.Start(ctx, &sandbox.Spec{
			Argv:     []string{rt.Executable, "-"},
			Env:      sandbox.DefaultEnv(),
			ReadOnly: rt.ReadOnly,
			Stdin:    bytes.NewReader(code),
			Stdout:   out,
			Stderr:   errOut,
			Limits:   limits,
		})
		if err != nil {
			return &exitError{code: exitInternal, msg: err.Error()}
		}
		res, err := p.Wait()
		if err != nil {
			return &exitError{code: exitInternal, msg: err.Error()}
		}
		if f.json {
			enc := json.NewEncoder(stdout)
			for _, ev := range []struct{ typ, text string }{{"stdout", outBuf.String()}, {"stderr", errBuf.String()}} {
				if ev.text != "" {
					_ = enc.Encode(map[string]any{"type": ev.typ, "cell": i, "text": ev.text})
				}
			}
			status := "ok"
			if !res.Success() {
				status = "error"
			}
			_ = enc.Encode(map[string]any{"type": "done", "cell": i, "status": status, "duration": res.WallTime.Seconds()})
		}
		if err := resultError(files[i], res); err != nil {
			return err
		}
	}
	return nil
}

// resultError maps a cell's result to the exit status and message of the
// CLI.
func resultError(name string, r *sandbox.Result) error {
	err := r.Err()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sandbox.ErrTimeout):
		return &exitError{code: exitTimeout, msg: fmt.Sprintf("%s: %v", name, err)}
	case errors.Is(err, sandbox.ErrMemory):
		return &exitError{code: exitMemory, msg: fmt.Sprintf("%s: %v", name, err)}
	case errors.Is(err, sandbox.ErrCPUTime):
		return &exitError{code: exitCPUTime, msg: fmt.Sprintf("%s: %v", name, err)}
	}
	return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("%s: %v", name, err)}
}
