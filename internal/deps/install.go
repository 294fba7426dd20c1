package deps

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// DefaultIndexURL is the package index used unless configured.
const DefaultIndexURL = config.DefaultIndexURL

// Installer installs distributions into per-session package directories
// with uv: from one configured index only, wheels only, within a time
// budget, and never touching the base
// environment. A shared cache makes a second install of the same wheel
// fast. It is safe for concurrent use.
//
// uv runs on the host, not in the sandbox: the sandbox never gets a
// network. Installing a wheel only unpacks files, so no package code runs
// outside the sandbox. uv never builds an sdist, which would run its code
// on the host: BuildSdist builds one in a sandbox instead, and uv finds
// the wheel it made in the cache.
type Installer struct {
	// UV is the uv executable.
	UV string
	// Python is the base environment's interpreter: installs match its
	// version and platform and respect its packages' versions.
	Python string
	// CacheDir is the shared download and wheel cache.
	CacheDir string
	// IndexURL is the only index used; DefaultIndexURL if empty.
	IndexURL string
	// Allow, when not nil, is the only distributions that may be
	// installed (allow-list mode). Names are compared normalized.
	Allow []string
	// BaseLock, if set, is the lock file the base environment was built
	// from (pinned name==version lines): read instead of asking uv to list
	// the environment, which costs every new Installer a uv run.
	BaseLock string
	// Map supplies the deny list of known malicious names.
	Map *Map
	// Timeout bounds one install; two minutes if zero.
	Timeout time.Duration
	// CacheLimits bound CacheDir, applied at most once a day when the
	// Installer first installs; DefaultCacheLimits if zero.
	CacheLimits CacheLimits
	// TorchIndex, if set, is the one index the torch family (torch,
	// torchvision, torchaudio) comes from, and the only thing that comes
	// from it: TorchCPUIndex for PyTorch's CPU-only builds.
	TorchIndex string
	// ConfigFile is the config file that advice names (set
	// install.torch_index in it); "the config file" if empty.
	ConfigFile string
	// Store, if set, is the shared store of installed distributions:
	// installs unpack each distribution there once and link it into the
	// session's package directory.
	Store *Store

	mu       sync.Mutex
	base     map[string]string // normalized name -> version, of the base env
	baseFile string            // the base env as a constraints file
	resolved map[string][]pin  // request -> what it resolved to, for the cache path
}

// Requirement is one distribution to install, with an optional version
// specifier, as a user or a model wrote it.
type Requirement struct {
	Name   string // distribution name
	Extras string // "[a,b]" or ""
	Spec   string // ">=1.2,<2" or ""
	// Override lets the requirement replace the base environment's
	// version of the distribution in the session's own package directory
	// (which comes first on sys.path); the base stays untouched.
	Override bool
}

func (r Requirement) String() string { return r.Name + r.Extras + r.Spec }

// requirementRE accepts a name, extras and version clauses, and nothing
// else: no URLs, paths, options or environment markers, so a requirement
// can never smuggle an index or a command into uv.
var requirementRE = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[A-Za-z0-9._,\s-]+\])?\s*((?:(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*)$`)

// ParseRequirement parses "name", "name==1.2", "name[extra]>=1,<2".
func ParseRequirement(s string) (Requirement, error) {
	m := requirementRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || len(s) > 200 {
		return Requirement{}, fmt.Errorf("%q is not a package requirement such as pandas or pandas>=2.0 (URLs, paths and options are not accepted)", s)
	}
	spec := strings.TrimRight(strings.ReplaceAll(m[3], " ", ""), ",")
	return Requirement{Name: m[1], Extras: strings.ReplaceAll(m[2], " ", ""), Spec: spec}, nil
}

// pin is one resolved distribution.
type pin struct{ name, version string }

// InstallError says which package failed and why.
type InstallError struct {
	Packages string
	Reason   string
}

func (e *InstallError) Error() string {
	return fmt.Sprintf("cannot install %s: %s", e.Packages, e.Reason)
}

// Check refuses denied distributions and, in allow-list mode, those not
// allowed.
func (in *Installer) Check(reqs []Requirement) error {
	for _, r := range reqs {
		if in.Map != nil && in.Map.Denied(r.Name) {
			return &InstallError{r.Name, "it is on the deny list of known malicious or typosquatting packages"}
		}
		if in.Allow != nil && !contains(in.Allow, r.Name) {
			return &InstallError{r.Name, "it is not on the allow list"}
		}
	}
	return nil
}

func contains(list []string, name string) bool {
	n := Normalize(name)
	for _, a := range list {
		if Normalize(a) == n {
			return true
		}
	}
	return false
}

// Install installs reqs and what they need, beyond what the base
// environment has, into site, emitting install events. Nothing is installed
// if anything fails.
func (in *Installer) Install(ctx context.Context, site string, reqs []Requirement, emit func(session.Event)) error {
	return in.install(ctx, site, reqs, emit, true)
}

// install is Install; with pinned, what is prewarmed is linked without
// uv (see installPinned).
func (in *Installer) install(ctx context.Context, site string, reqs []Requirement, emit func(session.Event), pinned bool) error {
	if emit == nil {
		emit = func(session.Event) {}
	}
	names := make([]string, len(reqs))
	for i, r := range reqs {
		names[i] = r.String()
	}
	what := strings.Join(names, " ")
	fail := func(err error) error {
		var ie *InstallError
		if !errors.As(err, &ie) {
			err = &InstallError{what, err.Error()}
		}
		emit(session.Event{Type: event.Install, Phase: event.PhaseFailed, Package: what, Message: err.Error()})
		return err
	}
	if len(reqs) == 0 {
		return nil
	}
	if err := in.Check(reqs); err != nil {
		return fail(err)
	}
	timeout := in.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if pinned {
		if done, err := in.installPinned(ctx, site, reqs, emit); done {
			if err != nil {
				return fail(err)
			}
			return nil
		}
	}

	emit(session.Event{Type: event.Install, Phase: event.PhaseResolving, Package: what})
	pins, err := in.resolve(ctx, reqs)
	if err != nil {
		if ctx.Err() != nil {
			err = &InstallError{what, fmt.Sprintf("resolving took longer than the %s install budget", timeout)}
		}
		return fail(err)
	}
	if len(pins) == 0 {
		for _, r := range reqs {
			emit(session.Event{Type: event.Install, Phase: event.PhaseInstalled, Package: r.Name, Message: "already in the base environment"})
		}
		return nil
	}
	if w := in.gpuWarning(ctx, in.unstored(pins)); w != "" {
		// A note of Interp's, as stderr: every front end shows those.
		emit(session.Event{Type: event.Stderr, Text: "[interp: " + w + "]\n"})
	}
	if err := in.installPins(ctx, site, pins, emit); err != nil {
		if ctx.Err() != nil {
			err = &InstallError{what, fmt.Sprintf("installing took longer than the %s install budget", timeout)}
		}
		return fail(err)
	}
	for _, p := range pins {
		emit(session.Event{Type: event.Install, Phase: event.PhaseInstalled, Package: p.name, Version: p.version})
	}
	return nil
}

// env is uv's environment, built from scratch like a sandbox's: the
// server's own environment holds API keys. Only proxy settings pass.
func (in *Installer) env() []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + in.CacheDir,
		"UV_CACHE_DIR=" + in.CacheDir,
		"UV_NO_CONFIG=1",
		"UV_NO_PROGRESS=1",
		"LANG=C.UTF-8",
	}
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// index is the one index everything but the torch family comes from.
func (in *Installer) index() string {
	if in.IndexURL == "" {
		return DefaultIndexURL
	}
	return in.IndexURL
}

// uvArgs are the options every uv call shares, with index the one index.
func (in *Installer) uvArgs(index string) []string {
	args := []string{"--python", in.Python, "--index-url", index, "--cache-dir", in.CacheDir,
		"--no-config", "--quiet", "--only-binary", ":all:"}
	if _, err := os.Stat(in.builtDir()); err == nil {
		// Wheels built from sdists in a sandbox (BuildSdist).
		args = append(args, "--find-links", in.builtDir())
	}
	return args
}

// run runs uv with args, unprivileged when interp is root.
func (in *Installer) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	return in.runLines(ctx, stdin, nil, nil, args...)
}

// runLines is run, handing each line uv writes to stderr to onLine (if not
// nil) as it comes: uv reports each large download there as it starts and
// ends. started, if not nil, is told uv's process ID once it runs.
func (in *Installer) runLines(ctx context.Context, stdin []byte, onLine func(string), started func(pid int), args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, in.UV, args...)
	cmd.Env = in.env()
	cmd.Dir = "/" // uv treats its working directory as a project
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if onLine != nil {
		cmd.Stderr = &lineWriter{buf: &errOut, fn: onLine}
	}
	cmd.SysProcAttr = dropToNobody()
	cmd.WaitDelay = time.Second
	err := cmd.Start()
	if err == nil {
		if started != nil {
			started(cmd.Process.Pid)
		}
		err = cmd.Wait()
	}
	if err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, errors.New(uvMessage(msg))
	}
	return out.Bytes(), nil
}

// lineWriter keeps everything written to it and calls fn with each
// complete line.
type lineWriter struct {
	buf  *bytes.Buffer
	fn   func(string)
	part []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	w.part = append(w.part, b...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.fn(string(w.part[:i]))
		w.part = w.part[i+1:]
	}
}

// uvMessage condenses uv's error output to its most telling line.
func uvMessage(msg string) string {
	lines := strings.Split(msg, "\n")
	var keep []string
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimLeft(l, "×╰─▶ "))
		if l != "" && !strings.HasPrefix(l, "hint:") && !progressLine(l) {
			keep = append(keep, l)
		}
	}
	s := strings.Join(keep, "; ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

// prepare creates the cache and learns the base environment, once.
func (in *Installer) prepare(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.base != nil {
		return nil
	}
	if err := os.MkdirAll(in.CacheDir, 0o755); err != nil {
		return err
	}
	if err := chownForUV(in.CacheDir); err != nil {
		return err
	}
	pruneDaily(ctx, in.CacheDir, in.CacheLimits)
	out, err := os.ReadFile(in.BaseLock)
	if in.BaseLock == "" || err != nil {
		if out, err = in.run(ctx, nil, "pip", "freeze", "--python", in.Python, "--no-config"); err != nil {
			return fmt.Errorf("list the base environment: %w", err)
		}
	}
	base := make(map[string]string)
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		name, version, ok := strings.Cut(strings.TrimSpace(l), "==")
		if !ok {
			continue
		}
		base[Normalize(name)] = version
		lines = append(lines, name+"=="+version)
	}
	sort.Strings(lines)
	data := []byte(strings.Join(lines, "\n") + "\n")
	sum := sha256.Sum256(data)
	file := filepath.Join(in.CacheDir, "base-"+hex.EncodeToString(sum[:8])+".txt")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return err
	}
	in.base, in.baseFile = base, file
	in.resolved = make(map[string][]pin)
	return nil
}

// resolve returns the distributions to install for reqs: their full
// resolution, with the base environment's versions as constraints, minus
// what the base environment already has.
func (in *Installer) resolve(ctx context.Context, reqs []Requirement) ([]pin, error) {
	if err := in.prepare(ctx); err != nil {
		return nil, err
	}
	lines := make([]string, len(reqs))
	for i, r := range reqs {
		lines[i] = r.String()
	}
	sort.Strings(lines)
	var overridden []string
	for _, r := range reqs {
		if r.Override {
			overridden = append(overridden, Normalize(r.Name))
		}
	}
	key := strings.Join(lines, "\n")
	if len(overridden) > 0 {
		key += "\x00override " + strings.Join(overridden, " ")
	}
	in.mu.Lock()
	pins, ok := in.resolved[key]
	in.mu.Unlock()
	if ok {
		return pins, nil
	}
	constraints := in.baseFile
	if len(overridden) > 0 {
		f, err := in.constraintsWithout(overridden)
		if err != nil {
			return nil, err
		}
		defer os.Remove(f)
		constraints = f
	}
	out, err := in.compile(ctx, reqs, constraints)
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		name, version, ok := strings.Cut(l, "==")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		name = strings.TrimSpace(name)
		if in.base[Normalize(name)] == version {
			continue
		}
		if in.Map != nil && in.Map.Denied(name) {
			return nil, &InstallError{name, "a dependency is on the deny list of known malicious packages"}
		}
		pins = append(pins, pin{name, version})
	}
	in.mu.Lock()
	in.resolved[key] = pins
	in.mu.Unlock()
	return pins, nil
}

// constraintsWithout writes the base environment's constraints minus
// the distributions named (normalized) to a temporary file.
func (in *Installer) constraintsWithout(names []string) (string, error) {
	data, err := os.ReadFile(in.baseFile)
	if err != nil {
		return "", err
	}
	var keep []string
	for _, l := range strings.Split(string(data), "\n") {
		name, _, _ := strings.Cut(l, "==")
		if l != "" && !slices.Contains(names, Normalize(name)) {
			keep = append(keep, l)
		}
	}
	f, err := os.CreateTemp(in.CacheDir, "constraints-*.txt")
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(strings.Join(keep, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	return f.Name(), err
}

// BaseVersion returns the base environment's version of dist, or "".
func (in *Installer) BaseVersion(ctx context.Context, dist string) string {
	if in.prepare(ctx) != nil {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.base[Normalize(dist)]
}

// BaseSite returns the base environment's site-packages directory, or ""
// if it cannot be found next to Python.
func (in *Installer) BaseSite() string {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(in.Python)), "lib", "python3*", "site-packages"))
	if len(matches) == 0 {
		return ""
	}
	return matches[0]
}

// SearchVersion finds, on the installer's index, the newest release of
// dist that still has module (see Drift).
func (in *Installer) SearchVersion(ctx context.Context, dist, module string) (Drift, error) {
	timeout := in.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return newIndexClient(in.IndexURL).searchVersion(ctx, dist, module)
}

// installPins installs exactly pins into site: through the store when
// there is one, else by uv straight into site.
func (in *Installer) installPins(ctx context.Context, site string, pins []pin, emit func(session.Event)) error {
	if in.Store != nil {
		return in.storeInstall(ctx, site, pins, emit)
	}
	if err := in.uvInstall(ctx, site, pins, false, emit); err != nil {
		return err
	}
	touch(site)
	return nil
}

// touch changes site's time: a new top-level entry does, which is how the
// runner notices new packages; make sure it does even when only files
// were updated.
func touch(site string) {
	now := time.Now()
	_ = os.Chtimes(site, now, now)
}

// storeInstall links pins into site from the store, first unpacking into
// the store those it lacks, with one uv run.
func (in *Installer) storeInstall(ctx context.Context, site string, pins []pin, emit func(session.Event)) error {
	s := in.Store
	if err := s.init(); err != nil {
		return err
	}
	unlock, err := s.lock(ctx, false, true)
	if err != nil {
		return err
	}
	entries := make([]string, len(pins))
	var missing []pin
	for i, p := range pins {
		if e, ok := s.lookup(refKey(in.indexFor(p.name), in.Python, p.name, p.version)); ok {
			entries[i] = e
		} else {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		made, err := in.unpackIntoStore(ctx, missing, emit)
		if err != nil {
			unlock()
			return err
		}
		for i, p := range pins {
			if entries[i] != "" {
				continue
			}
			e, ok := made[Normalize(p.name)]
			if !ok {
				unlock()
				return &InstallError{p.name + "==" + p.version, "uv installed no distribution of that name"}
			}
			if err := s.writeRef(refKey(in.indexFor(p.name), in.Python, p.name, p.version), filepath.Base(e)); err != nil {
				unlock()
				return fmt.Errorf("package store: %w", err)
			}
			entries[i] = e
		}
	}
	for _, e := range entries {
		if err := link(e, site); err != nil {
			unlock()
			return err
		}
	}
	unlock()
	touch(site)
	if len(missing) > 0 && s.Limits != (CacheLimits{}) {
		_, _ = s.Prune(ctx, s.Limits) // busy: the next install prunes
	}
	return nil
}

// unstored returns the pins the store lacks (all of them without one).
func (in *Installer) unstored(pins []pin) []pin {
	if in.Store == nil {
		return pins
	}
	var out []pin
	for _, p := range pins {
		if _, ok := in.Store.lookup(refKey(in.indexFor(p.name), in.Python, p.name, p.version)); !ok {
			out = append(out, p)
		}
	}
	return out
}

// unpackIntoStore has uv unpack pins into a temporary directory of the
// store and turns them into entries.
func (in *Installer) unpackIntoStore(ctx context.Context, pins []pin, emit func(session.Event)) (map[string]string, error) {
	target, err := os.MkdirTemp(in.Store.tmpDir(), "unpack-")
	if err != nil {
		return nil, fmt.Errorf("package store: %w", err)
	}
	defer removeTree(target)
	if err := os.Chmod(target, 0o755); err != nil {
		return nil, err
	}
	// Copies, not uv's hard links to its cache: sealing the entries makes
	// their files root's and read-only, which would make uv's cache files
	// (the same inodes) root's too, and later installs, uv running
	// unprivileged, fail to link them.
	if err := in.uvInstall(ctx, target, pins, true, emit); err != nil {
		return nil, err
	}
	return in.Store.commit(target)
}

// uvInstall has uv install exactly pins into site, from the index each
// comes from, streaming each download's progress as uv reports it; with
// copyFiles, as copies of the files in uv's cache rather than links to them.
func (in *Installer) uvInstall(ctx context.Context, site string, pins []pin, copyFiles bool, emit func(session.Event)) error {
	var torch, rest []pin
	for _, p := range pins {
		if in.TorchIndex != "" && isTorchFamily(p.name) {
			torch = append(torch, p)
		} else {
			rest = append(rest, p)
		}
	}
	for _, group := range []struct {
		index string
		pins  []pin
	}{{in.TorchIndex, torch}, {in.index(), rest}} {
		if len(group.pins) > 0 {
			if err := in.uvInstallFrom(ctx, group.index, site, group.pins, copyFiles, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// uvInstallFrom has uv install exactly pins into site from index.
func (in *Installer) uvInstallFrom(ctx context.Context, index, site string, pins []pin, copyFiles bool, emit func(session.Event)) error {
	if err := chownForUV(site); err != nil {
		return err
	}
	args := append([]string{"pip", "install", "--no-deps", "--target", site}, in.uvArgs(index)...)
	if copyFiles {
		args = append(args, "--link-mode", "copy")
	}
	args = slices.DeleteFunc(args, func(a string) bool { return a == "--quiet" }) // its lines are the progress
	names := make([]string, len(pins))
	for i, p := range pins {
		args = append(args, p.name+"=="+p.version)
		names[i] = p.name + "==" + p.version
	}
	what := strings.Join(names, " ")
	prog := &progress{cache: in.CacheDir, emit: emit, versions: make(map[string]string), totals: make(map[string]int64)}
	for _, p := range pins {
		prog.versions[Normalize(p.name)] = p.version
	}
	done := make(chan struct{})
	go prog.tick(done)
	_, err := in.runLines(ctx, nil, prog.line, prog.started, args...)
	close(done)
	// uv leaves its lock file behind in the target.
	os.Remove(filepath.Join(site, ".lock"))
	if err != nil {
		return &InstallError{what, err.Error()}
	}
	return nil
}

// progressLineRE matches what uv says about one download:
// "Downloading polars (31.5MiB)" and " Downloaded polars".
var progressLineRE = regexp.MustCompile(`^\s*(Downloading|Downloaded) (\S+)(?: \(([^)]*)\))?\s*$`)

func progressLine(l string) bool { return progressLineRE.MatchString(l) }

// progress turns uv's download lines into install events: one when each
// package starts and ends downloading, with its size, and every half
// second one for what is in flight, with the bytes fetched of the total
// announced so far and an estimate of the time left. The bytes fetched are
// what uv has read (its /proc I/O count, downloads being nearly all of it
// while they run); where that cannot be read, the bytes unpacked so far in
// uv's temporary directories, without a total. It never measures the
// whole cache, which can be large.
type progress struct {
	cache    string
	emit     func(session.Event)
	versions map[string]string // normalized name -> version being installed

	mu      sync.Mutex
	pid     int
	current []string         // packages being downloaded, as uv names them
	totals  map[string]int64 // sizes uv announced, by uv's name
	base    int64            // uv's read bytes when the first download began
	begun   time.Time
}

func (p *progress) started(pid int) {
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
}

func (p *progress) line(l string) {
	m := progressLineRE.FindStringSubmatch(l)
	if m == nil {
		return
	}
	ev := session.Event{Type: event.Install, Phase: event.PhaseDownloading, Package: m[2], Version: p.versions[Normalize(m[2])]}
	p.mu.Lock()
	if m[1] == "Downloading" {
		if p.begun.IsZero() {
			p.begun = time.Now()
			p.base, _ = readBytes(p.pid)
		}
		p.current = append(p.current, m[2])
		ev.Message = "downloading " + m[3]
		if n, err := parseSize(m[3]); err == nil {
			if p.totals == nil {
				p.totals = make(map[string]int64)
			}
			p.totals[m[2]] = n
			ev.Total = n
		}
	} else {
		p.current = slices.DeleteFunc(p.current, func(s string) bool { return s == m[2] })
		ev.Message = "downloaded"
		ev.Total = p.totals[m[2]]
		ev.Bytes = ev.Total
	}
	p.mu.Unlock()
	p.emit(ev)
}

// parseSize reads uv's sizes: "31.5MiB", "512.0KiB", "2.1GiB", "900B".
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("size %q", s)
			}
			return int64(f * u.mult), nil
		}
	}
	return 0, fmt.Errorf("size %q", s)
}

// readBytes returns how many bytes process pid has read, from its
// /proc/<pid>/io.
func readBytes(pid int) (int64, error) {
	if pid <= 0 {
		return 0, errors.New("no process")
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no rchar")
}

func (p *progress) tick(done <-chan struct{}) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		p.mu.Lock()
		current := strings.Join(p.current, " ")
		var total int64
		for _, n := range p.totals {
			total += n
		}
		pid, base, begun := p.pid, p.base, p.begun
		p.mu.Unlock()
		if current == "" {
			continue
		}
		ev := session.Event{Type: event.Install, Phase: event.PhaseDownloading, Package: current}
		if n, err := readBytes(pid); err == nil && total > 0 {
			ev.Bytes, ev.Total = min(n-base, total), total
			if secs := time.Since(begun).Seconds(); ev.Bytes > 0 && secs > 0 {
				ev.ETA = math.Round(float64(total-ev.Bytes)/(float64(ev.Bytes)/secs)*10) / 10
			}
		} else {
			ev.Bytes = inFlightBytes(p.cache)
		}
		if ev.Bytes > last {
			last = ev.Bytes
			p.emit(ev)
		}
	}
}

// inFlightBytes adds up what uv has unpacked so far into the temporary
// directories at the top of its cache, where wheels are unpacked while
// they download before being moved into place.
func inFlightBytes(cache string) int64 {
	entries, err := os.ReadDir(cache)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".tmp") {
			n += dirSize(filepath.Join(cache, e.Name()))
		}
	}
	return n
}

// dirSize adds up the sizes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// nobody is the host user uv runs as when interp runs as root: a package
// index is untrusted input, and uv has no need for root.
const nobody = 65534

func dropToNobody() *syscall.SysProcAttr {
	if os.Geteuid() != 0 {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
}

func chownForUV(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Chown(dir, nobody, nobody)
}
