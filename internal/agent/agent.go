// Package agent is Interp's main job: it turns a task in plain language into
// Python with a language model, runs the code in a session, feeds the
// results back, and lets the model fix errors or carry on until it can
// answer. Every step streams as events, and every runaway is bounded: steps,
// consecutive failures, repeated identical errors, tokens and context.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/session"
)

// Event is a session event or one of the agent's own (event.Task).
type Event = event.Task

// Limits bound one run. Zero fields take DefaultLimits.
type Limits struct {
	MaxSteps    int // model calls per task
	MaxFailures int // consecutive failed runs of code
	// MaxRepeats is how many times in a row the model may send again,
	// unchanged, code that failed or printed nothing: such code does not
	// run, the attempt leaves the conversation, and the retry is sampled
	// warmer (retry.go); one more stops the loop. The same error from different code gets a hint to
	// change approach at this count, and a stop two failures later.
	MaxRepeats int
	// TokenBudget caps the tokens of one task, input and output.
	TokenBudget int
	// ContextTokens is the size the conversation is kept under, by
	// trimming old outputs first; an estimate, at four bytes a token.
	ContextTokens int
	// MaxToolOutput caps the text of one result fed back to the model.
	MaxToolOutput int
	// CellTimeout bounds one run of code.
	CellTimeout time.Duration
	// StepTokens caps the tokens of one answer of the model (max_tokens).
	StepTokens int
}

// DefaultLimits are used where Limits fields are zero: the defaults of
// internal/config's settings, and the loop's own bounds.
var DefaultLimits = func() Limits {
	l := LimitsFrom(config.Defaults())
	l.ContextTokens, l.MaxToolOutput = 100_000, 6000
	return l
}()

// LimitsFrom are the limits the settings give: the file's limits section,
// the environment and flags.
func LimitsFrom(s *config.Settings) Limits {
	a := s.Agent
	return Limits{MaxSteps: a.MaxSteps, MaxFailures: a.MaxFailures, MaxRepeats: a.MaxRepeats,
		TokenBudget: a.TokenBudget, StepTokens: a.StepTokens, CellTimeout: s.CellTimeout}
}

// Small models get shorter answers and results: they are slow to write
// and easily lost in long text.
const (
	smallStepTokens    = 1024
	smallMaxToolOutput = 2000
)

// DefaultTemperature is the sampling temperature when none is configured:
// low, as code wants. Servers' own defaults (often 0.8) are too random.
const DefaultTemperature = 0.2

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxSteps == 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.MaxFailures == 0 {
		l.MaxFailures = d.MaxFailures
	}
	if l.MaxRepeats == 0 {
		l.MaxRepeats = d.MaxRepeats
	}
	if l.TokenBudget == 0 {
		l.TokenBudget = d.TokenBudget
	}
	if l.ContextTokens == 0 {
		l.ContextTokens = d.ContextTokens
	}
	if l.MaxToolOutput == 0 {
		l.MaxToolOutput = d.MaxToolOutput
	}
	if l.CellTimeout == 0 {
		l.CellTimeout = d.CellTimeout
	}
	if l.StepTokens == 0 {
		l.StepTokens = d.StepTokens
	}
	return l
}

// Config configures an Agent.
type Config struct {
	Provider llm.Provider
	Model    string
	Session  *session.Session
	// Auto installs missing packages; nil turns installs off.
	Auto   *deps.Auto
	Limits Limits
	// Confirm, if set, is asked before any code runs; false declines.
	Confirm func(ctx context.Context, code string) (bool, error)
	// Review, if set, is asked instead of Confirm, by front ends that
	// also let the person skip the code or edit it (see Verdict); an
	// error declines, as Confirm's false does.
	Review func(ctx context.Context, code string) (Verdict, error)
	// Admit, if set, is asked before each step's code runs, for limits
	// the agent does not know, such as a service's quotas: an error stops
	// the task (event.StopRefused), with the error as the reason.
	Admit func(ctx context.Context) error
	// Vision sends images the code makes to the model.
	Vision bool
	// Packages lists the base environment's packages, for the prompt.
	Packages []string
	// NoTools makes the agent ask for fenced code instead of tool calls,
	// for models without tool support.
	NoTools bool
	// Temperature is the sampling temperature: DefaultTemperature if nil,
	// and 0 for small models.
	Temperature *float64
	// SmallModel turns on what small local models need to succeed: a
	// compact system prompt with a preview of each data file (computed
	// in the sandbox), temperature 0, a first step that must run code,
	// fenced Python run as code, shorter answers and concise error
	// feedback, and the requested answer format repeated with every
	// result. With a provider that obeys grammars (llm.SupportsGrammar),
	// the model works under the fenced protocol (protocol.go): each step
	// is one fenced Python block or the final answer, as a grammar
	// forces, and the answer is forced once a run printed a result. Off,
	// the loop is the plain one (the baseline they are measured against).
	SmallModel bool
}

// Agent runs tasks. It keeps the conversation across tasks, so a chat
// remembers; it runs one task at a time.
type Agent struct {
	cfg    Config
	limits Limits
	// grammar says the small-model mode works under the fenced
	// protocol, its steps constrained by grammars.
	grammar bool

	mu      sync.Mutex
	history []llm.Message
}

// New returns an agent.
func New(cfg Config) (*Agent, error) {
	if cfg.Provider == nil || cfg.Session == nil {
		return nil, errors.New("agent: a provider and a session are required")
	}
	lim := cfg.Limits
	if cfg.SmallModel {
		if lim.StepTokens == 0 {
			lim.StepTokens = smallStepTokens
		}
		if lim.MaxToolOutput == 0 {
			lim.MaxToolOutput = smallMaxToolOutput
		}
	}
	grammar := cfg.SmallModel && llm.SupportsGrammar(cfg.Provider)
	return &Agent{cfg: cfg, limits: lim.withDefaults(), grammar: grammar}, nil
}

// History returns a copy of the conversation so far.
func (a *Agent) History() []llm.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]llm.Message(nil), a.history...)
}

// SetHistory replaces the conversation, to resume one.
func (a *Agent) SetHistory(h []llm.Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.history = append([]llm.Message(nil), h...)
}

// Verdict is a person's answer to code about to run (Config.Review).
type Verdict struct {
	// Skip leaves the code unrun: its cell ends as declined, the model
	// is told, and the task goes on.
	Skip bool
	// Code, when set and not the model's, runs instead: the person
	// edited it. A tool event with it goes out first, and the model is
	// told what ran.
	Code string
}

// review asks Review, or Confirm, about code; an error declines.
func (a *Agent) review(ctx context.Context, code string) (Verdict, error) {
	if a.cfg.Review != nil {
		return a.cfg.Review(ctx, code)
	}
	yes, err := a.cfg.Confirm(ctx, code)
	if err == nil && !yes {
		err = errors.New("declined")
	}
	return Verdict{}, err
}

// Result is how a task ended.
type Result = event.Result

// Run works on task until the model answers or a bound is hit. emit gets
// every event in order. The error is non-nil only when the loop could not
// work at all; bounds, declines and provider failures end it with a
// Result whose Stop says why.
func (a *Agent) Run(ctx context.Context, task string, emit func(Event)) (*Result, error) {
	if !a.mu.TryLock() {
		return nil, errors.New("agent: already running a task")
	}
	defer a.mu.Unlock()
	if emit == nil {
		emit = func(Event) {}
	}
	r := &run{a: a, emit: emit, res: &Result{}, format: taskFormat(task)}
	a.history = append(a.history, llm.Message{Role: llm.RoleUser, Content: task})
	r.taskIndex = len(a.history) - 1
	err := r.loop(ctx)
	if r.res.Stop != event.StopAnswer && r.res.Stop != "" {
		emit(Event{Event: session.Event{Type: event.Stop, Reason: r.res.Reason, Status: r.res.Stop}, Step: r.res.Steps})
	}
	return r.res, err
}

// run is the state of one task.
type run struct {
	a         *Agent
	emit      func(Event)
	res       *Result
	taskIndex int // where the task is in the history: never trimmed

	failures int
	repeats  repeatTracker
	codeOK   bool // some code of this task ran without error
	// printed says some run of this task printed a result (text or an
	// image): under the fenced protocol there is no answer before.
	printed bool
	// format is the answer format the task asks for, if any; restated
	// says the model was asked once to restate its answer in it.
	format   *answerFormat
	restated bool
	// answerNow says the last run printed a result without error: under
	// the fenced protocol the next step must be the answer.
	answerNow bool
	// tables are the data files loaded in the session by the preview,
	// by name, with their columns: for hints on errors.
	tables tables
	// stuck is the last run if it got nowhere (retry.go); nil after a
	// run that printed a result.
	stuck *stuckRun
	// answerChecked says a small model's answer was sent back once for
	// a problem answerProblem found.
	answerChecked bool
	// held is a fenced step's text, shown once the loop knows it is not
	// the final answer (which the answer event carries, cleaned).
	held []piece
}

// showHeld emits the text held back from the last step.
func (r *run) showHeld(step int) {
	for _, p := range r.held {
		r.emit(Event{Event: session.Event{Type: p.typ, Text: p.text}, Step: step})
	}
	r.held = nil
}

// want is what the next step may be under the fenced protocol.
func (r *run) want() stepWant {
	switch {
	case !r.codeOK, !r.printed:
		// A small model whose code printed nothing answers with
		// values it made up.
		return wantCode
	case r.answerNow:
		return wantAnswer
	}
	return wantEither
}

func (r *run) stop(why, reason string) {
	r.res.Stop, r.res.Reason = why, reason
}

func (r *run) loop(ctx context.Context) error {
	a := r.a
	lim := a.limits
	system, err := r.systemPrompt(ctx)
	if err != nil {
		return err
	}
	defer func() { r.showHeld(r.res.Steps) }()
	for {
		r.showHeld(r.res.Steps)
		if ctx.Err() != nil {
			r.stop(event.StopUser, "stopped by the user")
			return nil
		}
		if r.res.Steps >= lim.MaxSteps {
			r.stop(event.StopMaxSteps, fmt.Sprintf("the model took %d steps without answering, the limit", lim.MaxSteps))
			return nil
		}
		if used := r.res.Usage.InputTokens + r.res.Usage.OutputTokens; used >= lim.TokenBudget {
			r.stop(event.StopTokenBudget, fmt.Sprintf("the task used %d tokens, over its budget of %d", used, lim.TokenBudget))
			return nil
		}
		r.res.Steps++
		step := r.res.Steps
		a.trimContext(r.taskIndex)

		req := &llm.Request{Model: a.cfg.Model, System: system, Messages: a.history,
			MaxTokens: lim.StepTokens, Temperature: a.temperature()}
		if r.stuck != nil && r.stuck.resent > 0 {
			t := max(retryTemperature(r.stuck.resent), *req.Temperature)
			req.Temperature = &t
		}
		switch {
		case a.grammar:
			// No tools: llama-server takes a grammar or tools, not both.
			req.Grammar = stepGrammar(r.want(), r.format)
		case !a.cfg.NoTools:
			req.Tools = []llm.Tool{runPythonTool}
			// A small model answers at once and invents the numbers
			// unless made to run code first: until some code of the
			// task has run without error, it must call the tool (the
			// server's grammar then also keeps the call well formed).
			req.RequireTool = a.cfg.SmallModel && !r.codeOK
		}
		stream := newCodeStream()
		split := &fenceSplitter{on: a.grammar}
		show := func(ps []piece) {
			for _, p := range ps {
				r.emit(Event{Event: session.Event{Type: p.typ, Text: p.text}, Step: step})
			}
		}
		watch := &runawayDetector{}
		stepCtx, cancel := context.WithCancelCause(ctx)
		resp, err := a.cfg.Provider.Stream(stepCtx, req, func(d llm.Delta) {
			piece := d.Text
			if d.Text != "" {
				show(split.add(d.Text))
			}
			if d.ToolCall != nil {
				piece = d.ToolCall.Arguments
				if code := stream.add(d.ToolCall); code != "" {
					r.emit(Event{Event: session.Event{Type: event.Code, Text: code}, Step: step})
				}
			}
			if watch.add(piece) {
				cancel(errRunaway)
			}
		})
		for _, p := range split.flush() {
			if p.typ == event.Message {
				r.held = append(r.held, p)
			} else {
				show([]piece{p})
			}
		}
		runaway := errors.Is(context.Cause(stepCtx), errRunaway)
		cancel(nil)
		estimated := false
		if err != nil && runaway && ctx.Err() == nil {
			// The stream is cut: what came is all there is. A model
			// stuck after a complete call it printed as text still
			// gets that call run.
			r.emit(Event{Event: session.Event{Type: event.Stderr, Text: "[interp: the model's answer kept repeating itself; cut]\n"}, Step: step})
			resp = &llm.Response{Message: llm.Message{Content: strings.TrimSpace(watch.text())}, StopReason: stopRunaway}
			resp.Usage, estimated, err = llm.EstimateUsage(req, llm.Message{Content: watch.text()}), true, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				r.stop(event.StopUser, "stopped by the user")
				return nil
			}
			r.stop(event.StopProvider, err.Error())
			return nil
		}
		if !estimated && resp.Usage.InputTokens == 0 && resp.Usage.OutputTokens == 0 {
			// The server reported none (many local ones, when streaming).
			resp.Usage = llm.EstimateUsage(req, resp.Message)
		}
		r.res.Usage.Add(resp.Usage)
		msg := resp.Message
		msg.Role = llm.RoleAssistant

		calls := msg.ToolCalls
		viaText, parsed := false, false
		if a.grammar {
			switch kind, code := parseStep(msg.Content); kind {
			case stepCode:
				calls, viaText, parsed = []llm.ToolCall{{Name: toolName, Arguments: encodeArgs(code, nil)}}, true, true
			case stepAnswer:
				parsed = true
			}
		} else if len(calls) > 0 {
			parsed = wellFormed(calls)
		}
		if len(calls) == 0 && !(a.grammar && parsed) {
			// Models without tools write fenced code, and some local
			// models print their tool call as text.
			if code, packages, ok := codeFromText(msg.Content, a.fenced() || a.cfg.SmallModel); ok {
				calls = []llm.ToolCall{{Name: toolName, Arguments: encodeArgs(code, packages)}}
				viaText = true
				// Fenced code is the protocol without tools; a call
				// printed as text never is.
				parsed = a.cfg.NoTools && !a.grammar && fenceRE.MatchString(msg.Content)
			} else if !a.grammar {
				parsed = true // a plain answer
			}
		}
		if truncated(resp.StopReason) || resp.StopReason == stopRunaway || strings.TrimSpace(msg.Content) == "" && len(calls) == 0 {
			parsed = false
		}
		if !parsed {
			r.res.Unparsed = append(r.res.Unparsed, step)
		}
		if len(calls) == 0 && (truncated(resp.StopReason) || resp.StopReason == stopRunaway) {
			why := fmt.Sprintf("it reached the limit of %d tokens", lim.StepTokens)
			if resp.StopReason == stopRunaway {
				why = "it kept repeating itself"
			}
			if r.cutShort(step, msg.Content, why, resp.StopReason != stopRunaway) {
				return nil
			}
			continue
		}
		if len(calls) == 1 && r.resent(step, calls[0]) {
			if r.res.Stop != "" {
				return nil
			}
			continue
		}
		attempt := len(a.history)
		a.history = append(a.history, msg)
		if len(calls) == 0 {
			answer := strings.TrimSpace(msg.Content)
			if r.format != nil && !r.restated && !r.format.matches(answer) {
				// Once: a model that computed the right values often
				// drops the format when it writes the answer.
				r.restated = true
				r.emit(Event{Event: session.Event{Type: event.Stderr,
					Text: "[interp: the answer does not follow the format the task asked for; asking the model to restate it]\n"}, Step: step})
				a.history = append(a.history, llm.Message{Role: llm.RoleUser, Content: restatePrompt(r.format)})
				continue
			}
			if a.cfg.SmallModel && r.codeOK && !r.answerChecked {
				if why := answerProblem(answer, r.sources()); why != "" {
					// Once: the model may run code for the value, or
					// answer again from what was printed.
					r.answerChecked, r.answerNow = true, false
					r.emit(Event{Event: session.Event{Type: event.Stderr,
						Text: "[interp: the answer is not backed by the output; asking the model again]\n"}, Step: step})
					a.history = append(a.history, llm.Message{Role: llm.RoleUser, Content: why})
					continue
				}
			}
			if a.cfg.SmallModel {
				answer = withoutMarkup(answer)
			}
			r.held = nil // the answer event carries it
			r.res.Answer = answer
			r.stop(event.StopAnswer, "")
			r.emit(Event{Event: session.Event{Type: event.Answer, Text: r.res.Answer}, Step: step})
			return nil
		}
		var feedback []string
		for i, call := range calls {
			out, stopNow, err := r.runCall(ctx, step, call)
			if err != nil {
				return err
			}
			switch {
			case stopNow:
			case a.grammar && r.answerNow:
				out.Content += "\n[next] Reply now with the final answer from this output, without code"
				if r.format != nil {
					out.Content += ", in the format the task asked for: " + r.format.describe()
				}
				out.Content += "."
			case r.format != nil && a.cfg.SmallModel && r.failures == 0:
				// Only after a run that worked: after an error, the
				// reminder makes a small model write the answer as code.
				out.Content += "\n[when you answer] use the format the task asked for: " + r.format.describe()
			}
			if viaText {
				feedback = append(feedback, out.Content)
			} else {
				a.history = append(a.history, out)
			}
			if stopNow {
				// Every call needs an answer, or the next request of a
				// chat would be refused.
				for _, rest := range calls[i+1:] {
					if !viaText {
						a.history = append(a.history, llm.Message{Role: llm.RoleTool, ToolCallID: rest.ID, Content: "Not run: the task stopped."})
					}
				}
				if viaText {
					a.history = append(a.history, llm.Message{Role: llm.RoleUser, Content: "Result of running your code:\n" + strings.Join(feedback, "\n\n")})
				}
				return nil
			}
		}
		if viaText {
			a.history = append(a.history, llm.Message{Role: llm.RoleUser,
				Content: "Result of running your code:\n" + strings.Join(feedback, "\n\n")})
		}
		if r.stuck != nil {
			r.stuck.attempt = attempt
		}
		if r.res.Stop != "" {
			return nil
		}
	}
}

// resent handles a call that sends again the code of the last run that
// got nowhere (retry.go): the code does not run, the attempt and its
// result in the history give way to the note, and the next step samples
// warmer. It reports whether the call was such a re-send; the task stops
// (r.res.Stop) after MaxRepeats re-sends in a row.
func (r *run) resent(step int, call llm.ToolCall) bool {
	s := r.stuck
	if s == nil || call.Name != toolName {
		return false
	}
	args, ok := parseArgs(call.Arguments)
	if !ok || normaliseCode(args.Code) != s.code {
		return false
	}
	a := r.a
	s.resent++
	if s.resent > a.limits.MaxRepeats {
		r.stop(event.StopRepeatedError, fmt.Sprintf("the model sent the same code %d times, and it %s", s.resent+1, s.sig))
		return true
	}
	r.emit(Event{Event: session.Event{Type: event.Stderr,
		Text: "[interp: the model sent the same code again; not run, asking for a different attempt]\n"}, Step: step})
	a.history = append(a.history[:s.attempt], llm.Message{Role: llm.RoleUser, Content: s.note})
	return true
}

// sources are what a small model's answer may take its numbers from: the
// task, and what the loop told the model since.
func (r *run) sources() []string {
	var out []string
	for _, m := range r.a.history[r.taskIndex:] {
		if m.Role != llm.RoleAssistant {
			out = append(out, m.Content)
		}
	}
	return out
}

// stopRunaway is the stop reason of an answer cut for repeating itself.
const stopRunaway = "runaway"

// truncated reports whether a stop reason says the answer hit its token
// limit.
func truncated(stopReason string) bool {
	return stopReason == "length" || stopReason == "max_tokens"
}

// cutShort records an answer that was cut before it was done and tells
// the model, and the user if tell; it reports whether the task must stop.
func (r *run) cutShort(step int, text, why string, tell bool) bool {
	a := r.a
	if tell {
		r.emit(Event{Event: session.Event{Type: event.Stderr, Text: "[interp: the model's answer was cut: " + why + "]\n"}, Step: step})
	}
	if len(text) > 600 {
		text = text[:600] + "\n[cut]"
	}
	a.history = append(a.history,
		llm.Message{Role: llm.RoleAssistant, Content: text},
		llm.Message{Role: llm.RoleUser, Content: "Your answer was cut: " + why + ". Be brief: " + a.howToRun() + ", or give the final answer in a few lines."})
	r.failures++
	if r.failures >= a.limits.MaxFailures {
		r.stop(event.StopMaxFailures, fmt.Sprintf("%d failures in a row, the limit (the last: the model's answer %s)", r.failures, why))
		return true
	}
	return false
}

// temperature is the sampling temperature to ask for.
func (a *Agent) temperature() *float64 {
	if a.cfg.Temperature != nil {
		return a.cfg.Temperature
	}
	t := DefaultTemperature
	if a.cfg.SmallModel {
		t = 0
	}
	return &t
}

// howToRun tells the model how it runs code.
func (a *Agent) howToRun() string {
	if a.fenced() {
		return "run short code in one ```python block"
	}
	return "run short code with the " + toolName + " tool"
}

// fenced says the model runs code by writing fenced blocks, not by
// calling a tool.
func (a *Agent) fenced() bool { return a.cfg.NoTools || a.grammar }

// wellFormed reports whether every tool call names the tool and has
// arguments that parse as they should; no calls is a plain answer.
func wellFormed(calls []llm.ToolCall) bool {
	for _, c := range calls {
		if c.Name != toolName {
			return false
		}
		var args toolArgs
		if json.Unmarshal([]byte(c.Arguments), &args) != nil || args.Code == "" {
			return false
		}
	}
	return true
}
