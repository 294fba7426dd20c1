// Package pypitest builds Python wheels on the fly and serves them from a
// local PEP 503/691 simple package index, so that tests of the dependency
// installer are hermetic and deterministic.
//
// A test describes the distributions it needs as [Package] values, starts
// an [Index] with [NewIndex] and points the installer at [Index.URL]:
//
//	idx := pypitest.NewIndex(t,
//		pypitest.Package{
//			Name: "tinypkg", Version: "1.0",
//			Modules:  map[string]string{"tinypkg/__init__.py": "VALUE = 42\n"},
//			Requires: []string{"otherpkg>=1.0"},
//		},
//		pypitest.Package{
//			Name: "otherpkg", Version: "1.0",
//			Modules: map[string]string{"otherpkg/__init__.py": ""},
//		},
//	)
//	// uv pip install --index-url idx.URL() --only-binary :all: tinypkg
//
// Everything is generated in memory with fixed timestamps, so the same
// Package always yields byte-identical files (and sha256 digests).
package pypitest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Package describes one distribution (one version of one project).
type Package struct {
	// Name is the project name as written in METADATA, e.g. "Tiny_Pkg".
	// File names and index URLs use its normalized forms.
	Name string
	// Version is used verbatim in METADATA and file names; use a
	// normalized PEP 440 version ("1.0", "2.3.1") to avoid surprises.
	Version string
	// Modules maps a slash-separated path inside the wheel (relative to
	// site-packages) to the file's content, e.g.
	// "tinypkg/__init__.py": "VALUE = 42\n".
	Modules map[string]string
	// Requires holds Requires-Dist values, e.g. "otherpkg>=1.0".
	Requires []string
	// RequiresPython, if set, becomes Requires-Python in METADATA and
	// data-requires-python / requires-python on the index. Empty means
	// the attribute is absent.
	RequiresPython string

	// SdistOnly makes the index offer only a source distribution
	// (name-version.tar.gz) and no wheel. Any attempt to build it runs
	// code that creates the file at SdistMarker, then fails.
	SdistOnly bool
	// SdistMarker is the absolute path the sdist's build code creates if
	// it is ever executed. Empty means DefaultSdistMarker(Name).
	SdistMarker string
	// SdistBackend, if set, is the source of the sdist's in-tree PEP 517
	// build backend (pypitest_backend.py, with no build requirements),
	// used instead of the marker-writing one; the sdist then has no
	// setup.py. See PureBackend for one that builds a working wheel.
	SdistBackend string
}

// PureBackend is a PEP 517 build backend, for Package.SdistBackend, that
// builds a pure-Python wheel of every .py file in the sdist's top
// directory tree (except itself), with the standard library only.
const PureBackend = `import base64, hashlib, os, zipfile

def _meta():
    with open("PKG-INFO") as f:
        return f.read()

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    meta = _meta()
    fields = dict(l.split(": ", 1) for l in meta.splitlines() if ": " in l)
    name, version = fields["Name"].replace("-", "_").lower(), fields["Version"]
    dist_info = "%s-%s.dist-info" % (name, version)
    files = {}
    for root, dirs, names in os.walk("."):
        for n in names:
            p = os.path.relpath(os.path.join(root, n), ".")
            if p.endswith(".py") and p not in ("pypitest_backend.py", "setup.py"):
                with open(p, "rb") as f:
                    files[p.replace(os.sep, "/")] = f.read()
    files[dist_info + "/METADATA"] = meta.encode()
    files[dist_info + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: pypitest\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = ""
    for p, data in sorted(files.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += "%s,sha256=%s,%d\n" % (p, digest, len(data))
    files[dist_info + "/RECORD"] = (record + dist_info + "/RECORD,,\n").encode()
    wheel = "%s-%s-py3-none-any.whl" % (name, version)
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as z:
        for p, data in sorted(files.items()):
            z.writestr(p, data)
    return wheel
`

// fixedTime is the modification time of every generated archive member:
// the earliest time a zip file can represent.
var fixedTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

var separatorRuns = regexp.MustCompile(`[-_.]+`)

// NormalizeName returns the PEP 503 normalized project name: lowercase,
// with every run of "-", "_" and "." replaced by a single "-". It is the
// name used in index URLs.
func NormalizeName(name string) string {
	return separatorRuns.ReplaceAllString(strings.ToLower(name), "-")
}

// distName returns the name as it appears in wheel, sdist and dist-info
// file names: normalized with "_" as the separator.
func distName(name string) string {
	return separatorRuns.ReplaceAllString(strings.ToLower(name), "_")
}

var validName = regexp.MustCompile(`(?i)^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`)

// validVersion is deliberately loose: it only keeps characters that would
// break file names or the wheel file-name grammar out.
var validVersion = regexp.MustCompile(`^[A-Za-z0-9.+!]+$`)

func (p Package) validate() error {
	if !validName.MatchString(p.Name) {
		return fmt.Errorf("pypitest: invalid project name %q", p.Name)
	}
	if !validVersion.MatchString(p.Version) {
		return fmt.Errorf("pypitest: invalid version %q for %s", p.Version, p.Name)
	}
	for _, field := range append(slices.Clone(p.Requires), p.RequiresPython) {
		if strings.ContainsAny(field, "\r\n") {
			return fmt.Errorf("pypitest: %s: metadata value %q contains a newline", p.Name, field)
		}
	}
	return nil
}

// WheelFilename returns the file name of p's wheel,
// "{dist}-{version}-py3-none-any.whl".
func (p Package) WheelFilename() string {
	return distName(p.Name) + "-" + p.Version + "-py3-none-any.whl"
}

// SdistFilename returns the file name of p's source distribution,
// "{dist}-{version}.tar.gz".
func (p Package) SdistFilename() string {
	return distName(p.Name) + "-" + p.Version + ".tar.gz"
}

// DefaultSdistMarker returns the marker path used by an sdist whose
// Package.SdistMarker is empty:
// $TMPDIR/pypitest-sdist-ran-<normalized name>. Tests that run in parallel
// should set Package.SdistMarker to a path under t.TempDir() instead.
func DefaultSdistMarker(name string) string {
	return filepath.Join(os.TempDir(), "pypitest-sdist-ran-"+NormalizeName(name))
}

func (p Package) marker() string {
	if p.SdistMarker != "" {
		return p.SdistMarker
	}
	return DefaultSdistMarker(p.Name)
}

// metadata returns the core metadata (METADATA / PKG-INFO) of p.
func (p Package) metadata() []byte {
	var b strings.Builder
	b.WriteString("Metadata-Version: 2.1\n")
	fmt.Fprintf(&b, "Name: %s\n", p.Name)
	fmt.Fprintf(&b, "Version: %s\n", p.Version)
	if p.RequiresPython != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", p.RequiresPython)
	}
	for _, r := range p.Requires {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	return []byte(b.String())
}

// cleanMember checks that name is a relative, slash-separated path that
// stays inside the archive, and returns it cleaned.
func cleanMember(name string) (string, error) {
	clean := path.Clean(name)
	if name == "" || strings.Contains(name, `\`) || path.IsAbs(name) ||
		clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("pypitest: invalid module path %q", name)
	}
	return clean, nil
}

// recordHash returns a RECORD hash field: "sha256=" and the URL-safe,
// unpadded base64 of the digest.
func recordHash(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// BuildWheel returns the file name and content of a pure-Python wheel
// (py3-none-any) holding p's modules and a dist-info directory with
// METADATA, WHEEL and RECORD. The output depends only on p.
func BuildWheel(p Package) (filename string, data []byte, err error) {
	if err := p.validate(); err != nil {
		return "", nil, err
	}
	distInfo := distName(p.Name) + "-" + p.Version + ".dist-info"

	type member struct {
		name string
		data []byte
	}
	var members []member
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(p.Modules)) {
		clean, err := cleanMember(name)
		if err != nil {
			return "", nil, err
		}
		top, _, _ := strings.Cut(clean, "/")
		if strings.HasSuffix(top, ".dist-info") || strings.HasSuffix(top, ".data") {
			return "", nil, fmt.Errorf("pypitest: module path %q is inside a reserved directory", name)
		}
		if seen[clean] {
			return "", nil, fmt.Errorf("pypitest: duplicate module path %q", name)
		}
		seen[clean] = true
		members = append(members, member{clean, []byte(p.Modules[name])})
	}
	members = append(members,
		member{distInfo + "/METADATA", p.metadata()},
		member{distInfo + "/WHEEL", []byte("Wheel-Version: 1.0\n" +
			"Generator: pypitest\n" +
			"Root-Is-Purelib: true\n" +
			"Tag: py3-none-any\n")},
	)

	var record bytes.Buffer
	cw := csv.NewWriter(&record)
	for _, m := range members {
		cw.Write([]string{m.name, recordHash(m.data), fmt.Sprint(len(m.data))})
	}
	cw.Write([]string{distInfo + "/RECORD", "", ""})
	cw.Flush()
	if err := cw.Error(); err != nil {
		return "", nil, err
	}
	members = append(members, member{distInfo + "/RECORD", record.Bytes()})

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: fixedTime}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return "", nil, err
		}
		if _, err := w.Write(m.data); err != nil {
			return "", nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return "", nil, err
	}
	return p.WheelFilename(), buf.Bytes(), nil
}

// BuildSdist returns the file name and content of a minimal source
// distribution of p: a gzipped tarball with PKG-INFO, a pyproject.toml
// that selects an in-tree build backend with no build requirements, that
// backend, and a setup.py. Both Python files create the marker file
// (Package.SdistMarker or DefaultSdistMarker) as soon as they are run and
// then fail, so a test can tell whether an installer ever executed code
// from the sdist. p.Modules are included under the top directory but are
// never installable.
func BuildSdist(p Package) (filename string, data []byte, err error) {
	if err := p.validate(); err != nil {
		return "", nil, err
	}
	marker := p.marker()
	if !filepath.IsAbs(marker) {
		return "", nil, fmt.Errorf("pypitest: sdist marker %q is not an absolute path", marker)
	}
	// %q of a Go string is a valid Python string literal for the
	// printable paths used here.
	payload := fmt.Sprintf("import pathlib\n"+
		"pathlib.Path(%q).write_text(%q)\n"+
		"raise RuntimeError(\"pypitest: the sdist of %s was built\")\n",
		marker, p.Name+" "+p.Version+"\n", p.Name)

	root := distName(p.Name) + "-" + p.Version
	files := map[string][]byte{
		"PKG-INFO": p.metadata(),
		"pyproject.toml": []byte("[build-system]\n" +
			"requires = []\n" +
			"build-backend = \"pypitest_backend\"\n" +
			"backend-path = [\".\"]\n"),
		"pypitest_backend.py": []byte(payload),
		"setup.py":            []byte(payload),
	}
	if p.SdistBackend != "" {
		files["pypitest_backend.py"] = []byte(p.SdistBackend)
		delete(files, "setup.py")
	}
	for name, content := range p.Modules {
		clean, err := cleanMember(name)
		if err != nil {
			return "", nil, err
		}
		if _, ok := files[clean]; ok {
			return "", nil, fmt.Errorf("pypitest: module path %q clashes with a generated sdist file", name)
		}
		files[clean] = []byte(content)
	}

	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", nil, err
	}
	gz.ModTime = time.Time{}
	gz.OS = 255 // unknown; independent of the build host
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	writeDir := func(dir string) error {
		if dirs[dir] {
			return nil
		}
		dirs[dir] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/",
			Mode: 0o755, ModTime: fixedTime, Format: tar.FormatPAX})
	}
	if err := writeDir(root); err != nil {
		return "", nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		full := root + "/" + name
		var parents []string
		for d := path.Dir(full); d != root; d = path.Dir(d) {
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			if err := writeDir(d); err != nil {
				return "", nil, err
			}
		}
		content := files[name]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: full,
			Mode: 0o644, Size: int64(len(content)), ModTime: fixedTime,
			Format: tar.FormatPAX}); err != nil {
			return "", nil, err
		}
		if _, err := tw.Write(content); err != nil {
			return "", nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return "", nil, err
	}
	if err := gz.Close(); err != nil {
		return "", nil, err
	}
	return p.SdistFilename(), buf.Bytes(), nil
}
