// Package python locates the Python runtime that sandboxes run: the base
// environment built by the set-up script, or the system's own python3.
//
// Sandboxes cannot see home directories, so a runtime inside one (a pyenv
// build under /root, say) is never used.
package python

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/interp-dev/interp/internal/config"
)

// DefaultHome is where the set-up script puts the base environment.
const DefaultHome = config.DefaultHome

// Runtime is a Python installation that sandboxes can run.
type Runtime struct {
	// Executable is the interpreter's path, the same inside and outside.
	Executable string
	// Env is the base environment's directory, or "" for a bare system
	// Python.
	Env string
	// ReadOnly lists the host paths a sandbox must see to run it: the
	// base environment, and what of the system directories the runtime
	// needs (see systemPaths), as a sandbox shows nothing else of them.
	ReadOnly []string
	// UV is the uv installed by the set-up script, or "" if none.
	UV string
}

// Find returns the runtime under home (DefaultHome if empty): its base
// environment when the set-up script has built one, and otherwise the
// system's /usr/bin/python3.
func Find(home string) (*Runtime, error) {
	if home == "" {
		home = DefaultHome
	}
	env := filepath.Join(home, "env")
	exe := filepath.Join(env, "bin", "python")
	uv := filepath.Join(home, "uv", "bin", "uv")
	if _, err := os.Stat(uv); err != nil {
		uv = ""
	}
	if _, err := os.Stat(exe); err == nil {
		return &Runtime{Executable: exe, Env: env, ReadOnly: append([]string{env}, systemPaths(exe, false)...), UV: uv}, nil
	}
	for _, exe := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		if _, err := os.Stat(exe); err == nil {
			rt := System(exe)
			rt.UV = uv
			return rt, nil
		}
	}
	return nil, errors.New("no Python runtime: run scripts/setup to build the base environment, or install python3")
}

// System returns the runtime of a Python installation outside any base
// environment, such as /usr/bin/python3.
func System(exe string) *Runtime {
	return &Runtime{Executable: exe, ReadOnly: systemPaths(exe, true)}
}

// Packages lists the packages the set-up script put in the base
// environment on purpose (not their dependencies), for telling a model what
// it can use. It is empty for a bare system Python.
func (r *Runtime) Packages() []string {
	if r.Env == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(r.Env, ".interp-packages"))
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// BaseLock returns the lock file the set-up script built the base
// environment from, or "" for a bare system Python.
func (r *Runtime) BaseLock() string {
	if r.Env == "" {
		return ""
	}
	return filepath.Join(r.Env, ".interp-lock")
}

// Validate checks that the runtime lives where sandboxes can see it.
func (r *Runtime) Validate() error {
	for _, p := range append([]string{r.Executable}, r.ReadOnly...) {
		if strings.HasPrefix(p, "/root/") || strings.HasPrefix(p, "/home/") {
			return fmt.Errorf("python runtime %s is inside a home directory, which sandboxes cannot see: use scripts/setup", p)
		}
	}
	return nil
}
