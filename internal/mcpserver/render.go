package mcpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	_ "image/gif" // sizes of displayed images
	_ "image/jpeg"
	_ "image/png"
	"sort"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// maxImages caps the images of one result; maxResultText one displayed
// value's text.
const (
	maxImages     = 8
	maxResultText = 64 << 10
)

// imageTypes are the display MIME types returned as image content, in
// order of preference.
var imageTypes = []string{"image/png", "image/jpeg", "image/gif"}

type imageData struct {
	mime string
	data []byte
}

// collector gathers a cell's events into a tool result. The installer
// may emit from another goroutine, hence the lock.
type collector struct {
	mu             sync.Mutex
	stdout, stderr strings.Builder
	results        []string
	failure        *session.Event
	images         []imageData
	imageInfo      []ImageInfo
	imageBytes     int64
	maxImageBytes  int64
	files          []FileChange
	installed      []InstalledPackage
	notes          []string
}

func newCollector(maxImageBytes int64) *collector {
	return &collector{maxImageBytes: maxImageBytes}
}

func (c *collector) add(ev session.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev.Type {
	case session.EventStdout:
		c.stdout.WriteString(ev.Text)
	case session.EventStderr:
		c.stderr.WriteString(ev.Text)
	case session.EventDisplay:
		c.display(ev)
	case session.EventError:
		e := ev
		c.failure = &e
	case session.EventFile:
		c.files = append(c.files, FileChange{Path: ev.Path, Change: ev.Change, Size: ev.Size})
	case session.EventInstall:
		switch ev.Phase {
		case deps.PhaseInstalled:
			c.installed = append(c.installed, InstalledPackage{Name: ev.Package, Version: ev.Version, Note: ev.Message})
		case deps.PhaseFailed:
			c.notes = append(c.notes, "Install failed: "+ev.Message)
		}
	}
}

// display keeps an image as image content and text as a result.
func (c *collector) display(ev session.Event) {
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
		info := ImageInfo{MIMEType: mime, Bytes: len(raw)}
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(raw)); err == nil {
			info.Width, info.Height = cfg.Width, cfg.Height
		}
		desc := fmt.Sprintf("[image %d: %dx%d %s", len(c.imageInfo)+1, info.Width, info.Height, strings.TrimPrefix(mime, "image/"))
		if len(c.images) >= maxImages || c.imageBytes+int64(len(raw)) > c.maxImageBytes {
			info.Omitted = true
			desc += fmt.Sprintf(", %s, omitted: over the result's limit of %d images or %s",
				sandbox.FormatBytes(int64(len(raw))), maxImages, sandbox.FormatBytes(c.maxImageBytes))
		} else {
			c.images = append(c.images, imageData{mime: mime, data: raw})
			c.imageBytes += int64(len(raw))
		}
		c.imageInfo = append(c.imageInfo, info)
		desc += "]"
		if text != "" {
			desc += " " + text
		}
		c.results = append(c.results, desc)
		return
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
	c.results = append(c.results, headTail(text, maxResultText))
}

// output is the structured result.
func (c *collector) output(done session.Event) RunPythonOutput {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := RunPythonOutput{
		Status:          done.Status,
		Stdout:          c.stdout.String(),
		Stderr:          c.stderr.String(),
		Results:         c.results,
		Images:          c.imageInfo,
		Files:           c.files,
		Installed:       c.installed,
		Notes:           c.notes,
		Reason:          done.Reason,
		ExecutionCount:  done.ExecutionCount,
		DurationSeconds: done.Duration,
	}
	if f := c.failure; f != nil {
		out.Error = &PythonError{Name: f.EName, Value: f.EValue, Traceback: traceback(f)}
	}
	return out
}

func traceback(f *session.Event) string {
	if len(f.Traceback) > 0 {
		return strings.TrimRight(strings.Join(f.Traceback, "\n"), "\n")
	}
	return f.EName + ": " + f.EValue
}

// text is the result for a reader: the status first, then each kind of
// output that there is.
func (c *collector) text(done session.Event) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	status := "[status: " + done.Status + "]"
	switch done.Status {
	case session.StatusError:
		if c.failure != nil {
			status += " the code raised " + c.failure.EName
		}
	case session.StatusTimeout, session.StatusDied:
		if done.Reason != "" {
			status += " " + done.Reason
		}
	case session.StatusInterrupted:
		status += " the call was cancelled"
	}
	parts = append(parts, status)
	section := func(name, body string) {
		if body = strings.TrimRight(body, "\n"); body != "" {
			parts = append(parts, name+":\n"+body)
		}
	}
	section("stdout", c.stdout.String())
	section("stderr", c.stderr.String())
	section("result", strings.Join(c.results, "\n"))
	if c.failure != nil {
		section("error", traceback(c.failure))
	}
	if len(c.files) > 0 {
		var fs []string
		for _, f := range c.files {
			if f.Change == "deleted" {
				fs = append(fs, f.Path+" (deleted)")
			} else {
				fs = append(fs, fmt.Sprintf("%s (%s, %s)", f.Path, f.Change, sandbox.FormatBytes(f.Size)))
			}
		}
		parts = append(parts, "files: "+strings.Join(fs, ", "))
	}
	var inst []string
	for _, p := range c.installed {
		if p.Version != "" {
			inst = append(inst, p.Name+" "+p.Version)
		}
	}
	if len(inst) > 0 {
		parts = append(parts, "installed: "+strings.Join(inst, ", "))
	}
	for _, n := range c.notes {
		parts = append(parts, "note: "+n)
	}
	if len(parts) == 1 && done.Status == session.StatusOK {
		parts = append(parts, "(no output)")
	}
	return strings.Join(parts, "\n")
}

// headTail keeps the start and the end of s within max bytes.
func headTail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	half := max / 2
	return fmt.Sprintf("%s\n[... %d bytes omitted ...]\n%s", s[:half], len(s)-2*half, s[len(s)-half:])
}

// progress reports installs to a client that asked for progress.
type progress struct {
	ctx   context.Context
	ss    *mcp.ServerSession
	token any
	mu    sync.Mutex
	n     float64
}

func newProgress(ctx context.Context, req *mcp.CallToolRequest) *progress {
	if req == nil || req.Params == nil || req.Session == nil {
		return nil
	}
	tok := req.Params.GetProgressToken()
	if tok == nil {
		return nil
	}
	return &progress{ctx: ctx, ss: req.Session, token: tok}
}

func (p *progress) event(ev session.Event) {
	if p == nil || ev.Type != session.EventInstall {
		return
	}
	var msg string
	switch ev.Phase {
	case deps.PhaseResolving:
		msg = "resolving " + ev.Package
	case deps.PhaseDownloading:
		msg = fmt.Sprintf("downloading %s: %s", ev.Package, sandbox.FormatBytes(ev.Bytes))
	case deps.PhaseInstalled:
		msg = strings.TrimSpace("installed " + ev.Package + " " + ev.Version)
	case deps.PhaseFailed:
		msg = "install failed: " + ev.Message
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	_ = p.ss.NotifyProgress(p.ctx, &mcp.ProgressNotificationParams{ProgressToken: p.token, Progress: p.n, Message: msg})
}
