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
	data, err := readCapped(name, maxUpload)
	if err != nil {
		return err
	}
	if _, err := ws.Write(filepath.Base(name), bytes.NewReader(data), maxUpload); err != nil {
		return err
	}
	if w.copied == nil {
		w.copied = make(map[string][32]byte)
	}
	w.copied[filepath.Base(name)] = sha256.Sum256(data)
	w.unrecorded = append(w.unrecorded, filepath.Base(name))
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
