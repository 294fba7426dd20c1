package deps

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// importCase is one line of testdata/importmap_cases.tsv.
type importCase struct {
	module   string
	expected string
	accepted []string // expected and alternatives, normalised
}

func loadCases(t *testing.T) []importCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "importmap_cases.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []importCase
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 2 || cols[0] == "" || cols[1] == "" {
			t.Fatalf("importmap_cases.tsv:%d: want import<TAB>expected<TAB>alternatives, got %q", n, line)
		}
		if seen[cols[0]] {
			t.Fatalf("importmap_cases.tsv:%d: duplicate %q", n, cols[0])
		}
		seen[cols[0]] = true
		c := importCase{module: cols[0], expected: cols[1], accepted: []string{Normalize(cols[1])}}
		if len(cols) > 2 {
			for _, alt := range strings.Split(cols[2], ",") {
				if alt = strings.TrimSpace(alt); alt != "" {
					c.accepted = append(c.accepted, Normalize(alt))
				}
			}
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func (c importCase) right(dist string) bool {
	return slices.Contains(c.accepted, Normalize(dist))
}

func loadMap(t *testing.T) *Map {
	t.Helper()
	m, err := LoadMap()
	if err != nil {
		t.Fatalf("LoadMap: %v", err)
	}
	return m
}

func TestResolveCases(t *testing.T) {
	t.Parallel()
	m := loadMap(t)
	cases := loadCases(t)
	if len(cases) < 40 {
		t.Fatalf("only %d cases in the table, want at least 40", len(cases))
	}
	for _, c := range cases {
		t.Run(c.module, func(t *testing.T) {
			r := m.Resolve(c.module)
			if !c.right(r.Distribution) {
				t.Errorf("Resolve(%q) = %q (source %s, candidates %v), want %q", c.module, r.Distribution, r.Source, r.Candidates, c.expected)
			}
			if len(r.Candidates) == 0 || r.Candidates[0] != r.Distribution {
				t.Errorf("Resolve(%q): candidates %v do not start with %q", c.module, r.Candidates, r.Distribution)
			}
		})
	}
}

// The traps named in the design, checked one by one with their source.
func TestResolveTraps(t *testing.T) {
	t.Parallel()
	m := loadMap(t)
	for _, tc := range []struct{ module, want, source string }{
		{"sklearn", "scikit-learn", SourceOverride},
		{"cv2", "opencv-python-headless", SourceOverride},
		{"PIL", "pillow", SourceOverride},
		{"yaml", "PyYAML", SourceOverride},
		{"bs4", "beautifulsoup4", SourceOverride},
		{"Crypto", "pycryptodome", SourceOverride},
		{"fitz", "PyMuPDF", SourceOverride},
		{"attr", "attrs", SourceOverride},
		{"dateutil", "python-dateutil", SourceOverride},
		{"google.protobuf", "protobuf", SourceOverride},
		{"google", "protobuf", SourceMap},
		{"psycopg2", "psycopg2-binary", SourceOverride},
		{"win32api", "pywin32", SourceOverride},
		{"google.cloud.firestore", "google-cloud-firestore", SourceMap},
		{"imblearn", "imbalanced-learn", SourceMap},
		{"numpy", "numpy", SourceIdentity},
		{"pandas", "pandas", SourceIdentity},
		{"some_unknown_module", "some_unknown_module", SourceIdentity},
	} {
		r := m.Resolve(tc.module)
		if r.Distribution != tc.want || r.Source != tc.source {
			t.Errorf("Resolve(%q) = %q from %s, want %q from %s", tc.module, r.Distribution, r.Source, tc.want, tc.source)
		}
	}
	// An override's list is complete: the squatted names stay out.
	for module, bad := range map[string]string{"sklearn": "sklearn", "fitz": "fitz", "jwt": "jwt", "bs4": "bs4"} {
		if r := m.Resolve(module); slices.ContainsFunc(r.Candidates, func(c string) bool { return Normalize(c) == bad }) {
			t.Errorf("Resolve(%q).Candidates = %v, includes %q", module, r.Candidates, bad)
		}
	}
	if r := m.Resolve("google.protobuf.json_format"); r.Module != "google.protobuf" {
		t.Errorf("Resolve(google.protobuf.json_format).Module = %q, want google.protobuf", r.Module)
	}
	if r := m.Resolve("numpy.linalg"); r.Module != "numpy" || r.Distribution != "numpy" {
		t.Errorf("Resolve(numpy.linalg) = %+v", r)
	}
}

func TestResolveInvalid(t *testing.T) {
	t.Parallel()
	m := loadMap(t)
	for _, s := range []string{"", " ", ".foo", "..foo", "foo.", "foo..bar", "1abc", "foo-bar", "foo bar", "é"} {
		r := m.Resolve(s)
		if r.Distribution != "" || r.Source != "" || len(r.Candidates) != 0 {
			t.Errorf("Resolve(%q) = %+v, want nothing", s, r)
		}
	}
	if r := m.Resolve("  yaml "); r.Distribution != "PyYAML" {
		t.Errorf("Resolve with spaces = %+v", r)
	}
}

// repoRoot is the folder holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

// pipreqsMapping loads pipreqs' import:distribution mapping from shared/
// beside the checkout, as pipreqs itself reads it: the last line for a
// name wins.
func pipreqsMapping(t *testing.T) map[string]string {
	t.Helper()
	path := filepath.Join(repoRoot(t), "..", "shared", "data", "import-map", "pipreqs_mapping.txt")
	data, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pipreqs baseline: %v (shared/ must be beside the checkout in CI)", err)
		}
		t.Skipf("pipreqs baseline not available: %v", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		mod, dist, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && mod != "" && dist != "" {
			out[mod] = dist
		}
	}
	if len(out) < 500 {
		t.Fatalf("pipreqs mapping %s has only %d names", path, len(out))
	}
	return out
}

// TestAccuracy measures the resolver and pipreqs' mapping (with pipreqs'
// own fallback to the top-level import name) on the same table.
func TestAccuracy(t *testing.T) {
	t.Parallel()
	m := loadMap(t)
	cases := loadCases(t)
	pipreqs := pipreqsMapping(t)
	ours, base := 0, 0
	var baseMisses []string
	for _, c := range cases {
		if c.right(m.Resolve(c.module).Distribution) {
			ours++
		}
		top, _, _ := strings.Cut(c.module, ".")
		guess, ok := pipreqs[top]
		if !ok {
			guess = top
		}
		if c.right(guess) {
			base++
		} else {
			baseMisses = append(baseMisses, c.module+"->"+guess)
		}
	}
	n := float64(len(cases))
	t.Logf("accuracy on %d imports: resolver %d (%.1f%%), pipreqs mapping %d (%.1f%%)",
		len(cases), ours, 100*float64(ours)/n, base, 100*float64(base)/n)
	t.Logf("pipreqs misses: %s", strings.Join(baseMisses, " "))
	if ours <= base {
		t.Errorf("resolver (%d) is not better than pipreqs' mapping (%d)", ours, base)
	}
}

func TestDenylist(t *testing.T) {
	t.Parallel()
	m := loadMap(t)
	// Well-known historical typosquats must be listed.
	for _, name := range []string{
		"python3-dateutil", "jeIlyfish", "colourama", "request", "urlib3",
		"setup-tools", "python-sqlite", "acqusition", "djanga",
	} {
		if !m.Denied(name) {
			t.Errorf("%q is not denied", name)
		}
	}
	if !m.Denied("JEILYFISH") || !m.Denied("python3_dateutil") || !m.Denied("Setup.Tools") {
		t.Error("deny list is not matched after normalisation")
	}
	for _, ok := range []string{"requests", "urllib3", "setuptools", "python-dateutil", "colorama", "jellyfish", "django"} {
		if m.Denied(ok) {
			t.Errorf("%q is denied", ok)
		}
	}
	// Resolve never answers a denied name, whatever is asked.
	check := func(module string) {
		r := m.Resolve(module)
		if r.Distribution != "" && m.Denied(r.Distribution) {
			t.Errorf("Resolve(%q) = denied %q", module, r.Distribution)
		}
		for _, c := range r.Candidates {
			if m.Denied(c) {
				t.Errorf("Resolve(%q) candidates include denied %q", module, c)
			}
		}
	}
	for name := range m.deny {
		mod := strings.ReplaceAll(name, "-", "_")
		check(mod)
		check(mod + ".sub")
	}
	for _, mod := range m.Modules() {
		check(mod)
	}
	for _, mod := range []string{"request", "request.sub", "urllib", "crypt", "colourama", "jeIlyfish", "setup_tools"} {
		if r := m.Resolve(mod); r.Source != SourceDenied || r.Distribution != "" {
			t.Errorf("Resolve(%q) = %+v, want denied", mod, r)
		}
	}
}

func TestDenylistFiltersEverySource(t *testing.T) {
	t.Parallel()
	m, err := parseMap(
		"foo\tevil:10\tgood:20\nbar\tevil:3\nqux\tgood:7\n",
		"qux\tEvil\tfine\nonly\tevil\n",
		"# comment\nevil\nbar\n",
		"os\n",
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		module, dist, source string
		cands                []string
	}{
		{"foo", "good", SourceMap, []string{"good"}},
		{"qux", "fine", SourceOverride, []string{"fine"}},
		{"only", "only", SourceIdentity, []string{"only"}}, // override fully denied
		{"bar", "", SourceDenied, nil},                     // the import name itself is denied
		{"bar.sub", "", SourceDenied, nil},
		{"evil", "", SourceDenied, nil},
	} {
		r := m.Resolve(tc.module)
		if r.Distribution != tc.dist || r.Source != tc.source || !slices.Equal(r.Candidates, tc.cands) {
			t.Errorf("Resolve(%q) = %+v, want %q %s %v", tc.module, r, tc.dist, tc.source, tc.cands)
		}
	}
}

func TestAmbiguity(t *testing.T) {
	t.Parallel()
	m, err := parseMap(
		"close\ta:100\tb:150\n"+
			"far\ta:100\tb:201\n"+
			"edge\ta:100\tb:200\n"+
			"unranked\tx\ty\n"+
			"rankedfirst\ta:10\ty\n"+
			"single\ta:10\n"+
			"decided\ta:100\tb:101\n"+
			"ns.sub\tc:5\td:6\n"+
			"space\te:5\tf:50\n"+
			"space.known\tg:5\n"+
			"lone\te:5\n"+
			"lone.known\tg:5\n",
		"decided\tb\n", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for module, want := range map[string]bool{
		"close": true, "far": false, "edge": true, "unranked": true,
		"rankedfirst": false, "single": false, "decided": false,
		"ns.sub.x": true, "unknown": false,
		// A namespace matched through a longer, unknown name is a guess.
		"space": false, "space.known": false, "space.other": true,
		"lone.other": false,
	} {
		if got := m.Resolve(module).Ambiguous; got != want {
			t.Errorf("Resolve(%q).Ambiguous = %v, want %v", module, got, want)
		}
	}

	real := loadMap(t)
	amb := 0
	for _, mod := range real.Modules() {
		if real.Resolve(mod).Ambiguous {
			amb++
		}
	}
	t.Logf("%d of %d known import names resolve ambiguously", amb, len(real.Modules()))
	for _, mod := range []string{"numpy", "yaml", "cv2", "sklearn", "PIL", "requests", "torch", "google", "google.protobuf.message", "imblearn"} {
		if real.Resolve(mod).Ambiguous {
			t.Errorf("Resolve(%q) is ambiguous", mod)
		}
	}
	for _, mod := range []string{"google.cloud.not_a_product", "azure.not_a_product", "opentelemetry"} {
		if !real.Resolve(mod).Ambiguous {
			t.Errorf("Resolve(%q) is not ambiguous", mod)
		}
	}
}

func TestIsStdlib(t *testing.T) {
	t.Parallel()
	for _, mod := range []string{
		"os", "os.path", "sys", "json", "re", "asyncio", "collections.abc",
		"sqlite3", "tomllib", "typing", "xml.etree.ElementTree", "tkinter",
		"__future__", "zoneinfo", "urllib", "urllib.request", "unittest.mock",
		"distutils", "email.mime.text", "concurrent.futures", "_thread",
	} {
		if !IsStdlib(mod) {
			t.Errorf("IsStdlib(%q) = false", mod)
		}
	}
	for _, mod := range []string{
		"", "numpy", "requests", "yaml", "cv2", "sklearn", "six", "lib",
		"google.protobuf", "typing_extensions", "dataclasses_json", "OS",
	} {
		if IsStdlib(mod) {
			t.Errorf("IsStdlib(%q) = true", mod)
		}
	}
	// No stdlib name is mapped to a distribution unless an override says so.
	m := loadMap(t)
	for key := range m.entries {
		if top, _, _ := strings.Cut(key, "."); m.IsStdlib(top) {
			if _, ok := m.overrides[key]; !ok {
				t.Errorf("stdlib module %q has a map entry", key)
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	a, err := LoadMap()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := LoadMap(); a != b {
		t.Error("LoadMap parsed the embedded data twice")
	}
	fresh1, err := parseMap(importMapData, overridesData, denylistData, stdlibData)
	if err != nil {
		t.Fatal(err)
	}
	fresh2, err := parseMap(importMapData, overridesData, denylistData, stdlibData)
	if err != nil {
		t.Fatal(err)
	}
	mods := a.Modules()
	if !slices.Equal(mods, fresh1.Modules()) || !slices.IsSorted(mods) {
		t.Fatal("Modules differ between parses or are not sorted")
	}
	for _, mod := range append(mods, "numpy", "x.y.z") {
		r1, r2, r3 := a.Resolve(mod), fresh1.Resolve(mod), fresh2.Resolve(mod)
		if !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(r1, r3) || !reflect.DeepEqual(r1, a.Resolve(mod)) {
			t.Fatalf("Resolve(%q) differs: %+v / %+v / %+v", mod, r1, r2, r3)
		}
	}
}

// The committed data files must be in the form gen-importmap writes.
func TestDataFiles(t *testing.T) {
	t.Parallel()
	var keys []string
	for _, line := range strings.Split(importMapData, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, _, _ := strings.Cut(line, "\t")
		keys = append(keys, key)
		if n := strings.Count(line, "\t"); n > MaxCandidates {
			t.Errorf("importmap.tsv: %q has %d candidates", key, n)
		}
	}
	if !slices.IsSorted(keys) {
		t.Error("importmap.tsv is not sorted by import name")
	}
	if len(keys) < 1000 {
		t.Errorf("importmap.tsv has only %d entries", len(keys))
	}
	if !strings.HasSuffix(importMapData, "\n") || strings.Contains(importMapData, "\r") {
		t.Error("importmap.tsv must end in a newline and use LF line ends")
	}
	// gen-importmap merges overrides.tsv into importmap.tsv: a mismatch
	// means overrides.tsv was edited without running it.
	m := loadMap(t)
	for key, dists := range m.overrides {
		var got []string
		for _, c := range m.entries[key] {
			got = append(got, c.name)
		}
		if !slices.Equal(got, dists) {
			t.Errorf("importmap.tsv has %q -> %v, overrides.tsv says %v: run scripts/gen-importmap", key, got, dists)
		}
	}
	// Every map entry carries information beyond pip's own guess.
	for key, cands := range m.entries {
		if _, ok := m.overrides[key]; !ok && !strings.Contains(key, ".") && len(cands) == 1 && Normalize(cands[0].name) == Normalize(key) {
			t.Errorf("importmap.tsv: %q maps only to itself", key)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for name, files := range map[string][4]string{
		"bad rank":           {"foo\tbar:x\n", "", "", ""},
		"zero rank":          {"foo\tbar:0\n", "", "", ""},
		"duplicate":          {"foo\tbar\nfoo\tbaz\n", "", "", ""},
		"no candidate":       {"foo\n", "", "", ""},
		"bad module":         {"foo-bar\tbaz\n", "", "", ""},
		"bad dist":           {"foo\tb@r\n", "", "", ""},
		"override dup":       {"", "foo\ta\nfoo\tb\n", "", ""},
		"override no dist":   {"", "foo\t\n", "", ""},
		"bad denied name":    {"", "", "not valid!\n", ""},
		"bad stdlib name":    {"", "", "", "os.path\n"},
		"override bad dist":  {"", "foo\tb r\n", "", ""},
		"override bad mod":   {"", ".foo\tbar\n", "", ""},
		"map trailing colon": {"foo\tbar:\n", "", "", ""},
	} {
		if _, err := parseMap(files[0], files[1], files[2], files[3]); err == nil {
			t.Errorf("%s: parseMap accepted %q", name, files)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"PyYAML":             "pyyaml",
		"python_dateutil":    "python-dateutil",
		"ruamel.yaml":        "ruamel-yaml",
		"Foo--Bar__baz..Qux": "foo-bar-baz-qux",
		"opencv-python":      "opencv-python",
		"zope.interface":     "zope-interface",
		"":                   "",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
