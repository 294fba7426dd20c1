package pypitest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Media types of the simple repository API (PEP 691).
const (
	jsonType = "application/vnd.pypi.simple.v1+json"
	htmlType = "application/vnd.pypi.simple.v1+html"
)

// Index is a local simple package index backed by an httptest.Server on
// 127.0.0.1. It serves
//
//	/simple/                  the project list
//	/simple/<project>/        the files of one project (404 if unknown)
//	/files/<file>             wheels and sdists
//	/files/<wheel>.metadata   the wheel's METADATA (PEP 658)
//
// Pages are HTML (PEP 503) unless the client's Accept header asks for
// application/vnd.pypi.simple.v1+json (PEP 691), as uv and pip do.
// Every link carries a #sha256= fragment (and the JSON a sha256 hash).
// A request for a non-normalized project name is redirected to the
// normalized one. See SetLegacy for a bare PEP 503 server. All methods
// are safe for concurrent use.
type Index struct {
	t      testing.TB
	server *httptest.Server
	delay  atomic.Int64 // time.Duration
	legacy atomic.Bool

	mu       sync.Mutex
	projects map[string]*project // by normalized name
	files    map[string]*file    // by file name
	requests []string
}

type project struct {
	name  string           // as first added, for display
	files map[string]*file // by file name
}

type file struct {
	name           string
	data           []byte
	sha256         string // hex
	requiresPython string
	metadata       []byte // wheels only: PEP 658 core metadata
	metadataSHA256 string
}

// NewIndex starts an index serving pkgs and registers its shutdown with
// t.Cleanup. It fails the test if a package cannot be built.
func NewIndex(t testing.TB, pkgs ...Package) *Index {
	t.Helper()
	idx := &Index{
		t:        t,
		projects: map[string]*project{},
		files:    map[string]*file{},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pypitest: listen: %v", err)
	}
	idx.server = &httptest.Server{Listener: l, Config: &http.Server{Handler: idx}}
	idx.server.Start()
	t.Cleanup(idx.server.Close)
	for _, p := range pkgs {
		idx.Add(p)
	}
	return idx
}

// URL returns the index URL to pass as --index-url, ending in "/simple/".
func (idx *Index) URL() string { return idx.server.URL + "/simple/" }

// ServerURL returns the server's base URL, without a path.
func (idx *Index) ServerURL() string { return idx.server.URL }

// Add builds p (a wheel, or only an sdist if p.SdistOnly) and publishes it.
// A file with the same name as an earlier one replaces it. Like
// testing.TB.Fatal it must be called from the test's goroutine; use
// TryAdd elsewhere.
func (idx *Index) Add(p Package) {
	idx.t.Helper()
	if err := idx.TryAdd(p); err != nil {
		idx.t.Fatal(err)
	}
}

// TryAdd is Add returning the build error instead of failing the test.
func (idx *Index) TryAdd(p Package) error {
	f := &file{requiresPython: p.RequiresPython}
	var err error
	if p.SdistOnly {
		f.name, f.data, err = BuildSdist(p)
	} else {
		f.name, f.data, err = BuildWheel(p)
		f.metadata = p.metadata()
		f.metadataSHA256 = hexSHA256(f.metadata)
	}
	if err != nil {
		return err
	}
	f.sha256 = hexSHA256(f.data)

	key := NormalizeName(p.Name)
	idx.mu.Lock()
	defer idx.mu.Unlock()
	proj := idx.projects[key]
	if proj == nil {
		proj = &project{name: p.Name, files: map[string]*file{}}
		idx.projects[key] = proj
	}
	proj.files[f.name] = f
	idx.files[f.name] = f
	return nil
}

// Requests returns the paths requested so far (GET and HEAD alike), in
// arrival order, such as "/simple/tinypkg/",
// "/files/tinypkg-1.0-py3-none-any.whl.metadata" and
// "/files/tinypkg-1.0-py3-none-any.whl".
func (idx *Index) Requests() []string {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	return slices.Clone(idx.requests)
}

// Fetched reports whether the file with the given name (a wheel, sdist or
// .metadata file) was requested.
func (idx *Index) Fetched(filename string) bool {
	return slices.Contains(idx.Requests(), "/files/"+filename)
}

// SetDelay makes every later response wait d before being written, to
// exercise timeouts and progress reporting. Zero disables it.
func (idx *Index) SetDelay(d time.Duration) { idx.delay.Store(int64(d)) }

// SetLegacy(true) makes the index behave like a bare PEP 503 server: HTML
// pages only, whatever the Accept header, no PEP 658 metadata attributes
// and no .metadata files, so that clients must read METADATA from the
// wheel itself (uv does so with Range requests).
func (idx *Index) SetLegacy(on bool) { idx.legacy.Store(on) }

// ServeHTTP implements http.Handler.
func (idx *Index) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	idx.mu.Lock()
	idx.requests = append(idx.requests, r.URL.Path)
	idx.mu.Unlock()

	if d := time.Duration(idx.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	p := r.URL.Path
	switch {
	case p == "/simple":
		http.Redirect(w, r, "/simple/", http.StatusMovedPermanently)
	case p == "/simple/":
		idx.serveRoot(w, r)
	case strings.HasPrefix(p, "/simple/"):
		name := strings.TrimPrefix(p, "/simple/")
		name, slash := strings.CutSuffix(name, "/")
		if name == "" || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		if norm := NormalizeName(name); norm != name || !slash {
			http.Redirect(w, r, "/simple/"+norm+"/", http.StatusMovedPermanently)
			return
		}
		idx.serveProject(w, r, name)
	case strings.HasPrefix(p, "/files/"):
		idx.serveFile(w, r, strings.TrimPrefix(p, "/files/"))
	default:
		http.NotFound(w, r)
	}
}

func (idx *Index) serveRoot(w http.ResponseWriter, r *http.Request) {
	idx.mu.Lock()
	names := slices.Sorted(maps.Keys(idx.projects))
	idx.mu.Unlock()

	if idx.wantsJSON(r) {
		type entry struct {
			Name string `json:"name"`
		}
		projects := make([]entry, len(names))
		for i, n := range names {
			projects[i] = entry{n}
		}
		writeJSON(w, r, map[string]any{
			"meta":     map[string]string{"api-version": "1.0"},
			"projects": projects,
		})
		return
	}
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html>\n<head>\n" +
		"<meta name=\"pypi:repository-version\" content=\"1.0\">\n" +
		"<title>Simple index</title>\n</head>\n<body>\n")
	for _, n := range names {
		fmt.Fprintf(&b, "<a href=\"/simple/%s/\">%s</a><br>\n", n, html.EscapeString(n))
	}
	b.WriteString("</body>\n</html>\n")
	writeBody(w, r, htmlType, b.Bytes())
}

func (idx *Index) serveProject(w http.ResponseWriter, r *http.Request, name string) {
	idx.mu.Lock()
	proj := idx.projects[name]
	var files []*file
	if proj != nil {
		for _, fn := range slices.Sorted(maps.Keys(proj.files)) {
			files = append(files, proj.files[fn])
		}
	}
	idx.mu.Unlock()
	if proj == nil {
		http.NotFound(w, r)
		return
	}

	base := idx.server.URL + "/files/"
	legacy := idx.legacy.Load()
	if !legacy && idx.wantsJSON(r) {
		type jsonFile struct {
			Filename       string            `json:"filename"`
			URL            string            `json:"url"`
			Hashes         map[string]string `json:"hashes"`
			Size           int               `json:"size"` // PEP 700
			RequiresPython string            `json:"requires-python,omitempty"`
			CoreMetadata   any               `json:"core-metadata,omitempty"`
			DistInfoMeta   any               `json:"dist-info-metadata,omitempty"`
		}
		out := make([]jsonFile, 0, len(files))
		for _, f := range files {
			jf := jsonFile{
				Filename:       f.name,
				URL:            base + f.name,
				Hashes:         map[string]string{"sha256": f.sha256},
				Size:           len(f.data),
				RequiresPython: f.requiresPython,
			}
			if f.metadata != nil {
				h := map[string]string{"sha256": f.metadataSHA256}
				jf.CoreMetadata, jf.DistInfoMeta = h, h
			}
			out = append(out, jf)
		}
		writeJSON(w, r, map[string]any{
			"meta":  map[string]string{"api-version": "1.0"},
			"name":  name,
			"files": out,
		})
		return
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html>\n<head>\n"+
		"<meta name=\"pypi:repository-version\" content=\"1.0\">\n"+
		"<title>Links for %[1]s</title>\n</head>\n<body>\n<h1>Links for %[1]s</h1>\n",
		html.EscapeString(name))
	for _, f := range files {
		fmt.Fprintf(&b, "<a href=\"%s#sha256=%s\"", html.EscapeString(base+f.name), f.sha256)
		if f.requiresPython != "" {
			fmt.Fprintf(&b, " data-requires-python=\"%s\"", html.EscapeString(f.requiresPython))
		}
		if f.metadata != nil && !legacy {
			fmt.Fprintf(&b, " data-core-metadata=\"sha256=%[1]s\" data-dist-info-metadata=\"sha256=%[1]s\"",
				f.metadataSHA256)
		}
		fmt.Fprintf(&b, ">%s</a><br>\n", html.EscapeString(f.name))
	}
	b.WriteString("</body>\n</html>\n")
	writeBody(w, r, htmlType, b.Bytes())
}

func (idx *Index) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	idx.mu.Lock()
	f := idx.files[name]
	var meta *file
	if base, ok := strings.CutSuffix(name, ".metadata"); ok {
		meta = idx.files[base]
	}
	idx.mu.Unlock()
	switch {
	case f != nil:
		ctype := "application/octet-stream"
		if strings.HasSuffix(name, ".tar.gz") {
			ctype = "application/gzip"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		// ServeContent answers Range requests, which uv uses to read a
		// wheel's METADATA when no .metadata file is advertised.
		http.ServeContent(w, r, name, fixedTime, bytes.NewReader(f.data))
	case meta != nil && meta.metadata != nil && !idx.legacy.Load():
		writeBody(w, r, "text/plain; charset=utf-8", meta.metadata)
	default:
		http.NotFound(w, r)
	}
}

// wantsJSON reports whether the Accept header prefers the PEP 691 JSON
// form over HTML. Without an Accept header, or in legacy mode, HTML is
// served.
func (idx *Index) wantsJSON(r *http.Request) bool {
	if idx.legacy.Load() {
		return false
	}
	best, bestQ := "", -1.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				q = v
			}
		}
		switch mt {
		case jsonType, htmlType, "text/html":
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = mt, q
		}
	}
	return best == jsonType && bestQ > 0
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeBody(w, r, jsonType, append(data, '\n'))
}

func writeBody(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
