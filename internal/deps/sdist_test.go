package deps_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
)

// A project published only as source, that needs no compiler, is built
// in a sandbox and installed; the wheel is kept for the next install.
func TestPureSdistIsBuiltInASandbox(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, pypitest.Package{Name: "puresrc", Version: "1.0", SdistOnly: true,
		SdistBackend: pypitest.PureBackend, Modules: map[string]string{"puresrc/__init__.py": "X = 'built in a sandbox'\n"}})
	in := installer(t, idx.URL())
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	var c collect
	code, err := auto.Prepare(context.Background(), k, "import puresrc\nprint(puresrc.X)", nil, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	if out, failure := run(t, k, code); out != "built in a sandbox\n" {
		t.Fatalf("run: %q %+v\n%s", out, failure, c.String())
	}
	built, _ := filepath.Glob(filepath.Join(in.CacheDir, "interp-built", "puresrc-1.0-*.whl"))
	if len(built) != 1 {
		t.Errorf("built wheels in the cache: %v", built)
	}
	// A second session installs the cached wheel.
	k2 := kernel(t)
	code, _ = auto.Prepare(context.Background(), k2, "import puresrc\nprint(puresrc.X)", nil, nil)
	if out, failure := run(t, k2, code); out != "built in a sandbox\n" {
		t.Errorf("second session: %q %+v", out, failure)
	}
}

// An sdist whose build reads host files, writes to the host and reaches
// the network fails inside the sandbox, and the host is left untouched.
func TestHostileSdistFailsInsideTheSandbox(t *testing.T) {
	t.Parallel()
	r := make([]byte, 8)
	rand.Read(r)
	tag := hex.EncodeToString(r)
	secret := filepath.Join(os.TempDir(), "interp-secret-"+tag)
	if err := os.WriteFile(secret, []byte("SECRET-"+tag), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(secret) })
	// A host directory: the sandbox's own /tmp must not reach it.
	marker := filepath.Join(t.TempDir(), "hostile-ran")

	idx := pypitest.NewIndex(t)
	host, port, _ := strings.Cut(strings.TrimPrefix(idx.ServerURL(), "http://"), ":")
	backend := fmt.Sprintf(`import socket
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    got = []
    for p in [%q, "/etc/shadow", %q]:
        try:
            got.append(open(p).read()[:40])
        except OSError:
            got.append("read-denied")
    try:
        open(%q, "w").write("ran")
        got.append("wrote-marker")
    except OSError:
        got.append("write-denied")
    try:
        socket.create_connection((%q, %s), timeout=3)
        got.append("net-open")
    except OSError:
        got.append("net-denied")
    raise RuntimeError("hostile build: " + " ".join(got))
`, secret, filepath.Join(os.Getenv("HOME"), ".bashrc"), marker, host, port)
	idx.Add(pypitest.Package{Name: "hostile", Version: "1.0", SdistOnly: true, SdistBackend: backend,
		Modules: map[string]string{"hostile/__init__.py": ""}})

	in := installer(t, idx.URL())
	k := kernel(t)
	auto := &deps.Auto{Installer: in, Map: in.Map}
	var c collect
	if _, err := auto.Prepare(context.Background(), k, "import hostile", nil, c.emit); err != nil {
		t.Fatal(err)
	}
	if !c.has("hostile build: read-denied read-denied read-denied write-denied net-denied") {
		t.Errorf("the build did not fail inside the sandbox as expected:\n%s", c.String())
	}
	if strings.Contains(c.String(), "SECRET-") {
		t.Error("a host file reached the build")
	}
	if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the build wrote to the host: %v", err)
	}
	entries, _ := os.ReadDir(k.SiteDir())
	for _, e := range entries {
		t.Errorf("left in the package directory: %s", e.Name())
	}
}
