package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/eval"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/session"
)

type evalFlags struct {
	deps        depsFlags
	json        bool
	out         string
	only        []string
	limit       int
	replay      string
	transcripts string
	label       string
}

func newEvalCmd(g *globalFlags) *cobra.Command {
	f := &evalFlags{}
	cmd := &cobra.Command{
		Use:   "eval [flags] SUITE.jsonl",
		Short: "Measure answer quality: run a suite of tasks through the agent and check the answers",
		Long: "eval runs each task of SUITE.jsonl through the agent, in a fresh sandboxed\n" +
			"session with the task's files, checks the answer, and reports accuracy, code\n" +
			"runs, steps, tokens and wall time, as a table (or JSON with --json). The\n" +
			"suite Interp ships is eval/suite.jsonl.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEval(cmd.Context(), g, f, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	declare(fl, "provider", "model", "limits.memory", "eval.task_timeout", "small_model")
	f.deps.register(cmd)
	fl.BoolVar(&f.json, "json", false, "print the report as JSON instead of a table")
	fl.StringVar(&f.out, "out", "", "also write the JSON report to this file")
	fl.StringSliceVar(&f.only, "only", nil, "run only the tasks whose ID contains one of these")
	fl.IntVar(&f.limit, "limit", 0, "run at most this many tasks")
	fl.StringVar(&f.replay, "replay", "", "check another agent's answers from this JSON Lines file ({id, answer, workspace, seconds}) instead of running Interp's")
	fl.StringVar(&f.transcripts, "transcripts", "", "write each task's events (ID.jsonl) and conversation (ID.history.json) into this directory")
	fl.StringVar(&f.label, "label", "", "what this run measures, for the report (default: the provider, model and configuration)")
	return cmd
}

func runEval(ctx context.Context, g *globalFlags, f *evalFlags, path string, stdout, stderr io.Writer) error {
	suite, err := eval.LoadSuite(path)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	suite.Filter(f.only, f.limit)
	if len(suite.Tasks) == 0 {
		return &exitError{code: exitUsage, msg: "no task matches --only"}
	}
	s, err := g.settings()
	if err != nil {
		return err
	}
	cfg := s.File
	rt, err := g.runtime()
	if err != nil {
		return &exitError{code: exitUnsupported, msg: err.Error()}
	}
	b, err := g.backend()
	if err != nil {
		return err
	}
	defer b.Close()
	m := session.NewManager(session.ManagerConfig{Kernel: session.Config{Backend: b, Runtime: rt}, IdleTimeout: -1})
	defer m.Shutdown()
	limits := sandboxLimits(s.Memory)
	ecfg := eval.Config{
		TaskTimeout: s.EvalTaskTimeout,
		NewSession: func(ctx context.Context) (*session.Session, func(), error) {
			s, err := m.Create(ctx, session.CreateOptions{Limits: &limits})
			if err != nil {
				return nil, nil, err
			}
			return s, func() { _ = m.CloseSession(s.ID) }, nil
		},
		Progress: func(i int, r eval.TaskResult) {
			mark := "wrong"
			if r.Correct {
				mark = "right"
			}
			fmt.Fprintf(stderr, "[%d/%d] %s: %s in %.1f s\n", i+1, len(suite.Tasks), r.ID, mark, r.Seconds)
		},
	}
	label := f.label
	if f.replay != "" {
		if ecfg.Replay, err = loadReplay(f.replay); err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
		if label == "" {
			label = "replayed from " + f.replay
		}
	} else {
		name, model, _, err := resolveModel(ctx, s, func(msg string) { fmt.Fprintln(stderr, "interp: "+msg) })
		if err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
		provider, err := g.newProvider(cfg, name, model)
		if err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
		defer closeProvider(provider)
		auto, err := f.deps.auto(s, rt, stderr)
		if err != nil {
			return err
		}
		small := s.SmallModelFor(name)
		lim := agent.LimitsFrom(s)
		ecfg.Agent = func(*session.Session) agent.Config {
			return agent.Config{Provider: provider, Model: model, Auto: auto, Limits: lim, Vision: s.Vision,
				NoTools: s.NoTools, Packages: rt.Packages(), Temperature: cfg.Temperature(name), SmallModel: small}
		}
		if label == "" {
			mode := "plain loop"
			if small {
				mode = "small-model measures on"
			}
			label = fmt.Sprintf("%s %s, %s", name, model, mode)
		}
	}
	if f.transcripts != "" {
		w, closeAll, err := transcriptWriter(f.transcripts)
		if err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
		defer closeAll()
		ecfg.Events = w
		ecfg.History = func(id string, h []llm.Message) {
			_ = writeJSONFile(filepath.Join(f.transcripts, filepath.Base(id)+".history.json"), h)
		}
	}
	rep, err := eval.Run(ctx, suite, ecfg)
	if rep == nil {
		return &exitError{code: exitInternal, msg: err.Error()}
	}
	rep.Label = label
	if f.out != "" {
		if werr := writeJSONFile(f.out, rep); werr != nil {
			fmt.Fprintln(stderr, "interp: --out:", werr)
		}
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(rep)
	} else {
		rep.WriteTable(stdout)
	}
	if err != nil {
		return &exitError{code: exitInternal, msg: "stopped: " + err.Error()}
	}
	return nil
}

// loadReplay reads another agent's results.
func loadReplay(path string) (map[string]eval.Replayed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--replay: %w", err)
	}
	defer f.Close()
	out := map[string]eval.Replayed{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var r eval.Replayed
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.ID == "" {
			return nil, fmt.Errorf("--replay %s:%d: not a result with an id: %v", path, n, err)
		}
		out[r.ID] = r
	}
	return out, sc.Err()
}

// transcriptWriter writes each task's events to DIR/ID.jsonl.
func transcriptWriter(dir string) (func(string, agent.Event), func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("--transcripts: %w", err)
	}
	files := map[string]*os.File{}
	write := func(id string, ev agent.Event) {
		f, ok := files[id]
		if !ok {
			var err error
			if f, err = os.Create(filepath.Join(dir, filepath.Base(id)+".jsonl")); err != nil {
				return
			}
			files[id] = f
		}
		b, _ := json.Marshal(ev)
		f.Write(append(b, '\n'))
	}
	return write, func() {
		for _, f := range files {
			f.Close()
		}
	}, nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
