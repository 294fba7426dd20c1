package deps_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// oldlib has a contrib submodule and a Connection class up to 1.2, and
// neither from 2.0 on: the shape of scrapy.contrib and pymongo.Connection.
func oldlibReleases() []pypitest.Package {
	var pkgs []pypitest.Package
	for _, v := range []string{"0.9", "1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "3.0"} {
		mods := map[string]string{"oldlib/__init__.py": "VERSION = '" + v + "'\n"}
		if v < "2" {
			mods["oldlib/contrib.py"] = "OLD = 'contrib of " + v + "'\n"
			mods["oldlib/__init__.py"] += "class Connection:\n    pass\n"
		}
		pkgs = append(pkgs, pypitest.Package{Name: "oldlib", Version: v, Modules: mods})
	}
	return pkgs
}

// collect gathers what a user would see of install events and notes.
type collect struct{ lines []string }

func (c *collect) emit(ev session.Event) {
	switch {
	case ev.Type == event.Stderr:
		c.lines = append(c.lines, strings.TrimSpace(ev.Text))
	case ev.Type == event.Install && ev.Phase != event.PhaseDownloading:
		c.lines = append(c.lines, strings.TrimSpace(ev.Phase+" "+ev.Package+" "+ev.Version+" "+ev.Message))
	}
}

func (c *collect) String() string { return strings.Join(c.lines, "\n") }

func (c *collect) has(s string) bool {
	return slices.ContainsFunc(c.lines, func(l string) bool { return strings.Contains(l, s) })
}

func TestVersionSearchBeforeTheRun(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, oldlibReleases()...)
	in := installer(t, idx.URL())
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	var c collect
	code, err := auto.Prepare(context.Background(), k, "from oldlib.contrib import OLD\nprint(OLD)", nil, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	if !c.has("oldlib 1.2 installed: oldlib.contrib was removed in oldlib 2.0") {
		t.Errorf("no message saying what happened:\n%s", c.String())
	}
	if out, failure := run(t, k, code); out != "contrib of 1.2\n" {
		t.Errorf("run: %q %+v", out, failure)
	}
	// Bisection reads few of the eight releases' wheels.
	var wheels int
	for _, r := range idx.Requests() {
		if strings.HasSuffix(r, ".whl") {
			wheels++
		}
	}
	if wheels == 0 {
		t.Error("no wheel was read")
	}
}

func TestVersionSearchAfterTheError(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, oldlibReleases()...)
	in := installer(t, idx.URL())
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	// A name, not a submodule: only the error can tell.
	code, err := auto.Prepare(context.Background(), k, "from oldlib import Connection", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, failure := run(t, k, code)
	if failure.EName != "ImportError" {
		t.Fatalf("want ImportError from the newest oldlib, got %+v", failure)
	}
	var c collect
	rec := auto.Recover(context.Background(), k, failure, c.emit)
	if !rec.Installed || !rec.Restart || !strings.Contains(rec.Message, "oldlib 1.2 installed: oldlib.Connection was removed in oldlib 2.0") ||
		!strings.Contains(rec.Message, "restart the session") {
		t.Errorf("recovery %+v\n%s", rec, c.String())
	}
	if auto.AfterError(context.Background(), k, failure, nil) {
		t.Error("AfterError claims a re-run works, though the session holds the old version")
	}
	// A new session with the same package directory gets the old version.
	if _, err := os.Stat(filepath.Join(k.SiteDir(), "oldlib-1.2.dist-info")); err != nil {
		t.Errorf("oldlib 1.2 not installed: %v", err)
	}
	// The next cell that imports it asks for that version first.
	k2 := kernel(t)
	code, err = auto.Prepare(context.Background(), k2, "from oldlib import Connection\nprint(Connection.__name__)", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, failure := run(t, k2, code); out != "Connection\n" {
		t.Errorf("next session: %q %+v", out, failure)
	}
}

func TestVersionSearchNoReleaseFits(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, oldlibReleases()...)
	in := installer(t, idx.URL())
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	code, _ := auto.Prepare(context.Background(), k, "import oldlib\nimport oldlib.neverthere", nil, nil)
	_, failure := run(t, k, code)
	rec := auto.Recover(context.Background(), k, failure, nil)
	if rec.Installed || !strings.Contains(rec.Message, "no release of oldlib on the index has oldlib.neverthere") {
		t.Errorf("recovery %+v", rec)
	}
	// Asked again, it does not search again.
	if rec := auto.Recover(context.Background(), k, failure, nil); rec.Installed || rec.Message != "" {
		t.Errorf("second recovery %+v", rec)
	}
}

// A package the base environment pins is overridden in the session's own
// layer, and the base stays untouched.
func TestVersionSearchOverridesTheBase(t *testing.T) {
	t.Parallel()
	rt := runtime(t)
	need(t, rt.Env != "", "no base environment: run scripts/setup")
	idx := pypitest.NewIndex(t,
		pypitest.Package{Name: "tabulate", Version: "0.5", Modules: map[string]string{
			"tabulate/__init__.py": "def tabulate(rows):\n    return 'old'\n", "tabulate/legacy.py": "LEGACY = 'from 0.5'\n"}},
		pypitest.Package{Name: "tabulate", Version: "99.0", Modules: map[string]string{
			"tabulate/__init__.py": "def tabulate(rows):\n    return 'new'\n"}},
	)
	in := installer(t, idx.URL())
	before := baseDigest(t, rt.Env)
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	var c collect
	code, err := auto.Prepare(context.Background(), k, "from tabulate.legacy import LEGACY\nprint(LEGACY)", nil, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	if !c.has("tabulate 0.5 installed in this session over the base environment's") {
		t.Errorf("messages:\n%s", c.String())
	}
	if out, failure := run(t, k, code); out != "from 0.5\n" {
		t.Errorf("run: %q %+v", out, failure)
	}
	if baseDigest(t, rt.Env) != before {
		t.Error("the base environment changed")
	}
}

// A guessed distribution that does not provide the module is rolled
// back, its dependencies with it.
func TestGuessThatProvidesNothingIsRolledBack(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t,
		pypitest.Package{Name: "editorx", Version: "1.0", Modules: map[string]string{"somethingelse/__init__.py": ""}, Requires: []string{"tinydep"}},
		tinyPkgs[1],
	)
	in := installer(t, idx.URL())
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	var c collect
	if _, err := auto.Prepare(context.Background(), k, "import editorx", nil, c.emit); err != nil {
		t.Fatal(err)
	}
	if !c.has("no PyPI project provides editorx") || !c.has("is it a local module, or part of another application?") {
		t.Errorf("messages:\n%s", c.String())
	}
	entries, _ := os.ReadDir(k.SiteDir())
	for _, e := range entries {
		t.Errorf("left in the package directory: %s", e.Name())
	}
}

// Names that must never reach the index: Python 2's standard library,
// host applications' modules and private names.
func TestNamesNeverSentToTheIndex(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in := installer(t, idx.URL())
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	for _, tc := range []struct{ code, want string }{
		{"import urllib2", "urllib2 is a Python 2 module; in Python 3 use urllib.request"},
		{"from StringIO import StringIO", "StringIO is a Python 2 module; in Python 3 use io.StringIO"},
		{"import cPickle", "in Python 3 use pickle"},
		{"import bpy", "bpy exists only inside Blender's own Python"},
		{"import hou", "Houdini"},
		{"import maya.cmds as cmds", "maya.cmds exists only inside Autodesk Maya's own Python"},
		{"import _speedups_zz", "private module"},
	} {
		code, err := auto.Prepare(context.Background(), k, tc.code, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, failure := run(t, k, code)
		rec := auto.Recover(context.Background(), k, failure, nil)
		if rec.Installed || !strings.Contains(rec.Message, tc.want) {
			t.Errorf("%s: %+v, want %q", tc.code, rec, tc.want)
		}
	}
	for _, r := range idx.Requests() {
		t.Errorf("the index was asked for %s", r)
	}
}

func TestPython2Code(t *testing.T) {
	t.Parallel()
	k := kernel(t)
	m, err := deps.LoadMap()
	if err != nil {
		t.Fatal(err)
	}
	auto := &deps.Auto{Map: m}
	for _, code := range []string{
		"import os\nprint 'hello'\n",
		"try:\n    pass\nexcept Exception, e:\n    pass\n",
		"x = 0777\n",
	} {
		_, err := auto.Plan(context.Background(), k, code, nil)
		if err == nil || !strings.Contains(err.Error(), "this is Python 2 code") {
			t.Errorf("Plan(%q): %v", code, err)
		}
		_, failure := run(t, k, code)
		if rec := auto.Recover(context.Background(), k, failure, nil); !strings.Contains(rec.Message, "this is Python 2 code") {
			t.Errorf("Recover(%q) = %+v (error %s: %s)", code, rec, failure.EName, failure.EValue)
		}
	}
	// Python 3 syntax errors are not blamed on Python 2.
	_, failure := run(t, k, "def f(:\n    pass\n")
	if rec := auto.Recover(context.Background(), k, failure, nil); rec.Message != "" {
		t.Errorf("a Python 3 syntax error: %+v", rec)
	}
}

func TestMagicsOnlyStartLogicalLines(t *testing.T) {
	t.Parallel()
	k := kernel(t)
	m, err := deps.LoadMap()
	if err != nil {
		t.Fatal(err)
	}
	auto := &deps.Auto{Map: m}
	code := "x = (\"a %s\"\n     % \"b\")\ny = 7 \\\n  % 3\nimport notinstalled_zz\n%time z = 1\n!ls\n"
	p, err := auto.Plan(context.Background(), k, code, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Detected) != 1 || p.Detected[0].Name != "notinstalled_zz" {
		t.Errorf("detected %v", p.Detected)
	}
}

func TestSessionPackagesAfterTheStandardLibrary(t *testing.T) {
	t.Parallel()
	k := kernel(t)
	// A backport named like a stdlib module, installed in the session,
	// must not shadow the standard library.
	if err := os.WriteFile(filepath.Join(k.SiteDir(), "wave.py"), []byte("raise SystemExit('shadowed')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, failure := run(t, k, "import os, sys\nsite = os.environ['INTERP_SITE']\nstd = os.path.dirname(os.__file__)\n"+
		"base = [p for p in sys.path if p.endswith('site-packages') and p != site]\n"+
		"print(sys.path.index(std) < sys.path.index(site) < sys.path.index(base[0]))\nimport wave\nprint(wave.Error.__name__)")
	if out != "True\nError\n" {
		t.Errorf("%q %+v", out, failure)
	}
}
