package mcpserver

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// maxImages caps the images of one result.
const maxImages = 8

// collector turns a cell's events into a tool result: session.Outcome
// gathers them, and the MCP side adds the image content, within its
// limits, and the structured output.
type collector struct {
	session.Outcome
	maxImageBytes int64
}

func newCollector(maxImageBytes int64) *collector {
	return &collector{maxImageBytes: maxImageBytes}
}

func (c *collector) add(ev session.Event) { c.Add(ev) }

// images returns the images to send as content and a description of every
// image, noting those left out over the result's limits.
func (c *collector) images() ([]session.Image, []ImageInfo) {
	var keep []session.Image
	var infos []ImageInfo
	var total int64
	for _, img := range c.Images() {
		info := ImageInfo{MIMEType: img.MIME, Width: img.Width, Height: img.Height, Bytes: len(img.Data)}
		if len(keep) >= maxImages || total+int64(len(img.Data)) > c.maxImageBytes {
			info.Omitted = true
		} else {
			keep = append(keep, img)
			total += int64(len(img.Data))
		}
		infos = append(infos, info)
	}
	return keep, infos
}

// output is the structured result.
func (c *collector) output(done session.Event) RunPythonOutput {
	_, infos := c.images()
	out := RunPythonOutput{
		Status:          done.Status,
		Stdout:          c.Stdout(),
		Stderr:          c.Stderr(),
		Results:         c.Results(),
		Images:          infos,
		Notes:           c.Notes(),
		Reason:          done.Reason,
		ExecutionCount:  done.ExecutionCount,
		DurationSeconds: done.Duration,
	}
	for _, f := range c.Files() {
		out.Files = append(out.Files, FileChange{Path: f.Path, Change: f.Change, Size: f.Size})
	}
	for _, p := range c.Installed() {
		out.Installed = append(out.Installed, InstalledPackage{Name: p.Package, Version: p.Version, Note: p.Message})
	}
	if f := c.Failure(); f != nil {
		out.Error = &PythonError{Name: f.EName, Value: f.EValue, Traceback: session.Traceback(f)}
	}
	return out
}

// text is the result for a reader: the status first, then each kind of
// output that there is.
func (c *collector) text(done session.Event) string {
	status := "[status: " + done.Status + "]"
	switch done.Status {
	case event.StatusError:
		if f := c.Failure(); f != nil {
			status += " the code raised " + f.EName
		}
	case event.StatusTimeout, event.StatusDied:
		if done.Reason != "" {
			status += " " + done.Reason
		}
	case event.StatusInterrupted:
		status += " the call was cancelled"
	}
	parts := []string{status}
	if body := c.Text(0); body != "" {
		parts = append(parts, body)
	} else if done.Status == event.StatusOK {
		parts = append(parts, "(no output)")
	}
	_, infos := c.images()
	for i, info := range infos {
		if info.Omitted {
			parts = append(parts, fmt.Sprintf("note: image %d (%s) omitted: over the result's limit of %d images or %s",
				i+1, sandbox.FormatBytes(int64(info.Bytes)), maxImages, sandbox.FormatBytes(c.maxImageBytes)))
		}
	}
	return strings.Join(parts, "\n")
}

// progress reports installs to a client that asked for progress. The
// progress is in bytes downloaded where the installer says them, of a
// total of the downloads announced so far; it grows with every
// notification, as MCP asks, by at least one where no byte came in (a
// resolve, an install's end), so the total is raised to stay at or above it.
type progress struct {
	ctx   context.Context
	ss    *mcp.ServerSession
	token any

	mu       sync.Mutex
	n        float64          // the last progress sent
	sizes    map[string]int64 // announced download sizes, by package
	finished map[string]bool  // packages whose download ended
	inFlight struct{ bytes, total int64 }
}

func newProgress(ctx context.Context, req *mcp.CallToolRequest) *progress {
	if req == nil || req.Params == nil || req.Session == nil {
		return nil
	}
	tok := req.Params.GetProgressToken()
	if tok == nil {
		return nil
	}
	return &progress{ctx: ctx, ss: req.Session, token: tok, sizes: map[string]int64{}, finished: map[string]bool{}}
}

func (p *progress) event(ev session.Event) {
	if p == nil || ev.Type != event.Install {
		return
	}
	var msg string
	switch ev.Phase {
	case event.PhaseResolving:
		msg = "resolving " + ev.Package
	case event.PhaseDownloading:
		switch {
		case ev.Total > 0 && ev.ETA > 0:
			msg = fmt.Sprintf("downloading %s: %s of %s, about %.0fs left", ev.Package, sandbox.FormatBytes(ev.Bytes), sandbox.FormatBytes(ev.Total), math.Ceil(ev.ETA))
		case ev.Total > 0:
			msg = fmt.Sprintf("downloading %s: %s of %s", ev.Package, sandbox.FormatBytes(ev.Bytes), sandbox.FormatBytes(ev.Total))
		default:
			msg = fmt.Sprintf("downloading %s: %s", ev.Package, sandbox.FormatBytes(ev.Bytes))
		}
	case event.PhaseInstalled:
		msg = strings.TrimSpace("installed " + ev.Package + " " + ev.Version)
	case event.PhaseFailed:
		msg = "install failed: " + ev.Message
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	bytes, total := p.count(ev)
	next := max(float64(bytes), p.n+1)
	p.n = next
	params := &mcp.ProgressNotificationParams{ProgressToken: p.token, Progress: next, Message: msg}
	if total > 0 {
		params.Total = max(float64(total), next)
	}
	_ = p.ss.NotifyProgress(p.ctx, params)
}

// count takes in a download event and returns the bytes downloaded so
// far, of the total announced. The installer sends three kinds: a
// package's download begins (its size, nothing yet), ends (all of its
// size), and, while several may be in flight, the bytes of all of them
// together.
func (p *progress) count(ev session.Event) (bytes, total int64) {
	if ev.Phase == event.PhaseDownloading && ev.Total > 0 {
		_, known := p.sizes[ev.Package]
		switch {
		case ev.Bytes == 0:
			p.sizes[ev.Package] = ev.Total
		case ev.Bytes == ev.Total && known:
			p.finished[ev.Package] = true
		default:
			p.inFlight.bytes, p.inFlight.total = ev.Bytes, ev.Total
		}
	}
	var done int64
	for pkg, n := range p.sizes {
		total += n
		if p.finished[pkg] {
			done += n
		}
	}
	return max(done, p.inFlight.bytes), max(total, p.inFlight.total)
}
