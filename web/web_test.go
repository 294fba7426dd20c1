package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/interp-dev/interp/web"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	h := web.NewHandler(fstest.MapFS{
		"index.html":            {Data: []byte("<!doctype html><title>Interp</title>")},
		"index.html.gz":         {Data: []byte("GZ-INDEX")},
		"frame.html":            {Data: []byte("<script>frame</script>")},
		"assets/app-1a2b.js":    {Data: []byte("console.log(1)")},
		"assets/app-1a2b.js.br": {Data: []byte("BR-JS")},
		"assets/app-1a2b.js.gz": {Data: []byte("GZ-JS")},
	})
	get := func(path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if accept != "" {
			r.Header.Set("Accept-Encoding", accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	tests := []struct {
		name, path, accept string
		status             int
		body, encoding     string
		header             map[string]string
	}{
		{name: "index", path: "/", status: 200, body: "<!doctype html>",
			header: map[string]string{"Content-Security-Policy": web.AppCSP, "Cache-Control": "no-cache", "X-Frame-Options": "DENY"}},
		{name: "an app route is the app", path: "/c/conv_1", status: 200, body: "<!doctype html>"},
		{name: "index gzipped", path: "/", accept: "gzip, deflate", status: 200, body: "GZ-INDEX", encoding: "gzip"},
		{name: "brotli first", path: "/assets/app-1a2b.js", accept: "gzip, br", status: 200, body: "BR-JS", encoding: "br",
			header: map[string]string{"Cache-Control": "public, max-age=31536000, immutable", "Content-Type": "text/javascript; charset=utf-8"}},
		{name: "refused encodings", path: "/assets/app-1a2b.js", accept: "br;q=0, gzip;q=0", status: 200, body: "console.log(1)"},
		{name: "frame sandboxed", path: "/frame.html", status: 200, body: "<script>frame</script>",
			header: map[string]string{"Content-Security-Policy": web.FrameCSP}},
		{name: "a missing asset is 404", path: "/assets/old-9z.js", status: 404},
		{name: "compressed files are not served by name", path: "/assets/app-1a2b.js.gz", status: 200, body: "<!doctype html>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := get(tc.path, tc.accept)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if !strings.HasPrefix(w.Body.String(), tc.body) {
				t.Errorf("body %q, want %q", w.Body.String(), tc.body)
			}
			if got := w.Header().Get("Content-Encoding"); got != tc.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tc.encoding)
			}
			for k, v := range tc.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	if !strings.Contains(web.FrameCSP, "sandbox allow-scripts") || strings.Contains(web.FrameCSP, "allow-same-origin") ||
		!strings.Contains(web.FrameCSP, "connect-src 'none'") {
		t.Errorf("the frame's CSP must sandbox it without its origin and without network: %s", web.FrameCSP)
	}
	if strings.Contains(web.AppCSP, "unsafe-inline'; ") && !strings.Contains(web.AppCSP, "style-src-attr 'unsafe-inline'") ||
		strings.Contains(web.AppCSP, "unsafe-eval") {
		t.Errorf("the app's CSP allows inline script or eval: %s", web.AppCSP)
	}

	// Without a build, every path says how to make one.
	nb := web.NewHandler(fstest.MapFS{})
	w := httptest.NewRecorder()
	nb.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "make build") {
		t.Errorf("unbuilt: %d %q", w.Code, w.Body.String())
	}
}
