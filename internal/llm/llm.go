// Package llm talks to language models: one Provider interface for
// streaming chat with tool calls, with backends for OpenAI's API (and every
// server compatible with it), Anthropic's and Ollama's, each through the
// provider's official Go client.
package llm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/interp-dev/interp/internal/event"
)

// Roles of a Message.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool" // the result of a tool call
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant message makes.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID names the call a tool message answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Images go with user and tool messages to models that can see.
	Images []Image `json:"images,omitempty"`
}

// Image is an inline image.
type Image struct {
	MIME string `json:"mime"` // image/png
	Data []byte `json:"data"`
}

// ToolCall is a model's request to run a tool.
type ToolCall struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Arguments is the JSON text the model wrote, unparsed: models get it
	// wrong often enough that parsing is the caller's job.
	Arguments string `json:"arguments"`
}

// Tool describes a tool the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is a JSON Schema object.
	Parameters map[string]any
}

// Request is one call to a model.
type Request struct {
	Model    string
	System   string
	Messages []Message
	Tools    []Tool
	// MaxTokens bounds the answer; a provider default if zero.
	MaxTokens int
	// Temperature is the sampling temperature; the server's default if
	// nil (often 0.8 on local servers, too random for code).
	Temperature *float64
	// RequireTool makes the model call one of Tools rather than answer
	// in text, where the API can force it (tool_choice): a small model
	// otherwise answers at once and invents the numbers.
	RequireTool bool
	// Grammar, if set, constrains the answer to a GBNF grammar, and
	// JSONSchema to JSON that a schema accepts (llama.cpp's grammar and
	// json_schema). Only the OpenAI provider sends them, and only servers
	// that know them (llama-server, the local provider) obey; OpenAI's own
	// API refuses them.
	Grammar    string
	JSONSchema map[string]any
}

// Delta is a piece of a streamed answer: text, or a fragment of a tool
// call's arguments as the model writes them.
type Delta struct {
	Text string
	// ToolCall is set for tool-call fragments: Index tells parallel calls
	// apart, ID and Name come with the first fragment of a call.
	ToolCall *ToolCallDelta
}

// ToolCallDelta is a fragment of a streamed tool call.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string // the next piece of the JSON text
}

// Usage counts tokens: the event vocabulary's, which tasks report.
type Usage = event.Usage

// EstimateTokens is a rough token count of text, for servers that report
// none: about four bytes a token for ASCII, and a token per character
// otherwise (CJK text runs at one or two characters a token).
func EstimateTokens(text string) int {
	n, other := 0, 0
	for _, r := range text {
		if r < 128 {
			n++
		} else {
			other++
		}
	}
	return (n+3)/4 + other
}

// EstimateUsage estimates what req and its answer cost, for servers that
// report no usage.
func EstimateUsage(req *Request, answer Message) Usage {
	in := EstimateTokens(req.System)
	for _, m := range req.Messages {
		in += 4 + EstimateTokens(m.Content) + 1000*len(m.Images)
		for _, c := range m.ToolCalls {
			in += EstimateTokens(c.Arguments)
		}
	}
	for _, t := range req.Tools {
		in += EstimateTokens(t.Name+t.Description) + 100
	}
	out := EstimateTokens(answer.Content)
	for _, c := range answer.ToolCalls {
		out += EstimateTokens(c.Name+c.Arguments) + 4
	}
	return Usage{InputTokens: in, OutputTokens: out, Estimated: true}
}

// Response is a complete answer.
type Response struct {
	Message    Message
	Usage      Usage
	StopReason string // as the provider says it: stop, end_turn, tool_use, length...
}

// Provider streams answers from a model.
type Provider interface {
	// Name identifies the provider: openai, anthropic, ollama.
	Name() string
	// Stream sends req and calls emit with each piece of the answer as it
	// arrives, on the calling goroutine, then returns the whole answer.
	// Transient failures (429, 5xx, connection errors before the answer
	// starts) are retried; errors that remain are *Error.
	Stream(ctx context.Context, req *Request, emit func(Delta)) (*Response, error)
}

// GrammarProvider is a Provider that obeys Request.Grammar, as llama.cpp
// does. Callers constrain answers only through providers that say so:
// others refuse the field or ignore it.
type GrammarProvider interface {
	Provider
	SupportsGrammar() bool
}

// SupportsGrammar reports whether p obeys Request.Grammar.
func SupportsGrammar(p Provider) bool {
	g, ok := p.(GrammarProvider)
	return ok && g.SupportsGrammar()
}

// Error kinds, for callers that react differently to each.
const (
	ErrAuth        = "auth"        // 401, 403: the key is wrong
	ErrRateLimit   = "rate_limit"  // 429 after retries
	ErrServer      = "server"      // 5xx after retries
	ErrTimeout     = "timeout"     // no answer in time
	ErrBrokenReply = "broken"      // the stream broke or made no sense
	ErrRequest     = "bad_request" // 400, 404, 422: the request or model is wrong
	ErrOther       = "other"
)

// Error is a provider failure with a message fit for a person.
type Error struct {
	Provider string
	Kind     string
	Status   int // HTTP status, if any
	// RetryAfter is what the provider asked for, if anything.
	RetryAfter time.Duration
	Message    string
	Err        error
}

func (e *Error) Error() string {
	s := e.Provider + ": "
	if e.Status != 0 {
		s += fmt.Sprintf("HTTP %d: ", e.Status)
	}
	return s + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// IsKind reports whether err is an *Error of kind.
func IsKind(err error, kind string) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
