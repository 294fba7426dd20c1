package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// beforeIssue14 is the last commit before the work on real-world imports
// (version search, sdists, provenance, Python 2): the "before" binary is
// built from it.
const beforeIssue14 = "5d02e33"

// corpusScript is one script of internal/deps/testdata/corpus.
type corpusScript struct {
	path, name, category string
	exit                 int
	stderr               []string
	rerun                bool
}

func loadCorpusScripts(root string) ([]corpusScript, error) {
	files, err := filepath.Glob(filepath.Join(root, "internal", "deps", "testdata", "corpus", "*.py"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no corpus scripts: %v", err)
	}
	var out []corpusScript
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c := corpusScript{path: f, name: filepath.Base(f)}
		for _, line := range strings.Split(string(data), "\n") {
			key, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
			if !strings.HasPrefix(line, "# ") || !ok {
				break
			}
			switch key {
			case "category":
				c.category = val
			case "exit":
				c.exit, _ = strconv.Atoi(val)
			case "stderr":
				c.stderr = append(c.stderr, val)
			case "rerun":
				c.rerun = true
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// importFailureRE finds an import that did not work in a run's output.
var importFailureRE = regexp.MustCompile(`(?m)^(ModuleNotFoundError|ImportError|SyntaxError)\b`)

// importsWorked tells from a run's exit status and output whether the
// script's imports worked: it succeeded, or failed later in Python (a
// traceback without an import error). Anything else, such as a run that
// never reached Python, counts as not working.
func importsWorked(code int, out string) bool {
	return code == 0 || code == 1 && strings.Contains(out, "Traceback") && !importFailureRE.MatchString(out)
}

// corpusResult is what one tool achieved on one script.
type corpusResult struct {
	imports  bool // the script's imports worked (on a re-run, if the tool asks for one)
	expected bool // exit status and messages as the corpus states
}

// corpusSection runs the corpus through interp exec as it is now, as it
// was before issue 14, and through pipreqs with installs by uv.
func corpusSection(ctx context.Context, cfg *config) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	scripts, err := loadCorpusScripts(root)
	if err != nil {
		return "", err
	}
	rt, err := python.Find("")
	if err != nil || rt.UV == "" {
		return "**Not measured:** no Python runtime with uv; run scripts/setup.\n", nil
	}
	work, err := os.MkdirTemp("/var/tmp", "interp-bench-corpus-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	_ = os.Chmod(work, 0o755)

	var md strings.Builder
	fmt.Fprintf(&md, `
%d real-world scripts (`+"`internal/deps/testdata/corpus`"+`), each failing for one
of the causes of issue 14 when run naively: version drift, projects published
only as source, guesses that provide nothing, host applications' modules,
Python 2, and the `+"`%%`"+`-continuation bug; plus two plain ones. Each runs with
real installs from PyPI and an empty package cache:

- **now**: `+"`interp exec`"+` built from this tree; where Interp asks for a
  re-run (an older release replaced one the session had imported), the
  script is run a second time in a new session, as a user would;
- **before**: `+"`interp exec`"+` built from %s, the commit before this work,
  also run a second time where it said "run the cell again";
- **pipreqs**: pipreqs (from PyPI, in a throwaway venv) writes the
  requirements, `+"`uv pip install`"+` installs them (building sdists on the
  host, as pip would), and Python runs the script.

"Imports work" counts scripts whose run ends without ModuleNotFoundError,
ImportError or SyntaxError; "as expected" counts those whose exit status and
messages are the ones the corpus states (for a Blender script, the message
that bpy exists only inside Blender).
`, len(scripts), beforeIssue14)

	cfg.logf("corpus: building interp now and before (%s)", beforeIssue14)
	now, err := buildInterp(ctx, root, "", filepath.Join(work, "now"))
	if err != nil {
		return md.String(), fmt.Errorf("build interp: %w", err)
	}
	before, err := buildInterp(ctx, root, beforeIssue14, filepath.Join(work, "before"))
	if err != nil {
		cfg.logf("corpus: cannot build the before binary: %v", err)
	}
	pipreqs, err := installPipreqs(ctx, rt, filepath.Join(work, "pipreqs-venv"))
	if err != nil {
		cfg.logf("corpus: cannot install pipreqs: %v", err)
	}

	tools := []struct {
		name string
		run  func(corpusScript, string) (corpusResult, error)
	}{
		{"now", func(s corpusScript, dir string) (corpusResult, error) { return runInterpExec(ctx, now, s, dir) }},
		{"before", func(s corpusScript, dir string) (corpusResult, error) {
			if before == "" {
				return corpusResult{}, fmt.Errorf("not built")
			}
			return runInterpExec(ctx, before, s, dir)
		}},
		{"pipreqs", func(s corpusScript, dir string) (corpusResult, error) {
			if pipreqs == "" {
				return corpusResult{}, fmt.Errorf("not installed")
			}
			return runPipreqs(ctx, rt, pipreqs, s, dir)
		}},
	}
	results := make(map[string]map[string]corpusResult)
	failed := make(map[string]string)
	for _, tool := range tools {
		results[tool.name] = make(map[string]corpusResult)
		for i, s := range scripts {
			cfg.logf("corpus: %s %s", tool.name, s.name)
			dir := filepath.Join(work, fmt.Sprintf("%s-%d", tool.name, i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				return md.String(), err
			}
			r, err := tool.run(s, dir)
			if err != nil {
				failed[tool.name] = err.Error()
				break
			}
			results[tool.name][s.name] = r
		}
	}

	t := newTable("script", "category", "now", "before", "pipreqs")
	mark := func(r corpusResult, ok bool) string {
		switch {
		case !ok:
			return "-"
		case r.imports && r.expected:
			return "imports, as expected"
		case r.imports:
			return "imports"
		case r.expected:
			return "as expected"
		}
		return "fails"
	}
	for _, s := range scripts {
		row := []string{"`" + s.name + "`", s.category}
		for _, tool := range []string{"now", "before", "pipreqs"} {
			r, ok := results[tool][s.name]
			row = append(row, mark(r, ok))
		}
		t.add(row...)
	}
	sum := newTable("", "imports work", "as expected")
	for _, tool := range []string{"now", "before", "pipreqs"} {
		if why, bad := failed[tool]; bad {
			sum.add(tool, "not measured: "+lastN(oneLine(why), 200), "")
			continue
		}
		var imp, exp int
		for _, r := range results[tool] {
			if r.imports {
				imp++
			}
			if r.expected {
				exp++
			}
		}
		sum.add(tool, pct(imp, len(scripts)), pct(exp, len(scripts)))
	}
	md.WriteString("\n" + sum.String() + "\n<details><summary>Per script</summary>\n\n" + t.String() + "\n</details>\n")

	cfg.logf("corpus: install time with and without version search, %d rounds", cfg.Rounds)
	part, err := searchTiming(ctx, rt, work, cfg.Rounds)
	md.WriteString(part)
	return md.String(), err
}

// buildInterp builds interp and interp-sandbox from the tree (commit "")
// or from a commit, checked out in a temporary worktree, into dir.
func buildInterp(ctx context.Context, root, commit, dir string) (string, error) {
	src := root
	if commit != "" {
		src = filepath.Join(dir, "src")
		if out, err := exec.CommandContext(ctx, "git", "-C", root, "worktree", "add", "--detach", src, commit).CombinedOutput(); err != nil {
			return "", fmt.Errorf("git worktree add: %v: %s", err, out)
		}
		defer exec.Command("git", "-C", root, "worktree", "remove", "--force", src).Run()
	}
	bin := filepath.Join(dir, "bin")
	for _, cmd := range []string{"interp", "interp-sandbox"} {
		c := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, cmd), "./cmd/"+cmd)
		c.Dir = src
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v: %s", cmd, err, out)
		}
	}
	return filepath.Join(bin, "interp"), nil
}

// runInterpExec runs a script with interp exec, with a package cache of
// its own, and again in a new session when interp asked for a re-run.
func runInterpExec(ctx context.Context, bin string, s corpusScript, dir string) (corpusResult, error) {
	cache := filepath.Join(dir, "cache")
	run := func() (int, string, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, bin, "exec", "--no-history", s.path)
		c.Env = append(os.Environ(), "INTERP_CACHE_DIR="+cache)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			return 0, "", err
		}
		return code, out.String(), nil
	}
	code, out, err := run()
	if err != nil {
		return corpusResult{}, err
	}
	r := corpusResult{expected: code == s.exit}
	for _, want := range s.stderr {
		r.expected = r.expected && strings.Contains(out, want)
	}
	r.imports = importsWorked(code, out)
	if !r.imports && (strings.Contains(out, "run the cell again") || strings.Contains(out, "restart the session")) {
		code, again, err := run()
		if err != nil {
			return corpusResult{}, err
		}
		r.imports = importsWorked(code, again)
	}
	return r, nil
}

// installPipreqs installs pipreqs from PyPI into a throwaway venv and
// returns its executable.
func installPipreqs(ctx context.Context, rt *python.Runtime, venv string) (string, error) {
	if out, err := exec.CommandContext(ctx, rt.UV, "venv", "--quiet", "--python", rt.Executable, venv).CombinedOutput(); err != nil {
		return "", fmt.Errorf("uv venv: %v: %s", err, out)
	}
	c := exec.CommandContext(ctx, rt.UV, "pip", "install", "--quiet", "--python", filepath.Join(venv, "bin", "python"), "pipreqs")
	if out, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("uv pip install pipreqs: %v: %s", err, out)
	}
	return filepath.Join(venv, "bin", "pipreqs"), nil
}

// runPipreqs does what a user of pipreqs would: requirements from the
// script, installed with uv (sdists built on the host, as pip would), and
// the script run with them on the path. Scripts run unsandboxed, as
// nobody when this is root: the corpus is known, benign code.
func runPipreqs(ctx context.Context, rt *python.Runtime, pipreqs string, s corpusScript, dir string) (corpusResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	src := filepath.Join(dir, "src")
	site := filepath.Join(dir, "site")
	cache := filepath.Join(dir, "cache")
	for _, d := range []string{src, site, cache} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return corpusResult{}, err
		}
		if os.Geteuid() == 0 {
			_ = os.Chown(d, 65534, 65534)
		}
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return corpusResult{}, err
	}
	if err := os.WriteFile(filepath.Join(src, s.name), data, 0o644); err != nil {
		return corpusResult{}, err
	}
	var log bytes.Buffer
	reqs := filepath.Join(dir, "requirements.txt")
	// pipreqs asks pypi.python.org about names it does not know; only
	// pypi.org is reachable from some machines.
	c := exec.CommandContext(ctx, pipreqs, "--savepath", reqs, "--mode", "no-pin", "--pypi-server", "https://pypi.org/pypi/", src)
	c.Stdout, c.Stderr = &log, &log
	_ = c.Run() // a failure shows as missing imports
	if fi, err := os.Stat(reqs); err == nil && fi.Size() > 0 {
		_ = os.Chmod(reqs, 0o644)
		c = exec.CommandContext(ctx, rt.UV, "pip", "install", "--quiet", "--target", site, "--python", rt.Executable,
			"--cache-dir", cache, "-r", reqs)
		c.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + cache, "UV_NO_CONFIG=1", "UV_NO_PROGRESS=1", "LANG=C.UTF-8"}
		for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
			if v, ok := os.LookupEnv(k); ok {
				c.Env = append(c.Env, k+"="+v)
			}
		}
		c.SysProcAttr = asUVUser()
		c.Dir = "/"
		c.Stdout, c.Stderr = &log, &log
		_ = c.Run()
	}
	var out bytes.Buffer
	c = exec.CommandContext(ctx, rt.Executable, filepath.Join(src, s.name))
	c.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + cache, "PYTHONPATH=" + site, "LANG=C.UTF-8"}
	c.Dir = src
	c.SysProcAttr = asUVUser()
	c.Stdout, c.Stderr = &out, &out
	err = c.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	r := corpusResult{imports: importsWorked(code, out.String())}
	r.expected = code == s.exit && len(s.stderr) == 0 // pipreqs has no messages of its own
	return r, nil
}

// searchTiming measures, on real PyPI, an install that needs a version
// search (werkzeug.contrib: the newest Werkzeug lacks it, so the search
// bisects the releases and installs an older one) against a plain install
// of the same project, each into a new session with a warm cache, in
// interleaved rounds.
func searchTiming(ctx context.Context, rt *python.Runtime, work string, rounds int) (string, error) {
	b, err := sandbox.NewNamespaces()
	if err != nil {
		return "\n**Install time with version search not measured:** " + err.Error() + "\n", nil
	}
	defer b.Close()
	m, err := deps.LoadMap()
	if err != nil {
		return "", err
	}
	cache := filepath.Join(work, "search-cache")
	in := &deps.Installer{UV: rt.UV, Python: rt.Executable, BaseLock: rt.BaseLock(), CacheDir: cache, Map: m, Timeout: 2 * time.Minute}
	codes := map[string]string{
		"plain":  "import werkzeug\n",
		"search": "from werkzeug.contrib.cache import SimpleCache\n",
	}
	var plain, search []time.Duration
	for r := range rounds + 1 { // round 0 warms the cache
		order := []string{"plain", "search"}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, kind := range order {
			// A new Auto each time: what a search learned is not reused.
			_ = os.Remove(filepath.Join(cache, "interp-versions.json"))
			auto := &deps.Auto{Installer: in, Map: m}
			k, err := session.Start(ctx, session.Config{Backend: b, Runtime: rt, StateDir: work})
			if err != nil {
				return "", err
			}
			var msgs []string
			t0 := time.Now()
			_, err = auto.Prepare(ctx, k, codes[kind], nil, func(ev session.Event) {
				if ev.Text != "" {
					msgs = append(msgs, ev.Text)
				}
			})
			dt := time.Since(t0)
			site := k.SiteDir()
			k.Close()
			if err != nil {
				return "", err
			}
			if kind == "search" && !strings.Contains(strings.Join(msgs, ""), "werkzeug.contrib was removed") {
				return "", fmt.Errorf("the version search did not happen: %q", msgs)
			}
			os.RemoveAll(site)
			if r == 0 {
				continue
			}
			if kind == "plain" {
				plain = append(plain, dt)
			} else {
				search = append(search, dt)
			}
		}
	}
	sp, ss := summarize(plain), summarize(search)
	t := newTable("install of Werkzeug before the first run, warm cache", "median", "p90", "min", "max")
	t.add("plain install of the newest release (baseline)", ms(sp.median), ms(sp.p90), ms(sp.min), ms(sp.max))
	t.add("**with version search** (newest installed, releases bisected, 0.16.1 installed)", ms(ss.median), ms(ss.p90), ms(ss.min), ms(ss.max))
	return fmt.Sprintf(`
### Install time with version search

`+"`from werkzeug.contrib.cache import SimpleCache`"+` needs a version search:
the newest Werkzeug lacks `+"`werkzeug.contrib`"+`, so Interp reads the file lists
of a few releases' wheels from PyPI (range requests), finds that 1.0 removed
it and installs 0.16.1. The baseline is `+"`import werkzeug`"+`, a plain install
of the newest release. Each of %d interleaved rounds uses a new session and
the same warm uv cache (a first round warms it and is not counted); the
search itself is never cached.

%s
With version search, the median install takes %s the plain one's time
(p90: %s).
`, rounds, t.String(), ratio(float64(ss.median), float64(sp.median)), ratio(float64(ss.p90), float64(sp.p90))), nil
}
