package mcpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/cell"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// Tool names.
const (
	ToolRunPython       = "run_python"
	ToolInstallPackages = "install_packages"
	ToolReadFile        = "read_file"
	ToolWriteFile       = "write_file"
	ToolListFiles       = "list_files"
	ToolRestartSession  = "restart_session"
)

// maxPackages caps the packages of one install_packages call.
const maxPackages = 32

// maxListed caps the entries list_files returns.
const maxListed = 2000

// RunPythonInput is run_python's input.
type RunPythonInput struct {
	Code           string  `json:"code" jsonschema:"The Python code to run as the next cell of the session. The value of the last expression is shown, as in Jupyter."`
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty" jsonschema:"Time limit of this call in seconds. When it passes the code gets KeyboardInterrupt and the session survives. Default:"`
}

// RunPythonOutput is run_python's structured result.
type RunPythonOutput struct {
	Status          string             `json:"status" jsonschema:"ok, error (the code raised), timeout, interrupted, or died (the Python process ended and was restarted)"`
	Stdout          string             `json:"stdout,omitempty"`
	Stderr          string             `json:"stderr,omitempty"`
	Results         []string           `json:"results,omitempty" jsonschema:"Text of the values displayed, the last expression's among them"`
	Error           *PythonError       `json:"error,omitempty"`
	Images          []ImageInfo        `json:"images,omitempty" jsonschema:"Images displayed; their data is in the result's image content"`
	Files           []FileChange       `json:"files,omitempty" jsonschema:"Workspace files the code created, modified or deleted"`
	Installed       []InstalledPackage `json:"installed,omitempty" jsonschema:"Packages installed before the code ran"`
	Notes           []string           `json:"notes,omitempty"`
	Reason          string             `json:"reason,omitempty" jsonschema:"Why the code did not finish normally"`
	ExecutionCount  int                `json:"execution_count,omitempty"`
	DurationSeconds float64            `json:"duration_seconds"`
}

// PythonError is an exception the code raised.
type PythonError struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Traceback string `json:"traceback"`
}

// ImageInfo describes one image in a result.
type ImageInfo struct {
	MIMEType string `json:"mime_type"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	Bytes    int    `json:"bytes"`
	Omitted  bool   `json:"omitted,omitempty" jsonschema:"true when the image was left out of the result, over its size limit"`
}

// FileChange is a workspace file a cell changed.
type FileChange struct {
	Path   string `json:"path"`
	Change string `json:"change" jsonschema:"created, modified or deleted"`
	Size   int64  `json:"size"`
}

// InstalledPackage is one distribution installed.
type InstalledPackage struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Note    string `json:"note,omitempty"`
}

// InstallPackagesInput is install_packages' input.
type InstallPackagesInput struct {
	Packages []string `json:"packages" jsonschema:"PyPI requirements, such as humanize or pandas>=2 or requests[socks]. URLs, paths and pip options are not accepted."`
}

// InstallPackagesOutput is install_packages' result.
type InstallPackagesOutput struct {
	Installed []InstalledPackage `json:"installed"`
	Message   string             `json:"message"`
}

// ReadFileInput is read_file's input.
type ReadFileInput struct {
	Path string `json:"path" jsonschema:"Path of the file, relative to the workspace"`
}

// ReadFileOutput is read_file's result.
type ReadFileOutput struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	MIMEType string `json:"mime_type"`
	Encoding string `json:"encoding" jsonschema:"utf-8 for text, base64 for binary content"`
	Content  string `json:"content"`
}

// WriteFileInput is write_file's input.
type WriteFileInput struct {
	Path          string `json:"path" jsonschema:"Path of the file, relative to the workspace; missing directories are created"`
	Content       string `json:"content,omitempty" jsonschema:"The text to write (UTF-8)"`
	ContentBase64 string `json:"content_base64,omitempty" jsonschema:"Binary content in base64, instead of content"`
}

// WriteFileOutput is write_file's result.
type WriteFileOutput struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// ListFilesInput is list_files' input: none.
type ListFilesInput struct{}

// ListFilesOutput is list_files' result.
type ListFilesOutput struct {
	Files     []FileEntry `json:"files"`
	Truncated bool        `json:"truncated,omitempty"`
}

// FileEntry is one workspace file or directory.
type FileEntry struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	IsDir bool   `json:"is_dir,omitempty"`
}

// RestartSessionInput is restart_session's input: none.
type RestartSessionInput struct{}

// RestartSessionOutput is restart_session's result.
type RestartSessionOutput struct {
	Message string `json:"message"`
}

func (s *Server) addTools() {
	f, t := new(bool), new(bool)
	*t = true
	install := "Packages it imports are installed automatically before it runs."
	if s.cfg.Auto == nil {
		install = "Package installs are turned off on this server."
	}
	maxTimeout := s.cfg.MaxCellTimeout.Seconds()
	mcp.AddTool(s.srv, &mcp.Tool{
		Name:  ToolRunPython,
		Title: "Run Python",
		InputSchema: inputSchema[RunPythonInput](func(in *jsonschema.Schema) {
			ts := in.Properties["timeout_seconds"]
			ts.ExclusiveMinimum, ts.Maximum = jsonschema.Ptr(0.0), &maxTimeout
			ts.Description += fmt.Sprintf(" %g seconds; at most %g.", s.cfg.CellTimeout.Seconds(), maxTimeout)
		}),
		Description: "Run Python code in a persistent sandboxed session (like a Jupyter kernel: variables, imports and " +
			"files persist between calls). " + install + " Returns stdout, stderr, the value of the last expression, " +
			"the error with its traceback, files created in the workspace, and displayed images (matplotlib figures " +
			"are captured without plt.show()). The sandbox has no network.",
		Annotations: &mcp.ToolAnnotations{Title: "Run Python", DestructiveHint: f, OpenWorldHint: f},
	}, s.runPython)
	mcp.AddTool(s.srv, &mcp.Tool{
		Name:  ToolInstallPackages,
		Title: "Install Python packages",
		InputSchema: inputSchema[InstallPackagesInput](func(in *jsonschema.Schema) {
			p := in.Properties["packages"]
			p.Types, p.Type = nil, "array"
			p.MinItems, p.MaxItems = jsonschema.Ptr(1), jsonschema.Ptr(maxPackages)
		}),
		Description: "Install PyPI packages into the Python session (from the server's configured index, wheels only; " +
			"known malicious names are refused). Rarely needed: run_python installs what code imports.",
		Annotations: &mcp.ToolAnnotations{Title: "Install Python packages", DestructiveHint: f, IdempotentHint: true, OpenWorldHint: t},
	}, s.installPackages)
	mcp.AddTool(s.srv, &mcp.Tool{
		Name:        ToolReadFile,
		Title:       "Read a workspace file",
		Description: fmt.Sprintf("Read a file from the Python session's workspace (at most %s). Text comes back as text, images as image content, other binary files in base64.", sandbox.FormatBytes(s.cfg.MaxFileBytes)),
		Annotations: &mcp.ToolAnnotations{Title: "Read a workspace file", ReadOnlyHint: true, OpenWorldHint: f},
	}, s.readFile)
	mcp.AddTool(s.srv, &mcp.Tool{
		Name:        ToolWriteFile,
		Title:       "Write a workspace file",
		Description: fmt.Sprintf("Create or replace a file in the Python session's workspace (at most %s), where code can open it by its relative path. Give text in content, or binary data in content_base64.", sandbox.FormatBytes(s.cfg.MaxFileBytes)),
		Annotations: &mcp.ToolAnnotations{Title: "Write a workspace file", DestructiveHint: t, IdempotentHint: true, OpenWorldHint: f},
	}, s.writeFile)
	mcp.AddTool(s.srv, &mcp.Tool{
		Name:        ToolListFiles,
		Title:       "List workspace files",
		Description: "List the files and directories in the Python session's workspace, with their sizes.",
		Annotations: &mcp.ToolAnnotations{Title: "List workspace files", ReadOnlyHint: true, OpenWorldHint: f},
	}, s.listFiles)
	mcp.AddTool(s.srv, &mcp.Tool{
		Name:        ToolRestartSession,
		Title:       "Restart the Python session",
		Description: "Restart the Python process: all variables and imports are lost, workspace files and installed packages are kept.",
		Annotations: &mcp.ToolAnnotations{Title: "Restart the Python session", DestructiveHint: t, IdempotentHint: true, OpenWorldHint: f},
	}, s.restartSession)
}

// inputSchema is the schema the SDK would infer for T, edited.
func inputSchema[T any](edit func(*jsonschema.Schema)) *jsonschema.Schema {
	sc, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("mcpserver: schema of %T: %v", *new(T), err))
	}
	edit(sc)
	return sc
}

// runPython runs a cell, installing what it imports first.
func (s *Server) runPython(ctx context.Context, req *mcp.CallToolRequest, in RunPythonInput) (*mcp.CallToolResult, RunPythonOutput, error) {
	var out RunPythonOutput
	if strings.TrimSpace(in.Code) == "" {
		return nil, out, errors.New("code is empty: give the Python code to run")
	}
	timeout := s.cfg.CellTimeout
	if in.TimeoutSeconds != 0 {
		maxSec := s.cfg.MaxCellTimeout.Seconds()
		if in.TimeoutSeconds < 0 || in.TimeoutSeconds > maxSec || math.IsNaN(in.TimeoutSeconds) {
			return nil, out, fmt.Errorf("timeout_seconds must be more than 0 and at most %g", maxSec)
		}
		timeout = time.Duration(in.TimeoutSeconds * float64(time.Second))
	}
	ctx, c, unlock, err := s.exclusive(ctx, req.Session)
	if err != nil {
		return nil, out, err
	}
	defer unlock()

	col := newCollector(s.cfg.MaxImageBytes)
	progress := newProgress(ctx, req)
	rec := s.recorder(ctx, c, req.Session)
	if rec != nil {
		_ = rec.StartCell(in.Code)
	}
	emit := func(ev session.Event) {
		if rec != nil {
			_ = rec.SessionEvent(ev) // first: what was shown is in the history
		}
		col.add(ev)
		progress.event(ev)
	}
	sess, note, err := s.session(ctx, c)
	if err != nil {
		return nil, out, err
	}
	if note != "" {
		col.Note(note)
	}
	runner := cell.Runner{Auto: s.cfg.Auto}
	ran, err := runner.Run(ctx, sess, in.Code, cell.Options{Timeout: timeout, MissingFile: func(name string) string {
		if path.IsAbs(name) {
			return "" // write_file writes into the workspace, not there
		}
		return fmt.Sprintf("write it into the workspace with the %s tool (path %s), then run the code again", ToolWriteFile, name)
	}}, emit)
	if err != nil {
		if ctx.Err() != nil {
			return nil, out, ctx.Err()
		}
		return nil, out, fmt.Errorf("cannot run the code: %w", err)
	}
	done := ran.Done
	if ran.Recovery.Installed && !ran.Recovery.Restart {
		col.Note("The missing package has now been installed: run the code again.")
	}
	if done.Status == event.StatusDied {
		col.Note("The Python process ended; it is restarted when code runs next: variables are gone, workspace files and installed packages remain.")
	}
	out = col.output(done)
	res := &mcp.CallToolResult{IsError: done.Status != event.StatusOK}
	res.Content = append(res.Content, &mcp.TextContent{Text: col.text(done)})
	images, _ := col.images()
	for _, img := range images {
		res.Content = append(res.Content, &mcp.ImageContent{Data: img.Data, MIMEType: img.MIME})
	}
	return res, out, nil
}

// current returns the client's Python session, if it has one.
func (c *client) current() *session.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// installPackages installs named requirements through the installer.
func (s *Server) installPackages(ctx context.Context, req *mcp.CallToolRequest, in InstallPackagesInput) (*mcp.CallToolResult, InstallPackagesOutput, error) {
	var out InstallPackagesOutput
	if s.cfg.Auto == nil || s.cfg.Auto.Installer == nil {
		return nil, out, errors.New("package installs are turned off on this server")
	}
	if len(in.Packages) == 0 {
		return nil, out, errors.New("packages is empty: name at least one PyPI package")
	}
	if len(in.Packages) > maxPackages {
		return nil, out, fmt.Errorf("%d packages asked for; at most %d per call", len(in.Packages), maxPackages)
	}
	reqs := make([]deps.Requirement, 0, len(in.Packages))
	var bad []string
	for _, p := range in.Packages {
		r, err := deps.ParseRequirement(p)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		reqs = append(reqs, r)
	}
	if len(bad) > 0 {
		return nil, out, errors.New("nothing was installed: " + strings.Join(bad, "; "))
	}
	// Refuse denied names before starting a sandbox for nothing.
	if err := s.cfg.Auto.Installer.Check(reqs); err != nil {
		return nil, out, fmt.Errorf("nothing was installed: %w", err)
	}
	ctx, c, unlock, err := s.exclusive(ctx, req.Session)
	if err != nil {
		return nil, out, err
	}
	defer unlock()
	sess, _, err := s.session(ctx, c)
	if err != nil {
		return nil, out, err
	}
	k := sess.Kernel()
	if k == nil {
		return nil, out, session.ErrClosed
	}
	progress := newProgress(ctx, req)
	out.Installed = []InstalledPackage{}
	var notes []string // the installer's own, such as a GPU build's warning
	err = s.cfg.Auto.Installer.Install(ctx, k.SiteDir(), reqs, func(ev session.Event) {
		progress.event(ev)
		switch {
		case ev.Type == event.Install && ev.Phase == event.PhaseInstalled:
			out.Installed = append(out.Installed, InstalledPackage{Name: ev.Package, Version: ev.Version, Note: ev.Message})
		case ev.Type == event.Stderr:
			notes = append(notes, strings.TrimSpace(ev.Text))
		}
	})
	if err != nil {
		return nil, out, fmt.Errorf("nothing was installed: %w", err)
	}
	var names []string
	for _, p := range out.Installed {
		n := p.Name
		if p.Version != "" {
			n += " " + p.Version
		}
		if p.Note != "" {
			n += " (" + p.Note + ")"
		}
		names = append(names, n)
	}
	out.Message = "Installed: " + strings.Join(names, ", ") + ". They can be imported from the next run_python call on."
	for _, n := range notes {
		out.Message += "\n" + n
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: out.Message}}}, out, nil
}

// readFile returns a workspace file.
func (s *Server) readFile(ctx context.Context, req *mcp.CallToolRequest, in ReadFileInput) (*mcp.CallToolResult, ReadFileOutput, error) {
	var out ReadFileOutput
	if _, err := session.CleanPath(in.Path); err != nil {
		return nil, out, err
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	ws, err := s.workspace(ctx, req.Session)
	if err != nil {
		return nil, out, err
	}
	data, err := ws.Read(in.Path, s.cfg.MaxFileBytes)
	if err != nil {
		return nil, out, err
	}
	out.Path, out.Size = in.Path, int64(len(data))
	out.MIMEType = http.DetectContentType(data)
	res := &mcp.CallToolResult{}
	if utf8.Valid(data) && bytes.IndexByte(data, 0) < 0 {
		out.Encoding, out.Content = "utf-8", string(data)
		if strings.HasPrefix(out.MIMEType, "application/octet-stream") {
			out.MIMEType = "text/plain; charset=utf-8"
		}
		res.Content = []mcp.Content{&mcp.TextContent{Text: out.Content}}
		return res, out, nil
	}
	out.Encoding, out.Content = "base64", base64.StdEncoding.EncodeToString(data)
	switch out.MIMEType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		res.Content = []mcp.Content{
			&mcp.TextContent{Text: fmt.Sprintf("%s: a %s image of %s.", out.Path, out.MIMEType, sandbox.FormatBytes(out.Size))},
			&mcp.ImageContent{Data: data, MIMEType: out.MIMEType},
		}
	default:
		res.Content = []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("%s: %s of binary data (%s), base64:\n%s",
			out.Path, sandbox.FormatBytes(out.Size), out.MIMEType, out.Content)}}
	}
	return res, out, nil
}

// writeFile stores a workspace file.
func (s *Server) writeFile(ctx context.Context, req *mcp.CallToolRequest, in WriteFileInput) (*mcp.CallToolResult, WriteFileOutput, error) {
	var out WriteFileOutput
	if _, err := session.CleanPath(in.Path); err != nil {
		return nil, out, err
	}
	data := []byte(in.Content)
	if in.ContentBase64 != "" {
		if in.Content != "" {
			return nil, out, errors.New("give either content or content_base64, not both")
		}
		var err error
		if data, err = base64.StdEncoding.DecodeString(strings.TrimSpace(in.ContentBase64)); err != nil {
			return nil, out, fmt.Errorf("content_base64 is not valid base64: %w", err)
		}
	}
	if int64(len(data)) > s.cfg.MaxFileBytes {
		return nil, out, fmt.Errorf("the content is %d bytes, over the %d-byte limit", len(data), s.cfg.MaxFileBytes)
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	ws, err := s.workspace(ctx, req.Session)
	if err != nil {
		return nil, out, err
	}
	n, err := ws.Write(in.Path, bytes.NewReader(data), s.cfg.MaxFileBytes)
	if err != nil {
		return nil, out, err
	}
	out.Path, out.Size = in.Path, n
	msg := fmt.Sprintf("Wrote %s (%s).", out.Path, sandbox.FormatBytes(n))
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: msg}}}, out, nil
}

// listFiles lists the workspace.
func (s *Server) listFiles(ctx context.Context, req *mcp.CallToolRequest, _ ListFilesInput) (*mcp.CallToolResult, ListFilesOutput, error) {
	var out ListFilesOutput
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	ws, err := s.workspace(ctx, req.Session)
	if err != nil {
		return nil, out, err
	}
	files, err := ws.List()
	if err != nil {
		return nil, out, err
	}
	out.Files = []FileEntry{}
	var b strings.Builder
	for _, f := range files {
		if len(out.Files) >= maxListed {
			out.Truncated = true
			break
		}
		out.Files = append(out.Files, FileEntry{Path: f.Path, Size: f.Size, IsDir: f.IsDir})
		if f.IsDir {
			fmt.Fprintf(&b, "%s/\n", f.Path)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", f.Path, sandbox.FormatBytes(f.Size))
		}
	}
	switch {
	case len(out.Files) == 0:
		b.WriteString("The workspace is empty.")
	case out.Truncated:
		fmt.Fprintf(&b, "[only the first %d of %d entries are listed]", maxListed, len(files))
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.TrimRight(b.String(), "\n")}}}, out, nil
}

// exclusive prepares a call that uses the client's Python session: a
// context that the server's Close also cancels, and the client's session to
// itself until the returned unlock is called.
func (s *Server) exclusive(ctx context.Context, ss *mcp.ServerSession) (context.Context, *client, func(), error) {
	ctx, cancel := s.callContext(ctx)
	c, err := s.client(ss)
	if err == nil {
		err = acquire(ctx, c.run)
	}
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, c, func() { release(c.run); cancel() }, nil
}

// restartSession gives the client a fresh Python process.
func (s *Server) restartSession(ctx context.Context, req *mcp.CallToolRequest, _ RestartSessionInput) (*mcp.CallToolResult, RestartSessionOutput, error) {
	var out RestartSessionOutput
	ctx, c, unlock, err := s.exclusive(ctx, req.Session)
	if err != nil {
		return nil, out, err
	}
	defer unlock()
	if c.current() == nil {
		// Nothing to restart: a session starts fresh anyway.
		if _, _, err := s.session(ctx, c); err != nil {
			return nil, out, err
		}
		out.Message = "Started a new Python session."
	} else {
		sess, note, err := s.session(ctx, c)
		if err != nil {
			return nil, out, err
		}
		if note != "" {
			out.Message = note
		} else {
			if err := sess.Restart(ctx); err != nil {
				return nil, out, fmt.Errorf("cannot restart the Python session: %w", err)
			}
			out.Message = "Restarted the Python process: variables and imports are gone; workspace files and installed packages remain."
		}
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: out.Message}}}, out, nil
}
