package deps

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/interp-dev/interp/internal/session"
)

// Auto finds what a cell imports that the session lacks, and installs it
// before the cell runs, or after a ModuleNotFoundError.
type Auto struct {
	Installer *Installer
	Map       *Map

	mu     sync.Mutex
	failed map[string]bool // site + distribution, installs that failed
}

// install installs reqs into the kernel's package directory, remembering
// failures so that the reactive path does not repeat them.
func (a *Auto) install(ctx context.Context, k *session.Kernel, reqs []Requirement, emit func(session.Event)) error {
	err := a.Installer.Install(ctx, k.SiteDir(), reqs, emit)
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
}

// pipLineRE matches the %pip / !pip install lines the runner reports.
var pipLineRE = regexp.MustCompile(`(?m)^([ \t]*)[%!][ \t]*(?:python3?[ \t]+-m[ \t]+)?pip3?[ \t]+install\b.*$`)

// Plan analyses code in the kernel and decides what to install. hints are
// requirements named by the caller, such as a model's tool call.
func (a *Auto) Plan(ctx context.Context, k *session.Kernel, code string, hints []string) (*Plan, error) {
	imports, pip, err := k.Analyze(ctx, code)
	if err != nil {
		return nil, err
	}
	p := &Plan{Code: pipLineRE.ReplaceAllString(code, "${1}pass")}
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
		if imp.Status == session.ImportMissing {
			switch {
			case imp.Group > 0 && satisfied[imp.Group]:
				st.Note = "an alternative in the same try statement is available"
			case imp.Fallback:
				st.Note = "a fallback: the primary import is installed instead"
			default:
				res := a.Map.Resolve(imp.Module)
				st.Candidates, st.Ambiguous = res.Candidates, res.Ambiguous
				if res.Distribution == "" {
					st.Note = "nothing may be installed for it: " + res.Source
					break
				}
				dist := res.Distribution
				st.Distribution = &dist
				add(&p.Detected, Requirement{Name: dist})
			}
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
// the cell's own ImportError then says what is missing.
func (a *Auto) Prepare(ctx context.Context, k *session.Kernel, code string, hints []string, emit func(session.Event)) (string, error) {
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
				p.Detected = again.Detected
			}
		}
	}
	switch {
	case len(p.Detected) == 1:
		_ = a.install(ctx, k, p.Detected, emit)
	case len(p.Detected) > 1:
		// One unknown name must not hold the others back: try them
		// together, then one by one.
		if a.install(ctx, k, p.Detected, nil) != nil {
			for _, r := range p.Detected {
				_ = a.install(ctx, k, []Requirement{r}, emit)
			}
		} else {
			_ = a.install(ctx, k, p.Detected, emit) // cached: reports the installs
		}
	}
	return p.Code, nil
}

// report tells about problems and guesses before installing.
func (a *Auto) report(p *Plan, emit func(session.Event)) {
	for _, msg := range p.Problems {
		emit(session.Event{Type: session.EventInstall, Phase: PhaseFailed, Message: msg})
	}
	for _, st := range p.Imports {
		if st.Ambiguous && st.Distribution != nil && len(st.Candidates) > 1 {
			emit(session.Event{Type: session.EventStderr, Text: fmt.Sprintf(
				"[interp: import %s is ambiguous: installing %s; other candidates: %s]\n",
				st.Module, *st.Distribution, strings.Join(st.Candidates[1:], ", "))})
		}
	}
}

// missingModuleRE finds the module in "No module named 'x.y'".
var missingModuleRE = regexp.MustCompile(`No module named '([A-Za-z0-9_.]+)'`)

// AfterError installs the module a ModuleNotFoundError names. It reports
// the install and returns whether it succeeded; it never re-runs the
// cell, which may have had side effects: the caller decides.
func (a *Auto) AfterError(ctx context.Context, k *session.Kernel, ev session.Event, emit func(session.Event)) bool {
	if ev.Type != session.EventError || (ev.EName != "ModuleNotFoundError" && ev.EName != "ImportError") {
		return false
	}
	m := missingModuleRE.FindStringSubmatch(ev.EValue)
	if m == nil || strings.HasPrefix(m[1], ".") {
		return false
	}
	module := m[1]
	if a.Map.IsStdlib(module) {
		return false
	}
	res := a.Map.Resolve(module)
	if res.Distribution == "" || a.hasFailed(k, res.Distribution) {
		return false
	}
	if err := a.install(ctx, k, []Requirement{{Name: res.Distribution}}, emit); err != nil {
		return false
	}
	emit(session.Event{Type: session.EventStderr, Text: fmt.Sprintf(
		"[interp: installed %s for import %s; run the cell again to use it]\n", res.Distribution, module)})
	return true
}
