package python

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/sandbox"
)

// TestRuntimeSeesItsLibraries checks the derivation of what a sandbox
// shows against every extension module of the base environment: each
// shared library any of them needs is among what the runtime lists.
func TestRuntimeSeesItsLibraries(t *testing.T) {
	t.Parallel()
	rt, err := Find("")
	if err != nil {
		t.Fatal(err)
	}
	if rt.Env == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no base environment: scripts/setup builds it")
		}
		t.Skip("no base environment (scripts/setup builds it)")
	}
	var mods []string
	err = filepath.WalkDir(rt.Env, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.Contains(d.Name(), ".so") {
			mods = append(mods, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) < 10 {
		t.Fatalf("only %d extension modules in %s", len(mods), rt.Env)
	}
	shown := func(lib string) bool {
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return false
		}
		for _, p := range rt.ReadOnly {
			rp, err := filepath.EvalSymlinks(p)
			if err == nil && (rp == real || strings.HasPrefix(real, rp+"/")) {
				return true
			}
		}
		return false
	}
	for _, lib := range sandbox.Libraries(mods...) {
		if !shown(lib) {
			t.Errorf("%s is needed by the base environment but not shown to sandboxes", lib)
		}
	}
	for _, want := range []string{rt.Executable, "/usr/share/zoneinfo/UTC", "/bin/sh"} {
		if !shown(want) {
			t.Errorf("%s is not shown to sandboxes", want)
		}
	}
	for _, p := range rt.ReadOnly {
		if strings.HasPrefix(p, "/usr/local/") || p == "/usr" || p == "/usr/share" || p == "/usr/lib" {
			t.Errorf("%s is shown to sandboxes", p)
		}
	}
}
