package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llamacpp"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// agentFlags configure the model and the loop.
type agentFlags struct {
	json    bool
	env     []string
	saveDir string
	deps    depsFlags
	files   workspaceFiles
}

func (f *agentFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	declare(fl, "provider", "model", "limits.memory", "limits.cell_timeout", "yes")
	registerEnv(cmd, &f.env)
	f.deps.register(cmd)
	f.files.register(cmd)
}

func newRunCmd(g *globalFlags) *cobra.Command {
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "run [flags] TASK",
		Short: "Do one task described in plain language, then exit",
		Long: "run asks the model to solve TASK by writing Python, runs the code in a\n" +
			"sandboxed session, and shows the answer. It exits 0 when the model answered.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTask(cmd.Context(), g, f, strings.Join(args, " "), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.json, "json", false, "print events as JSON Lines")
	cmd.Flags().StringVar(&f.saveDir, "save-dir", "", "save images the code displays into this directory")
	return cmd
}

// workbench is what a task runs with: a model, a session and an agent.
type workbench struct {
	agent           *agent.Agent
	session         *session.Session
	cfg             *config.Config
	provider, model string
	close           func()
}

// newWorkbench builds the provider, a session and the agent.
func newWorkbench(ctx context.Context, g *globalFlags, f *agentFlags, confirm func(context.Context, string) (bool, error), stderr io.Writer) (*workbench, error) {
	set, err := g.settings()
	if err != nil {
		return nil, err
	}
	cfg := set.File
	name, model, defaulted, err := resolveModel(ctx, set, func(s string) { fmt.Fprintln(stderr, "interp: "+s) })
	if err != nil {
		return nil, &exitError{code: exitUsage, msg: err.Error()}
	}
	provider, err := g.newProvider(cfg, name, model)
	if err != nil {
		return nil, &exitError{code: exitUsage, msg: err.Error()}
	}
	if defaulted {
		fmt.Fprintln(stderr, "interp: "+config.LocalNotice(model))
	}
	rt, err := g.runtime()
	if err != nil {
		return nil, &exitError{code: exitUnsupported, msg: err.Error()}
	}
	b, err := g.backend()
	if err != nil {
		return nil, err
	}
	m := session.NewManager(session.ManagerConfig{Kernel: session.Config{Backend: b, Runtime: rt}, IdleTimeout: -1})
	limits := sandboxLimits(set.Memory)
	if err := session.CheckEnv(f.env); err != nil {
		m.Shutdown()
		b.Close()
		return nil, &exitError{code: exitUsage, msg: "--env: " + err.Error()}
	}
	s, err := m.Create(ctx, session.CreateOptions{Limits: &limits, Env: f.env})
	if err != nil {
		m.Shutdown()
		b.Close()
		return nil, &exitError{code: exitInternal, msg: err.Error()}
	}
	auto, err := f.deps.auto(set, rt, stderr)
	if err != nil {
		m.Shutdown()
		b.Close()
		return nil, err
	}
	lim := agent.LimitsFrom(set)
	if set.Yes {
		confirm = nil
	}
	ag, err := agent.New(agent.Config{
		Provider: provider, Model: model, Session: s, Auto: auto, Limits: lim,
		Confirm: confirm, Vision: set.Vision, NoTools: set.NoTools, Packages: rt.Packages(),
		Temperature: cfg.Temperature(name), SmallModel: set.SmallModelFor(name),
	})
	if err != nil {
		closeProvider(provider)
		return nil, err
	}
	return &workbench{agent: ag, session: s, cfg: cfg, provider: name, model: model, close: func() { m.Shutdown(); b.Close(); closeProvider(provider) }}, nil
}

// startRecording records a task in st, in conversation convID or a new
// one started by source (store.SourceRun, store.SourceChat).
func (wb *workbench) startRecording(ctx context.Context, st *store.Store, source, convID, task string) (*store.Recorder, error) {
	rec, err := st.StartTask(ctx, convID, task, &store.RecorderOptions{Files: wb.session,
		New: store.ConversationInfo{Source: source, Provider: wb.provider, Model: wb.model}})
	if err != nil {
		return nil, &exitError{code: exitInternal, msg: fmt.Sprintf("history: %v", err)}
	}
	return rec, nil
}

// resolveModel picks the provider and model as cfg.ResolveDefault does,
// and asks the server for the model when it is the server's to say
// (OPENAI_BASE_URL names a server other than OpenAI's, and no model is
// configured): its one model, or an error listing them. With an API key
// the server may be a proxy for OpenAI: when it lists several models
// with OpenAI's default among them, or cannot be asked, the default is
// used, and warn says why in one line.
func resolveModel(ctx context.Context, s *config.Settings, warn func(string)) (name, model string, defaulted bool, err error) {
	cfg := s.File
	name, model, defaulted, err = s.ResolveModel()
	if err != nil || model != "" || !cfg.AskServerModel(name) {
		return name, model, defaulted, err
	}
	keyed := cfg.OpenAI.APIKey != ""
	oc := llm.OpenAIConfig{APIKey: cfg.OpenAI.APIKey, BaseURL: cfg.OpenAI.BaseURL}
	wait := time.Minute
	if keyed {
		// There is a fallback, so a server that does not answer soon
		// is not waited for.
		oc.MaxRetries, wait = -1, 10*time.Second
	}
	p, err := llm.NewOpenAI(oc)
	if err != nil {
		return "", "", false, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if !keyed {
		model, err = p.ServerModel(ctx)
		return name, model, false, err
	}
	def := config.DefaultModels[config.OpenAI]
	ids, err := p.Models(ctx)
	switch {
	case err != nil:
		warn(fmt.Sprintf("could not ask %s for its models (%s): using %s; pass --model to choose another", cfg.OpenAI.BaseURL, oneLine(err), def))
		return name, def, false, nil
	case len(ids) == 1:
		return name, ids[0], false, nil
	case slices.Contains(ids, def) || len(ids) == 0:
		return name, def, false, nil
	}
	model, err = p.ServerModelOf(ids) // several, none of them the default: it says which
	return name, model, false, err
}

// oneLine is err's message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// newProvider builds the named provider from the configuration. The local
// provider's model server starts on its first request; closeProvider
// stops it.
func (g *globalFlags) newProvider(cfg *config.Config, name, model string) (llm.Provider, error) {
	switch name {
	case config.Local:
		lc, err := g.localServer(model)
		if err != nil {
			return nil, err
		}
		return llamacpp.NewProvider(llamacpp.New(lc), model), nil
	case config.OpenAI:
		return llm.NewOpenAI(llm.OpenAIConfig{APIKey: cfg.OpenAI.APIKey, BaseURL: cfg.OpenAI.BaseURL, Model: model})
	case config.Anthropic:
		return llm.NewAnthropic(llm.AnthropicConfig{APIKey: cfg.Anthropic.APIKey, BaseURL: cfg.Anthropic.BaseURL, Model: model})
	case config.Ollama:
		return llm.NewOllama(llm.OllamaConfig{Host: cfg.Ollama.Host, Model: model})
	}
	return nil, fmt.Errorf("unknown provider %q", name)
}

func runTask(ctx context.Context, g *globalFlags, f *agentFlags, task string, stdin io.Reader, stdout, stderr io.Writer) error {
	in := bufio.NewReader(stdin)
	confirm := func(_ context.Context, code string) (bool, error) {
		fmt.Fprint(stderr, "Run this code? [y/N] ")
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(stderr)
			return false, nil
		}
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes", nil
	}
	wb, err := newWorkbench(ctx, g, f, confirm, stderr)
	if err != nil {
		return err
	}
	defer wb.close()
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	var rec *store.Recorder
	if st != nil {
		defer st.Close()
		if rec, err = wb.startRecording(ctx, st, store.SourceRun, "", task); err != nil {
			return err
		}
	}

	if err := f.files.upload(wb.session.Kernel().Workspace(), task, stderr); err != nil {
		return err
	}
	if rec != nil {
		f.files.recordUploads(rec)
	}
	defer func() {
		if err := f.files.download(wb.session.Kernel().Workspace(), stderr); err != nil {
			fmt.Fprintln(stderr, "interp: --out-dir:", err)
		}
	}()
	var show func(agent.Event)
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		show = func(ev agent.Event) { _ = enc.Encode(ev) }
	} else {
		show = newAgentPrinter(stdout, stderr, f.saveDir).event
	}
	var res *agent.Result
	if rec != nil {
		// Recorded even when stopped with Ctrl-C.
		res, err = rec.RunTask(ctx, wb.agent, show)
		if rerr := rec.Err(); rerr != nil {
			fmt.Fprintln(stderr, "interp: history:", rerr)
		}
	} else {
		res, err = wb.agent.Run(ctx, task, show)
	}
	if err != nil {
		return &exitError{code: exitInternal, msg: err.Error()}
	}
	if res.Stop != event.StopAnswer {
		return &exitError{code: exitCodeFailed, msg: fmt.Sprintf("no answer: %s", res.Reason)}
	}
	return nil
}

// agentPrinter shows an agent's events to a person on a plain terminal.
type agentPrinter struct {
	out, err io.Writer
	cell     *textRenderer
	inText   bool // the model's text is streaming
	textStep int  // the step whose text it is
	inCode   bool // the model's code is streaming
}

func newAgentPrinter(out, errOut io.Writer, saveDir string) *agentPrinter {
	cell := newTextRenderer(out, errOut, saveDir)
	cell.fileHow = hostFileHow("name it in the task, or pass it with -f ")
	return &agentPrinter{out: out, err: errOut, cell: cell}
}

func (p *agentPrinter) event(ev agent.Event) {
	switch ev.Type {
	case event.Message, event.Code, event.Tool, event.Answer, event.Stop:
		p.cell.endProgress() // the model's words start on a clean line
	}
	switch ev.Type {
	case event.Message:
		p.endCode()
		io.WriteString(p.out, ev.Text)
		p.inText, p.textStep = true, ev.Step
	case event.Code:
		if !p.inCode {
			p.endText()
			fmt.Fprintln(p.out, "```python")
			p.inCode = true
		}
		io.WriteString(p.out, ev.Text)
	case event.Tool:
		if !p.inCode {
			// The code did not stream (fenced code, or a model that
			// sends whole tool calls): show it now.
			p.endText()
			fmt.Fprintf(p.out, "```python\n%s", ev.Text)
			p.inCode = true
		}
		p.endCode()
	case event.Answer:
		p.endCode()
		if !p.inText || p.textStep != ev.Step {
			// The answer did not stream as this step's text (a fenced
			// step's answer comes whole): show it now.
			p.endText()
			fmt.Fprintln(p.out, ev.Text)
		}
		p.endText()
	case event.Stop:
		p.endText()
		p.endCode()
		fmt.Fprintf(p.err, "[interp: stopped: %s]\n", ev.Reason)
	default:
		p.endText()
		p.endCode()
		p.cell.event(ev.Event)
	}
}

func (p *agentPrinter) endText() {
	if p.inText {
		fmt.Fprintln(p.out)
		p.inText = false
	}
}

func (p *agentPrinter) endCode() {
	if p.inCode {
		fmt.Fprintln(p.out, "\n```")
		p.inCode = false
	}
}

// sandboxLimits are the sandbox limits of a task's session.
func sandboxLimits(memory int64) sandbox.Limits {
	return sandbox.Limits{Memory: memory}
}
