package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/interp-dev/interp/internal/cell"
	"github.com/interp-dev/interp/internal/chat"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/termimage"
)

// renderer shows a cell's events to a person or a program.
type renderer interface {
	event(session.Event)
	close()
}

// imageTypes are the display types saved as files by --save-dir.
var imageTypes = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/svg+xml": ".svg"}

// imageSaver writes displayed images into a directory.
type imageSaver struct {
	dir string
	n   int
}

// save writes the images of a display event and returns their paths.
func (s *imageSaver) save(ev session.Event) ([]string, error) {
	if s == nil || s.dir == "" {
		return nil, nil
	}
	var paths []string
	for mime, ext := range imageTypes {
		v, ok := ev.Data[mime].(string)
		if !ok {
			continue
		}
		data := []byte(v)
		if mime != "image/svg+xml" {
			var err error
			if data, err = base64.StdEncoding.DecodeString(v); err != nil {
				return paths, fmt.Errorf("bad %s data: %w", mime, err)
			}
		}
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return paths, err
		}
		s.n++
		p := filepath.Join(s.dir, fmt.Sprintf("%s-%d%s", ev.Cell, s.n, ext))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// textRenderer prints events for people: output as it comes, displays as
// their text, errors as tracebacks.
type textRenderer struct {
	out, err io.Writer
	images   *imageSaver
	inline   termimage.Protocol // how out draws images, if it can
	// live says err is a terminal, where a download's progress is one
	// line redrawn in place and cleared before anything else is written;
	// width is the terminal's, to keep the line from wrapping (0: unknown).
	live       bool
	width      int
	inProgress bool // the progress line is on the screen
	progress   progressLine
	// fileHow, if set, follows a FileNotFoundError with cell.FileHint:
	// for cells the agent runs, which do not take cell.Options from here.
	fileHow func(path string) string
}

func newTextRenderer(out, err io.Writer, saveDir string) *textRenderer {
	r := &textRenderer{out: out, err: err, images: &imageSaver{dir: saveDir}}
	if isTerminal(out) {
		r.inline = termimage.Detect(os.Getenv)
	}
	if f, ok := err.(*os.File); ok && isTerminal(err) {
		r.live = true
		r.width, _, _ = term.GetSize(int(f.Fd()))
	}
	return r
}

// drawImage draws a display's PNG or JPEG on a terminal that can, and
// reports whether it did.
func (r *textRenderer) drawImage(ev session.Event) bool {
	if r.inline == termimage.None {
		return false
	}
	for _, mime := range []string{"image/png", "image/jpeg"} {
		s, ok := ev.Data[mime].(string)
		if !ok {
			continue
		}
		data, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return false
		}
		seq, err := termimage.Encode(r.inline, data)
		if err != nil {
			return false
		}
		_, err = r.out.Write(seq)
		return err == nil
	}
	return false
}

func (r *textRenderer) event(ev session.Event) {
	if !(ev.Type == event.Install && ev.Phase == event.PhaseDownloading) {
		r.endProgress() // the program's output starts on a clean line
	}
	switch ev.Type {
	case event.Stdout:
		io.WriteString(r.out, ev.Text)
	case event.Stderr:
		io.WriteString(r.err, ev.Text)
	case event.Display:
		drawn := r.drawImage(ev)
		paths, err := r.images.save(ev)
		for _, p := range paths {
			fmt.Fprintf(r.out, "[image saved to %s]\n", p)
		}
		if err != nil {
			fmt.Fprintf(r.err, "interp: save image: %v\n", err)
		}
		if drawn || len(paths) > 0 {
			return
		}
		if text, ok := ev.Data["text/plain"].(string); ok {
			fmt.Fprintln(r.out, text)
		}
	case event.Error:
		tb := strings.Join(ev.Traceback, "\n")
		if tb == "" {
			tb = ev.EName + ": " + ev.EValue
		}
		fmt.Fprintln(r.err, strings.TrimRight(tb, "\n"))
		if r.fileHow != nil {
			if hint := cell.FileHint(ev, r.fileHow); hint != "" {
				fmt.Fprintln(r.err, hint)
			}
		}
	case event.Install:
		r.install(ev)
	case event.File:
		if ev.Change != event.Deleted {
			fmt.Fprintf(r.err, "[file %s: %s, %s]\n", ev.Change, ev.Path, sandbox.FormatBytes(ev.Size))
		}
	}
}

// install shows install progress: one line per phase, and on a terminal a
// live byte count while downloading.
func (r *textRenderer) install(ev session.Event) {
	switch ev.Phase {
	case "resolving":
		fmt.Fprintf(r.err, "[interp: installing %s]\n", ev.Package)
	case event.PhaseDownloading:
		if r.live {
			line := r.progress.update(ev)
			if r.width > 1 && len([]rune(line)) >= r.width {
				line = string([]rune(line)[:r.width-2]) + "…"
			}
			// Back to the line's start, the line, and the rest of the
			// old one erased: nothing stray is left when it shortens.
			fmt.Fprintf(r.err, "\r%s\x1b[K", line)
			r.inProgress = true
		}
	case event.PhaseInstalled:
		if ev.Version != "" {
			fmt.Fprintf(r.err, "[interp: installed %s %s]\n", ev.Package, ev.Version)
		} else {
			fmt.Fprintf(r.err, "[interp: %s: %s]\n", ev.Package, ev.Message)
		}
	case event.PhaseFailed:
		fmt.Fprintf(r.err, "[interp: install failed: %s]\n", ev.Message)
	}
}

// endProgress erases the progress line, so that what follows starts at
// the line's beginning and the line leaves nothing behind.
func (r *textRenderer) endProgress() {
	if r.inProgress {
		io.WriteString(r.err, "\r\x1b[K")
		r.inProgress = false
	}
}

// progressLine is the text of the download progress line: the packages
// in flight, the bytes fetched of the total, a bar and the time left. It
// never goes backwards for the same packages.
type progressLine struct {
	pkg   string
	bytes int64
}

func (p *progressLine) update(ev session.Event) string {
	if ev.Package != p.pkg {
		p.pkg, p.bytes = ev.Package, 0
	}
	p.bytes = max(p.bytes, ev.Bytes)
	ev.Bytes = p.bytes
	return "[interp: downloading " + chat.DownloadText(ev) + "]"
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (r *textRenderer) close() { r.endProgress() }

// jsonRenderer prints one JSON object per event.
type jsonRenderer struct {
	enc    *json.Encoder
	images *imageSaver
}

func newJSONRenderer(out io.Writer, saveDir string) *jsonRenderer {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return &jsonRenderer{enc: enc, images: &imageSaver{dir: saveDir}}
}

func (r *jsonRenderer) event(ev session.Event) {
	if ev.Type == event.Display {
		if paths, err := r.images.save(ev); err == nil && len(paths) > 0 {
			ev.Metadata = map[string]any{"saved": paths}
		}
	}
	_ = r.enc.Encode(ev)
}

func (r *jsonRenderer) close() {}
