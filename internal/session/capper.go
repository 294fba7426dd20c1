package session

import (
	"fmt"
	"unicode/utf8"

	"github.com/interp-dev/interp/internal/event"
)

// maxDisplays caps the display events of one cell.
const maxDisplays = 100

// capper bounds a cell's output. Text streams live until half the budget is
// used; after that only the last half is kept, and at the end a notice says
// how much was dropped in between. Events keep their order.
type capper struct {
	emit       func(Event)
	head, tail int64
	used       int64 // text bytes emitted live
	inTail     bool
	buf        []Event // held back once in the tail
	bufBytes   int64
	dropped    int64 // text bytes dropped
	displays   int
	dropDisp   int
}

func newCapper(max int64, emit func(Event)) *capper {
	return &capper{emit: emit, head: max / 2, tail: max - max/2}
}

func (c *capper) text(ev Event) {
	if ev.Text == "" {
		return
	}
	if !c.inTail {
		room := c.head - c.used
		if int64(len(ev.Text)) <= room {
			c.used += int64(len(ev.Text))
			c.emit(ev)
			return
		}
		cut := utf8Floor(ev.Text, int(room))
		if cut > 0 {
			first := ev
			first.Text = ev.Text[:cut]
			c.emit(first)
		}
		ev.Text = ev.Text[cut:]
		c.used = c.head
		c.inTail = true
	}
	if n := len(c.buf); n > 0 && c.buf[n-1].Type == ev.Type && c.buf[n-1].Data == nil {
		c.buf[n-1].Text += ev.Text
	} else {
		c.buf = append(c.buf, ev)
	}
	c.bufBytes += int64(len(ev.Text))
	c.trim()
}

// trim drops the oldest held-back text until the tail fits.
func (c *capper) trim() {
	for i := 0; c.bufBytes > c.tail && i < len(c.buf); i++ {
		ev := &c.buf[i]
		if ev.Type != event.Stdout && ev.Type != event.Stderr {
			continue
		}
		excess := c.bufBytes - c.tail
		if int64(len(ev.Text)) <= excess {
			c.dropped += int64(len(ev.Text))
			c.bufBytes -= int64(len(ev.Text))
			ev.Text = ""
			continue
		}
		cut := utf8Ceil(ev.Text, int(excess))
		c.dropped += int64(cut)
		c.bufBytes -= int64(cut)
		ev.Text = ev.Text[cut:]
	}
}

// other passes on a display or error event, in order with the text.
func (c *capper) other(ev Event) {
	if ev.Type == event.Display {
		if c.displays >= maxDisplays {
			c.dropDisp++
			return
		}
		c.displays++
	}
	if c.inTail {
		c.buf = append(c.buf, ev)
		return
	}
	c.emit(ev)
}

// flush emits the notice and the held-back tail.
func (c *capper) flush() {
	if c.dropped > 0 {
		c.emit(Event{Type: event.Stderr, Text: fmt.Sprintf("\n[interp: %d bytes of output omitted; showing the first and last %d]\n", c.dropped, c.head)})
	}
	for _, ev := range c.buf {
		if ev.Text != "" || (ev.Type != event.Stdout && ev.Type != event.Stderr) {
			c.emit(ev)
		}
	}
	if c.dropDisp > 0 {
		c.emit(Event{Type: event.Stderr, Text: fmt.Sprintf("[interp: %d more displays omitted: over %d in one cell]\n", c.dropDisp, maxDisplays)})
	}
	c.buf, c.bufBytes = nil, 0
}

// utf8Floor returns the largest cut <= n at a rune boundary of s.
func utf8Floor(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// utf8Ceil returns the smallest cut >= n at a rune boundary of s.
func utf8Ceil(s string, n int) int {
	for n < len(s) && !utf8.RuneStart(s[n]) {
		n++
	}
	return n
}
