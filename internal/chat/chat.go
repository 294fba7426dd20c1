// Package chat is Interp's interactive terminal chat: a full-screen Bubble
// Tea program in which a person talks to the agent (in a terminal that
// draws images, an inline one that prints each finished block above its
// live region, images with it: Options.Images). It shows the
// conversation as it happens: prompts, the model's text streaming and then
// rendered as Markdown, its code streaming and then highlighted, what the
// code prints, its errors, displays, files and package installs, and the
// answer. It asks before code runs when the agent is configured to.
//
// The agent works on its own goroutine; its events reach the UI through
// Program.Send, in order and batched when they come faster than the screen
// redraws. Ctrl+C stops the running task, not the program.
package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/termimage"
)

// Options configure the chat.
type Options struct {
	// Model names the model in the status line, e.g. "openai · gpt-4.1".
	Model string
	// SaveDir is where images the code displays are saved, as the
	// terminal view cannot show them; "" makes a temporary directory on
	// the first image.
	SaveDir string
	// NoSave keeps images from being saved at all.
	NoSave bool
	// Images is how Output draws images (termimage.Detect), if it can.
	// Then the chat is not full-screen, as a view redrawn all the time
	// cannot keep an image: each finished block is printed above the
	// live region, an image drawn under its line as the cell shows it,
	// once, into the terminal's scrollback.
	Images termimage.Protocol
	// Style is the glamour style of Markdown and code: "dark", "light"
	// or another of glamour's; "" picks dark or light from the
	// terminal's background.
	Style string
	// Input and Output are the terminal; nil means stdin and stdout.
	Input  io.Reader
	Output io.Writer
	// NoTranscript keeps the conversation from being printed to Output
	// when the chat ends (the full-screen view goes away with it).
	NoTranscript bool
	// Earlier are the turns of a resumed conversation, shown first, and
	// Notes lines shown after them (how resuming went).
	Earlier []Turn
	Notes   []string
}

// Turn is one earlier turn of a conversation: the prompt and the answer,
// or why there was none.
type Turn struct {
	Prompt, Answer string
}

// ErrClosed is returned by Confirm once the chat has ended.
var ErrClosed = errors.New("chat: the chat has ended")

// UI is a chat. Make it with New, hand its Confirm to the agent, then Run
// it once.
type UI struct {
	opts Options
	q    *queue
	done chan struct{} // closed when Run returns

	mu    sync.Mutex
	model string

	confirms    atomic.Int32 // confirm requests queued, for tests
	programOpts []tea.ProgramOption
	waitRuns    time.Duration // how long Run waits for a stopped task
}

// New returns a chat that is not running yet.
func New(opts Options) *UI {
	return &UI{opts: opts, model: opts.Model, q: newQueue(), done: make(chan struct{}), waitRuns: 10 * time.Second}
}

// SetModel sets the model named in the status line; call it before Run.
func (u *UI) SetModel(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.model = name
}

// SetEarlier sets the earlier turns of a resumed conversation and the
// notes shown after them; call it before Run.
func (u *UI) SetEarlier(turns []Turn, notes []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.opts.Earlier, u.opts.Notes = turns, notes
}

// Confirm asks the person, inside the chat, whether to run code; it fits
// agent.Config.Confirm. It waits for the answer, for ctx, or for the chat
// to end, which declines.
func (u *UI) Confirm(ctx context.Context, code string) (bool, error) {
	select {
	case <-u.done:
		return false, ErrClosed
	default:
	}
	reply := make(chan bool, 1)
	u.q.push(confirmMsg{code: code, reply: reply})
	u.confirms.Add(1)
	select {
	case yes := <-reply:
		return yes, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-u.done:
		return false, ErrClosed
	}
}

// Runner is what the chat needs of an agent; *agent.Agent is one.
type Runner interface {
	Run(ctx context.Context, task string, emit func(agent.Event)) (*agent.Result, error)
	SetHistory(h []llm.Message)
}

// Run shows the chat until the person quits or ctx ends, running each
// task they type with ag. When it ends, any running task is stopped, and
// the conversation is printed to the terminal unless NoTranscript is set.
func (u *UI) Run(ctx context.Context, ag Runner) error {
	return u.run(ctx, ag)
}

func (u *UI) run(ctx context.Context, ag Runner) error {
	defer close(u.done)
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	u.mu.Lock()
	opts := u.opts
	opts.Model = u.model
	u.mu.Unlock()
	m := newModel(opts)

	var tasks sync.WaitGroup
	m.start = func(task string) context.CancelFunc {
		runCtx, stop := context.WithCancel(ctx)
		tasks.Add(1)
		go func() {
			defer tasks.Done()
			res, err := ag.Run(runCtx, task, func(ev agent.Event) { u.q.push(ev) })
			u.q.push(runDoneMsg{res: res, err: err})
		}()
		return stop
	}
	m.reset = func() { ag.SetHistory(nil) }

	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	out := opts.Output
	if out == nil {
		out = os.Stdout
	}
	popts = append(popts, tea.WithOutput(out))
	popts = append(popts, u.programOpts...)
	p := tea.NewProgram(m, popts...)

	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		u.q.pump(ctx, p.Send)
	}()
	_, err := p.Run()
	cancel()
	<-pumped

	// Let a stopped task wind down, so the session is not closed under
	// it; its cell is being interrupted.
	finished := make(chan struct{})
	go func() { tasks.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(u.waitRuns):
	}

	if !opts.NoTranscript {
		if lines := m.finalTranscript(); len(lines) > 0 {
			io.WriteString(out, strings.Join(lines, "\n")+"\n")
		}
	}
	if m.tempDir != "" {
		// Images the chat saved on its own go with it: they are in the
		// history, and the code's own files are in the current directory.
		os.RemoveAll(m.tempDir)
		if m.images > 0 {
			fmt.Fprintf(out, "(the %d images above were in a temporary directory, now removed: the history keeps them, see interp history export)\n", m.images)
		}
	}
	if errors.Is(err, tea.ErrInterrupted) || parent.Err() != nil && errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, tea.ErrProgramPanic) {
		// Ended by a signal or by the caller's context: not a failure.
		return nil
	}
	return err
}

// IsTerminal reports whether f is a terminal (an *os.File that is one).
func IsTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// queue carries messages from the agent's goroutine to the program in
// order. Pushing never blocks; the pump sends what queued up as one batch,
// so a fast stream costs one redraw per batch, not one per event.
type queue struct {
	mu    sync.Mutex
	items []tea.Msg
	wake  chan struct{}
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(msg tea.Msg) {
	q.mu.Lock()
	q.items = append(q.items, msg)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pump sends queued messages with send until ctx ends.
func (q *queue) pump(ctx context.Context, send func(tea.Msg)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		q.mu.Lock()
		items := q.items
		q.items = nil
		q.mu.Unlock()
		switch len(items) {
		case 0:
		case 1:
			send(items[0])
		default:
			send(batchMsg(items))
		}
	}
}
