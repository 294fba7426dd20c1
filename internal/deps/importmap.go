package deps

import (
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed importmap.tsv
var importMapData string

//go:embed overrides.tsv
var overridesData string

//go:embed denylist.txt
var denylistData string

//go:embed stdlib.txt
var stdlibData string

//go:embed hostapps.txt
var hostAppsData string

//go:embed py2stdlib.tsv
var py2Data string

// Sources of a Resolution.
const (
	// SourceOverride: the hand-made overrides.tsv decided.
	SourceOverride = "override"
	// SourceMap: the generated importmap.tsv decided.
	SourceMap = "map"
	// SourceIdentity: nothing is known about the name, so the top-level
	// import name itself is the guess (what pip would be asked for).
	SourceIdentity = "identity"
	// SourceDenied: nothing may be installed: the import name is itself a
	// denied distribution name (`import request`, a typo for requests), or
	// every answer was on the deny list.
	SourceDenied = "denied"
	// SourceHostApp: nothing may be installed: the module exists only
	// inside a host application (Blender's bpy, Maya, IDA Pro...).
	SourceHostApp = "host-application"
	// SourcePython2: nothing may be installed: the module is Python 2's
	// standard library, renamed or removed in Python 3.
	SourcePython2 = "python2"
	// SourcePrivate: nothing may be installed: the name starts with "_",
	// a private module of some other package, never a project to guess.
	SourcePrivate = "private"
)

// AmbiguityFactor is how close two ranked candidates must be for a map
// answer to be flagged ambiguous: the runner-up's download rank is at most
// AmbiguityFactor times the best one's (download counts roughly follow the
// inverse of the rank, so this means "within about a factor of two in
// downloads").
const AmbiguityFactor = 2

// MaxCandidates bounds Resolution.Candidates (the generator keeps as many).
const MaxCandidates = 5

// Resolution is the answer for one import.
type Resolution struct {
	// Module is the import name that decided the answer: the longest
	// dotted prefix of the asked name found in the overrides or the map
	// ("google.protobuf" for "google.protobuf.json_format"), else the
	// top-level name.
	Module string
	// Distribution is the PyPI distribution to install, spelled as the
	// project spells it ("PyYAML"); pip accepts any spelling. Empty when
	// nothing should be installed: the name is no valid absolute module
	// name, or the only answer is denied.
	Distribution string
	// Candidates lists the plausible distributions, best first; the first
	// is Distribution. Denied names never appear. At most MaxCandidates.
	Candidates []string
	// Ambiguous is true when the map (not an override) decides and either
	// the two best candidates cannot be told apart by popularity (both
	// are among PyPI's 15,000 most downloaded and the runner-up's rank is
	// within AmbiguityFactor of the best one's, or neither is ranked), or
	// the answer comes from a shorter prefix that is a namespace shared
	// by several distributions ("azure.foo" matched only by "azure").
	// A caller may then ask the user or try the candidates in turn.
	Ambiguous bool
	// Source is one of SourceOverride, SourceMap, SourceIdentity,
	// SourceDenied, SourceHostApp, SourcePython2 or SourcePrivate; empty
	// for an invalid name.
	Source string
	// Reason says, in one line for a user, why nothing is installed when
	// Distribution is empty ("Python 2 module; in Python 3 use io").
	Reason string
}

// candidate is one distribution of a map entry.
type candidate struct {
	name string
	rank int // among PyPI's 15,000 most downloaded; 0 when unranked
}

// Map resolves import names to distributions. It is immutable once built
// and safe for concurrent use.
type Map struct {
	entries   map[string][]candidate
	overrides map[string][]string
	// namespaces holds every proper prefix of a dotted map entry.
	namespaces map[string]bool
	deny       map[string]bool // normalised names
	stdlib     map[string]bool
	hostApps   map[string]string // module -> application
	py2        map[string]string // Python 2 module -> Python 3 replacement
}

var loadDefault = sync.OnceValues(func() (*Map, error) {
	return parseMap(importMapData, overridesData, denylistData, stdlibData)
})

// parsePairs reads a module<TAB>text data file.
func parsePairs(name, data string) (map[string]string, error) {
	out := make(map[string]string)
	err := dataLines(data, func(n int, line string) error {
		k, v, ok := strings.Cut(line, "\t")
		if !ok || !validModule(k) || strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s:%d: want module<TAB>text, got %q", name, n, line)
		}
		if _, dup := out[k]; dup {
			return fmt.Errorf("%s:%d: duplicate module %q", name, n, k)
		}
		out[k] = strings.TrimSpace(v)
		return nil
	})
	return out, err
}

// Python2 returns the Python 3 replacement of a Python 2 standard-library
// module (by its top-level name), or "" if module is not one.
func (m *Map) Python2(module string) string {
	top, _, _ := strings.Cut(strings.TrimSpace(module), ".")
	return m.py2[top]
}

// LoadMap returns the map built from the embedded data files. The files are
// parsed once; every call returns the same immutable Map.
func LoadMap() (*Map, error) {
	return loadDefault()
}

// IsStdlib reports whether module (dotted or not) belongs to the standard
// library, by its top-level name, according to the embedded list (Python 2
// and 3 names, from pipreqs and the sandbox Python's
// sys.stdlib_module_names). The sandbox interpreter is the authority at
// run time; this list is the fallback.
func IsStdlib(module string) bool {
	m, err := LoadMap()
	if err != nil {
		return false
	}
	return m.IsStdlib(module)
}

// IsStdlib is the package-level IsStdlib for this map's stdlib list.
func (m *Map) IsStdlib(module string) bool {
	top, _, _ := strings.Cut(strings.TrimSpace(module), ".")
	return top != "" && m.stdlib[top]
}

// Denied reports whether dist (any spelling) is on the deny list.
func (m *Map) Denied(dist string) bool {
	return m.deny[Normalize(dist)]
}

// Normalize returns the PEP 503 normal form of a distribution name: lower
// case, with each run of '-', '_' and '.' replaced by one '-'.
func Normalize(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// Resolve returns the distribution for an imported module. module is an
// absolute import name, dotted or not ("cv2", "google.protobuf.json_format");
// the longest dotted prefix known to the overrides or the map decides, an
// override winning over the map for the same name. Unknown names resolve
// to their top-level name (SourceIdentity). A denied distribution is never
// returned, and an import whose top-level name is a denied distribution
// name resolves to nothing (SourceDenied). Python 2 standard-library
// names (SourcePython2), modules of host applications such as Blender's
// bpy (SourceHostApp) and private names starting with "_" (SourcePrivate)
// resolve to nothing either, with a Reason. The caller is expected to have
// ruled out standard-library modules (IsStdlib) and the user's own modules
// first.
func (m *Map) Resolve(module string) Resolution {
	module = strings.TrimSpace(module)
	if !validModule(module) {
		return Resolution{Module: module}
	}
	top, _, _ := strings.Cut(module, ".")
	if repl := m.py2[top]; repl != "" {
		return Resolution{Module: top, Source: SourcePython2,
			Reason: fmt.Sprintf("%s is a Python 2 module; in Python 3 use %s", top, repl)}
	}
	for key := module; ; {
		if app := m.hostApps[key]; app != "" {
			return Resolution{Module: key, Source: SourceHostApp,
				Reason: fmt.Sprintf("%s exists only inside %s's own Python, not on PyPI: run this code there", key, app)}
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	if strings.HasPrefix(top, "_") {
		return Resolution{Module: top, Source: SourcePrivate,
			Reason: fmt.Sprintf("%s is a private module of some other package, not a PyPI project: import that package instead", top)}
	}
	if m.Denied(top) {
		// An import named like a reported malicious package is a typo for
		// the real one ("request" for "requests"): installing anything for
		// it would be wrong, whatever package happens to ship the module.
		return Resolution{Module: top, Source: SourceDenied,
			Reason: fmt.Sprintf("%s is the name of a known malicious package: check the spelling of the import", top)}
	}
	for key := module; ; {
		if dists, ok := m.overrides[key]; ok {
			if r, ok := m.fromOverride(key, dists); ok {
				return r
			}
		}
		if cands, ok := m.entries[key]; ok {
			if r, ok := m.fromMap(key, cands); ok {
				if key != module && m.namespaces[key] && len(r.Candidates) > 1 {
					r.Ambiguous = true
				}
				return r
			}
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return Resolution{Module: top, Distribution: top, Candidates: []string{top}, Source: SourceIdentity}
}

func (m *Map) fromOverride(key string, dists []string) (Resolution, bool) {
	var out []string
	for _, d := range dists {
		if !m.Denied(d) && len(out) < MaxCandidates {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return Resolution{}, false
	}
	return Resolution{Module: key, Distribution: out[0], Candidates: out, Source: SourceOverride}, true
}

func (m *Map) fromMap(key string, cands []candidate) (Resolution, bool) {
	var kept []candidate
	for _, c := range cands {
		if !m.Denied(c.name) && len(kept) < MaxCandidates {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return Resolution{}, false
	}
	names := make([]string, len(kept))
	for i, c := range kept {
		names[i] = c.name
	}
	return Resolution{
		Module:       key,
		Distribution: names[0],
		Candidates:   names,
		Ambiguous:    ambiguous(kept),
		Source:       SourceMap,
	}, true
}

// ambiguous applies the rule documented on Resolution.Ambiguous to
// candidates in the map's order (ranked by rank, then unranked).
func ambiguous(c []candidate) bool {
	if len(c) < 2 {
		return false
	}
	best, next := c[0].rank, c[1].rank
	switch {
	case best == 0 && next == 0:
		return true
	case best == 0 || next == 0:
		return false
	default:
		return next <= AmbiguityFactor*best
	}
}

// Modules returns the import names the map and the overrides know, sorted.
func (m *Map) Modules() []string {
	seen := make(map[string]bool, len(m.entries)+len(m.overrides))
	for k := range m.entries {
		seen[k] = true
	}
	for k := range m.overrides {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func validModule(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !validIdent(part) {
			return false
		}
	}
	return true
}

// validIdent accepts ASCII Python identifiers, the only ones the data has.
func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func validDist(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// dataLines yields the non-blank, non-comment lines of a data file with
// their line numbers.
func dataLines(data string, fn func(n int, line string) error) error {
	for n, line := range strings.Split(data, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if err := fn(n+1, line); err != nil {
			return err
		}
	}
	return nil
}

// parseMap builds a Map from the contents of the four data files.
func parseMap(importMap, overrides, denylist, stdlib string) (*Map, error) {
	m := &Map{
		entries:    make(map[string][]candidate),
		overrides:  make(map[string][]string),
		namespaces: make(map[string]bool),
		deny:       make(map[string]bool),
		stdlib:     make(map[string]bool),
	}
	var err error
	if m.hostApps, err = parsePairs("hostapps.txt", hostAppsData); err != nil {
		return nil, err
	}
	if m.py2, err = parsePairs("py2stdlib.tsv", py2Data); err != nil {
		return nil, err
	}
	err = dataLines(denylist, func(n int, line string) error {
		name := strings.TrimSpace(line)
		if !validDist(name) {
			return fmt.Errorf("denylist.txt:%d: bad distribution name %q", n, name)
		}
		m.deny[Normalize(name)] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = dataLines(stdlib, func(n int, line string) error {
		name := strings.TrimSpace(line)
		if !validIdent(name) {
			return fmt.Errorf("stdlib.txt:%d: bad module name %q", n, name)
		}
		m.stdlib[name] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = dataLines(overrides, func(n int, line string) error {
		f := strings.Split(line, "\t")
		if len(f) < 2 || !validModule(f[0]) {
			return fmt.Errorf("overrides.tsv:%d: want module<TAB>distribution..., got %q", n, line)
		}
		if _, dup := m.overrides[f[0]]; dup {
			return fmt.Errorf("overrides.tsv:%d: duplicate module %q", n, f[0])
		}
		var dists []string
		for _, d := range f[1:] {
			d = strings.TrimSpace(d)
			if d == "" {
				continue
			}
			if !validDist(d) {
				return fmt.Errorf("overrides.tsv:%d: bad distribution name %q", n, d)
			}
			dists = append(dists, d)
		}
		if len(dists) == 0 {
			return fmt.Errorf("overrides.tsv:%d: no distribution for %q", n, f[0])
		}
		m.overrides[f[0]] = dists
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = dataLines(importMap, func(n int, line string) error {
		f := strings.Split(line, "\t")
		if len(f) < 2 || !validModule(f[0]) {
			return fmt.Errorf("importmap.tsv:%d: want module<TAB>distribution[:rank]..., got %q", n, line)
		}
		if _, dup := m.entries[f[0]]; dup {
			return fmt.Errorf("importmap.tsv:%d: duplicate module %q", n, f[0])
		}
		cands := make([]candidate, 0, len(f)-1)
		for _, field := range f[1:] {
			name, rankText, hasRank := strings.Cut(field, ":")
			if !validDist(name) {
				return fmt.Errorf("importmap.tsv:%d: bad distribution name %q", n, name)
			}
			c := candidate{name: name}
			if hasRank {
				r, err := strconv.Atoi(rankText)
				if err != nil || r <= 0 {
					return fmt.Errorf("importmap.tsv:%d: bad rank %q", n, field)
				}
				c.rank = r
			}
			cands = append(cands, c)
		}
		m.entries[f[0]] = cands
		for key := f[0]; strings.Contains(key, "."); {
			key = key[:strings.LastIndexByte(key, '.')]
			m.namespaces[key] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}
