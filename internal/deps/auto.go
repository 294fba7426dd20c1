package deps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// Auto finds what a cell imports that the session lacks, and installs it
// before the cell runs, or after a ModuleNotFoundError.
type Auto struct {
	Installer *Installer
	Map       *Map

	mu     sync.Mutex
	failed map[string]bool // site + distribution, installs that failed
	// learned maps a module a version search found removed to the
	// requirement that brings it back, so the next cell importing it gets
	// that version first. Kept in the installer's cache directory.
	learned map[string]Requirement
}

// install installs reqs into the kernel's package directory, building
// what is published only as source in a sandbox beside the kernel's, and
// remembering failures so that the reactive path does not repeat them.
func (a *Auto) install(ctx context.Context, k *session.Kernel, reqs []Requirement, emit func(session.Event)) error {
	return a.installing(ctx, k, reqs, true, emit)
}

// installing is install, building sdists only if build is true.
func (a *Auto) installing(ctx context.Context, k *session.Kernel, reqs []Requirement, build bool, emit func(session.Event)) error {
	if emit == nil {
		emit = func(session.Event) {}
	}
	var failed []session.Event
	held := func(ev session.Event) {
		if ev.Type == event.Install && ev.Phase == event.PhaseFailed {
			failed = append(failed, ev)
			return
		}
		emit(ev)
	}
	err := a.Installer.Install(ctx, k.SiteDir(), reqs, held)
	built := make(map[string]bool)
	for err != nil {
		dist := NeedsBuild(err)
		if !build || dist == "" || built[Normalize(dist)] || len(built) >= 3 {
			break
		}
		built[Normalize(dist)] = true
		backend, rt := k.Sandbox()
		if berr := a.Installer.BuildSdist(ctx, dist, specFor(dist, reqs), &Builder{Backend: backend, Runtime: rt}, emit); berr != nil {
			err = berr
			failed = []session.Event{{Type: event.Install, Phase: event.PhaseFailed, Package: dist, Message: berr.Error()}}
			break
		}
		failed = nil
		err = a.Installer.Install(ctx, k.SiteDir(), reqs, held)
	}
	for _, ev := range failed {
		emit(ev)
	}
	if err != nil {
		a.mu.Lock()
		if a.failed == nil {
			a.failed = make(map[string]bool)
		}
		for _, r := range reqs {
			a.failed[k.SiteDir()+"\x00"+Normalize(r.Name)] = true
		}
		a.mu.Unlock()
	}
	return err
}

// specFor returns the version specifier reqs put on dist, if any.
func specFor(dist string, reqs []Requirement) string {
	for _, r := range reqs {
		if Normalize(r.Name) == Normalize(dist) {
			return r.Spec
		}
	}
	return ""
}

func (a *Auto) hasFailed(k *session.Kernel, dist string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed[k.SiteDir()+"\x00"+Normalize(dist)]
}

// ImportStatus is what Plan found about one import.
type ImportStatus struct {
	Module string `json:"module"`
	Line   int    `json:"line"`
	// Status is stdlib, installed, local or missing.
	Status string `json:"status"`
	// Distribution is what would be installed; nil when nothing needs
	// installing (or nothing may be).
	Distribution *string  `json:"distribution"`
	Candidates   []string `json:"candidates,omitempty"`
	Ambiguous    bool     `json:"ambiguous,omitempty"`
	// Note explains a missing import that will not be installed.
	Note string `json:"note,omitempty"`
}

// Plan is what a cell needs before it can run.
type Plan struct {
	Imports []ImportStatus
	// Requested lists what the caller's hints and the cell's %pip lines
	// ask for; Detected what its missing imports need. No duplicates.
	Requested, Detected []Requirement
	// Code is the cell with its %pip and !pip install lines replaced by
	// pass: they are done by the installer, never by a shell.
	Code string
	// Problems are %pip arguments that were refused.
	Problems []string

	guesses map[string]string // normalized distribution -> the top-level module it is guessed for
	tops    map[string]string // normalized distribution -> the top-level module it is installed for
}

// pipLineRE matches the %pip / !pip install lines the runner reports.
var pipLineRE = regexp.MustCompile(`(?m)^([ \t]*)[%!][ \t]*(?:python3?[ \t]+-m[ \t]+)?pip3?[ \t]+install\b.*$`)

// Plan analyses code in the kernel and decides what to install. hints are
// requirements named by the caller, such as a model's tool call.
func (a *Auto) Plan(ctx context.Context, k *session.Kernel, code string, hints []string) (*Plan, error) {
	imports, pip, err := k.Analyze(ctx, code)
	if err != nil {
		if why := Python2Syntax(code, err.Error()); why != "" {
			return nil, errors.New(why)
		}
		return nil, err
	}
	p := &Plan{Code: pipLineRE.ReplaceAllString(code, "${1}pass"), guesses: make(map[string]string), tops: make(map[string]string)}
	seen := make(map[string]bool)
	add := func(list *[]Requirement, r Requirement) {
		if n := Normalize(r.Name); !seen[n] {
			seen[n] = true
			*list = append(*list, r)
		}
	}
	for _, h := range hints {
		r, err := ParseRequirement(h)
		if err != nil {
			p.Problems = append(p.Problems, err.Error())
			continue
		}
		add(&p.Requested, r)
	}
	for _, args := range pip {
		reqs, problems := pipRequirements(args)
		p.Problems = append(p.Problems, problems...)
		for _, r := range reqs {
			add(&p.Requested, r)
		}
	}

	// A try statement that catches ImportError is satisfied when any of
	// its imports works: the code falls back by itself.
	satisfied := make(map[int]bool)
	for _, imp := range imports {
		if imp.Group > 0 && imp.Status != session.ImportMissing {
			satisfied[imp.Group] = true
		}
	}
	for _, imp := range imports {
		st := ImportStatus{Module: imp.Module, Line: imp.Line, Status: imp.Status}
		learned, hasLearned := a.learnedFor(imp.Module)
		switch {
		case imp.Status == session.ImportInstalled && hasLearned && !(imp.Group > 0 || imp.Fallback) && !installedIn(k.SiteDir(), learned.Name):
			// An earlier version search found the installed version lacks
			// what this imports.
			dist := learned.Name
			st.Distribution = &dist
			st.Note = "needs " + learned.String() + ", found by an earlier version search"
			add(&p.Detected, learned)
		case imp.Status != session.ImportMissing:
		case imp.Group > 0 && satisfied[imp.Group]:
			st.Note = "an alternative in the same try statement is available"
		case imp.Fallback:
			st.Note = "a fallback: the primary import is installed instead"
		default:
			res := a.Map.Resolve(imp.Module)
			st.Candidates, st.Ambiguous = res.Candidates, res.Ambiguous
			if res.Distribution == "" {
				st.Note = res.Reason
				if st.Note == "" {
					st.Note = "nothing may be installed for it: " + res.Source
				}
				break
			}
			dist := res.Distribution
			st.Distribution = &dist
			r := Requirement{Name: dist}
			if hasLearned && Normalize(learned.Name) == Normalize(dist) {
				r = learned
			}
			if res.Source == SourceIdentity {
				p.guesses[Normalize(dist)] = imp.Top
			}
			p.tops[Normalize(dist)] = imp.Top
			add(&p.Detected, r)
		}
		p.Imports = append(p.Imports, st)
	}
	return p, nil
}

// pipRequirements turns the arguments of a %pip install line into
// requirements. Options that change where packages come from or go are
// refused; harmless ones are ignored.
func pipRequirements(args []string) ([]Requirement, []string) {
	var reqs []Requirement
	var problems []string
	for _, a := range args {
		switch {
		case a == "-q" || a == "-qq" || a == "--quiet" || a == "-U" || a == "--upgrade" || a == "--user" ||
			a == "--no-cache-dir" || a == "--pre" || a == "--no-warn-script-location" || a == "-v":
			continue
		case strings.HasPrefix(a, "-"):
			problems = append(problems, fmt.Sprintf("%%pip option %s is not supported: packages come from the configured index only", a))
			return reqs, problems
		}
		r, err := ParseRequirement(a)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		reqs = append(reqs, r)
	}
	return reqs, problems
}

// Prepare plans code and installs what it needs into the kernel's package
// directory, emitting install events. It returns the code to run. An
// install failure is reported in the events and does not stop the cell:
// the cell's own ImportError then says what is missing. A guessed
// distribution that turns out not to provide the module is removed
// again, and a dotted import that the installed version lacks
// (scrapy.contrib) gets the newest release that has it.
func (a *Auto) Prepare(ctx context.Context, k *session.Kernel, code string, hints []string, emit func(session.Event)) (string, error) {
	if emit == nil {
		emit = func(session.Event) {}
	}
	p, err := a.Plan(ctx, k, code, hints)
	if err != nil {
		return code, err
	}
	a.report(p, emit)
	if len(p.Requested) > 0 {
		_ = a.install(ctx, k, p.Requested, emit)
		// What was asked for may provide imports that looked missing.
		if len(p.Detected) > 0 {
			if again, err := a.Plan(ctx, k, code, nil); err == nil {
				p.Detected, p.guesses, p.tops = again.Detected, again.guesses, again.tops
			}
		}
	}
	// Guesses go one by one, each checked and rolled back on its own;
	// the others together, then one by one if that fails, so that one
	// unknown name does not hold the others back.
	var known []Requirement
	for _, r := range p.Detected {
		if top, ok := p.guesses[Normalize(r.Name)]; ok {
			a.installGuess(ctx, k, r, top, emit)
		} else {
			known = append(known, r)
		}
	}
	if len(known) > 0 {
		quiet := func(ev session.Event) {
			if ev.Phase != event.PhaseFailed || len(known) == 1 {
				emit(ev)
			}
		}
		before := siteEntries(k.SiteDir())
		if a.install(ctx, k, known, quiet) != nil && len(known) > 1 {
			for _, r := range known {
				_ = a.install(ctx, k, []Requirement{r}, emit)
			}
		}
		// A distribution that does not ship the module it was installed
		// for: a release that still does (setuptools and pkg_resources),
		// or else nothing of it is kept.
		tops := distTops(k.SiteDir())
		var lacking []Requirement
		for _, r := range known {
			top := p.tops[Normalize(r.Name)]
			if di, ok := tops[Normalize(r.Name)]; ok && top != "" && !di.Tops[top] {
				lacking = append(lacking, r)
			}
		}
		if len(lacking) > 0 {
			removeNew(k.SiteDir(), before)
			for _, r := range known {
				if !slices.Contains(lacking, r) {
					_ = a.install(ctx, k, []Requirement{r}, emit)
				}
			}
			for _, r := range lacking {
				top := p.tops[Normalize(r.Name)]
				if rec := a.fixDrift(ctx, k, k.SiteDir(), top, false, nil); rec.Installed {
					emit(session.Event{Type: event.Stderr, Text: "[interp: " + rec.Message + "]\n"})
					continue
				}
				a.markFailed(k, r.Name)
				emit(session.Event{Type: event.Install, Phase: event.PhaseFailed, Package: r.Name, Message: noProjectMessage(top, r.Name)})
			}
		}
	}
	a.checkDrift(ctx, k, p, emit)
	return p.Code, nil
}

// installGuess installs r, a distribution guessed from the import name
// top, and removes everything it installed again if it does not provide
// top: a namesake on PyPI is often an unrelated project.
func (a *Auto) installGuess(ctx context.Context, k *session.Kernel, r Requirement, top string, emit func(session.Event)) bool {
	site := k.SiteDir()
	before := siteEntries(site)
	held := func(ev session.Event) {
		if ev.Type == event.Install && ev.Phase == event.PhaseFailed && strings.Contains(ev.Message, "not found in the package registry") {
			ev.Message = fmt.Sprintf("no PyPI project provides %s; is it a local module, or part of another application?", top)
		}
		emit(ev)
	}
	if err := a.install(ctx, k, []Requirement{r}, held); err != nil {
		return false
	}
	if di, ok := distTops(site)[Normalize(r.Name)]; !ok || di.Tops[top] {
		return true // provided, or already in the base environment
	}
	removeNew(site, before)
	a.markFailed(k, r.Name)
	emit(session.Event{Type: event.Install, Phase: event.PhaseFailed, Package: r.Name, Message: noProjectMessage(top, r.Name)})
	return false
}

func noProjectMessage(top, dist string) string {
	return fmt.Sprintf("no PyPI project provides %s (the project %s does not, and was removed again); is it a local module, or part of another application?", top, dist)
}

// siteEntries lists the names in a package directory.
func siteEntries(site string) map[string]bool {
	names := make(map[string]bool)
	entries, _ := os.ReadDir(site)
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names
}

// removeNew rolls a package directory back to the names it had before.
func removeNew(site string, before map[string]bool) {
	entries, _ := os.ReadDir(site)
	for _, e := range entries {
		if !before[e.Name()] {
			os.RemoveAll(filepath.Join(site, e.Name()))
		}
	}
	now := time.Now()
	_ = os.Chtimes(site, now, now)
}

// checkDrift looks, after the installs, for dotted imports whose package
// is there but lacks the submodule imported (from flask.ext import ...),
// and installs the newest release that has it. Only the package's files
// are read; nothing is imported.
func (a *Auto) checkDrift(ctx context.Context, k *session.Kernel, p *Plan, emit func(session.Event)) {
	if a.Installer == nil {
		return
	}
	dirs := a.siteDirs(k)
	done := make(map[string]bool)
	for _, st := range p.Imports {
		top, _, dotted := strings.Cut(st.Module, ".")
		if !dotted || st.Status == session.ImportStdlib || st.Status == session.ImportLocal || done[top] || st.Note != "" && st.Distribution == nil {
			continue
		}
		if res := a.Map.Resolve(st.Module); res.Module != top && res.Distribution != "" {
			continue // a part with a distribution of its own (google.cloud.storage)
		}
		for _, dir := range dirs {
			if !isRegularPackage(dir, top) {
				continue
			}
			if !hasModule(os.DirFS(dir), st.Module, false) {
				done[top] = true
				a.fixDrift(ctx, k, dir, missingPrefix(os.DirFS(dir), st.Module, false), false, emit)
			}
			break
		}
	}
}

// missingPrefix returns the shortest prefix of module that its files
// lack: "scrapy.contrib" for "scrapy.contrib.spiders.CrawlSpider".
func missingPrefix(fsys fs.FS, module string, strict bool) string {
	parts := strings.Split(module, ".")
	for i := 2; i <= len(parts); i++ {
		if prefix := strings.Join(parts[:i], "."); !hasModule(fsys, prefix, strict || i < len(parts)) {
			return prefix
		}
	}
	return module
}

// siteDirs are where a kernel's packages are: its own directory first,
// then the base environment's.
func (a *Auto) siteDirs(k *session.Kernel) []string {
	dirs := []string{k.SiteDir()}
	if base := a.Installer.BaseSite(); base != "" {
		dirs = append(dirs, base)
	}
	return dirs
}

// isRegularPackage reports whether dir holds top as a package with an
// __init__.py, or as a module: namespace packages are shared by several
// distributions, so a missing part of one is no version problem.
func isRegularPackage(dir, top string) bool {
	if data, err := os.ReadFile(filepath.Join(dir, top, "__init__.py")); err == nil {
		// pkgutil- and pkg_resources-style namespace packages, shared too.
		text := string(data)
		return !strings.Contains(text, "extend_path") && !strings.Contains(text, "declare_namespace")
	}
	_, ok := moduleFile(os.DirFS(dir), top)
	return ok
}

// fixDrift searches for the newest release of the distribution that
// provides module's top-level package (in dir) that still has module,
// installs it into the session, and says what happened. It returns what
// a user and a model should be told, and whether anything was installed.
func (a *Auto) fixDrift(ctx context.Context, k *session.Kernel, dir, module string, loaded bool, emit func(session.Event)) Recovery {
	if emit == nil {
		emit = func(session.Event) {}
	}
	top, _, _ := strings.Cut(module, ".")
	say := func(r Recovery) Recovery {
		emit(session.Event{Type: event.Stderr, Text: "[interp: " + r.Message + "]\n"})
		return r
	}
	di, _, ok := owner([]string{dir}, top)
	if !ok {
		res := a.Map.Resolve(top)
		if res.Distribution == "" {
			return Recovery{}
		}
		di, ok = distTops(dir)[Normalize(res.Distribution)]
		if !ok {
			di = distInfo{Name: res.Distribution}
		}
	}
	dist := di.Name
	if a.hasFailed(k, dist+" "+module) {
		return Recovery{}
	}
	emit(session.Event{Type: event.Install, Phase: event.PhaseResolving, Package: dist,
		Message: fmt.Sprintf("looking for the newest release of %s that has %s", dist, module)})
	d, err := a.Installer.SearchVersion(ctx, dist, module)
	if err != nil {
		a.markFailed(k, dist+" "+module)
		return say(Recovery{Message: fmt.Sprintf("%s lacks %s, and the search for a release that has it failed: %v", describe(di), module, err)})
	}
	req, ok := d.Requirement()
	if !ok {
		a.markFailed(k, dist+" "+module)
		return say(Recovery{Message: fmt.Sprintf("no release of %s on the index has %s: check the name, or the project's documentation for where it went", dist, module)})
	}
	if d.RemovedIn == "" && di.Version != "" && d.LastWith == di.Version {
		return Recovery{} // the installed version has it: the cause is elsewhere
	}
	base := a.Installer.BaseVersion(ctx, dist)
	req.Override = base != ""
	var installed string
	// Old releases without a wheel are not built: most need compilers
	// and libraries of their time.
	err = a.installing(ctx, k, []Requirement{req}, false, func(ev session.Event) {
		if ev.Phase == event.PhaseInstalled && Normalize(ev.Package) == Normalize(dist) {
			installed = ev.Version
		}
		if ev.Phase != event.PhaseFailed { // said below, in a line of its own
			emit(ev)
		}
	})
	what := fmt.Sprintf("%s was removed in %s %s", module, dist, d.RemovedIn)
	if d.RemovedIn == "" {
		what = fmt.Sprintf("the installed %s lacks %s, which %s has", describe(di), module, d.LastWith)
	}
	if err != nil || installed == "" {
		a.markFailed(k, dist+" "+module)
		reason := "the installer found no release that fits"
		var ie *InstallError
		switch {
		case strings.Contains(fmt.Sprint(err), "no usable wheels"):
			reason = "none has a wheel for this Python"
		case errors.As(err, &ie):
			reason = ie.Reason
		}
		if d.RemovedIn != "" {
			return say(Recovery{Message: fmt.Sprintf("%s; no release before it (%s or older) can be installed here: %s. The code needs porting to a newer %s", what, d.LastWith, reason, dist)})
		}
		return say(Recovery{Message: fmt.Sprintf("%s, but it cannot be installed here: %s", what, reason)})
	}
	a.learn(module, Requirement{Name: dist, Spec: req.Spec, Override: req.Override})
	msg := fmt.Sprintf("%s %s installed: %s", dist, installed, what)
	if base != "" {
		msg = fmt.Sprintf("%s %s installed in this session over the base environment's %s (which is untouched): %s", dist, installed, base, what)
	}
	if loaded {
		msg += "; restart the session to use it (its files are kept)"
	}
	return say(Recovery{Installed: true, Restart: loaded, Message: msg})
}

func describe(di distInfo) string {
	if di.Version == "" {
		return di.Name
	}
	return di.Name + " " + di.Version
}

func (a *Auto) markFailed(k *session.Kernel, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failed == nil {
		a.failed = make(map[string]bool)
	}
	a.failed[k.SiteDir()+"\x00"+Normalize(key)] = true
}

// learnedFile is where learned requirements are kept, beside the cache.
func (a *Auto) learnedFile() string {
	if a.Installer == nil || a.Installer.CacheDir == "" {
		return ""
	}
	return filepath.Join(a.Installer.CacheDir, "interp-versions.json")
}

func (a *Auto) loadLearned() {
	if a.learned != nil {
		return
	}
	a.learned = make(map[string]Requirement)
	if f := a.learnedFile(); f != "" {
		if data, err := os.ReadFile(f); err == nil {
			_ = json.Unmarshal(data, &a.learned)
		}
	}
}

// learn remembers that module needs req, here and on disk.
func (a *Auto) learn(module string, req Requirement) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.loadLearned()
	a.learned[module] = req
	if f := a.learnedFile(); f != "" {
		if data, err := json.Marshal(a.learned); err == nil {
			tmp := f + ".tmp"
			if os.WriteFile(tmp, data, 0o644) == nil {
				_ = os.Rename(tmp, f)
			}
		}
	}
}

// learnedFor returns what an earlier version search found module, or a
// package it is in, to need.
func (a *Auto) learnedFor(module string) (Requirement, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.loadLearned()
	for key := module; ; {
		if r, ok := a.learned[key]; ok {
			return r, true
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			return Requirement{}, false
		}
		key = key[:i]
	}
}

// report tells about problems and guesses before installing.
func (a *Auto) report(p *Plan, emit func(session.Event)) {
	for _, msg := range p.Problems {
		emit(session.Event{Type: event.Install, Phase: event.PhaseFailed, Message: msg})
	}
	for _, st := range p.Imports {
		if st.Ambiguous && st.Distribution != nil && len(st.Candidates) > 1 {
			emit(session.Event{Type: event.Stderr, Text: fmt.Sprintf(
				"[interp: import %s is ambiguous: installing %s; other candidates: %s]\n",
				st.Module, *st.Distribution, strings.Join(st.Candidates[1:], ", "))})
		}
	}
}

// missingModuleRE finds the module in "No module named 'x.y'";
// cannotImportRE the name and module in "cannot import name 'N' from
// 'x.y' (/path)".
var (
	missingModuleRE = regexp.MustCompile(`No module named '([A-Za-z0-9_.]+)'`)
	cannotImportRE  = regexp.MustCompile(`cannot import name '([A-Za-z0-9_]+)' from '([A-Za-z0-9_.]+)'`)
)

// importStmtRE finds the modules of import statements in a traceback,
// whose source lines carry a gutter: "  --> 2 import maya.cmds" for the
// failing line, "      1 import os" for its neighbours.
var importStmtRE = regexp.MustCompile(`(?m)^\s*(?:-->\s*)?(?:\d+\s+)?(?:from\s+([A-Za-z_][\w.]*)\s+import\b|import\s+([A-Za-z_][\w.]*))`)

// Recovery is what Recover did about a failed cell.
type Recovery struct {
	// Installed is true when something was installed that should make
	// the cell work when it is run again.
	Installed bool
	// Restart is true when the session has already imported the version
	// that was replaced: it must be restarted (its files are kept) first.
	Restart bool
	// Message says what happened or what to do, in one line for a user
	// and a model; empty when there is nothing to say.
	Message string
}

// AfterError is Recover, reporting only whether running the cell again
// should now work.
func (a *Auto) AfterError(ctx context.Context, k *session.Kernel, ev session.Event, emit func(session.Event)) bool {
	r := a.Recover(ctx, k, ev, emit)
	return r.Installed && !r.Restart
}

// Recover looks at a cell's error event and does what can be done: it
// installs the module a ModuleNotFoundError names; when the package is
// there but lacks a submodule or name (scrapy.contrib, pymongo.Connection),
// it installs the newest release that still has it; it says so when the
// module is Python 2's, a host application's, or a guess that provides
// nothing, and when the code is Python 2 code. Messages are emitted as
// stderr events and returned. It never re-runs the cell, which may have
// had side effects: the caller decides.
func (a *Auto) Recover(ctx context.Context, k *session.Kernel, ev session.Event, emit func(session.Event)) Recovery {
	if emit == nil {
		emit = func(session.Event) {}
	}
	say := func(msg string) Recovery {
		emit(session.Event{Type: event.Stderr, Text: "[interp: " + msg + "]\n"})
		return Recovery{Message: msg}
	}
	if ev.Type != event.Error {
		return Recovery{}
	}
	if ev.EName == "SyntaxError" || ev.EName == "IndentationError" || ev.EName == "TabError" {
		if why := Python2Syntax("", ev.EName+": "+ev.EValue+"\n"+strings.Join(ev.Traceback, "\n")); why != "" {
			return say(why)
		}
		return Recovery{}
	}
	if ev.EName != "ModuleNotFoundError" && ev.EName != "ImportError" {
		return Recovery{}
	}
	var module string
	if m := missingModuleRE.FindStringSubmatch(ev.EValue); m != nil {
		module = m[1]
	} else if m := cannotImportRE.FindStringSubmatch(ev.EValue); m != nil {
		module = m[2] + "." + m[1]
	}
	if module == "" || strings.HasPrefix(module, ".") {
		return Recovery{}
	}
	top, _, _ := strings.Cut(module, ".")
	res := a.Map.Resolve(module)
	// The statement may name more than the error ("import maya.cmds"
	// fails on maya, a date library on PyPI, but maya.cmds is Maya's).
	for _, m := range importStmtRE.FindAllStringSubmatch(strings.Join(ev.Traceback, "\n"), -1) {
		if full := m[1] + m[2]; strings.HasPrefix(full, module+".") {
			if r := a.Map.Resolve(full); r.Source == SourceHostApp {
				res = r
			}
		}
	}
	if res.Source == SourcePython2 || res.Source == SourceHostApp || res.Source == SourcePrivate || res.Source == SourceDenied {
		return say(res.Reason)
	}
	if a.Map.IsStdlib(module) || a.Installer == nil {
		return Recovery{}
	}
	// The package is there but lacks a part: a version problem.
	for _, dir := range a.siteDirs(k) {
		if module != top && res.Module == top && isRegularPackage(dir, top) {
			if hasModule(os.DirFS(dir), module, true) {
				return Recovery{} // the files have it: the cause is elsewhere
			}
			// The cell has imported the old version already.
			return a.fixDrift(ctx, k, dir, missingPrefix(os.DirFS(dir), module, true), true, emit)
		}
	}
	if res.Distribution == "" || a.hasFailed(k, res.Distribution) {
		return Recovery{}
	}
	if di, ok := distTops(k.SiteDir())[Normalize(res.Distribution)]; ok && !di.Tops[top] {
		// Installed, but its release no longer ships the module.
		return a.fixDrift(ctx, k, k.SiteDir(), top, false, emit)
	}
	if res.Source == SourceIdentity {
		if !a.installGuess(ctx, k, Requirement{Name: res.Distribution}, top, emit) {
			return Recovery{Message: fmt.Sprintf("no PyPI project provides %s; is it a local module, or part of another application?", top)}
		}
	} else if err := a.install(ctx, k, []Requirement{{Name: res.Distribution}}, emit); err != nil {
		return Recovery{Message: err.Error()}
	}
	r := say(fmt.Sprintf("installed %s for import %s; run the cell again to use it", res.Distribution, module))
	r.Installed = true
	return r
}

// installedIn reports whether dist is installed in dir.
func installedIn(dir, dist string) bool {
	_, ok := distTops(dir)[Normalize(dist)]
	return ok
}
