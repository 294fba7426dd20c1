package deps

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// Builder builds wheels from source distributions inside sandboxes. A
// setup.py or build backend is untrusted code: it runs only in a sandbox
// with no network, which sees the base environment and the build
// requirements read-only and gets the sdist on its standard input.
type Builder struct {
	Backend sandbox.Backend
	Runtime *python.Runtime
	// Limits bound one build; BuildLimits if zero.
	Limits sandbox.Limits
}

// BuildLimits are a build's default limits: compiling takes more room
// and time than a cell.
var BuildLimits = sandbox.Limits{Memory: 2 << 30, Disk: 2 << 30, Timeout: 5 * time.Minute, CPUTime: 10 * time.Minute, Output: 600 << 20, Processes: 256}

// maxSdist bounds a downloaded source distribution.
const maxSdist = 400 << 20

// builtDir holds the wheels built from sdists, named as built, and for
// each sdist (by sha256) a marker naming its wheel. uv is pointed at it
// with --find-links.
func (in *Installer) builtDir() string { return filepath.Join(in.CacheDir, "interp-built") }

// noWheelRE finds the distribution uv could not install for want of a
// wheel, in its condensed message.
var noWheelRE = regexp.MustCompile(`Because (?:all versions of )?([A-Za-z0-9][A-Za-z0-9._-]*)(?:[=<>!~][^ ]*)? ha(?:s|ve) no usable wheels`)

// NeedsBuild returns the distribution an install error says has no
// wheel, or "".
func NeedsBuild(err error) string {
	if err == nil {
		return ""
	}
	if m := noWheelRE.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

// BuildSdist downloads the newest source distribution of dist that
// satisfies spec (a specifier such as "==1.0" or "<2", or ""), builds a
// wheel from it with b, and keeps the wheel in the cache, where later
// installs find it. A wheel built before from the same sdist (by hash) is
// reused. The error says in one line what is missing when the build needs
// a compiler or a system library.
func (in *Installer) BuildSdist(ctx context.Context, dist, spec string, b *Builder, emit func(session.Event)) error {
	if emit == nil {
		emit = func(session.Event) {}
	}
	if b == nil || b.Backend == nil || b.Runtime == nil {
		return &InstallError{dist, "it is published only as source, and building needs a sandbox"}
	}
	if b.Backend.Name() == "unsafe" {
		return &InstallError{dist, "it is published only as source, and a build runs its setup.py: refused without a sandbox"}
	}
	if err := in.Check([]Requirement{{Name: dist}}); err != nil {
		return err
	}
	if err := in.prepare(ctx); err != nil {
		return err
	}
	c := newIndexClient(in.IndexURL)
	files, err := c.files(ctx, dist)
	if err != nil {
		return &InstallError{dist, err.Error()}
	}
	var best *indexFile
	var bestV version
	for i, f := range files {
		vs, ok := f.sdist()
		if !ok || f.Yanked {
			continue
		}
		v, ok := parseVersion(vs)
		if !ok || v.pre || !specAllows(spec, v) {
			continue
		}
		if best == nil || v.compare(bestV) > 0 {
			best, bestV = &files[i], v
		}
	}
	if best == nil {
		return &InstallError{dist, "it has no wheel for this Python and no source distribution that fits " + strings.TrimSpace(dist+spec)}
	}
	emit(session.Event{Type: event.Install, Phase: event.PhaseDownloading, Package: dist, Version: bestV.text,
		Message: "no wheel: building " + best.Filename + " from source in a sandbox without network"})
	data, err := c.download(ctx, *best)
	if err != nil {
		return &InstallError{dist, err.Error()}
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	dir := in.builtDir()
	marker := filepath.Join(dir, ".sdist-"+hash)
	if name, err := os.ReadFile(marker); err == nil {
		if _, err := os.Stat(filepath.Join(dir, string(name))); err == nil {
			return nil // built before
		}
	}
	requires, err := buildRequires(best.Filename, data)
	if err != nil {
		return &InstallError{dist, err.Error()}
	}
	env := filepath.Join(in.CacheDir, "interp-buildenv", hashStrings(requires))
	if len(requires) > 0 {
		var reqs []Requirement
		for _, r := range requires {
			req, err := ParseRequirement(r)
			if err != nil {
				return &InstallError{dist, fmt.Sprintf("its build requirement %q is not supported", r)}
			}
			reqs = append(reqs, req)
		}
		if err := os.MkdirAll(env, 0o755); err != nil {
			return err
		}
		if err := in.Install(ctx, env, reqs, nil); err != nil {
			return &InstallError{dist, "its build requirements cannot be installed: " + err.Error()}
		}
	}
	name, wheel, err := b.build(ctx, best.Filename, data, env)
	if err != nil {
		return &InstallError{dist, err.Error()}
	}
	if got, _, _ := strings.Cut(name, "-"); Normalize(got) != Normalize(dist) {
		return &InstallError{dist, fmt.Sprintf("its build made a wheel for another project (%s)", name)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, name), wheel); err != nil {
		return err
	}
	return writeFileAtomic(marker, []byte(name))
}

func writeFileAtomic(file string, data []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

func hashStrings(s []string) string {
	sum := sha256.Sum256([]byte(strings.Join(s, "\n")))
	return hex.EncodeToString(sum[:8])
}

// download fetches a whole file of the index.
func (c *indexClient) download(ctx context.Context, f indexFile) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", f.Filename, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", f.Filename, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSdist+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", f.Filename, err)
	}
	if len(data) > maxSdist {
		return nil, fmt.Errorf("%s is over %s", f.Filename, sandbox.FormatBytes(maxSdist))
	}
	return data, nil
}

// buildRequires reads the build requirements from an sdist's
// pyproject.toml (read as data, never run), setuptools and wheel when it
// has none.
func buildRequires(filename string, data []byte) ([]string, error) {
	text, err := sdistMember(filename, data, "pyproject.toml")
	if err != nil {
		return nil, err
	}
	reqs := []string{"setuptools<81", "wheel"} // the legacy default; pkg_resources is still in <81
	if m := buildSystemRE.FindStringSubmatch(text); m != nil {
		if r := requiresRE.FindStringSubmatch(m[1]); r != nil {
			reqs = nil
			for _, q := range quotedRE.FindAllStringSubmatch(r[1], -1) {
				reqs = append(reqs, strings.TrimSpace(strings.Split(q[1], ";")[0]))
			}
		}
	}
	slices.Sort(reqs)
	return slices.Compact(reqs), nil
}

var (
	buildSystemRE = regexp.MustCompile(`(?s)\[build-system\](.*?)(?:\n\[|$)`)
	requiresRE    = regexp.MustCompile(`(?s)requires\s*=\s*\[(.*?)\]`)
	quotedRE      = regexp.MustCompile(`["']([^"']+)["']`)
)

// sdistMember returns the text of name in the sdist's top directory, ""
// if it has none.
func sdistMember(filename string, data []byte, name string) (string, error) {
	if strings.HasSuffix(filename, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return "", fmt.Errorf("%s: %w", filename, err)
		}
		for _, f := range zr.File {
			if _, rest, ok := strings.Cut(f.Name, "/"); ok && rest == name {
				rc, err := f.Open()
				if err != nil {
					return "", err
				}
				defer rc.Close()
				b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
				return string(b), err
			}
		}
		return "", nil
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%s: %w", filename, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", filename, err)
		}
		if _, rest, ok := strings.Cut(path.Clean(h.Name), "/"); ok && rest == name && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			return string(b), err
		}
	}
}

// buildScript runs in the sandbox: it unpacks the sdist from stdin into
// the workspace, builds a wheel with the sdist's PEP 517 backend
// (setuptools' legacy one for a bare setup.py), and writes a JSON line
// with the wheel's name and then the wheel to stdout. The build's own
// output goes to stderr.
const buildScript = `import errno, io, json, os, shutil, sys, tarfile, zipfile, importlib
out = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
# Landlock refuses to move a file to another directory (EXDEV), which
# build backends do with their temporary files: copy instead.
def _moving(rename):
    def move(src, dst, *args, **kwargs):
        try:
            return rename(src, dst, *args, **kwargs)
        except OSError as e:
            if e.errno != errno.EXDEV or args or kwargs:
                raise
            if os.path.isdir(src):
                shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
                shutil.rmtree(src)
            else:
                shutil.copy2(src, dst)
                os.unlink(src)
    return move
os.rename, os.replace = _moving(os.rename), _moving(os.replace)
name, env = sys.argv[1], sys.argv[2]
if env:
    sys.path.insert(0, env)
data = sys.stdin.buffer.read()
src = "/workspace/src"
if name.endswith(".zip"):
    zipfile.ZipFile(io.BytesIO(data)).extractall(src)
else:
    tf = tarfile.open(fileobj=io.BytesIO(data))
    try:
        tf.extractall(src, filter="data")
    except TypeError:  # before 3.11.4; the sandbox contains what escapes
        tf.extractall(src)
tops = os.listdir(src)
root = os.path.join(src, tops[0]) if len(tops) == 1 else src
os.chdir(root)
backend, paths = "setuptools.build_meta:__legacy__", []
if os.path.exists("pyproject.toml"):
    import tomllib
    with open("pyproject.toml", "rb") as f:
        bs = tomllib.load(f).get("build-system", {})
    backend = bs.get("build-backend", backend)
    paths = [os.path.join(root, p) for p in bs.get("backend-path", [])]
sys.path[:0] = paths + [root]
mod, _, obj = backend.partition(":")
b = importlib.import_module(mod)
for part in filter(None, obj.split(".")):
    b = getattr(b, part)
os.makedirs("/workspace/out")
wheel = b.build_wheel("/workspace/out")
with open(os.path.join("/workspace/out", wheel), "rb") as f:
    body = f.read()
out.write(json.dumps({"wheel": wheel}).encode() + b"\n" + body)
out.close()
`

// wheelNameRE is what a built wheel's file name may look like.
var wheelNameRE = regexp.MustCompile(`^[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+(?:-[0-9][A-Za-z0-9_.]*)?-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+\.whl$`)

// build builds a wheel from an sdist in a new sandbox.
func (b *Builder) build(ctx context.Context, filename string, sdist []byte, env string) (string, []byte, error) {
	limits := b.Limits
	if limits == (sandbox.Limits{}) {
		limits = BuildLimits
	}
	// A C extension needs a compiler: the build sandbox shows one.
	ro := append(slices.Clone(b.Runtime.ReadOnly), python.Toolchain()...)
	if _, err := os.Stat(env); err == nil {
		if strings.HasPrefix(env, sandbox.TmpDir+"/") {
			return "", nil, fmt.Errorf("the package cache %s is under %s, which a sandbox's own %s covers: move it", filepath.Dir(filepath.Dir(env)), sandbox.TmpDir, sandbox.TmpDir)
		}
		ro = append(ro, env)
	} else {
		env = ""
	}
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 64 << 10}
	proc, err := b.Backend.Start(ctx, &sandbox.Spec{
		Argv:     []string{b.Runtime.Executable, "-I", "-B", "-c", buildScript, filename, env},
		Env:      append(sandbox.DefaultEnv(), "PYTHONDONTWRITEBYTECODE=1"),
		ReadOnly: ro,
		Stdin:    bytes.NewReader(sdist),
		Stdout:   &stdout,
		Stderr:   stderr,
		Limits:   limits,
	})
	if err != nil {
		return "", nil, fmt.Errorf("start a build sandbox: %w", err)
	}
	res, err := proc.Wait()
	if err != nil {
		return "", nil, fmt.Errorf("build sandbox: %w", err)
	}
	head, body, ok := bytes.Cut(stdout.Bytes(), []byte("\n"))
	var meta struct {
		Wheel string `json:"wheel"`
	}
	if res.ExitCode != 0 || !ok || json.Unmarshal(head, &meta) != nil {
		if res.Reason != "" {
			return "", nil, fmt.Errorf("the build was stopped: %v", res.Reason)
		}
		return "", nil, errors.New(buildFailure(stderr.String()))
	}
	if !wheelNameRE.MatchString(meta.Wheel) {
		return "", nil, fmt.Errorf("the build made a wheel with an unusable name %q", meta.Wheel)
	}
	if _, err := zip.NewReader(bytes.NewReader(body), int64(len(body))); err != nil {
		return "", nil, fmt.Errorf("the build made a broken wheel: %w", err)
	}
	return meta.Wheel, body, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// Known system libraries by the header or tool a failed build missed.
var systemLibs = map[string]string{
	"portaudio.h": "portaudio (Debian: portaudio19-dev)", "mysql.h": "libmysqlclient (Debian: default-libmysqlclient-dev)",
	"mysql_config": "libmysqlclient (Debian: default-libmysqlclient-dev)", "pg_config": "libpq (Debian: libpq-dev)",
	"libpq-fe.h": "libpq (Debian: libpq-dev)", "ffi.h": "libffi (Debian: libffi-dev)", "openssl/ssl.h": "OpenSSL (Debian: libssl-dev)",
	"Python.h": "the Python headers (Debian: python3-dev)", "lber.h": "OpenLDAP (Debian: libldap2-dev)", "ldap.h": "OpenLDAP (Debian: libldap2-dev)",
	"sql.h": "unixODBC (Debian: unixodbc-dev)", "krb5.h": "Kerberos (Debian: libkrb5-dev)", "gmp.h": "GMP (Debian: libgmp-dev)",
	"cairo.h": "cairo (Debian: libcairo2-dev)", "hdf5.h": "HDF5 (Debian: libhdf5-dev)", "alsa/asoundlib.h": "ALSA (Debian: libasound2-dev)",
	"libxml/xmlversion.h": "libxml2 (Debian: libxml2-dev)", "jpeglib.h": "libjpeg (Debian: libjpeg-dev)", "zlib.h": "zlib (Debian: zlib1g-dev)",
	"gdal.h": "GDAL (Debian: libgdal-dev)", "geos_c.h": "GEOS (Debian: libgeos-dev)", "sndfile.h": "libsndfile (Debian: libsndfile1-dev)",
}

var (
	headerRE   = regexp.MustCompile(`fatal error: ([\w/.+-]+\.h): No such file`)
	compilerRE = regexp.MustCompile(`(?i)(?:unable to execute|command) '([\w.+-]*(?:gcc|cc|clang|g\+\+|c\+\+))'(?: failed)?|([\w.+-]*(?:gcc|g\+\+|cc)): (?:command )?not found|error: command '([\w/.+-]+)' failed: No such file|No such file or directory: '([\w/.+-]*(?:gcc|g\+\+|cc|clang))'`)
	toolRE     = regexp.MustCompile(`(mysql_config|pg_config|pkg-config|gfortran|cargo|rustc|cmake|swig)(?::| )(?:command )?not found|(?i)can't find Rust compiler|Package '?([\w.+-]+)'? was not found in the pkg-config search path`)
)

// buildFailure condenses a failed build's output to one line naming what
// is missing when it can tell.
func buildFailure(log string) string {
	if m := headerRE.FindStringSubmatch(log); m != nil {
		if lib, ok := systemLibs[m[1]]; ok {
			return "building it needs the system library " + lib + ", which this host lacks"
		}
		return "building it needs the C header " + m[1] + " from a system library this host lacks"
	}
	if m := toolRE.FindStringSubmatch(log); m != nil {
		switch {
		case m[2] != "":
			return "building it needs the system library " + m[2] + " (found through pkg-config), which this host lacks"
		case m[1] == "cargo" || m[1] == "rustc" || m[1] == "":
			return "building it needs a Rust compiler, which this host lacks"
		case m[1] == "gfortran":
			return "building it needs a Fortran compiler (gfortran), which this host lacks"
		case systemLibs[m[1]] != "":
			return "building it needs the system library " + systemLibs[m[1]] + ", which this host lacks"
		default:
			return "building it needs " + m[1] + ", which this host lacks"
		}
	}
	if compilerRE.MatchString(log) {
		return "building it needs a C compiler, which this host lacks"
	}
	var last string
	for _, l := range strings.Split(log, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "^") {
			last = l
		}
	}
	if len(last) > 300 {
		last = last[:300] + "..."
	}
	return "its build failed: " + last
}

// specAllows reports whether v satisfies a specifier such as ">=1,<2";
// an empty one allows everything.
func specAllows(spec string, v version) bool {
	for _, clause := range strings.Split(spec, ",") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		i := strings.IndexFunc(clause, func(r rune) bool { return r != '=' && r != '<' && r != '>' && r != '!' && r != '~' })
		if i <= 0 {
			return false
		}
		op, vs := clause[:i], strings.TrimSpace(clause[i:])
		if strings.HasSuffix(vs, ".*") {
			prefix := strings.TrimSuffix(vs, ".*")
			match := v.text == prefix || strings.HasPrefix(v.text, prefix+".")
			if (op == "==") != match {
				return false
			}
			continue
		}
		w, ok := parseVersion(vs)
		if !ok {
			return false
		}
		c := v.compare(w)
		var allowed bool
		switch op {
		case "==", "===":
			allowed = c == 0
		case "!=":
			allowed = c != 0
		case "<":
			allowed = c < 0
		case "<=":
			allowed = c <= 0
		case ">":
			allowed = c > 0
		case ">=":
			allowed = c >= 0
		case "~=":
			upper := slices.Clone(w.release[:max(len(w.release)-1, 1)])
			upper[len(upper)-1]++
			allowed = c >= 0 && v.compare(version{epoch: w.epoch, release: upper}) < 0
		default:
			return false
		}
		if !allowed {
			return false
		}
	}
	return true
}
