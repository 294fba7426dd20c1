package chat

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	_ "image/jpeg" // sizes of displayed images
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/termimage"
)

// Messages from the agent's goroutine. Agent events come as agent.Event.
type (
	// confirmMsg asks whether to run code; the answer goes to reply,
	// which has room for it.
	confirmMsg struct {
		code  string
		reply chan bool
	}
	// runDoneMsg says a task ended.
	runDoneMsg struct {
		res *agent.Result
		err error
	}
	// batchMsg carries messages that queued up while the UI was busy.
	batchMsg []tea.Msg
	// printedMsg says the blocks handed to tea.Println are on the screen.
	printedMsg struct{}
)

// What the agent is doing, for the activity line.
const (
	phaseThinking = "thinking"
	phaseWriting  = "writing"
	phaseCode     = "writing code"
	phaseRunning  = "running code"
	phaseInstall  = "installing"
)

const helpText = `Type a task in plain language and press Enter: the model writes Python,
runs it in a sandboxed session, and answers. The conversation and the
session's variables carry over from one task to the next.

Keys
  Enter               send
  Alt+Enter, Ctrl+J   new line
  Ctrl+C              stop the running task (its code is interrupted);
                      when idle, clear the input
  Ctrl+D              quit (on an empty input)
  PgUp, PgDn          scroll the conversation; Ctrl+End jumps to its end
  y / n               answer "Run this code?"

Commands
  /help               this help
  /reset              forget the conversation (the session's variables stay)
  /exit, /quit        quit`

// model is the Bubble Tea model of the chat.
type model struct {
	tempDir string // the images' temporary directory, removed when the chat ends

	opts   Options
	width  int
	height int
	st     styles
	md     *markdown
	input  textarea.Model
	spin   spinner.Model

	blocks []*block
	// The transcript's lines are shown from top, or the last ones when
	// follow is set.
	top    int
	follow bool

	// inline is set where the terminal draws images (opts.Images): the
	// chat is then not full-screen but the live region under what it has
	// printed. Each block is printed above it once finished, its image
	// drawn with it, once, into the terminal's own scrollback, which
	// scrolls it; a full-screen view, redrawn all the time, cannot keep
	// an image. printed blocks are handed to tea.Println, one print at a
	// time (printing) so that they come in order; cell is a cell's size
	// in pixels, for sixel, once the terminal says.
	inline          bool
	printed         int
	printing        bool
	quitWhenPrinted bool
	cell            image.Point

	// start runs a task in the background and returns what cancels it;
	// reset forgets the conversation.
	start func(task string) context.CancelFunc
	reset func()

	busy     bool
	cancel   context.CancelFunc
	stopping bool
	phase    string
	since    time.Time
	pkg      string // phaseInstall: the package
	step     int
	confirm  *confirmMsg
	hint     string // a one-off line under the transcript
	quitting bool

	usage  llm.Usage // of the whole chat
	tasks  int
	images int
	now    func() time.Time
}

func newModel(opts Options) *model {
	in := textarea.New()
	in.Prompt = "› "
	in.Placeholder = "Ask for something: analyse data, make a plot, compute… (/help)"
	in.ShowLineNumbers = false
	in.DynamicHeight = true
	in.MinHeight = 1
	in.MaxHeight = 8
	in.CharLimit = 0
	in.KeyMap.InsertNewline.SetKeys("alt+enter", "ctrl+j", "shift+enter")
	in.KeyMap.PageUp.SetEnabled(false)
	in.KeyMap.PageDown.SetEnabled(false)
	in.KeyMap.DeleteCharacterForward.SetKeys("delete")
	in.SetVirtualCursor(false)
	ist := textarea.DefaultDarkStyles()
	ist.Focused.CursorLine = lipgloss.NewStyle()
	ist.Focused.Prompt = lipgloss.NewStyle().Foreground(lipgloss.Color("6")).Bold(true)
	ist.Blurred.Prompt = ist.Focused.Prompt.Faint(true)
	in.SetStyles(ist)
	in.Focus()

	st := newStyles()
	style := opts.Style
	if style == "" {
		style = "dark"
	}
	m := &model{
		opts:   opts,
		width:  80,
		height: 24,
		st:     st,
		md:     &markdown{style: style},
		input:  in,
		spin:   spinner.New(spinner.WithSpinner(spinner.Dot), spinner.WithStyle(st.accent)),
		follow: true,
		now:    time.Now,
		inline: opts.Images != termimage.None,
	}
	m.layout()
	m.welcome()
	return m
}

func (m *model) welcome() {
	name := "interp chat"
	if m.opts.Model != "" {
		name += " · " + m.opts.Model
	}
	m.add(&block{kind: kindNote, text: name + "\nAsk in plain language; the model writes and runs Python in a sandbox. /help lists keys and commands."})
	for _, t := range m.opts.Earlier {
		m.add(&block{kind: kindUser, text: t.Prompt, done: true})
		m.add(&block{kind: kindAnswer, text: t.Answer, done: true})
	}
	for _, n := range m.opts.Notes {
		m.add(&block{kind: kindNote, text: n})
	}
}

func (m *model) Init() tea.Cmd {
	var cmds []tea.Cmd
	if m.opts.Style == "" {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	if m.opts.Images == termimage.Sixel {
		// XTWINOPS 16: report the cell size in pixels (CSI 6 ; h ; w t).
		cmds = append(cmds, tea.Raw(ansi.WindowOp(16)))
	}
	return tea.Batch(append(cmds, m.print())...)
}

// Update handles one message.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if p := m.print(); p != nil {
		cmd = tea.Batch(cmd, p)
	}
	return m, cmd
}

// print prints the blocks finished since the last print above the live
// region, in inline mode.
func (m *model) print() tea.Cmd {
	if !m.inline || m.printing || m.quitting {
		return nil
	}
	end := m.finished()
	if end <= m.printed {
		return nil
	}
	text := strings.Join(m.renderRange(m.printed, end, imagesInCells), "\n")
	m.printed, m.printing = end, true
	return tea.Sequence(tea.Println(text), func() tea.Msg { return printedMsg{} })
}

// finished is the end of the blocks that will not change any more: all
// but the last while a task runs, and but the installs still under way.
func (m *model) finished() int {
	for i := m.printed; i < len(m.blocks); i++ {
		b := m.blocks[i]
		switch {
		case !m.busy && !m.stopping:
		case i == len(m.blocks)-1:
			return i
		case b.kind == kindInstall && b.install.Phase != event.PhaseInstalled && b.install.Phase != event.PhaseFailed:
			return i
		}
	}
	return len(m.blocks)
}

func (m *model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case batchMsg:
		var cmds []tea.Cmd
		for _, one := range msg {
			cmds = append(cmds, m.update(one))
		}
		return tea.Batch(cmds...)
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 20), max(msg.Height, 6)
		m.layout()
		return nil
	case tea.BackgroundColorMsg:
		if m.opts.Style == "" {
			m.md.style = "dark"
			if !msg.IsDark() {
				m.md.style = "light"
			}
		}
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case spinner.TickMsg:
		if !m.busy {
			return nil // let the spinner stop
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return cmd
	case agent.Event:
		m.event(msg)
		return nil
	case confirmMsg:
		if !m.busy || m.quitting {
			msg.reply <- false
			return nil
		}
		m.askConfirm(msg)
		return nil
	case runDoneMsg:
		m.finish(msg)
		return nil
	case printedMsg:
		m.printing = false
		if m.quitWhenPrinted {
			return tea.Quit
		}
		return nil
	case uv.CellSizeEvent:
		if msg.Width > 0 && msg.Height > 0 {
			m.cell = image.Pt(msg.Width, msg.Height)
		}
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	m.layout()
	return cmd
}

// key handles a key press.
func (m *model) key(k tea.KeyPressMsg) tea.Cmd {
	m.hint = ""
	switch k.String() {
	case "ctrl+c":
		switch {
		case m.busy:
			m.stop()
		case m.input.Value() != "":
			m.input.Reset()
			m.layout()
		default:
			m.hint = "Ctrl+D or /exit quits"
		}
		return nil
	case "ctrl+d":
		if m.input.Value() == "" {
			return m.quit()
		}
	case "pgup", "pgdown", "ctrl+end", "ctrl+home":
		if m.inline {
			m.hint = "The conversation is printed above: scroll it with the terminal's scrollback"
			return nil
		}
	}
	switch k.String() {
	case "pgup":
		m.scroll(-max(m.transcriptHeight()-2, 1))
		return nil
	case "pgdown":
		m.scroll(max(m.transcriptHeight()-2, 1))
		return nil
	case "ctrl+end":
		m.follow = true
		return nil
	case "ctrl+home":
		m.follow, m.top = false, 0
		return nil
	}
	if m.confirm != nil {
		switch strings.ToLower(k.String()) {
		case "y":
			m.answer(true)
		case "n", "esc", "enter":
			m.answer(false)
		default:
			m.hint = "Run this code? Press y to run it, n not to"
		}
		return nil
	}
	if k.String() == "enter" {
		return m.submit()
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	m.layout()
	return cmd
}

// submit sends the input as a task, or runs it as a command.
func (m *model) submit() tea.Cmd {
	text := strings.TrimSpace(m.input.Value())
	if text == "" {
		return nil
	}
	if strings.HasPrefix(text, "/") && !strings.Contains(text, "\n") {
		return m.command(text)
	}
	if m.busy {
		m.hint = "A task is running: wait for it, or press Ctrl+C to stop it"
		return nil
	}
	m.input.Reset()
	m.layout()
	m.add(&block{kind: kindUser, text: text})
	m.follow = true
	m.busy, m.stopping = true, false
	m.setPhase(phaseThinking)
	m.step = 0
	m.tasks++
	if m.start != nil {
		m.cancel = m.start(text)
	}
	return m.spin.Tick
}

func (m *model) command(text string) tea.Cmd {
	m.input.Reset()
	m.layout()
	switch cmd := strings.Fields(text)[0]; cmd {
	case "/exit", "/quit":
		return m.quit()
	case "/help":
		m.add(&block{kind: kindNote, text: helpText})
	case "/reset":
		if m.busy {
			m.hint = "A task is running: stop it with Ctrl+C first"
			m.input.SetValue(text)
			return nil
		}
		if m.reset != nil {
			m.reset()
		}
		m.blocks, m.step, m.printed = nil, 0, 0
		m.welcome()
		m.add(&block{kind: kindNote, text: "The conversation was cleared: the model remembers nothing of it. Variables and files in the Python session remain."})
	default:
		m.add(&block{kind: kindNote, warn: true, text: fmt.Sprintf("unknown command %s: /help lists them", cmd)})
	}
	m.follow = true
	return nil
}

// stop cancels the running task: its code is interrupted, the loop ends.
func (m *model) stop() {
	if m.confirm != nil {
		m.answer(false)
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.stopping = true
}

func (m *model) quit() tea.Cmd {
	m.quitting = true
	if m.busy {
		m.stop()
	}
	if m.printing {
		// What is being printed is on the screen before the chat ends,
		// which prints the rest.
		m.quitWhenPrinted = true
		return nil
	}
	return tea.Quit
}

func (m *model) askConfirm(c confirmMsg) {
	// The code was shown by the tool event; show it again if not.
	if last := m.lastOf(kindCode); last == nil || strings.TrimSpace(last.text) != strings.TrimSpace(c.code) {
		m.add(&block{kind: kindCode, step: m.step, text: c.code, done: true})
	}
	m.confirm = &c
	m.follow = true
	m.input.Blur()
}

func (m *model) answer(yes bool) {
	m.confirm.reply <- yes
	m.confirm = nil
	m.input.Focus()
	if yes {
		m.setPhase(phaseRunning)
	}
}

// finish ends a task.
func (m *model) finish(d runDoneMsg) {
	if m.confirm != nil {
		m.answer(false)
	}
	m.closeOpen()
	if m.cancel != nil {
		m.cancel()
	}
	m.busy, m.stopping, m.cancel = false, false, nil
	if d.res != nil {
		m.usage.InputTokens += d.res.Usage.InputTokens
		m.usage.OutputTokens += d.res.Usage.OutputTokens
		m.step = d.res.Steps
	}
	if d.err != nil {
		m.add(&block{kind: kindNote, warn: true, text: "error: " + d.err.Error()})
	}
}

func (m *model) setPhase(p string) {
	if m.phase != p {
		m.phase, m.since = p, m.now()
	}
}

// event shows one event of the agent.
func (m *model) event(ev agent.Event) {
	if ev.Step > 0 {
		m.step = ev.Step
	}
	switch ev.Type {
	case event.Message:
		b := m.last()
		if b == nil || b.kind != kindText || b.done || b.step != ev.Step {
			m.closeOpen()
			b = m.add(&block{kind: kindText, step: ev.Step})
		}
		b.text += ev.Text
		b.changed()
		m.setPhase(phaseWriting)
	case event.Code:
		b := m.last()
		if b == nil || b.kind != kindCode || b.done || b.step != ev.Step {
			m.closeOpen()
			b = m.add(&block{kind: kindCode, step: ev.Step})
		}
		b.text += ev.Text
		b.changed()
		m.setPhase(phaseCode)
	case event.Tool:
		b := m.last()
		if b == nil || b.kind != kindCode || b.done || b.step != ev.Step {
			m.closeOpen()
			b = m.add(&block{kind: kindCode, step: ev.Step})
		}
		b.text, b.done, b.packs = ev.Text, true, ev.Packages
		b.changed()
		m.setPhase(phaseRunning)
	case event.Answer:
		if b := m.last(); b != nil && b.kind == kindText && !b.done && b.step == ev.Step {
			b.kind, b.text, b.done = kindAnswer, ev.Text, true
			b.changed()
		} else if strings.TrimSpace(ev.Text) != "" {
			m.closeOpen()
			m.add(&block{kind: kindAnswer, step: ev.Step, text: ev.Text, done: true})
		}
	case event.Stop:
		m.closeOpen()
		reason := ev.Reason
		if reason == "" {
			reason = ev.Status
		}
		m.add(&block{kind: kindStop, step: ev.Step, text: "stopped: " + reason})
	default:
		m.closeOpen()
		m.cellEvent(ev)
	}
}

// cellEvent shows what the code did.
func (m *model) cellEvent(ev agent.Event) {
	switch ev.Type {
	case event.Stdout, event.Stderr:
		b := m.last()
		if b == nil || b.kind != kindOutput || b.step != ev.Step {
			b = m.add(&block{kind: kindOutput, step: ev.Step, out: &output{}})
		}
		b.out.add(ev.Type == event.Stderr, ev.Text)
		b.changed()
		m.setPhase(phaseRunning)
	case event.Error:
		tb := strings.Join(ev.Traceback, "\n")
		if strings.TrimSpace(ansi.Strip(tb)) == "" {
			tb = ev.EName + ": " + ev.EValue
		}
		m.add(&block{kind: kindError, step: ev.Step, text: clean(tb)})
	case event.Display:
		text, img := m.display(ev.Event)
		m.add(&block{kind: kindDisplay, step: ev.Step, text: text, image: img})
	case event.File:
		if ev.Change != event.Deleted {
			m.add(&block{kind: kindFile, step: ev.Step,
				text: fmt.Sprintf("file %s: %s (%s)", ev.Change, ev.Path, sandbox.FormatBytes(ev.Size))})
		}
	case event.Install:
		var b *block
		for i := len(m.blocks) - 1; i >= 0 && m.blocks[i].kind != kindUser; i-- {
			if c := m.blocks[i]; c.kind == kindInstall && c.install.Package == ev.Package && c.step == ev.Step {
				b = c
				break
			}
		}
		if b == nil {
			b = m.add(&block{kind: kindInstall, step: ev.Step})
		}
		if ev.Phase == event.PhaseDownloading && b.install.Phase == event.PhaseDownloading && b.install.Package == ev.Package {
			ev.Bytes = max(ev.Bytes, b.install.Bytes) // never backwards
		}
		b.install = ev.Event
		b.changed()
		if ev.Phase == event.PhaseResolving || ev.Phase == event.PhaseDownloading {
			m.setPhase(phaseInstall)
			m.pkg = ev.Package
		} else {
			m.setPhase(phaseRunning)
		}
	case event.Done:
		text, bad := doneLine(ev.Event)
		m.add(&block{kind: kindDone, step: ev.Step, text: text, warn: bad})
		m.setPhase(phaseThinking)
	}
}

// display describes a display: its text, or a line about its image, which
// is saved to a file as a terminal view cannot show it; and the image
// itself when the final transcript can draw it.
func (m *model) display(ev session.Event) (string, []byte) {
	for _, mime := range []string{"image/png", "image/jpeg", "image/svg+xml"} {
		s, ok := ev.Data[mime].(string)
		if !ok {
			continue
		}
		raw := []byte(s)
		kind := strings.TrimPrefix(mime, "image/")
		if mime == "image/svg+xml" {
			kind = "svg"
		} else if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
			raw = dec
		} else {
			raw = nil
		}
		desc := "image " + kind
		if mime != "image/svg+xml" && raw != nil {
			if cfg, _, err := image.DecodeConfig(strings.NewReader(string(raw))); err == nil {
				desc = fmt.Sprintf("image %dx%d %s", cfg.Width, cfg.Height, kind)
			}
		}
		var img []byte
		inline := "; not shown inline"
		if m.inline && mime != "image/svg+xml" && raw != nil {
			img, inline = raw, "" // drawn under this line
		}
		path, err := m.saveImage(raw, kind)
		switch {
		case err != nil:
			return fmt.Sprintf("[%s%s; could not save it: %v]", desc, inline, err), img
		case path != "":
			return fmt.Sprintf("[%s saved to %s%s]", desc, path, inline), img
		}
		return fmt.Sprintf("[%s%s]", desc, inline), img
	}
	if md, ok := ev.Data["text/markdown"].(string); ok {
		return md, nil
	}
	if text, ok := ev.Data["text/plain"].(string); ok {
		return clean(text), nil
	}
	return "[a rich display that a terminal cannot show]", nil
}

// saveImage writes an image into the save directory, made on first use.
func (m *model) saveImage(data []byte, ext string) (string, error) {
	if m.opts.NoSave || data == nil {
		return "", nil
	}
	if m.opts.SaveDir == "" {
		dir, err := os.MkdirTemp("", "interp-chat-")
		if err != nil {
			return "", err
		}
		m.opts.SaveDir, m.tempDir = dir, dir
	} else if err := os.MkdirAll(m.opts.SaveDir, 0o755); err != nil {
		return "", err
	}
	if ext == "jpeg" {
		ext = "jpg"
	}
	m.images++
	p := filepath.Join(m.opts.SaveDir, fmt.Sprintf("image-%d.%s", m.images, ext))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return "", err
	}
	return p, nil
}

// closeOpen marks streaming text or code complete, so it renders in full.
func (m *model) closeOpen() {
	if b := m.last(); b != nil && (b.kind == kindText || b.kind == kindCode) && !b.done {
		b.done = true
		b.changed()
	}
}

func (m *model) add(b *block) *block {
	m.blocks = append(m.blocks, b)
	return b
}

func (m *model) last() *block {
	if len(m.blocks) == 0 {
		return nil
	}
	return m.blocks[len(m.blocks)-1]
}

func (m *model) lastOf(k kind) *block {
	for i := len(m.blocks) - 1; i >= 0 && m.blocks[i].kind != kindUser; i-- {
		if m.blocks[i].kind == k {
			return m.blocks[i]
		}
	}
	return nil
}

// layout sizes the input to the window.
func (m *model) layout() {
	m.input.SetWidth(m.width)
	m.input.MaxHeight = max(min(8, m.height/3), 1)
}

// bottomHeight is the height of what is under the transcript: the
// activity line, the input and the status line.
func (m *model) bottomHeight() int { return 1 + m.input.Height() + 1 }

func (m *model) transcriptHeight() int { return max(m.height-m.bottomHeight(), 1) }

// How renderRange draws images.
const (
	imagesNone    = iota
	imagesNatural // at their size: printed after the program has ended
	imagesInCells // in as many lines as they take: printed above the live region
)

// transcript renders the blocks the screen shows: in inline mode those
// not printed above it yet.
func (m *model) transcript() []string {
	if m.inline {
		return m.renderRange(m.printed, len(m.blocks), imagesNone)
	}
	return m.renderRange(0, len(m.blocks), imagesNone)
}

// finalTranscript is what is printed when the chat ends: the whole
// conversation, each image drawn under its line where the terminal can;
// in inline mode only what was not printed yet.
func (m *model) finalTranscript() []string {
	if m.inline {
		return m.renderRange(m.printed, len(m.blocks), imagesNatural)
	}
	return m.renderRange(0, len(m.blocks), imagesNatural)
}

// renderRange renders blocks from up to to, with the blank line that
// goes before from's if it follows another.
func (m *model) renderRange(from, to int, images int) []string {
	var lines []string
	w := max(m.width-1, 10)
	for i := from; i < to; i++ {
		b := m.blocks[i]
		if i > 0 && !b.tight() {
			lines = append(lines, "")
		}
		lines = append(lines, b.render(w, m.md, &m.st)...)
		if b.image == nil || images == imagesNone {
			continue
		}
		if images == imagesInCells {
			lines = append(lines, m.imageLines(b.image)...)
		} else if seq, err := termimage.Encode(m.opts.Images, b.image); err == nil {
			lines = append(lines, strings.TrimSuffix(string(seq), "\n"))
		}
	}
	return lines
}

// imageLines are the lines that draw img under a block, as many as it
// takes: the first draws it and puts the cursor back, and each moves
// the cursor past it, so that the erasing of a line's rest that each
// printed line ends with (insertAbove) spares it.
func (m *model) imageLines(img []byte) []string {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return nil
	}
	cell := m.cell
	if cell == (image.Point{}) {
		// Until the terminal says: kitty and iTerm2 scale to the cells,
		// so only the shape matters; sixel is drawn small rather than
		// over the lines below it.
		cell = image.Pt(10, 20)
		if m.opts.Images == termimage.Sixel {
			cell = image.Pt(7, 14)
		}
	}
	cols, rows := termimage.Fit(cfg.Width, cfg.Height, cell, max(min(m.width-len(gutter)-1, 100), 1), max(min(m.height/2, 24), 1))
	seq, err := termimage.EncodeInCells(m.opts.Images, img, cols, rows, cell)
	if err != nil {
		return nil
	}
	lines := []string{gutter + string(seq) + ansi.CursorForward(cols)}
	for range rows - 1 {
		lines = append(lines, ansi.CursorForward(len(gutter)+cols))
	}
	return lines
}

func (m *model) scroll(by int) {
	total := len(m.transcript())
	h := m.transcriptHeight()
	if m.follow {
		m.top = max(total-h, 0)
	}
	m.top = min(max(m.top+by, 0), max(total-h, 0))
	m.follow = m.top >= total-h
}

// View draws the screen: full-screen, or in inline mode the live region
// under what was printed, as high as it needs.
func (m *model) View() tea.View {
	if m.inline && m.quitting {
		return tea.NewView("") // the chat prints the rest as it ends
	}
	lines := m.transcript()
	h := m.transcriptHeight()
	if m.follow || m.inline || m.top > len(lines)-h {
		m.top = max(len(lines)-h, 0)
	}
	win := lines[m.top:min(m.top+h, len(lines))]
	var b strings.Builder
	for _, l := range win {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if m.inline {
		h = len(win)
	}
	for range h - len(win) {
		b.WriteByte('\n')
	}
	b.WriteString(ansi.Truncate(m.activity(), m.width, "…"))
	b.WriteByte('\n')
	b.WriteString(m.input.View())
	b.WriteByte('\n')
	b.WriteString(ansi.Truncate(m.status(len(lines)), m.width, "…"))

	v := tea.NewView(b.String())
	v.AltScreen = !m.inline
	v.WindowTitle = "interp chat"
	if c := m.input.Cursor(); c != nil {
		c.Y += h + 1
		v.Cursor = c
	}
	return v
}

// activity is the line between the transcript and the input: what the
// agent is doing, the confirm question, or a hint.
func (m *model) activity() string {
	switch {
	case m.confirm != nil:
		q := m.st.prompt.Render("Run this code? [y/N] ")
		if m.hint != "" {
			q += " " + m.st.dim.Render(m.hint)
		}
		return q
	case m.hint != "":
		return m.st.warn.Render(m.hint)
	case m.busy:
		what := m.phase
		if m.stopping {
			what = "stopping"
		} else if m.phase == phaseInstall && m.pkg != "" {
			what += " " + m.pkg
		}
		s := fmt.Sprintf("%s %s… %s", m.spin.View(), what, m.st.dim.Render(fmt.Sprintf("%.0fs", m.now().Sub(m.since).Seconds())))
		if !m.stopping {
			s += m.st.dim.Render(" · Ctrl+C stops")
		}
		return s
	}
	return ""
}

// status is the bottom line: the model, the step, the tokens, where the
// view is when scrolled, and the keys.
func (m *model) status(total int) string {
	parts := []string{"interp"}
	if m.opts.Model != "" {
		parts = append(parts, m.opts.Model)
	}
	if m.step > 0 {
		parts = append(parts, fmt.Sprintf("step %d", m.step))
	}
	if t := m.usage.InputTokens + m.usage.OutputTokens; t > 0 {
		parts = append(parts, fmt.Sprintf("tokens %s in, %s out", tokens(m.usage.InputTokens), tokens(m.usage.OutputTokens)))
	}
	keys := "Enter send · Alt+Enter newline · Ctrl+D quit · /help"
	if m.busy {
		keys = "Ctrl+C stop · /help"
	}
	if !m.follow {
		keys = fmt.Sprintf("↑ line %d of %d · PgDn, Ctrl+End: back to the end", m.top+1, total)
	}
	return m.st.dim.Render(strings.Join(parts, " · ") + "  │  " + keys)
}

func tokens(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%.1fk", float64(n)/1000)
}
