package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/session"
)

// maxUpload caps a file copied into or out of a workspace from the command
// line.
const maxUpload = 256 << 20

// workspaceFiles moves files between the host and a session's workspace:
// --file copies into it before anything runs, --out-dir copies what the
// code made back at the end.
type workspaceFiles struct {
	in     []string
	outDir string
}

func (w *workspaceFiles) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&w.in, "file", "f", nil, "copy this file into the session's workspace first (repeatable)")
	fl.StringVarP(&w.outDir, "out-dir", "o", "", "copy the files the code creates into this directory at the end")
}

// upload copies the --file files into ws.
func (w *workspaceFiles) upload(ws *session.Workspace) error {
	for _, name := range w.in {
		src, err := os.Open(name)
		if err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
		_, err = ws.Write(filepath.Base(name), src, maxUpload)
		src.Close()
		if err != nil {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("--file %s: %v", name, err)}
		}
	}
	return nil
}

// download copies ws's files, other than the uploads and hidden ones, into
// --out-dir.
func (w *workspaceFiles) download(ws *session.Workspace, stderr io.Writer) error {
	if w.outDir == "" {
		return nil
	}
	uploaded := make(map[string]bool)
	for _, name := range w.in {
		uploaded[filepath.Base(name)] = true
	}
	files, err := ws.List()
	if err != nil {
		return err
	}
	for _, fi := range files {
		if fi.IsDir || uploaded[fi.Path] || strings.HasPrefix(fi.Path, ".") {
			continue
		}
		data, err := ws.Read(fi.Path, maxUpload)
		if err != nil {
			fmt.Fprintf(stderr, "interp: not copied: %v\n", err)
			continue
		}
		dst := filepath.Join(w.outDir, filepath.FromSlash(fi.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "[interp: saved %s]\n", dst)
	}
	return nil
}
