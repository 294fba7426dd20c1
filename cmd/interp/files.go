package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// maxUpload caps a file copied into or out of a workspace from the command
// line.
const maxUpload = 256 << 20

// workspaceFiles moves files between the host and a session's workspace:
// --file copies into it before anything runs, and files in the current
// directory that the task or code names are copied in too; at the end, what
// the code made is copied back into --out-dir (the current directory by
// default), never over an existing file.
type workspaceFiles struct {
	in     []string
	outDir string
	noOut  bool
	copied map[string][32]byte // workspace paths copied in: copied back only if changed
	// unrecorded are the paths copied in and not yet in the history.
	unrecorded []string
}

// recordUploads records the files copied in since the last call in the
// history, so that a resumed conversation can have them again.
func (w *workspaceFiles) recordUploads(rec *store.Recorder) {
	for _, name := range w.unrecorded {
		_ = rec.Event(event.Task{Event: event.Event{Type: event.File, Path: name, Change: event.Uploaded}})
	}
	w.unrecorded = nil
}

func (w *workspaceFiles) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&w.in, "file", "f", nil, "copy this file into the session's workspace first (repeatable)")
	fl.StringVarP(&w.outDir, "out-dir", "o", ".", "copy the files the code creates into this directory at the end; an existing file is never overwritten (a -1, -2, ... suffix is added)")
	fl.BoolVar(&w.noOut, "no-out", false, "leave the files the code creates in the sandbox (they are still in the history)")
}

// upload copies the --file files into ws, and the files of the current
// directory that named mentions (a task, or code) and -f did not give.
func (w *workspaceFiles) upload(ws *session.Workspace, named string, stderr io.Writer) error {
	for _, name := range w.in {
		if err := w.copyIn(ws, name); err != nil {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("--file %s: %v", name, err)}
		}
		fmt.Fprintf(stderr, "[interp: copied %s into the sandbox as %s]\n", name, workspacePath(name))
	}
	w.uploadNamed(ws, named, func(msg string) { fmt.Fprintln(stderr, msg) })
	return nil
}

// uploadNamed copies in the files of the current directory that text
// names, each once, and says so.
func (w *workspaceFiles) uploadNamed(ws *session.Workspace, text string, say func(string)) {
	for _, name := range namedFiles(text) {
		if _, ok := w.copied[name]; ok {
			continue
		}
		if err := w.copyIn(ws, name); err != nil {
			say(fmt.Sprintf("interp: %s is named but was not copied in: %v (use -f)", name, err))
			continue
		}
		say(fmt.Sprintf("[interp: copied %s into the sandbox: it is named and is in the current directory]", name))
	}
}

func (w *workspaceFiles) copyIn(ws *session.Workspace, name string) error {
	return w.copyInAs(ws, name, workspacePath(name))
}

// workspacePath is where the host file name lands in the workspace: a
// relative path inside the current directory keeps its path (data/x.csv),
// so code that opens it as written finds it; any other its base name.
func workspacePath(name string) string {
	if rel := filepath.Clean(name); !filepath.IsAbs(rel) && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return filepath.Base(name)
}

// copyInAs copies the host file name to the workspace path dst.
func (w *workspaceFiles) copyInAs(ws *session.Workspace, name, dst string) error {
	data, err := readCapped(name, maxUpload)
	if err != nil {
		return err
	}
	if _, err := ws.Write(dst, bytes.NewReader(data), maxUpload); err != nil {
		return err
	}
	if w.copied == nil {
		w.copied = make(map[string][32]byte)
	}
	w.copied[dst] = sha256.Sum256(data)
	w.unrecorded = append(w.unrecorded, dst)
	return nil
}

func readCapped(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("over the %d-byte limit", limit)
	}
	return data, err
}

// hostFileHow says, for cell.Options.MissingFile, how to bring in a file
// that the code failed to open when it is on this machine (in the current
// directory, or where an absolute path says); "" otherwise. bring is the
// way in, followed by the file's name: "pass it with -f ".
func hostFileHow(bring string) func(string) string {
	return func(name string) string {
		fi, err := os.Stat(name)
		if err != nil || !fi.Mode().IsRegular() {
			return ""
		}
		lands := ""
		if dst := workspacePath(name); dst != name {
			lands = ", and open it as " + dst
		}
		return "it is on this machine: " + bring + name + lands
	}
}

// fileName finds the words of a text that look like file names (with an
// extension).
var fileName = regexp.MustCompile(`[\w\-.]+\.[A-Za-z0-9]{1,8}\b`)

// namedFiles returns the names in text of regular, non-hidden files in the
// current directory (never a path: nothing outside it is offered).
func namedFiles(text string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, name := range fileName.FindAllString(text, -1) {
		if seen[name] || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
			continue
		}
		seen[name] = true
		fi, err := os.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxUpload {
			continue
		}
		out = append(out, name)
	}
	return out
}

// download copies ws's files, other than those copied in and hidden ones,
// into --out-dir. A file already there with other content is kept: the new
// one gets a -1, -2, ... suffix.
func (w *workspaceFiles) download(ws *session.Workspace, stderr io.Writer) error {
	if w.noOut || w.outDir == "" {
		return nil
	}
	files, err := ws.List()
	if err != nil {
		return err
	}
	for _, fi := range files {
		if fi.IsDir || strings.HasPrefix(fi.Path, ".") || strings.Contains(fi.Path, "/.") {
			continue
		}
		data, err := ws.Read(fi.Path, maxUpload)
		if err != nil {
			fmt.Fprintf(stderr, "interp: not copied: %v\n", err)
			continue
		}
		if sum, ok := w.copied[fi.Path]; ok && sum == sha256.Sum256(data) {
			continue // an input, unchanged
		}
		dst := filepath.Join(w.outDir, filepath.FromSlash(fi.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		saved, err := writeNew(dst, data)
		if err != nil {
			return err
		}
		if saved != "" {
			fmt.Fprintf(stderr, "[interp: saved %s]\n", saved)
		}
	}
	return nil
}

// writeNew writes data at dst, or beside it with a numbered suffix when a
// different file is there. It returns the path written, "" when dst already
// holds data.
func writeNew(dst string, data []byte) (string, error) {
	ext := filepath.Ext(dst)
	base := strings.TrimSuffix(dst, ext)
	for i := 0; i < 1000; i++ {
		p := dst
		if i > 0 {
			p = base + "-" + strconv.Itoa(i) + ext
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			if old, rerr := os.ReadFile(p); rerr == nil && bytes.Equal(old, data) {
				return "", nil
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return "", err
		}
		return p, f.Close()
	}
	return "", fmt.Errorf("%s: too many files with this name", dst)
}

// importLine finds the module names of import statements: the first of
// "from X import" and every one of "import X, Y as Z".
var importLine = regexp.MustCompile(`(?m)^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)|import[ \t]+([A-Za-z_][\w., \t]*))`)

// importedTops returns the top-level names code imports.
func importedTops(code string) map[string]bool {
	tops := make(map[string]bool)
	for _, m := range importLine.FindAllStringSubmatch(code, -1) {
		if m[1] != "" {
			tops[m[1]] = true
			continue
		}
		for _, part := range strings.Split(m[2], ",") {
			if f := strings.Fields(part); len(f) > 0 {
				tops[strings.SplitN(f[0], ".", 2)[0]] = true
			}
		}
	}
	return tops
}

// copyLocalModules copies into ws the modules beside a script (dir) that
// its code imports: NAME.py files, and NAME/ packages with an __init__.py.
// They are local, so they are imported from the workspace and never
// installed from an index under the same name. It returns their names.
func (w *workspaceFiles) copyLocalModules(ws *session.Workspace, dir, code string, say func(string)) []string {
	var copied []string
	for top := range importedTops(code) {
		if _, ok := w.copied[top+".py"]; ok {
			continue
		}
		if _, ok := w.copied[top]; ok {
			continue
		}
		file := filepath.Join(dir, top+".py")
		if fi, err := os.Stat(file); err == nil && fi.Mode().IsRegular() {
			if err := w.copyInAs(ws, file, top+".py"); err != nil {
				say(fmt.Sprintf("interp: the local module %s was not copied in: %v", file, err))
				continue
			}
			copied = append(copied, top)
			continue
		}
		pkg := filepath.Join(dir, top)
		if fi, err := os.Stat(filepath.Join(pkg, "__init__.py")); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		err := filepath.WalkDir(pkg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "__pycache__") {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() && strings.HasSuffix(p, ".py") {
				rel, err := filepath.Rel(dir, p)
				if err != nil {
					return err
				}
				return w.copyInAs(ws, p, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			say(fmt.Sprintf("interp: the local package %s was not copied in: %v", pkg, err))
			continue
		}
		w.copied[top] = [32]byte{}
		copied = append(copied, top)
	}
	slices.Sort(copied)
	if len(copied) > 0 {
		say(fmt.Sprintf("[interp: local modules copied in, never installed: %s]", strings.Join(copied, ", ")))
	}
	return copied
}
