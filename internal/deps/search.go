package deps

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Drift is what a version search found about a module or name that the
// installed version of a distribution lacks.
type Drift struct {
	Module string // "scrapy.contrib", or "pymongo.Connection"
	Dist   string // the distribution searched, as the caller named it
	// LastWith is the newest release that has Module, "" if none has.
	LastWith string
	// RemovedIn is the release after LastWith, the first without Module;
	// "" when the newest release has it.
	RemovedIn string
	// Probes is how many releases' file lists were read.
	Probes int
}

// Requirement returns what to install to get Module back: the newest
// release before RemovedIn (the installer picks one with a wheel for
// this Python), or the newest release if it has Module.
func (d Drift) Requirement() (Requirement, bool) {
	switch {
	case d.LastWith == "":
		return Requirement{}, false
	case d.RemovedIn == "":
		return Requirement{Name: d.Dist, Spec: ">=" + d.LastWith}, true
	default:
		return Requirement{Name: d.Dist, Spec: "<" + d.RemovedIn}, true
	}
}

// maxProbes bounds the wheels read by one search: a bisection of 1000
// releases needs 10, plus the two ends.
const maxProbes = 14

// searchVersion finds the newest release of dist whose wheel still has
// module, assuming that once removed it stays removed, by bisecting the
// final releases that have wheels. module's last part may be a module or
// a name defined in its package's source (as in "cannot import name").
func (c *indexClient) searchVersion(ctx context.Context, dist, module string) (Drift, error) {
	d := Drift{Module: module, Dist: dist}
	files, err := c.files(ctx, dist)
	if err != nil {
		return d, err
	}
	type release struct {
		v     version
		wheel indexFile
		score int
	}
	byVersion := make(map[string]*release)
	for _, f := range files {
		vs, ok := f.wheel()
		if !ok || f.Yanked {
			continue
		}
		v, ok := parseVersion(vs)
		if !ok || v.pre {
			continue
		}
		s := wheelScore(f.Filename)
		key := fmt.Sprint(v.epoch, v.release, v.post)
		if r := byVersion[key]; r == nil || s > r.score {
			byVersion[key] = &release{v: v, wheel: f, score: s}
		}
	}
	var rels []*release
	for _, r := range byVersion {
		rels = append(rels, r)
	}
	if len(rels) == 0 {
		return d, fmt.Errorf("%s has no wheels on the index", dist)
	}
	slices.SortFunc(rels, func(a, b *release) int { return a.v.compare(b.v) })

	probed := make(map[int]bool)
	probe := func(i int) (bool, error) {
		if has, ok := probed[i]; ok {
			return has, nil
		}
		if d.Probes >= maxProbes {
			return false, fmt.Errorf("gave up on %s after reading %d releases", dist, d.Probes)
		}
		d.Probes++
		zr, err := c.openWheel(ctx, rels[i].wheel)
		if err != nil {
			return false, err
		}
		has := hasModule(zr, module, true)
		probed[i] = has
		return has, nil
	}
	n := len(rels)
	has, err := probe(n - 1)
	if err != nil {
		return d, err
	}
	if has {
		d.LastWith = rels[n-1].v.text
		return d, nil
	}
	if has, err = probe(0); err != nil || !has {
		return d, err
	}
	lo, hi := 0, n-1 // lo has it, hi has not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		has, err := probe(mid)
		if err != nil {
			return d, err
		}
		if has {
			lo = mid
		} else {
			hi = mid
		}
	}
	d.LastWith, d.RemovedIn = rels[lo].v.text, rels[hi].v.text
	return d, nil
}

// wheelScore prefers the wheel whose files are most likely the ones
// installed here: pure Python, then Linux x86-64 CPython 3, then others.
func wheelScore(name string) int {
	switch {
	case strings.HasSuffix(name, "-none-any.whl"):
		return 3
	case strings.Contains(name, "-cp3") && strings.Contains(name, "linux") && strings.Contains(name, "x86_64"):
		return 2
	case strings.Contains(name, "linux"):
		return 1
	}
	return 0
}
