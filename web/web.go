// Package web is Interp's web UI: a React app (TypeScript, built with
// Vite from this directory's src/) embedded in the binary, and the HTTP
// handler that serves it for interp serve and interp ui.
//
// The build (npm run build, make web) writes dist/ui with each asset
// beside its gzip and brotli forms. Until it has run, the handler serves a
// page that says how to build it, so `go build` works on a fresh clone.
//
// Security headers are the handler's: the app's page gets a strict
// Content-Security-Policy (scripts only from this origin, no inline
// script, no plugins, no framing by others). A kernel's HTML output is
// never put into the app's own document: the app shows it in an iframe
// of frame.html, which is served with the CSP sandbox directive (a unique,
// opaque origin: no cookies, no API) and no network at all.
package web

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// AppCSP is the Content-Security-Policy of the app's page. Style
// attributes are allowed (KaTeX lays out formulas with them); style
// elements, inline scripts and eval are not.
const AppCSP = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; frame-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

// FrameCSP is the policy of frame.html, where untrusted HTML output runs:
// a sandbox of its own origin (scripts may run there, for interactive
// outputs, but reach nothing), no network, shown only inside the app.
const FrameCSP = "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; " +
	"style-src 'unsafe-inline'; img-src data: blob:; font-src data:; media-src data: blob:; " +
	"connect-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"

// Handler serves the UI: files of the build by name, and index.html for
// any other path, the app's own routes.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist/ui")
	if err != nil {
		return notBuilt()
	}
	return NewHandler(sub)
}

// NewHandler serves the build in files (index.html at its root).
func NewHandler(files fs.FS) http.Handler {
	if _, err := fs.Stat(files, "index.html"); err != nil {
		return notBuilt()
	}
	return &handler{files: files, start: time.Now()}
}

type handler struct {
	files fs.FS
	start time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".br") {
		name = "index.html"
	}
	if st, err := fs.Stat(h.files, name); err != nil || st.IsDir() {
		if path.Ext(name) != "" {
			// A missing asset is a 404, not the app: a stale page
			// asking for an old bundle must fail visibly.
			http.NotFound(w, r)
			return
		}
		name = "index.html"
	}
	hdr := w.Header()
	switch name {
	case "index.html":
		hdr.Set("Content-Security-Policy", AppCSP)
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	case "frame.html":
		hdr.Set("Content-Security-Policy", FrameCSP)
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("X-Frame-Options", "SAMEORIGIN")
	default:
		hdr.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		if strings.HasPrefix(name, "assets/") {
			// Vite names them by their content's hash.
			hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			hdr.Set("Cache-Control", "public, max-age=3600")
		}
	}
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Add("Vary", "Accept-Encoding")
	body, err := fs.ReadFile(h.files, name)
	if err != nil {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	if ct := contentType(name); ct != "" {
		hdr.Set("Content-Type", ct)
	}
	accept := r.Header.Get("Accept-Encoding")
	for _, enc := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !acceptsEncoding(accept, enc.token) {
			continue
		}
		if z, err := fs.ReadFile(h.files, name+enc.ext); err == nil {
			hdr.Set("Content-Encoding", enc.token)
			body = z
			break
		}
	}
	http.ServeContent(w, r, name, h.start, bytes.NewReader(body))
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".woff2":
		return "font/woff2"
	case ".json":
		return "application/json"
	}
	return ""
}

// acceptsEncoding tells whether an Accept-Encoding header takes token
// (and does not refuse it with q=0).
func acceptsEncoding(header, token string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), token) {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// notBuilt answers every request with how to build the UI.
func notBuilt() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("The web UI is not built into this interp binary: run `make build` (or scripts/setup), which builds web/ first. The API is under /v1, with docs at /docs.\n"))
	})
}
