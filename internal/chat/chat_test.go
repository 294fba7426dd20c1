package chat

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/syncbuf"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/termimage"
)

// starter records the tasks a model starts.
type starter struct {
	tasks []string
	ctxs  []context.Context
	reset int
}

func newTestModel(t *testing.T, opts Options) (*model, *starter) {
	t.Helper()
	if opts.Style == "" {
		opts.Style = "dark"
	}
	if opts.SaveDir == "" {
		opts.SaveDir = t.TempDir()
	}
	m := newModel(opts)
	s := &starter{}
	m.start = func(task string) context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		s.tasks = append(s.tasks, task)
		s.ctxs = append(s.ctxs, ctx)
		return cancel
	}
	m.reset = func() { s.reset++ }
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 40})
	return m, s
}

// screen is the view without its colours.
func screen(m *model) string { return ansi.Strip(m.View().Content) }

func press(m *model, k string) tea.Cmd {
	var msg tea.KeyPressMsg
	switch k {
	case "enter":
		msg = tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		msg = tea.KeyPressMsg{Code: tea.KeyEscape}
	case "pgup":
		msg = tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		msg = tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "alt+enter":
		msg = tea.KeyPressMsg{Code: tea.KeyEnter, Mod: tea.ModAlt}
	default:
		if c, ok := strings.CutPrefix(k, "ctrl+"); ok {
			msg = tea.KeyPressMsg{Code: rune(c[0]), Mod: tea.ModCtrl}
		} else {
			msg = tea.KeyPressMsg{Code: rune(k[0]), Text: k}
		}
	}
	if msg.String() != k {
		panic("key " + k + " reads as " + msg.String())
	}
	_, cmd := m.Update(msg)
	return cmd
}

func typeIn(m *model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func send(m *model, task string) {
	typeIn(m, task)
	press(m, "enter")
}

func ev(typ, text string, step int) agent.Event {
	return agent.Event{Event: session.Event{Type: typ, Text: text}, Step: step}
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func mustContain(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("screen lacks %q:\n%s", w, got)
		}
	}
}

func mustNotContain(t *testing.T, got string, nots ...string) {
	t.Helper()
	for _, w := range nots {
		if strings.Contains(got, w) {
			t.Fatalf("screen has %q:\n%s", w, got)
		}
	}
}

func TestStreamedTextThenAnswerAsMarkdown(t *testing.T) {
	t.Parallel()
	m, s := newTestModel(t, Options{Model: "openai · gpt-test"})
	mustContain(t, screen(m), "interp chat · openai · gpt-test", "/help")

	send(m, "what is six times seven?")
	if len(s.tasks) != 1 || s.tasks[0] != "what is six times seven?" {
		t.Fatalf("tasks = %q", s.tasks)
	}
	out := screen(m)
	mustContain(t, out, "› what is six times seven?", "thinking…", "Ctrl+C stop")

	m.Update(ev(event.Message, "The answer is ", 1))
	m.Update(ev(event.Message, "**42**.", 1))
	// While it streams the text is shown as it is.
	mustContain(t, screen(m), "The answer is **42**.", "writing…", "step 1")

	m.Update(ev(event.Answer, "The answer is **42**.", 1))
	out = screen(m)
	mustContain(t, out, "The answer is 42.")
	mustNotContain(t, out, "**42**")
	if strings.Count(out, "The answer is") != 1 {
		t.Fatalf("the answer is shown twice:\n%s", out)
	}

	m.Update(runDoneMsg{res: &agent.Result{Answer: "The answer is 42.", Stop: event.StopAnswer, Steps: 1,
		Usage: llm.Usage{InputTokens: 1500, OutputTokens: 20}}})
	out = screen(m)
	mustContain(t, out, "tokens 1.5k in, 20 out", "Enter send")
	mustNotContain(t, out, "thinking…", "Ctrl+C stop")
}

func TestCodeAndItsResults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m, _ := newTestModel(t, Options{SaveDir: dir})
	send(m, "plot something")

	m.Update(ev(event.Message, "Let me compute it.", 1))
	m.Update(ev(event.Code, "import math\nprint(math.", 1))
	out := screen(m)
	mustContain(t, out, "Let me compute it.", "import math", "print(math.", "writing code…")

	m.Update(agent.Event{Event: session.Event{Type: event.Tool, Text: "import math\nprint(math.pi)\n"}, Step: 1, Packages: []string{"numpy"}})
	mustContain(t, screen(m), "print(math.pi)", "packages: numpy", "running code…")

	// Output streams in pieces; a carriage return redraws the line.
	m.Update(ev(event.Stdout, "3.14", 1))
	m.Update(ev(event.Stdout, "159\n", 1))
	m.Update(ev(event.Stderr, "progress 10%\rprogress 100%\n", 1))
	m.Update(agent.Event{Event: session.Event{Type: event.Install, Phase: "downloading", Package: "numpy", Bytes: 3 << 20}, Step: 1})
	mustContain(t, screen(m), "downloading numpy", "3.0 MiB", "installing numpy…")
	m.Update(agent.Event{Event: session.Event{Type: event.Install, Phase: "installed", Package: "numpy", Version: "2.1.0"}, Step: 1})

	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 64, 48))); err != nil {
		t.Fatal(err)
	}
	m.Update(agent.Event{Event: session.Event{Type: event.Display, Data: map[string]any{
		"image/png": base64.StdEncoding.EncodeToString(img.Bytes()), "text/plain": "<Figure size 64x48>"}}, Step: 1})
	m.Update(agent.Event{Event: session.Event{Type: event.Display, Data: map[string]any{"text/plain": "   a  b\n0  1  2"}}, Step: 1})
	m.Update(agent.Event{Event: session.Event{Type: event.File, Path: "out.csv", Size: 2048, Change: "created"}, Step: 1})
	m.Update(agent.Event{Event: session.Event{Type: event.Error, EName: "ValueError", EValue: "bad",
		Traceback: []string{"\x1b[31mTraceback (most recent call last):\x1b[0m", "ValueError: bad"}}, Step: 1})
	m.Update(agent.Event{Event: session.Event{Type: event.Done, Status: event.StatusError, Duration: 0.5}, Step: 1})

	out = screen(m)
	mustContain(t, out,
		"3.14159", "progress 100%", "✓ installed numpy 2.1.0",
		"[image 64x48 png saved to "+filepath.Join(dir, "image-1.png")+"; not shown inline]",
		"0  1  2", "file created: out.csv (2.0 KiB)",
		"Traceback (most recent call last):", "ValueError: bad", "✗ failed in 0.50s", "thinking…")
	mustNotContain(t, out, "progress 10%", "<Figure", "\x1b")
	if _, err := os.Stat(filepath.Join(dir, "image-1.png")); err != nil {
		t.Fatal(err)
	}
	// The traceback is red: colour 1.
	if !strings.Contains(m.View().Content, "31m") {
		t.Fatal("the traceback is not red")
	}
}

func TestCtrlCStopsTheRunNotTheProgram(t *testing.T) {
	t.Parallel()
	m, s := newTestModel(t, Options{})
	send(m, "loop forever")
	m.Update(agent.Event{Event: session.Event{Type: event.Tool, Text: "while True: pass"}, Step: 1})
	if s.ctxs[0].Err() != nil {
		t.Fatal("cancelled too early")
	}
	if cmd := press(m, "ctrl+c"); isQuit(cmd) {
		t.Fatal("Ctrl+C quit")
	}
	if s.ctxs[0].Err() == nil {
		t.Fatal("Ctrl+C did not cancel the run's context")
	}
	mustContain(t, screen(m), "stopping…")

	m.Update(agent.Event{Event: session.Event{Type: event.Done, Status: event.StatusInterrupted}, Step: 1})
	m.Update(agent.Event{Event: session.Event{Type: event.Stop, Status: event.StopUser, Reason: "stopped by the user"}, Step: 1})
	m.Update(runDoneMsg{res: &agent.Result{Stop: event.StopUser, Reason: "stopped by the user", Steps: 1}})
	out := screen(m)
	mustContain(t, out, "■ interrupted", "■ stopped: stopped by the user", "Enter send")
	mustNotContain(t, out, "stopping…")

	// A new task can start.
	send(m, "again")
	if len(s.tasks) != 2 {
		t.Fatalf("tasks = %q", s.tasks)
	}
}

func TestCtrlCWhenIdleClearsTheInput(t *testing.T) {
	t.Parallel()
	m, s := newTestModel(t, Options{})
	typeIn(m, "half a thought")
	mustContain(t, screen(m), "half a thought")
	if cmd := press(m, "ctrl+c"); isQuit(cmd) {
		t.Fatal("Ctrl+C quit")
	}
	mustNotContain(t, screen(m), "half a thought")
	if m.input.Value() != "" {
		t.Fatalf("input = %q", m.input.Value())
	}
	if isQuit(press(m, "ctrl+c")) {
		t.Fatal("Ctrl+C quit")
	}
	mustContain(t, screen(m), "Ctrl+D or /exit quits")
	if len(s.tasks) != 0 {
		t.Fatal("a task started")
	}
}

func TestExitAndCtrlDQuit(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, Options{})
	typeIn(m, "/exit")
	if !isQuit(press(m, "enter")) {
		t.Fatal("/exit did not quit")
	}

	m, _ = newTestModel(t, Options{})
	typeIn(m, "x")
	if isQuit(press(m, "ctrl+d")) {
		t.Fatal("Ctrl+D quit with text in the input")
	}
	press(m, "ctrl+c")
	if !isQuit(press(m, "ctrl+d")) {
		t.Fatal("Ctrl+D did not quit")
	}

	// Quitting during a task stops it.
	m, s := newTestModel(t, Options{})
	send(m, "work")
	typeIn(m, "/quit")
	if !isQuit(press(m, "enter")) {
		t.Fatal("/quit did not quit")
	}
	if s.ctxs[0].Err() == nil {
		t.Fatal("the task goes on")
	}
}

func TestConfirm(t *testing.T) {
	t.Parallel()
	m, s := newTestModel(t, Options{})
	send(m, "delete the temp files")
	code := "import shutil\nshutil.rmtree('tmp')"
	m.Update(agent.Event{Event: session.Event{Type: event.Tool, Text: code}, Step: 1})

	reply := make(chan bool, 1)
	m.Update(confirmMsg{code: code, reply: reply})
	out := screen(m)
	mustContain(t, out, "Run this code? [y/N]", "shutil.rmtree('tmp')")
	if strings.Count(out, "shutil.rmtree") != 1 {
		t.Fatalf("the code is shown twice:\n%s", out)
	}
	press(m, "x") // neither: asks again, types nothing
	mustContain(t, screen(m), "Press y to run it")
	if m.input.Value() != "" {
		t.Fatalf("input = %q", m.input.Value())
	}
	press(m, "y")
	if !<-reply {
		t.Fatal("y declined")
	}
	mustNotContain(t, screen(m), "Run this code?")

	// Code the tool event did not show is shown with the question.
	m.Update(confirmMsg{code: "print('other')", reply: reply})
	mustContain(t, screen(m), "print('other')", "Run this code?")
	press(m, "n")
	if <-reply {
		t.Fatal("n accepted")
	}

	// Ctrl+C declines and stops the task.
	m.Update(confirmMsg{code: "print(3)", reply: reply})
	press(m, "ctrl+c")
	if <-reply {
		t.Fatal("Ctrl+C accepted")
	}
	if s.ctxs[0].Err() == nil {
		t.Fatal("Ctrl+C did not stop the task")
	}

	// The end of the task declines a question still open.
	m.Update(confirmMsg{code: "print(4)", reply: reply})
	m.Update(runDoneMsg{res: &agent.Result{Stop: event.StopDeclined}})
	select {
	case yes := <-reply:
		if yes {
			t.Fatal("accepted")
		}
	default:
		t.Fatal("no answer")
	}
	// With no task, a question is declined at once.
	m.Update(confirmMsg{code: "print(5)", reply: reply})
	if <-reply {
		t.Fatal("accepted")
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	m, s := newTestModel(t, Options{})
	typeIn(m, "/help")
	press(m, "enter")
	mustContain(t, screen(m), "/reset", "Ctrl+C", "Alt+Enter")

	send(m, "remember 7")
	m.Update(ev(event.Answer, "Noted: 7.", 1))
	typeIn(m, "/reset")
	press(m, "enter")
	if s.reset != 0 {
		t.Fatal("reset during a task")
	}
	mustContain(t, screen(m), "stop it with Ctrl+C first")
	m.Update(runDoneMsg{res: &agent.Result{Stop: event.StopAnswer}})
	press(m, "enter") // the refused command stayed in the input
	if s.reset != 1 {
		t.Fatalf("reset %d times", s.reset)
	}
	out := screen(m)
	mustContain(t, out, "conversation was cleared")
	mustNotContain(t, out, "remember 7", "Noted")

	typeIn(m, "/frobnicate")
	press(m, "enter")
	mustContain(t, screen(m), "unknown command /frobnicate")
}

func TestNewlineAndBusyInput(t *testing.T) {
	t.Parallel()
	m, s := newTestModel(t, Options{})
	typeIn(m, "line one")
	press(m, "alt+enter")
	typeIn(m, "line two")
	press(m, "enter")
	if len(s.tasks) != 1 || s.tasks[0] != "line one\nline two" {
		t.Fatalf("tasks = %q", s.tasks)
	}
	typeIn(m, "next")
	press(m, "enter")
	if len(s.tasks) != 1 {
		t.Fatal("a second task started during the first")
	}
	mustContain(t, screen(m), "A task is running")
	if m.input.Value() != "next" {
		t.Fatalf("input = %q", m.input.Value())
	}
}

func TestScroll(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, Options{})
	send(m, "count")
	var b strings.Builder
	for i := range 200 {
		b.WriteString("line " + strconv.Itoa(i) + " " + strings.Repeat("x", i%3) + "\n")
	}
	m.Update(ev(event.Stdout, b.String(), 1))
	mustContain(t, screen(m), "line 199 ")
	press(m, "pgup")
	out := screen(m)
	mustNotContain(t, out, "line 199 ")
	mustContain(t, out, "↑ line ")
	// New output does not move the view while scrolled.
	m.Update(ev(event.Stdout, "line 200\n", 1))
	mustNotContain(t, screen(m), "line 200")
	for range 20 {
		press(m, "pgdown")
	}
	mustContain(t, screen(m), "line 200")
	if !m.follow {
		t.Fatal("not following the end")
	}
}

func TestOutputIsBounded(t *testing.T) {
	t.Parallel()
	o := &output{}
	for range maxOutputLines * 2 {
		o.add(false, "x\n")
	}
	if len(o.lines) > maxOutputLines+maxOutputLines/8+1 {
		t.Fatalf("%d lines kept", len(o.lines))
	}
	st := newStyles()
	lines := o.render(80, &st)
	if !strings.Contains(ansi.Strip(lines[0]), "earlier lines not shown") {
		t.Fatalf("first line %q", lines[0])
	}
}

func TestWindowResizeRerenders(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, Options{})
	send(m, "x")
	long := strings.Repeat("word ", 40)
	m.Update(ev(event.Answer, long, 1))
	m.Update(tea.WindowSizeMsg{Width: 40, Height: 20})
	for _, l := range strings.Split(screen(m), "\n") {
		if ansi.StringWidth(l) > 40 {
			t.Fatalf("line wider than the window: %q", l)
		}
	}
}

// fakeAgent runs tasks by script.
type fakeAgent struct {
	mu      sync.Mutex
	history int
	run     func(ctx context.Context, task string, emit func(agent.Event)) (*agent.Result, error)
}

func (f *fakeAgent) Run(ctx context.Context, task string, emit func(agent.Event)) (*agent.Result, error) {
	return f.run(ctx, task, emit)
}

func (f *fakeAgent) SetHistory([]llm.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.history++
}

// TestRunWithProgram drives a real Bubble Tea program: the agent's
// goroutine sends events and asks to confirm through the program.
func TestRunWithProgram(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	u := New(Options{Style: "dark", Output: &out, SaveDir: t.TempDir()})
	u.programOpts = []tea.ProgramOption{tea.WithInput(nil), tea.WithWindowSize(80, 24), tea.WithoutSignals()}
	confirmed := make(chan bool, 1)
	stopped := make(chan error, 1)
	fa := &fakeAgent{}
	fa.run = func(ctx context.Context, task string, emit func(agent.Event)) (*agent.Result, error) {
		switch task {
		case "first":
			emit(ev(event.Message, "Running it.", 1))
			emit(agent.Event{Event: session.Event{Type: event.Tool, Text: "print(1)"}, Step: 1})
			ok, err := u.Confirm(ctx, "print(1)")
			if err != nil {
				return nil, err
			}
			confirmed <- ok
			emit(ev(event.Stdout, "1\n", 1))
			emit(ev(event.Answer, "It printed **1**.", 2))
			return &agent.Result{Answer: "It printed 1.", Stop: event.StopAnswer, Steps: 2}, nil
		default:
			<-ctx.Done()
			stopped <- ctx.Err()
			emit(agent.Event{Event: session.Event{Type: event.Stop, Status: event.StopUser, Reason: "stopped by the user"}})
			return &agent.Result{Stop: event.StopUser}, nil
		}
	}
	keys := func(s string) {
		for _, r := range s {
			u.q.push(tea.KeyPressMsg{Code: r, Text: string(r)})
		}
		u.q.push(tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	errc := make(chan error, 1)
	go func() { errc <- u.run(context.Background(), fa) }()

	keys("first")
	deadline := time.Now().Add(10 * time.Second)
	for u.confirms.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no confirm request")
		}
		time.Sleep(time.Millisecond)
	}
	u.q.push(tea.KeyPressMsg{Code: 'y', Text: "y"})
	select {
	case ok := <-confirmed:
		if !ok {
			t.Fatal("declined")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to the confirm")
	}

	// A second task, stopped by Ctrl+C, then /exit.
	keys("second")
	u.q.push(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	select {
	case err := <-stopped:
		if err == nil {
			t.Fatal("no cancellation")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl+C did not stop the task")
	}
	keys("/exit")
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("/exit did not end the chat")
	}
	// The transcript is printed when the chat ends.
	text := ansi.Strip(out.String())
	mustContain(t, text, "› first", "Running it.", "print(1)", "It printed 1.", "› second", "stopped: stopped by the user")
	if _, err := u.Confirm(context.Background(), "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Confirm after the end: %v", err)
	}
}

func TestQueueKeepsOrder(t *testing.T) {
	t.Parallel()
	q := newQueue()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan tea.Msg, 100)
	go q.pump(ctx, func(m tea.Msg) { got <- m })
	for i := range 1000 {
		q.push(i)
	}
	next := 0
	deadline := time.After(10 * time.Second)
	for next < 1000 {
		select {
		case m := <-got:
			items := []tea.Msg{m}
			if b, ok := m.(batchMsg); ok {
				items = b
			}
			for _, it := range items {
				if it.(int) != next {
					t.Fatalf("got %v, want %d", it, next)
				}
				next++
			}
		case <-deadline:
			t.Fatalf("only %d messages", next)
		}
	}
}

// A resumed conversation shows its earlier turns, then how resuming went.
func TestResumedConversationShowsEarlierTurns(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, Options{
		Earlier: []Turn{{Prompt: "plot the sales", Answer: "Here is the **plot**."}},
		Notes:   []string{"Re-ran 2 cells: 2 ok."},
	})
	got := screen(m)
	mustContain(t, got, "plot the sales", "Here is the plot.", "Re-ran 2 cells: 2 ok.")
	if strings.Index(got, "plot the sales") > strings.Index(got, "Re-ran 2 cells") {
		t.Errorf("the notes come before the turns:\n%s", got)
	}
}

// Images saved into a temporary directory of the chat's own are removed
// when it ends.
func TestTemporaryImagesRemoved(t *testing.T) {
	// Not in parallel: it points TMPDIR, which every test shares, at a
	// directory of its own.
	t.Setenv("TMPDIR", t.TempDir())
	var out bytes.Buffer
	u := New(Options{Style: "dark", Output: &out})
	u.programOpts = []tea.ProgramOption{tea.WithInput(nil), tea.WithWindowSize(80, 24), tea.WithoutSignals()}
	shown := make(chan struct{})
	fa := &fakeAgent{}
	fa.run = func(ctx context.Context, task string, emit func(agent.Event)) (*agent.Result, error) {
		png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\nnot really"))
		emit(agent.Event{Event: session.Event{Type: event.Display, Data: map[string]any{"image/png": png, "text/plain": "<Figure>"}}, Step: 1})
		emit(ev(event.Answer, "Plotted.", 1))
		close(shown)
		return &agent.Result{Answer: "Plotted.", Stop: event.StopAnswer, Steps: 1}, nil
	}
	plotThenExit(t, u, fa, shown)
	left, _ := filepath.Glob(filepath.Join(os.Getenv("TMPDIR"), "interp-chat-*"))
	if len(left) != 0 {
		t.Errorf("temporary image directories left behind: %v", left)
	}
	mustContain(t, ansi.Strip(out.String()), "now removed")
}

// In a terminal that draws images the chat is not full-screen: each
// finished block is printed above the live region, an image drawn under
// its line as the cell shows it, during the chat, once, into the
// terminal's scrollback, in the lines it takes.
func TestLiveViewDrawsImages(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	out := &syncbuf.Buffer{}
	u := New(Options{Style: "dark", Output: out, Images: termimage.Kitty})
	u.programOpts = []tea.ProgramOption{tea.WithInput(nil), tea.WithWindowSize(80, 24), tea.WithoutSignals()}
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 200, 100))); err != nil {
		t.Fatal(err)
	}
	data := base64.StdEncoding.EncodeToString(img.Bytes())
	// 200×100 pixels in cells of 10×20: 20 columns, 5 lines, drawn at
	// the gutter, the cursor put back and moved past it on each line.
	draw := "  \x1b7\x1b_Ga=T,f=100,q=2,C=1,c=20,r=5,m=0;" + data + "\x1b\\\x1b8\x1b[20C\x1b[K\r\n" +
		strings.Repeat("\x1b[22C\x1b[K\r\n", 4)
	release := make(chan struct{})
	fa := &fakeAgent{}
	fa.run = func(ctx context.Context, task string, emit func(agent.Event)) (*agent.Result, error) {
		emit(ev(event.Message, "Plotting.", 1))
		emit(agent.Event{Event: session.Event{Type: event.Tool, Text: "plot()"}, Step: 1})
		emit(agent.Event{Event: session.Event{Type: event.Display, Data: map[string]any{"image/png": data, "text/plain": "<Figure>"}}, Step: 1})
		emit(agent.Event{Event: session.Event{Type: event.Done, Status: event.StatusOK, Duration: 0.1}, Step: 1})
		<-release // the task is still running while the image is drawn
		emit(ev(event.Answer, "Plotted.", 2))
		return &agent.Result{Answer: "Plotted.", Stop: event.StopAnswer, Steps: 2}, nil
	}
	errc := make(chan error, 1)
	go func() { errc <- u.run(context.Background(), fa) }()
	keys := func(s string) {
		for _, r := range s {
			u.q.push(tea.KeyPressMsg{Code: r, Text: string(r)})
		}
		u.q.push(tea.KeyPressMsg{Code: tea.KeyEnter})
	}
	keys("plot")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), draw) {
		if time.Now().After(deadline) {
			t.Fatalf("the image is not drawn during the chat:\n%q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	during := out.String()
	close(release)
	for !strings.Contains(printedAbove(out.String()), "Plotted.") {
		if time.Now().After(deadline) {
			t.Fatalf("the answer is not printed:\n%q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	keys("/exit")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Contains(s, "\x1b[?1049h") {
		t.Error("the chat went full-screen, where an image cannot stay")
	}
	if n := strings.Count(s, "\x1b_Ga=T"); n != 1 {
		t.Errorf("the image is drawn %d times, want once", n)
	}
	i, j := strings.Index(during, "[image 200x100 png saved to "), strings.Index(during, draw)
	if i < 0 || j < i || strings.Contains(during, "not shown inline") {
		t.Errorf("the image is not drawn under its line:\n%q", during)
	}
	// What is printed above the live region (what the live region drew
	// is redrawn, so not counted): each block once.
	text := printedAbove(s)
	for _, want := range []string{"› plot", "Plotting.", "plot()", "Plotted."} {
		if n := strings.Count(text, want); n != 1 {
			t.Errorf("%q printed %d times, want once:\n%s", want, n, text)
		}
	}
}

// printedAbove is the text of the lines that a Bubble Tea program's
// output printed above its live region (insertAbove: a run of lines
// after an insert-lines sequence), without colours.
func printedAbove(out string) string {
	var printed []string
	for _, m := range regexp.MustCompile(`\x1b\[(\d+)L`).FindAllStringSubmatchIndex(out, -1) {
		n, _ := strconv.Atoi(out[m[2]:m[3]])
		lines := strings.SplitN(out[m[1]:], "\x1b[K\r\n", n+1)
		printed = append(printed, lines[:min(n, len(lines))]...)
	}
	return ansi.Strip(strings.Join(printed, "\n"))
}

// A sixel image is scaled to the cells it is given, in the cell size the
// terminal reports (pixels cannot be scaled by the terminal).
func TestSixelUsesTheCellSize(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, Options{Images: termimage.Sixel})
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 400, 200))); err != nil {
		t.Fatal(err)
	}
	// Until the terminal says, small cells: 400×200 is 58×15 cells of
	// 7×14, within the 20 lines (half the window) an image may take.
	lines := m.imageLines(img.Bytes())
	if len(lines) != 15 || !strings.Contains(lines[0], "\"1;1;400;200") {
		t.Errorf("before the cell size: %d lines, %q", len(lines), lines[0][:min(len(lines[0]), 40)])
	}
	m.Update(uv.CellSizeEvent{Width: 20, Height: 40})
	// 20×10 cells of 20×40: the image scaled to fit 20 lines of them.
	if lines = m.imageLines(img.Bytes()); len(lines) != 5 || !strings.Contains(lines[0], "\"1;1;400;200") {
		t.Errorf("with cells of 20×40: %d lines, %q", len(lines), lines[0][:min(len(lines[0]), 40)])
	}
	m.Update(uv.CellSizeEvent{Width: 10, Height: 20})
	if lines = m.imageLines(img.Bytes()); len(lines) != 10 {
		t.Errorf("with cells of 10×20: %d lines, want 10", len(lines))
	}
	// A big one is scaled down to the 20 lines: 40×20 cells, 400×400.
	img.Reset()
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 2000, 2000))); err != nil {
		t.Fatal(err)
	}
	if lines = m.imageLines(img.Bytes()); len(lines) != 20 || !strings.Contains(lines[0], "\"1;1;400;400") || !strings.HasSuffix(lines[0], "\x1b8\x1b[40C") {
		t.Errorf("a big image: %d lines, %q...%q", len(lines), lines[0][:min(len(lines[0]), 40)], lines[0][max(0, len(lines[0])-20):])
	}
}

// In inline mode the conversation scrolls in the terminal's scrollback:
// the keys that scroll the full-screen view say so.
func TestInlineScrollKeys(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, Options{Images: termimage.ITerm2})
	press(m, "pgup")
	mustContain(t, screen(m), "scroll it with the terminal's scrollback")
	if v := m.View(); v.AltScreen {
		t.Error("inline mode is full-screen")
	}
}

// plotThenExit runs the chat with fa, types "plot", waits until fa has
// emitted its events (shown), types /exit and waits for the chat to end.
func plotThenExit(t *testing.T, u *UI, fa *fakeAgent, shown chan struct{}) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- u.run(context.Background(), fa) }()
	for _, k := range []string{"plot", "/exit"} {
		for _, r := range k {
			u.q.push(tea.KeyPressMsg{Code: r, Text: string(r)})
		}
		u.q.push(tea.KeyPressMsg{Code: tea.KeyEnter})
		if k == "plot" {
			<-shown // its events are queued before /exit
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
