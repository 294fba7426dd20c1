package session

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	_ "image/gif" // sizes of displayed images
	_ "image/jpeg"
	_ "image/png"
	"sort"
	"strings"
	"sync"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
)

// maxResultText caps the text of one displayed value in an Outcome.
const maxResultText = 64 << 10

// imageTypes are the display types an Outcome keeps as images, in order
// of preference.
var imageTypes = []string{"image/png", "image/jpeg", "image/gif"}

// Outcome gathers one cell's events into what the reader of its result
// needs, a model above all: the output, the values shown, the error, the
// files and the installs. Add may be called from several goroutines: the
// installer emits from its own.
type Outcome struct {
	mu             sync.Mutex
	stdout, stderr strings.Builder
	results        []string
	images         []Image
	failure        *Event
	files          []Event
	installed      []Event
	notes          []string
}

// Image is an image a cell displayed.
type Image struct {
	MIME string
	Data []byte
	// Width and Height are 0 when the data does not decode.
	Width, Height int
}

// Add takes one event of the cell.
func (o *Outcome) Add(ev Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch ev.Type {
	case event.Stdout:
		o.stdout.WriteString(ev.Text)
	case event.Stderr:
		o.stderr.WriteString(ev.Text)
	case event.Display:
		o.results = append(o.results, o.display(ev))
	case event.Error:
		e := ev
		o.failure = &e
	case event.File:
		o.files = append(o.files, ev)
	case event.Install:
		switch ev.Phase {
		case event.PhaseInstalled:
			o.installed = append(o.installed, ev)
		case event.PhaseFailed:
			o.notes = append(o.notes, "install failed: "+ev.Message)
		}
	}
}

// display keeps an image and returns the text that stands for a display.
func (o *Outcome) display(ev Event) string {
	text, _ := ev.Data["text/plain"].(string)
	for _, mime := range imageTypes {
		s, ok := ev.Data[mime].(string)
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			continue
		}
		img := Image{MIME: mime, Data: raw}
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(raw)); err == nil {
			img.Width, img.Height = cfg.Width, cfg.Height
		}
		o.images = append(o.images, img)
		desc := fmt.Sprintf("[image %d: %dx%d %s]", len(o.images), img.Width, img.Height, strings.TrimPrefix(mime, "image/"))
		if text != "" {
			desc += " " + text
		}
		return desc
	}
	switch {
	case text != "":
	case ev.Data["text/markdown"] != nil:
		text, _ = ev.Data["text/markdown"].(string)
	case ev.Data["text/html"] != nil:
		text, _ = ev.Data["text/html"].(string)
	case ev.Data["image/svg+xml"] != nil:
		text = "[an SVG image]"
	default:
		types := make([]string, 0, len(ev.Data))
		for k := range ev.Data {
			types = append(types, k)
		}
		sort.Strings(types)
		text = "[a display of type " + strings.Join(types, ", ") + "]"
	}
	return HeadTail(text, maxResultText)
}

// Note adds a line for the reader.
func (o *Outcome) Note(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.notes = append(o.notes, s)
}

// Failure returns the cell's error event, or nil.
func (o *Outcome) Failure() *Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failure == nil {
		return nil
	}
	e := *o.failure
	return &e
}

// Stdout and Stderr return what the cell wrote.
func (o *Outcome) Stdout() string { o.mu.Lock(); defer o.mu.Unlock(); return o.stdout.String() }
func (o *Outcome) Stderr() string { o.mu.Lock(); defer o.mu.Unlock(); return o.stderr.String() }

// Results returns the text of each display, images described.
func (o *Outcome) Results() []string { o.mu.Lock(); defer o.mu.Unlock(); return clone(o.results) }

// Images returns the displayed images, in order.
func (o *Outcome) Images() []Image { o.mu.Lock(); defer o.mu.Unlock(); return clone(o.images) }

// Files returns the cell's file events.
func (o *Outcome) Files() []Event { o.mu.Lock(); defer o.mu.Unlock(); return clone(o.files) }

// Installed returns the install events of packages installed.
func (o *Outcome) Installed() []Event { o.mu.Lock(); defer o.mu.Unlock(); return clone(o.installed) }

// Notes returns the notes.
func (o *Outcome) Notes() []string { o.mu.Lock(); defer o.mu.Unlock(); return clone(o.notes) }

func clone[T any](s []T) []T { return append([]T(nil), s...) }

// Text renders the outcome in sections, stdout, stderr, result, error,
// files, installed and notes, each there only if it has something. With
// max > 0 long sections keep their head and tail so that the whole stays
// near max bytes.
func (o *Outcome) Text(max int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var parts []string
	section := func(name, body string, share int) {
		if body = strings.TrimRight(body, "\n"); body != "" {
			if max > 0 {
				body = HeadTail(body, share)
			}
			parts = append(parts, name+":\n"+body)
		}
	}
	section("stdout", o.stdout.String(), max/2)
	section("stderr", o.stderr.String(), max/4)
	section("result", strings.Join(o.results, "\n"), max/4)
	if o.failure != nil {
		section("error", Traceback(o.failure), max/4)
	}
	if len(o.files) > 0 {
		var fs []string
		for _, f := range o.files {
			if f.Change == event.Deleted {
				fs = append(fs, f.Path+" (deleted)")
			} else {
				fs = append(fs, fmt.Sprintf("%s (%s, %s)", f.Path, f.Change, sandbox.FormatBytes(f.Size)))
			}
		}
		parts = append(parts, "files: "+strings.Join(fs, ", "))
	}
	var inst []string
	for _, p := range o.installed {
		if p.Version != "" {
			inst = append(inst, p.Package+" "+p.Version)
		}
	}
	if len(inst) > 0 {
		parts = append(parts, "installed: "+strings.Join(inst, ", "))
	}
	for _, n := range o.notes {
		parts = append(parts, "note: "+n)
	}
	return strings.Join(parts, "\n")
}

// Traceback returns an error event's traceback as text.
func Traceback(ev *Event) string {
	if len(ev.Traceback) > 0 {
		return strings.TrimRight(strings.Join(ev.Traceback, "\n"), "\n")
	}
	return ev.EName + ": " + ev.EValue
}

// HeadTail keeps the start and the end of s within about max bytes.
func HeadTail(s string, max int) string {
	if len(s) <= max || max < 100 {
		return s
	}
	half := max / 2
	head, tail := s[:utf8Floor(s, half)], s[utf8Ceil(s, len(s)-half):]
	return fmt.Sprintf("%s\n[... %d bytes omitted ...]\n%s", head, len(s)-len(head)-len(tail), tail)
}
