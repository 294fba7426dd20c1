package sandbox

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/interp-dev/interp/internal/sandbox/sandboxinit"
)

// viewCache remembers the expansion of the system paths specs list, which
// are few and the same for every sandbox; other paths (a session's own
// package directory) are expanded each time.
type viewCache struct {
	mu    sync.Mutex
	paths map[string][]sandboxinit.Mount
	trees map[string]*usrTree
}

// view expands paths into what a sandbox's init recreates: every symlink
// met on the way to each path, copied, and the files and directories at
// the end, bound. Entries beneath a bound directory are dropped. The
// top-level system directories that are symlinks (/bin on merged-/usr
// systems) are always copied.
func (c *viewCache) view(paths []string) []sandboxinit.Mount {
	byPath := map[string]sandboxinit.Mount{}
	for _, d := range sandboxinit.SystemDirs {
		if target, err := os.Readlink(d); err == nil {
			byPath[d] = sandboxinit.Mount{Path: d, Link: target}
		}
	}
	for _, p := range paths {
		for _, m := range c.expand(p) {
			// The init builds /etc itself; the symlinks of
			// /etc/alternatives that tools go through are among what it
			// shows of the host's.
			if !strings.HasPrefix(m.Path, "/etc/") {
				byPath[m.Path] = m
			}
		}
	}
	out := make([]sandboxinit.Mount, 0, len(byPath))
	for _, m := range byPath {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b sandboxinit.Mount) int { return strings.Compare(a.Path, b.Path) })
	dirs := map[string]bool{}
	for _, m := range out {
		if m.Dir {
			dirs[m.Path] = true
		}
	}
	kept := out[:0]
outer:
	for _, m := range out {
		for d := filepath.Dir(m.Path); d != "/"; d = filepath.Dir(d) {
			if dirs[d] {
				continue outer
			}
		}
		kept = append(kept, m)
	}
	return c.withTree(kept)
}

func (c *viewCache) expand(p string) []sandboxinit.Mount {
	system := false
	for _, d := range sandboxinit.SystemDirs {
		system = system || strings.HasPrefix(p, d+"/")
	}
	if !system {
		return expandPath(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.paths[p]; ok {
		return m
	}
	if c.paths == nil {
		c.paths = map[string][]sandboxinit.Mount{}
	}
	m := expandPath(p)
	c.paths[p] = m
	return m
}

// expandPath walks p on the host, component by component, following and
// recording symlinks, and ends with the real file or directory. A path
// that does not exist yields only the symlinks met on the way.
func expandPath(p string) []sandboxinit.Mount {
	var out []sandboxinit.Mount
	for hops := 0; hops < 40; hops++ {
		parts := strings.Split(strings.TrimPrefix(filepath.Clean(p), "/"), "/")
		cur, next := "/", ""
		for i, part := range parts {
			path := filepath.Join(cur, part)
			fi, err := os.Lstat(path)
			if err != nil {
				return out
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				target, err := os.Readlink(path)
				if err != nil {
					return out
				}
				out = append(out, sandboxinit.Mount{Path: path, Link: target})
				if !filepath.IsAbs(target) {
					target = filepath.Join(cur, target)
				}
				next = filepath.Join(append([]string{target}, parts[i+1:]...)...)
				break
			}
			cur = path
			if i == len(parts)-1 {
				return append(out, sandboxinit.Mount{Path: cur, Dir: fi.IsDir()})
			}
		}
		p = next
	}
	return out
}

// cpuCount is the number of CPUs a sandbox with a quota of cpus is told
// it has: the quota rounded up, at most the host's.
func cpuCount(cpus float64) int {
	return max(1, min(int(math.Ceil(cpus)), runtime.NumCPU()))
}

// procFiles are the sandbox's own /proc/cpuinfo and /proc/meminfo: as many
// processors as its CPU quota, each described as the host's first (model
// and flags, which the CPUID instruction tells anyway, but no microcode
// level, topology or bugs), and its memory limit as all the memory there
// is. They are a fixed view of the limits: usage is the cgroup's to tell.
func procFiles(cpuTemplate string, limits Limits) []File {
	n := cpuCount(limits.CPUs)
	var cpu strings.Builder
	for i := range n {
		fmt.Fprintf(&cpu, "processor\t: %d\n%sphysical id\t: 0\nsiblings\t: %d\ncore id\t\t: %d\ncpu cores\t: %d\n\n", i, cpuTemplate, n, i, n)
	}
	kb := limits.Memory >> 10
	mem := fmt.Sprintf("MemTotal:       %8d kB\nMemFree:        %8d kB\nMemAvailable:   %8d kB\n", kb, kb, kb)
	for _, f := range []string{"Buffers", "Cached", "SwapCached", "Active", "Inactive", "Shmem", "Slab", "SReclaimable", "SUnreclaim", "SwapTotal", "SwapFree", "Dirty", "Writeback", "Mapped"} {
		mem += fmt.Sprintf("%-16s%8d kB\n", f+":", 0)
	}
	return []File{{Path: "/proc/cpuinfo", Data: []byte(cpu.String())}, {Path: "/proc/meminfo", Data: []byte(mem)}}
}

// cpuTemplate is the host's first processor of /proc/cpuinfo without what
// procFiles writes itself or keeps from a sandbox.
func cpuTemplate() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(b), "\n\n")
	var out strings.Builder
	for _, line := range strings.Split(first, "\n") {
		key, _, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(key) {
		case "processor", "microcode", "bugs", "physical id", "siblings", "core id", "cpu cores",
			"apicid", "initial apicid", "power management", "Serial", "":
			continue
		}
		out.WriteString(line + "\n")
	}
	return out.String()
}

// usrTree is a directory on the host that stands for a sandbox's /usr: the
// symlinks of its view recreated, its files hard-linked (the same inodes
// as the host's, so nothing is copied), and empty mount points for the
// directories, and for any file that cannot be linked (another
// filesystem, or a file an unprivileged user may not link), to be bound
// over. A sandbox then binds the tree once, and only those few entries,
// instead of every file it shows: each bind adds to every sandbox's
// start-up. The tree is built once per backend and view, and removed with
// the backend; a file the host replaces meanwhile (a package upgrade)
// stays at its old version in new sandboxes until interp restarts, as in
// any running program that has loaded it.
type usrTree struct {
	dir   string
	binds []sandboxinit.Mount
}

// usrTreePrefix names the trees, after the pid of the process that made
// them, so that those of a process that died can be swept.
const usrTreePrefix = "interp-usr-"

// withTree replaces the /usr entries of view with the tree that holds them.
// Without a tree (it could not be made), the view is left as it is.
func (c *viewCache) withTree(view []sandboxinit.Mount) []sandboxinit.Mount {
	var usr, out []sandboxinit.Mount
	var key strings.Builder
	for _, m := range view {
		if strings.HasPrefix(m.Path, "/usr/") {
			usr = append(usr, m)
			fmt.Fprintf(&key, "%s\x00%s\x00%t\x00", m.Path, m.Link, m.Dir)
		} else {
			out = append(out, m)
		}
	}
	if len(usr) == 0 {
		return view
	}
	c.mu.Lock()
	t, ok := c.trees[key.String()]
	if !ok {
		var err error
		if t, err = buildUsrTree(usr); err != nil {
			t = nil // bind each entry instead
		}
		if c.trees == nil {
			c.trees = map[string]*usrTree{}
		}
		c.trees[key.String()] = t
	}
	c.mu.Unlock()
	if t == nil {
		return view
	}
	out = append(out, sandboxinit.Mount{Path: "/usr", From: filepath.Join(t.dir, "usr"), Dir: true})
	out = append(out, t.binds...)
	slices.SortFunc(out, func(a, b sandboxinit.Mount) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// buildUsrTree makes the tree for the /usr entries usr, on the same
// filesystem as /usr where it can, so that files can be linked.
func buildUsrTree(usr []sandboxinit.Mount) (*usrTree, error) {
	base := os.TempDir()
	var usrSt, st syscall.Stat_t
	if syscall.Stat("/usr", &usrSt) == nil {
		for _, d := range []string{"/var/tmp", os.TempDir()} {
			if syscall.Stat(d, &st) == nil && st.Dev == usrSt.Dev {
				base = d
				break
			}
		}
	}
	dir, err := os.MkdirTemp(base, fmt.Sprintf("%s%d-", usrTreePrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	t := &usrTree{dir: dir}
	err = func() error {
		for _, m := range usr {
			dst := filepath.Join(dir, m.Path)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			switch {
			case m.Link != "":
				if err := os.Symlink(m.Link, dst); err != nil {
					return err
				}
			case m.Dir:
				if err := os.Mkdir(dst, 0o755); err != nil {
					return err
				}
				t.binds = append(t.binds, m)
			default:
				if os.Link(m.Path, dst) == nil {
					continue
				}
				if err := os.WriteFile(dst, nil, 0o644); err != nil {
					return err
				}
				t.binds = append(t.binds, m)
			}
		}
		// Sandboxes' IDs must be able to walk it, whatever the umask.
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				err = os.Chmod(p, 0o755)
			}
			return err
		})
	}()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sandbox: build /usr tree: %w", err)
	}
	return t, nil
}

// removeTrees removes the trees this backend made.
func (c *viewCache) removeTrees() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, t := range c.trees {
		if t != nil {
			os.RemoveAll(t.dir)
		}
		delete(c.trees, k)
	}
}

// sweepTrees removes the trees of processes of this user that are gone.
func sweepTrees() {
	for _, base := range []string{"/var/tmp", os.TempDir()} {
		dirs, _ := filepath.Glob(filepath.Join(base, usrTreePrefix+"*"))
		for _, d := range dirs {
			pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), usrTreePrefix), "-")
			var st syscall.Stat_t
			if syscall.Lstat(d, &st) != nil || int(st.Uid) != os.Geteuid() || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
				continue
			}
			if _, err := os.Stat("/proc/" + pid); os.IsNotExist(err) {
				os.RemoveAll(d)
			}
		}
	}
}
