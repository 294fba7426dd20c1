package session

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultStateDir is where kernels keep host-side state unless configured.
// Not under /tmp: a sandbox's own /tmp covers the host's.
func DefaultStateDir() string {
	return filepath.Join("/var/tmp", fmt.Sprintf("interp-%d", os.Getuid()))
}

// newSiteDir returns the kernel's package directory: the one handed over
// by a predecessor, or a new empty one named after this process, so that
// SweepStale can tell whose it is.
func newSiteDir(cfg Config) (string, error) {
	if cfg.siteDir != "" {
		return cfg.siteDir, nil
	}
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return "", fmt.Errorf("session: state directory: %w", err)
	}
	dir, err := os.MkdirTemp(cfg.StateDir, fmt.Sprintf("site-%d-", os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("session: package directory: %w", err)
	}
	// The sandbox user must be able to read it.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// SweepStale removes host-side state left by kernels of processes that
// died without cleaning up, such as an interp killed with SIGKILL.
func SweepStale(stateDir string) {
	if stateDir == "" {
		stateDir = DefaultStateDir()
	}
	entries, _ := os.ReadDir(stateDir)
	for _, e := range entries {
		f := strings.Split(e.Name(), "-")
		if len(f) < 3 || f[0] != "site" {
			continue
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		os.RemoveAll(filepath.Join(stateDir, e.Name()))
	}
}
