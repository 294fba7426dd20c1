package deps

import (
	"bufio"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// maxModuleText bounds how much of a module's source is read to look
// for a name.
const maxModuleText = 4 << 20

// hasModule reports whether the files of fsys (a wheel, or a directory
// on sys.path) provide module: its packages as directories, its last
// modules as .py files or extension modules, and a final name that is no
// module as a definition or import in its package's or module's source.
// It reads files, never runs them. Unless strict, a last component that
// is no module counts as present (it may be a name the caller cannot
// check yet).
func hasModule(fsys fs.FS, module string, strict bool) bool {
	parts := strings.Split(module, ".")
	dir := ""
	for i, part := range parts {
		p := path.Join(dir, part)
		last := i == len(parts)-1
		if fi, err := fs.Stat(fsys, p); err == nil && fi.IsDir() {
			dir = p
			continue
		}
		if src, ok := moduleFile(fsys, p); ok {
			switch {
			case last:
				return true
			case strings.HasSuffix(src, ".py"):
				// module.name: the rest is an attribute of a module.
				return !strict && i+1 == len(parts)-1 || definesName(fsys, src, parts[i+1])
			default:
				return true // an extension module: its names cannot be read
			}
		}
		if i == 0 {
			return false
		}
		// Not a module: a name defined by the package.
		if !last {
			return false
		}
		if !strict {
			return true
		}
		return definesName(fsys, path.Join(dir, "__init__.py"), part)
	}
	return true
}

// moduleFile finds the file of a plain or extension module at p.
func moduleFile(fsys fs.FS, p string) (string, bool) {
	if _, err := fs.Stat(fsys, p+".py"); err == nil {
		return p + ".py", true
	}
	matches, _ := fs.Glob(fsys, p+".*.so")
	if len(matches) > 0 {
		return matches[0], true
	}
	for _, ext := range []string{".so", ".pyd", ".pyc"} {
		if _, err := fs.Stat(fsys, p+ext); err == nil {
			return p + ext, true
		}
	}
	return "", false
}

// definesName looks for name defined, assigned, imported or listed (in
// __all__ or a lazy-import table) in the source file src.
func definesName(fsys fs.FS, src, name string) bool {
	f, err := fsys.Open(src)
	if err != nil {
		return false
	}
	defer f.Close()
	q := regexp.QuoteMeta(name)
	re := regexp.MustCompile(`^\s*(?:(?:async\s+)?def|class)\s+` + q + `\b|^\s*` + q + `\s*(?::[^=]*)?=[^=]|\bimport\b.*\b` + q + `\b|^\s*` + q + `\s*,?\s*(?:#.*)?$|['"]` + q + `['"]|\bas\s+` + q + `\b|^\s*(?:[\w.]+\s*,\s*)+` + q + `\b`)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	read := 0
	for sc.Scan() {
		line := sc.Text()
		read += len(line)
		if read > maxModuleText {
			break
		}
		if strings.Contains(line, name) && re.MatchString(line) {
			return true
		}
	}
	return false
}

// distTops returns the distributions installed in dir (a directory on
// sys.path), by normalized name, with their versions and the top-level
// modules each provides, from top_level.txt or else RECORD.
func distTops(dir string) map[string]distInfo {
	out := make(map[string]distInfo)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".dist-info")
		if !ok || !e.IsDir() {
			continue
		}
		name, version, _ := strings.Cut(base, "-")
		di := distInfo{Name: name, Version: version, Dir: filepath.Join(dir, e.Name()), Tops: make(map[string]bool)}
		if n := metadataName(filepath.Join(di.Dir, "METADATA")); n != "" {
			di.Name = n // as the project spells it: "scikit-learn", not "scikit_learn"
		}
		if data, err := os.ReadFile(filepath.Join(di.Dir, "top_level.txt")); err == nil {
			for _, l := range strings.Split(string(data), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					di.Tops[strings.Split(l, "/")[0]] = true
				}
			}
		}
		if data, err := os.ReadFile(filepath.Join(di.Dir, "RECORD")); err == nil {
			for _, l := range strings.Split(string(data), "\n") {
				p, _, _ := strings.Cut(l, ",")
				p = strings.Trim(p, `"`)
				first, rest, nested := strings.Cut(p, "/")
				switch {
				case p == "" || strings.HasPrefix(p, "..") || strings.HasSuffix(first, ".dist-info") || strings.HasSuffix(first, ".data") || first == "__pycache__":
				case nested && rest != "":
					di.Tops[first] = true
				case strings.HasSuffix(p, ".py"), strings.HasSuffix(p, ".so"), strings.HasSuffix(p, ".pyd"):
					top, _, _ := strings.Cut(p, ".")
					di.Tops[top] = true
				}
			}
		}
		out[Normalize(name)] = di
	}
	return out
}

// distInfo is one installed distribution.
type distInfo struct {
	Name, Version, Dir string
	Tops               map[string]bool
}

// owner returns the distribution in dirs that provides the top-level
// module top, and the directory it is in.
func owner(dirs []string, top string) (distInfo, string, bool) {
	for _, d := range dirs {
		for _, di := range distTops(d) {
			if di.Tops[top] {
				return di, d, true
			}
		}
	}
	return distInfo{}, "", false
}

// metadataName reads the Name field of a METADATA file.
func metadataName(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; i < 20 && sc.Scan(); i++ {
		if n, ok := strings.CutPrefix(sc.Text(), "Name: "); ok {
			return strings.TrimSpace(n)
		}
	}
	return ""
}
