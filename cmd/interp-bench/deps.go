package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/session"
)

// Target of the deps section.
const targetCachedInstall = 200 * time.Millisecond // median install of a cached wheel

// modulePath is this repository's module, to recognise its root.
const modulePath = "github.com/interp-dev/interp"

// What the deps section installs.
var (
	// benchWheel is the pure-Python wheel the local index serves.
	benchWheel = wheelSpec{
		name:    "interp-bench-pkg",
		version: "1.0.0",
		modules: map[string]string{
			"interp_bench_pkg/__init__.py": "from .core import answer\n\n__version__ = \"1.0.0\"\n",
			"interp_bench_pkg/core.py":     "def answer():\n    return 42\n" + strings.Repeat("# padding to a few kilobytes, like a small real module\n", 60),
			"interp_bench_pkg/util.py":     "def double(x):\n    return 2 * x\n" + strings.Repeat("# more padding for a second module of the package\n", 40),
		},
	}
	// coldPackages are real, small, pure-Python distributions that the
	// base environment lacks, downloaded from PyPI.
	coldPackages = []string{"humanize", "python-dotenv"}
	// coldModules are what coldPackages install, checked after each run.
	coldModules = []string{"humanize/__init__.py", "dotenv/__init__.py"}
)

// depsBench holds what the deps section's install benchmarks share.
type depsBench struct {
	rt   *python.Runtime
	m    *deps.Map
	root string // everything the section creates on disk
	seq  int    // for unique directory names
}

func depsSection(ctx context.Context, cfg *config) (string, error) {
	var md strings.Builder
	md.WriteString(`Dependencies (` + "`internal/deps`" + `): which distribution an import resolves
to, and how long installing into a session's package directory takes.
`)
	m, err := deps.LoadMap()
	if err != nil {
		return "", err
	}
	cfg.logf("deps: mapping accuracy on the test table")
	md.WriteString(mappingAccuracy(m))

	rt, err := python.Find("")
	if err != nil {
		return "", err
	}
	if rt.UV == "" {
		md.WriteString("\n### Installs\n\n**Not measured:** uv is not installed; run scripts/setup.\n")
		return md.String(), nil
	}
	// Under /var/tmp with a traversable root: when this runs as root, uv
	// runs as nobody and must reach the caches and package directories.
	root, err := os.MkdirTemp("/var/tmp", "interp-bench-deps-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(root)
	if err := os.Chmod(root, 0o755); err != nil {
		return "", err
	}
	d := &depsBench{rt: rt, m: m, root: root}
	fmt.Fprintf(&md, `
The installs below use:

- Python: %s
- uv %s: %s
- uv runs as %s
`, pyVersion(rt.Executable), uvVersion(rt.UV), rt.UV, uvUser())

	n := max(5, cfg.N/5)
	cfg.logf("deps: install of a cached wheel from a local index, %d iterations", n)
	part, err := d.cachedInstall(ctx, n)
	if err != nil {
		return md.String(), fmt.Errorf("cached install: %w", err)
	}
	md.WriteString(part)

	cfg.logf("deps: cold install of %s from PyPI, %d rounds", strings.Join(coldPackages, " and "), cfg.Rounds)
	part, err = d.coldInstall(ctx, cfg.Rounds)
	if err != nil {
		return md.String(), fmt.Errorf("cold install from PyPI: %w", err)
	}
	md.WriteString(part)
	return md.String(), nil
}

func pyVersion(py string) string {
	out, err := exec.Command(py, "-S", "-c", "import sys; print(sys.version.split()[0])").Output()
	if err != nil {
		return py
	}
	return py + " (Python " + strings.TrimSpace(string(out)) + ")"
}

func uvVersion(uv string) string {
	out, err := exec.Command(uv, "--version").Output()
	if err != nil {
		return "(version unknown)"
	}
	f := strings.Fields(string(out)) // "uv 0.13.8 (x86_64-unknown-linux-gnu)"
	if len(f) < 2 {
		return "(version unknown)"
	}
	return f[1]
}

// ------------------------------------------------------------- mapping

// importCase is one line of the resolver's test table.
type importCase struct {
	module, expected string
	accepted         []string // expected and alternatives, normalised
}

func (c importCase) right(dist string) bool {
	return slices.Contains(c.accepted, deps.Normalize(dist))
}

// repoRoot finds the checkout: the folder above the working directory, or
// above this source file, whose go.mod declares this module.
func repoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && f[1] == modulePath {
						return d, nil
					}
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("no checkout of %s above the working directory", modulePath)
}

// loadCases reads the test table, as internal/deps' tests do.
func loadCases(path string) ([]importCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cases []importCase
	seen := map[string]bool{}
	for n, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 2 || cols[0] == "" || cols[1] == "" {
			return nil, fmt.Errorf("%s:%d: want import<TAB>expected<TAB>alternatives", path, n+1)
		}
		if seen[cols[0]] {
			return nil, fmt.Errorf("%s:%d: duplicate %q", path, n+1, cols[0])
		}
		seen[cols[0]] = true
		c := importCase{module: cols[0], expected: cols[1], accepted: []string{deps.Normalize(cols[1])}}
		if len(cols) > 2 {
			for _, alt := range strings.Split(cols[2], ",") {
				if alt = strings.TrimSpace(alt); alt != "" {
					c.accepted = append(c.accepted, deps.Normalize(alt))
				}
			}
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// loadPipreqs reads pipreqs' import:distribution mapping as pipreqs does:
// the last line for a name wins.
func loadPipreqs(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		mod, dist, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && mod != "" && dist != "" {
			out[mod] = dist
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no mapping", path)
	}
	return out, nil
}

func pct(k, n int) string {
	if n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(k)/float64(n))
}

// mappingAccuracy measures the resolver against pipreqs' mapping on the
// test table, the way internal/deps' TestAccuracy does.
func mappingAccuracy(m *deps.Map) string {
	var md strings.Builder
	md.WriteString("\n### Import-name mapping accuracy\n\n")
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintf(&md, "**Not measured:** %s.\n", err)
		return md.String()
	}
	const table = "internal/deps/testdata/importmap_cases.tsv"
	cases, err := loadCases(filepath.Join(root, table))
	if err != nil {
		fmt.Fprintf(&md, "**Not measured:** the test table: %s.\n", oneLine(err.Error()))
		return md.String()
	}
	const pipreqsRel = "data/import-map/pipreqs_mapping.txt"
	pipreqs, pipreqsErr := loadPipreqs(filepath.Join(filepath.Dir(root), "shared", pipreqsRel))

	type tally struct{ n, right int }
	bySource := map[string]*tally{}
	var ours, base, both, onlyOurs, onlyBase int
	var misses []string
	for _, c := range cases {
		r := m.Resolve(c.module)
		okOurs := c.right(r.Distribution)
		t := bySource[r.Source]
		if t == nil {
			t = &tally{}
			bySource[r.Source] = t
		}
		t.n++
		if okOurs {
			ours++
			t.right++
		} else {
			got := r.Distribution
			if got == "" {
				got = "nothing"
			}
			misses = append(misses, fmt.Sprintf("`%s` → %s (%s; want %s)", c.module, got, r.Source, c.expected))
		}
		if pipreqsErr != nil {
			continue
		}
		// pipreqs looks up the top-level name and falls back to it.
		top, _, _ := strings.Cut(c.module, ".")
		guess, ok := pipreqs[top]
		if !ok {
			guess = top
		}
		okBase := c.right(guess)
		switch {
		case okBase && okOurs:
			both++
		case okOurs:
			onlyOurs++
		case okBase:
			onlyBase++
		}
		if okBase {
			base++
		}
	}
	n := len(cases)

	fmt.Fprintf(&md, `The %d imports of the resolver's test table,
`+"`%s`"+`, each with the distribution a
sandboxed, headless Python 3 should install and any accepted alternatives.
Interp's resolver (`+"`deps.Map.Resolve`"+`: the hand-made overrides, the
generated map, else the import name itself) against pipreqs' mapping,
`+"`%s`"+` in shared/ beside the checkout (the
top-level name looked up, else the name itself, as pipreqs does): the same
method as `+"`TestAccuracy`"+`.

`, n, table, pipreqsRel)
	t := newTable("resolver", "right", "of", "accuracy")
	if pipreqsErr != nil {
		t.add("pipreqs' mapping (baseline)", "not measured", fmt.Sprint(n), "not measured")
	} else {
		t.add("pipreqs' mapping (baseline)", fmt.Sprint(base), fmt.Sprint(n), pct(base, n))
	}
	t.add("**Interp's resolver**", fmt.Sprint(ours), fmt.Sprint(n), "**"+pct(ours, n)+"**")
	md.WriteString(t.String())
	md.WriteString("\n")
	if pipreqsErr != nil {
		fmt.Fprintf(&md, "- pipreqs' mapping: **not measured** (%s).\n", oneLine(pipreqsErr.Error()))
	} else {
		fmt.Fprintf(&md, "- **%+.1f points** over pipreqs' mapping (%d vs %d right).\n- Right by both: %d; by Interp's resolver only: %d; by pipreqs' mapping only: %d; by neither: %d.\n",
			100*float64(ours-base)/float64(max(n, 1)), ours, base, both, onlyOurs, onlyBase, n-both-onlyOurs-onlyBase)
	}
	var parts []string
	for _, src := range []string{deps.SourceOverride, deps.SourceMap, deps.SourceIdentity, deps.SourceDenied, ""} {
		if t := bySource[src]; t != nil {
			name := src
			if name == "" {
				name = "invalid name"
			}
			parts = append(parts, fmt.Sprintf("%s %d of %d right", name, t.right, t.n))
		}
	}
	fmt.Fprintf(&md, "- Interp's answers by where they came from: %s.\n", strings.Join(parts, "; "))
	if len(misses) == 0 {
		md.WriteString("- Interp's resolver misses: none.\n")
	} else {
		const show = 15
		more := ""
		if len(misses) > show {
			more = fmt.Sprintf("; and %d more", len(misses)-show)
			misses = misses[:show]
		}
		fmt.Fprintf(&md, "- Interp's resolver misses: %s%s.\n", strings.Join(misses, ", "), more)
	}
	md.WriteString(`- The generated map without the overrides is not measured: the resolver
  has no such mode, and the generator merges the overrides into
  ` + "`importmap.tsv`" + `, so the data of the generated map alone is not kept.
  The count of right answers that came from an override bounds what the
  overrides add.
`)
	return md.String()
}

// -------------------------------------------------------- local index

// wheelSpec is one pure-Python distribution to build as a wheel.
type wheelSpec struct {
	name, version string
	modules       map[string]string // path in site-packages -> content
}

func (w wheelSpec) distName() string {
	return strings.ReplaceAll(deps.Normalize(w.name), "-", "_")
}

func (w wheelSpec) filename() string {
	return w.distName() + "-" + w.version + "-py3-none-any.whl"
}

// build returns the wheel's bytes: the modules and a dist-info with
// METADATA, WHEEL and RECORD, with fixed timestamps.
func (w wheelSpec) build() ([]byte, error) {
	distInfo := w.distName() + "-" + w.version + ".dist-info"
	type member struct {
		name string
		data []byte
	}
	var members []member
	names := make([]string, 0, len(w.modules))
	for name := range w.modules {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		members = append(members, member{name, []byte(w.modules[name])})
	}
	members = append(members,
		member{distInfo + "/METADATA", []byte("Metadata-Version: 2.1\nName: " + w.name + "\nVersion: " + w.version + "\n")},
		member{distInfo + "/WHEEL", []byte("Wheel-Version: 1.0\nGenerator: interp-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")},
	)
	var record bytes.Buffer
	cw := csv.NewWriter(&record)
	for _, m := range members {
		sum := sha256.Sum256(m.data)
		_ = cw.Write([]string{m.name, "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]), fmt.Sprint(len(m.data))})
	}
	_ = cw.Write([]string{distInfo + "/RECORD", "", ""})
	cw.Flush()
	members = append(members, member{distInfo + "/RECORD", record.Bytes()})

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
		h.SetMode(0o644)
		f, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(m.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// localIndex is a static PEP 503 simple index of one wheel, served on
// 127.0.0.1 by Python's http.server in a process of its own (which keeps
// net/http, and its size, out of this binary, which every sandbox of the
// sandbox section executes as its init). It counts the requests it logs.
type localIndex struct {
	cmd  *exec.Cmd
	url  string // ends in /simple/
	done chan struct{}

	mu       sync.Mutex
	requests map[string]int // by kind: "index page", "wheel", "other"
}

func startLocalIndex(ctx context.Context, py, dir string, w wheelSpec) (*localIndex, error) {
	data, err := w.build()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	norm := deps.Normalize(w.name)
	files := map[string][]byte{
		"files/" + w.filename(): data,
		"simple/index.html":     []byte(`<!DOCTYPE html><html><body><a href="` + norm + `/">` + norm + "</a></body></html>\n"),
		"simple/" + norm + "/index.html": []byte(`<!DOCTYPE html><html><body><a href="../../files/` + w.filename() +
			"#sha256=" + hex.EncodeToString(sum[:]) + `">` + w.filename() + "</a></body></html>\n"),
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, py, "-I", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.Dir = "/"
	cmd.SysProcAttr = asUVUser()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	idx := &localIndex{cmd: cmd, done: make(chan struct{}), requests: map[string]int{}}
	go func() {
		defer close(idx.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			// 127.0.0.1 - - [date] "GET /path HTTP/1.1" 200 -
			_, rest, ok := strings.Cut(sc.Text(), `"GET `)
			if !ok {
				continue
			}
			path, _, _ := strings.Cut(rest, " ")
			kind := "other"
			switch {
			case strings.HasSuffix(path, ".whl"):
				kind = "wheel"
			case strings.HasPrefix(path, "/simple/"):
				kind = "index page"
			}
			idx.mu.Lock()
			idx.requests[kind]++
			idx.mu.Unlock()
		}
	}()
	// "Serving HTTP on 127.0.0.1 port 12345 (http://127.0.0.1:12345/) ..."
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	fail := func(err error) (*localIndex, error) {
		idx.stop()
		return nil, err
	}
	select {
	case l, ok := <-line:
		_, rest, found := strings.Cut(l, "(http://")
		base, _, _ := strings.Cut(rest, ")")
		if !ok || !found || !strings.HasSuffix(base, "/") {
			return fail(fmt.Errorf("local index: unexpected first line %q from http.server", l))
		}
		idx.url = "http://" + base + "simple/"
	case <-time.After(10 * time.Second):
		return fail(errors.New("local index: http.server did not start in 10s"))
	}
	return idx, nil
}

// counts returns the requests logged so far, after a pause that lets the
// server's log catch up.
func (idx *localIndex) counts() map[string]int {
	time.Sleep(200 * time.Millisecond)
	idx.mu.Lock()
	defer idx.mu.Unlock()
	out := make(map[string]int, len(idx.requests))
	for k, v := range idx.requests {
		out[k] = v
	}
	return out
}

func (idx *localIndex) stop() {
	_ = idx.cmd.Process.Kill()
	_ = idx.cmd.Wait()
	<-idx.done
}

// ------------------------------------------------------------- installs

// uvUser describes who uv runs as: the Installer drops to nobody when
// this runs as root, and the baselines do the same.
func uvUser() string {
	if os.Geteuid() == 0 {
		return "uid 65534 (nobody), as the Installer runs it when Interp is root, in the baselines too"
	}
	return fmt.Sprintf("uid %d, as is the Installer", os.Geteuid())
}

// asUVUser runs a baseline process as the Installer runs uv.
func asUVUser() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 {
		a.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	return a
}

// dir creates a new directory under the section's root that uv, running
// as nobody, may write.
func (d *depsBench) dir(kind string) (string, error) {
	d.seq++
	p := filepath.Join(d.root, fmt.Sprintf("%s-%d", kind, d.seq))
	if err := os.Mkdir(p, 0o755); err != nil {
		return "", err
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(p, 65534, 65534); err != nil {
			return "", err
		}
	}
	return p, nil
}

func (d *depsBench) installer(cache, index string) *deps.Installer {
	return &deps.Installer{UV: d.rt.UV, Python: d.rt.Executable, BaseLock: d.rt.BaseLock(), CacheDir: cache, IndexURL: index, Map: d.m, Timeout: 2 * time.Minute}
}

// timeInstall runs in.Install into a new package directory, checks that
// the modules arrived and removes the directory.
func (d *depsBench) timeInstall(ctx context.Context, in *deps.Installer, reqs []deps.Requirement, want []string) (time.Duration, error) {
	site, err := d.dir("site")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(site)
	t0 := time.Now()
	err = in.Install(ctx, site, reqs, nil)
	dt := time.Since(t0)
	if err != nil {
		return 0, err
	}
	return dt, checkSite(site, want)
}

// timeUV runs uv pip install into a new package directory, with uv's
// arguments before and the packages after --target DIR, as the Installer
// runs uv, checks that the modules arrived and removes the directory.
func (d *depsBench) timeUV(ctx context.Context, cache string, args, pkgs, want []string) (time.Duration, error) {
	site, err := d.dir("site")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(site)
	argv := append([]string{"pip", "install", "--target", site}, args...)
	argv = append(append(argv, "--python", d.rt.Executable, "--cache-dir", cache, "--no-config", "--quiet"), pkgs...)
	cmd := exec.CommandContext(ctx, d.rt.UV, argv...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + cache, "UV_CACHE_DIR=" + cache,
		"UV_NO_CONFIG=1", "UV_NO_PROGRESS=1", "LANG=C.UTF-8"}
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Dir = "/"
	cmd.SysProcAttr = asUVUser()
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	t0 := time.Now()
	err = cmd.Run()
	dt := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("uv %s: %v: %s", strings.Join(argv, " "), err, lastN(oneLine(errOut.String()), 400))
	}
	return dt, checkSite(site, want)
}

func checkSite(site string, want []string) error {
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(site, f)); err != nil {
			return fmt.Errorf("not installed: %w", err)
		}
	}
	return nil
}

// cachedInstall measures installing a wheel that is already in the cache
// into a fresh package directory, n times, against uv alone, offline.
func (d *depsBench) cachedInstall(ctx context.Context, n int) (string, error) {
	idxDir, err := d.dir("index")
	if err != nil {
		return "", err
	}
	idx, err := startLocalIndex(ctx, d.rt.Executable, idxDir, benchWheel)
	if err != nil {
		return "", err
	}
	defer idx.stop()
	cache := filepath.Join(d.root, "cache-warm")
	in := d.installer(cache, idx.url)
	reqs := []deps.Requirement{{Name: benchWheel.name}}
	want := []string{"interp_bench_pkg/__init__.py", "interp_bench_pkg/core.py"}
	pinned := benchWheel.name + "==" + benchWheel.version
	uvArgs := []string{"--no-deps", "--offline", "--index-url", idx.url}

	// The first install fills the cache (and the Installer's memory of
	// what the request resolves to).
	first, err := d.timeInstall(ctx, in, reqs, want)
	if err != nil {
		return "", fmt.Errorf("first install: %w", err)
	}
	afterFirst := idx.counts()

	var bare, inst, fresh, diff []time.Duration
	var b, i, f time.Duration
	runs := []func() error{
		func() (err error) {
			b, err = d.timeUV(ctx, cache, uvArgs, []string{pinned}, want)
			return wrap("uv", err)
		},
		func() (err error) { i, err = d.timeInstall(ctx, in, reqs, want); return wrap("Installer", err) },
		func() (err error) {
			f, err = d.timeInstall(ctx, d.installer(cache, idx.url), reqs, want)
			return wrap("new Installer", err)
		},
	}
	const warmup = 2
	for k := range warmup + n {
		for j := range runs {
			if err := runs[(k+j)%len(runs)](); err != nil {
				return "", err
			}
		}
		if k >= warmup {
			bare, inst, fresh, diff = append(bare, b), append(inst, i), append(fresh, f), append(diff, i-b)
		}
	}
	// One more of each, apart, to count what each asks of the index.
	before := idx.counts()
	if _, err := d.timeInstall(ctx, in, reqs, want); err != nil {
		return "", err
	}
	afterInst := idx.counts()
	if _, err := d.timeInstall(ctx, d.installer(cache, idx.url), reqs, want); err != nil {
		return "", err
	}
	afterFresh := idx.counts()
	if _, err := d.timeUV(ctx, cache, uvArgs, []string{pinned}, want); err != nil {
		return "", err
	}
	afterUV := idx.counts()
	reqText := func(from, to map[string]int) string {
		p, w := to["index page"]-from["index page"], to["wheel"]-from["wheel"]
		return fmt.Sprintf("%d index page%s, %d wheel%s", p, plural(p), w, plural(w))
	}

	sb, si, sf, sd := summarize(bare), summarize(inst), summarize(fresh), summarize(diff)
	overhead := si.median - sb.median
	t := newTable("install of a cached wheel", "median", "p90", "mean", "min", "max")
	row := func(name string, s stats) { t.add(name, ms(s.median), ms(s.p90), ms(s.mean), ms(s.min), ms(s.max)) }
	row("`uv pip install --no-deps --offline`, pinned (baseline)", sb)
	row("**`Installer.Install`**", si)
	row("`Installer.Install` on a new Installer", sf)
	t.add("paired difference (Installer − uv)", signedMS(sd.median), signedMS(sd.p90), signedMS(sd.mean), signedMS(sd.min), signedMS(sd.max))

	wheelSize := 0
	if data, err := benchWheel.build(); err == nil {
		wheelSize = len(data)
	}
	var md strings.Builder
	fmt.Fprintf(&md, `
### Install a cached wheel into a session's package directory

A hermetic local index: one small pure-Python wheel built by the benchmark,
`+"`%s`"+` (%d modules, %.1f KiB), in a static PEP 503 simple
index served on 127.0.0.1 by Python's `+"`http.server`"+`. A first install
(%s) fills the shared cache; then %d installs of `+"`%s`"+`, each into a
new, empty package directory, after %d warm-up rounds, rotating the order of:

- the baseline, the floor set by uv itself, with the same cache, user and
  environment as the Installer:
  `+"`uv pip install --no-deps --target DIR --offline --index-url INDEX --cache-dir CACHE --python PY %s`"+`;
- `+"`Installer.Install`"+` on the Installer that made the first install: it
  remembers what the request resolved to, so it runs one
  `+"`uv pip install --no-deps`"+` of the pinned version, not offline (a
  session's install of a package the running server has installed before);
- `+"`Installer.Install`"+` on a new Installer sharing the cache, which first
  reads the base environment's lock file and resolves
  (`+"`uv pip compile`"+`), then installs (the first install of a package
  after the server started, its wheel already cached).

%s
- **Overhead of `+"`Installer.Install`"+`: %s** over uv alone (median −
  median); ratio **%s**. A new Installer adds %s more.
- Target: `+"`Installer.Install`"+` ≤ %s (median). This run: %s
  (%s).
- Requests to the index, counted apart from the timed runs: the first
  install made %s; one more `+"`Installer.Install`"+` then made %s,
  one on a new Installer %s, and the baseline %s.
`, benchWheel.filename(), len(benchWheel.modules), float64(wheelSize)/1024, ms(first), n, benchWheel.name, warmup,
		pinned, t, signedMS(overhead), ratio(float64(si.median), float64(sb.median)),
		signedMS(sf.median-si.median), ms(targetCachedInstall), verdict(si.median <= targetCachedInstall), ms(si.median),
		reqText(map[string]int{}, afterFirst), reqText(before, afterInst), reqText(afterInst, afterFresh), reqText(afterFresh, afterUV))
	return md.String(), nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// coldInstall measures installing real packages from PyPI with an empty
// cache, through the Installer and with uv alone, in rounds that
// alternate which goes first.
func (d *depsBench) coldInstall(ctx context.Context, rounds int) (string, error) {
	reqs := make([]deps.Requirement, len(coldPackages))
	for i, p := range coldPackages {
		reqs[i] = deps.Requirement{Name: p}
	}
	var bare, inst []time.Duration
	var ratios []float64
	versions := ""
	for r := range rounds + 1 { // round 0 warms up
		var b, i time.Duration
		for j := range 2 {
			cache, err := d.dir("cache-cold")
			if err != nil {
				return "", err
			}
			if (r+j)%2 == 0 {
				in := d.installer(cache, "")
				var events []string
				site, err := d.dir("site")
				if err != nil {
					return "", err
				}
				t0 := time.Now()
				err = in.Install(ctx, site, reqs, func(ev session.Event) {
					if ev.Phase == event.PhaseInstalled && ev.Version != "" {
						events = append(events, ev.Package+" "+ev.Version)
					}
				})
				i = time.Since(t0)
				if err == nil {
					err = checkSite(site, coldModules)
				}
				os.RemoveAll(site)
				if err != nil {
					os.RemoveAll(cache)
					return "", fmt.Errorf("installer: %w", err)
				}
				slices.Sort(events)
				versions = strings.Join(events, ", ")
			} else {
				b, err = d.timeUV(ctx, cache, nil, coldPackages, coldModules)
				if err != nil {
					os.RemoveAll(cache)
					return "", err
				}
			}
			os.RemoveAll(cache)
		}
		if r > 0 {
			bare, inst, ratios = append(bare, b), append(inst, i), append(ratios, float64(i)/float64(b))
		}
	}
	sb, si := summarize(bare), summarize(inst)
	t := newTable("cold install, empty cache", "median", "mean", "min", "max")
	t.add("plain `uv pip install` (baseline)", ms(sb.median), ms(sb.mean), ms(sb.min), ms(sb.max))
	t.add("**`Installer.Install`**", ms(si.median), ms(si.mean), ms(si.min), ms(si.max))
	lo, hi := slices.Min(ratios), slices.Max(ratios)

	var md strings.Builder
	fmt.Fprintf(&md, `
### Cold install from PyPI

A real download from PyPI of `+"`%s`"+`, small pure-Python distributions
the base environment lacks (this run: %s), each time into a new
package directory with a new, empty cache:

- the baseline, plain uv, with the same user and environment:
  `+"`uv pip install --target DIR --python PY --cache-dir EMPTY %s`"+`;
- `+"`Installer.Install`"+` on a new Installer, which reads the base
  environment's lock file, resolves against it with `+"`uv pip compile`"+`, then
  installs the pinned versions with `+"`uv pip install --no-deps`"+`: two uv runs.

%d rounds after a warm-up round, alternating which goes first. Network times
vary from run to run: compare the ratio.

%s
- `+"`Installer.Install`"+` takes **%s** the time of plain uv (ratio of
  medians; %.2f× … %.2f× over the rounds), %s.
`, strings.Join(coldPackages, " "), versions, strings.Join(coldPackages, " "), rounds, t,
		ratio(float64(si.median), float64(sb.median)), lo, hi, signedMS(si.median-sb.median))
	return md.String(), nil
}
