// Package agent is Interp's main job: it turns a task in plain language into
// Python with a language model, runs the code in a session, feeds the
// results back, and lets the model fix errors or carry on until it can
// answer. Every step streams as events, and every runaway is bounded: steps,
// consecutive failures, repeated identical errors, tokens and context.
package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/session"
)

// Agent event types, beside the session's.
const (
	EventMessage = "message" // the model's text, as it streams
	EventCode    = "code"    // the code, as the model writes it
	EventTool    = "tool"    // a tool call about to run, with its whole code
	EventAnswer  = "answer"  // the final answer
	EventStop    = "stop"    // the loop ended without an answer; Reason says why
)

// Event is a session event or one of the agent's own.
type Event struct {
	session.Event
	Step int    `json:"step,omitempty"`
	Tool string `json:"tool,omitempty"`
	// Packages are those a tool call asked for.
	Packages []string `json:"packages,omitempty"`
}

// Why a run ended.
const (
	StopAnswer        = "answer"
	StopMaxSteps      = "max_steps"
	StopMaxFailures   = "max_failures"
	StopRepeatedError = "repeated_error"
	StopTokenBudget   = "token_budget"
	StopUser          = "stopped"
	StopDeclined      = "declined"
	StopRefused       = "refused" // Config.Admit refused to run more code
	StopProvider      = "provider_error"
)

// Limits bound one run. Zero fields take DefaultLimits.
type Limits struct {
	MaxSteps    int // model calls per task
	MaxFailures int // consecutive failed runs of code
	// MaxRepeats stops the loop when the same error comes back this many
	// times in a row: the model is not getting anywhere.
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
}

// DefaultLimits are used where Limits fields are zero.
var DefaultLimits = Limits{
	MaxSteps:      20,
	MaxFailures:   5,
	MaxRepeats:    2,
	TokenBudget:   400_000,
	ContextTokens: 100_000,
	MaxToolOutput: 6000,
	CellTimeout:   2 * time.Minute,
}

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
	// Admit, if set, is asked before each step's code runs, for limits
	// the agent does not know, such as a service's quotas: an error stops
	// the task (StopRefused), with the error as the reason.
	Admit func(ctx context.Context) error
	// Vision sends images the code makes to the model.
	Vision bool
	// Packages lists the base environment's packages, for the prompt.
	Packages []string
	// NoTools makes the agent ask for fenced code instead of tool calls,
	// for models without tool support.
	NoTools bool
}

// Agent runs tasks. It keeps the conversation across tasks, so a chat
// remembers; it runs one task at a time.
type Agent struct {
	cfg    Config
	limits Limits

	mu      sync.Mutex
	history []llm.Message
}

// New returns an agent.
func New(cfg Config) (*Agent, error) {
	if cfg.Provider == nil || cfg.Session == nil {
		return nil, errors.New("agent: a provider and a session are required")
	}
	return &Agent{cfg: cfg, limits: cfg.Limits.withDefaults()}, nil
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

// Result is how a task ended.
type Result struct {
	Answer string
	Stop   string // one of the Stop constants
	// Reason says in one line why a run stopped early.
	Reason string
	Steps  int
	Usage  llm.Usage
}

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
	r := &run{a: a, emit: emit, res: &Result{}}
	a.history = append(a.history, llm.Message{Role: llm.RoleUser, Content: task})
	r.taskIndex = len(a.history) - 1
	err := r.loop(ctx)
	if r.res.Stop != StopAnswer && r.res.Stop != "" {
		emit(Event{Event: session.Event{Type: EventStop, Reason: r.res.Reason, Status: r.res.Stop}, Step: r.res.Steps})
	}
	return r.res, err
}

// run is the state of one task.
type run struct {
	a         *Agent
	emit      func(Event)
	res       *Result
	taskIndex int // where the task is in the history: never trimmed

	failures  int
	lastError string
	repeats   int
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
	for {
		if ctx.Err() != nil {
			r.stop(StopUser, "stopped by the user")
			return nil
		}
		if r.res.Steps >= lim.MaxSteps {
			r.stop(StopMaxSteps, fmt.Sprintf("the model took %d steps without answering, the limit", lim.MaxSteps))
			return nil
		}
		if used := r.res.Usage.InputTokens + r.res.Usage.OutputTokens; used >= lim.TokenBudget {
			r.stop(StopTokenBudget, fmt.Sprintf("the task used %d tokens, over its budget of %d", used, lim.TokenBudget))
			return nil
		}
		r.res.Steps++
		step := r.res.Steps
		a.trimContext(r.taskIndex)

		req := &llm.Request{Model: a.cfg.Model, System: system, Messages: a.history}
		if !a.cfg.NoTools {
			req.Tools = []llm.Tool{runPythonTool}
		}
		stream := newCodeStream()
		resp, err := a.cfg.Provider.Stream(ctx, req, func(d llm.Delta) {
			if d.Text != "" {
				r.emit(Event{Event: session.Event{Type: EventMessage, Text: d.Text}, Step: step})
			}
			if d.ToolCall != nil {
				if piece := stream.add(d.ToolCall); piece != "" {
					r.emit(Event{Event: session.Event{Type: EventCode, Text: piece}, Step: step})
				}
			}
		})
		if err != nil {
			if ctx.Err() != nil {
				r.stop(StopUser, "stopped by the user")
				return nil
			}
			r.stop(StopProvider, err.Error())
			return nil
		}
		r.res.Usage.InputTokens += resp.Usage.InputTokens
		r.res.Usage.OutputTokens += resp.Usage.OutputTokens
		msg := resp.Message
		msg.Role = llm.RoleAssistant
		a.history = append(a.history, msg)

		calls := msg.ToolCalls
		viaText := false
		if len(calls) == 0 {
			// Models without tools write fenced code, and some local
			// models print their tool call as text.
			if code, packages, ok := codeFromText(msg.Content, a.cfg.NoTools); ok {
				calls = []llm.ToolCall{{Name: toolName, Arguments: encodeArgs(code, packages)}}
				viaText = true
			}
		}
		if len(calls) == 0 {
			r.res.Answer = strings.TrimSpace(msg.Content)
			r.stop(StopAnswer, "")
			r.emit(Event{Event: session.Event{Type: EventAnswer, Text: r.res.Answer}, Step: step})
			return nil
		}
		var feedback []string
		for i, call := range calls {
			out, stopNow, err := r.runCall(ctx, step, call)
			if err != nil {
				return err
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
		if r.res.Stop != "" {
			return nil
		}
	}
}
