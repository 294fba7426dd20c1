package server

import (
	"embed"
	"net/http"
	"path"
)

// The API's documentation page is a small viewer of the server's own
// /openapi.json, embedded in the binary: it loads nothing from elsewhere,
// so it works offline and behind a firewall (huma's default page loads
// its viewer from a CDN).
//
//go:embed docs
var docsFiles embed.FS

// docsCSP lets the page load only its own script and style and fetch only
// from this server.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerDocs serves the viewer at /docs and its files under /docs/.
func (s *Server) registerDocs() {
	serve := func(name, mime string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := docsFiles.ReadFile(path.Join("docs", name))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", mime)
			w.Header().Set("Content-Security-Policy", docsCSP)
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(b)
		}
	}
	s.mux.HandleFunc("GET /docs", serve("index.html", "text/html; charset=utf-8"))
	s.mux.HandleFunc("GET /docs/docs.js", serve("docs.js", "text/javascript; charset=utf-8"))
	s.mux.HandleFunc("GET /docs/docs.css", serve("docs.css", "text/css; charset=utf-8"))
}
