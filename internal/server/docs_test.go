package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDocsOffline opens /docs in a real Chromium and reads the browser's
// network log: the page must render the API's operations from the
// server's own document and request nothing from another origin (huma's
// default page loaded its viewer from a CDN, and was blank offline). A
// page that does load from elsewhere is caught, so the check can fail.
func TestDocsOffline(t *testing.T) {
	browser := os.Getenv("E2E_CHROMIUM")
	if browser == "" {
		browser = "/usr/bin/chromium"
	}
	if _, err := os.Stat(browser); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Chromium is missing (make chromium): %v", err)
		}
		t.Skip("Chromium is missing (apt-get install chromium)")
	}
	e := newEnv(t, nil)

	// The policy keeps the browser on this origin whatever the page does.
	r := e.do("", "GET", "/docs", nil).want(t, 200)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("/docs CSP %q", csp)
	}

	dom, requests := pageRequests(t, browser, e.ts.URL+"/docs")
	for _, want := range []string{`id="create-session"`, "/v1/sessions/{id}/execute", "Authentication:"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q:\n%.2000s", want, dom)
		}
	}
	if !contains(requests, e.ts.URL+"/openapi.json") {
		t.Errorf("the page did not load the document: %v", requests)
	}
	if out := outside(requests, e.ts.URL); len(out) > 0 {
		t.Errorf("/docs requested %v", out)
	}

	// The control: a page with a CDN script is seen to reach out.
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><script src="https://cdn.invalid/viewer.js"></script>`)
	}))
	defer cdn.Close()
	if _, requests := pageRequests(t, browser, cdn.URL); !contains(outside(requests, cdn.URL), "https://cdn.invalid/viewer.js") {
		t.Errorf("a CDN request went unseen: %v", requests)
	}
}

// pageRequests loads url in Chromium and returns the page's DOM and the
// URLs the page requested (the browser's own traffic, such as update
// checks, left out), from Chromium's network log.
func pageRequests(t *testing.T, browser, url string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	netlog := filepath.Join(dir, "netlog.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--log-net-log="+netlog,
		"--virtual-time-budget=10000", "--dump-dom", url).Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	b, err := os.ReadFile(netlog)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int `json:"type"`
			Params struct {
				URL string `json:"url"`
				// The page's site for its requests, "null null" or a
				// Google site's for the browser's own.
				NIK string `json:"network_isolation_key"`
			} `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatalf("network log: %v", err)
	}
	start, ok := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	if !ok {
		t.Fatal("network log: no URL_REQUEST_START_JOB events")
	}
	var urls []string
	for _, ev := range log.Events {
		if ev.Type == start && strings.HasPrefix(ev.Params.NIK, "http://127.0.0.1 ") {
			urls = append(urls, ev.Params.URL)
		}
	}
	return string(out), urls
}

// outside returns the URLs not of origin.
func outside(urls []string, origin string) []string {
	var out []string
	for _, u := range urls {
		if !strings.HasPrefix(u, origin+"/") {
			out = append(out, u)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
