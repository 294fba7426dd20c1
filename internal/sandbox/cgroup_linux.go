package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	cgroupRoot   = "/sys/fs/cgroup"
	cgroupParent = "interp" // every sandbox's cgroup lives under this one
	cpuPeriod    = 100_000  // µs

	// ParentEnv names a cgroup delegated to this user, under which an
	// unprivileged interp creates its sandboxes' cgroups: the path below
	// each v1 hierarchy, or below the v2 mount. As root it is optional.
	ParentEnv = "INTERP_CGROUP_PARENT"
)

// cgroupDriver creates sandbox cgroups on cgroup v1 or v2.
type cgroupDriver interface {
	create(name string, l Limits) (group, error)
	// sweep removes the cgroups of sandboxes whose interp has died.
	sweep()
	// removeParent removes the parent cgroup if no sandbox uses it.
	removeParent()
	// cloneInto reports whether children are created directly in their
	// cgroup (CLONE_INTO_CGROUP, cgroup v2 on Linux 5.7+), rather than
	// moved there after they start.
	cloneInto() bool
}

// newCgroupDriver picks v2 on unified hosts and v1 on legacy and hybrid
// ones (where v1 holds the controllers), and checks that it can create a
// cgroup with limits there. Without one the limits could not be enforced.
func newCgroupDriver() (cgroupDriver, error) {
	delegated := os.Getenv(ParentEnv)
	var d cgroupDriver
	if cgroups.Mode() == cgroups.Unified {
		parent := "/" + cgroupParent
		if delegated != "" {
			parent = filepath.Join("/", delegated, cgroupParent)
		}
		d = &cgroupV2{parent: parent, into: kernelAtLeast(5, 7)}
	} else {
		v1, err := newCgroupV1(delegated)
		if err != nil {
			return nil, err
		}
		d = v1
	}
	// Random beside the PID: backends of one process may probe at once, and
	// one's destroy would pull the cgroup from under the other's create.
	g, err := d.create(fmt.Sprintf("probe-%d-%x", os.Getpid(), rand.Uint64()), DefaultLimits)
	if err != nil {
		hint := "run as root, or set " + ParentEnv + " to a cgroup delegated to this user"
		if os.Geteuid() == 0 {
			hint = "mount the memory, pids and cpu controllers"
		}
		return nil, fmt.Errorf("no usable cgroup (%v): %s", err, hint)
	}
	_ = g.destroy()
	return d, nil
}

// kernelAtLeast reports whether the running kernel is version major.minor
// or later.
func kernelAtLeast(major, minor int) bool {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return false
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	var ma, mi int
	if _, err := fmt.Sscanf(b.String(), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// aliveOwner reports whether the interp that named a cgroup "sbx-PID-..."
// or "probe-PID-..." still runs.
func aliveOwner(name string) bool {
	f := strings.Split(name, "-")
	if len(f) < 2 {
		return true // not ours to judge
	}
	pid, err := strconv.Atoi(f[1])
	if err != nil {
		return true
	}
	return syscall.Kill(pid, 0) != syscall.ESRCH
}

// killAll kills every process listed in a cgroup.procs file until it is
// empty or a second has passed.
func killAll(procsFile string) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(procsFile)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			return
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readKey reads "key value" lines, as in memory.events or pids.events.
func readKey(file, key string) uint64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// cgroupV1 places each sandbox in the memory, pids, cpu and cpuacct
// hierarchies, nested under interp's own cgroup in each, so that limits set
// on interp itself still hold.
type cgroupV1 struct {
	parents map[cgroup1.Name]string // per hierarchy: interp's cgroup + "/interp"
}

var v1Subsystems = []cgroup1.Name{cgroup1.Memory, cgroup1.Pids, cgroup1.Cpu, cgroup1.Cpuacct}

func newCgroupV1(delegated string) (*cgroupV1, error) {
	d := &cgroupV1{parents: make(map[cgroup1.Name]string)}
	if delegated != "" {
		for _, s := range v1Subsystems {
			d.parents[s] = filepath.Join("/", delegated, cgroupParent)
		}
		return d, nil
	}
	own, err := cgroup1.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	for _, s := range v1Subsystems {
		// Controllers may share a hierarchy, listed as "cpu,cpuacct".
		p, ok := own[string(s)]
		if !ok {
			return nil, fmt.Errorf("cgroup v1 controller %q is not mounted", s)
		}
		d.parents[s] = filepath.Join(p, cgroupParent)
	}
	return d, nil
}

func (d *cgroupV1) hierarchy() ([]cgroup1.Subsystem, error) {
	return []cgroup1.Subsystem{
		cgroup1.NewMemory(cgroupRoot), cgroup1.NewPids(cgroupRoot),
		cgroup1.NewCpu(cgroupRoot), cgroup1.NewCpuacct(cgroupRoot),
	}, nil
}

func (d *cgroupV1) path(name string) cgroup1.Path {
	return func(s cgroup1.Name) (string, error) {
		p, ok := d.parents[s]
		if !ok {
			return "", fmt.Errorf("cgroup v1 controller %q not in use", s)
		}
		return filepath.Join(p, name), nil
	}
}

func (d *cgroupV1) create(name string, l Limits) (group, error) {
	mem := l.Memory
	swappiness := uint64(0)
	quota := int64(l.CPUs * cpuPeriod)
	period := uint64(cpuPeriod)
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &mem, Swappiness: &swappiness},
		Pids:   &specs.LinuxPids{Limit: &l.Processes},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
	}
	path := d.path(name)
	err := retryVanishedParent(func() error {
		_, err := cgroup1.New(path, res, cgroup1.WithHierarchy(d.hierarchy))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", name, err)
	}
	g := &groupV1{}
	for _, sub := range v1Subsystems {
		p, _ := path(sub)
		g.dirs = append(g.dirs, filepath.Join(cgroupRoot, string(sub), p))
	}
	return g, nil
}

func (d *cgroupV1) cloneInto() bool { return false }

func (d *cgroupV1) sweep() {
	for s, parent := range d.parents {
		dir := filepath.Join(cgroupRoot, string(s), parent)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() && !aliveOwner(e.Name()) {
				killAll(filepath.Join(dir, e.Name(), "cgroup.procs"))
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

func (d *cgroupV1) removeParent() {
	for s, parent := range d.parents {
		_ = os.Remove(filepath.Join(cgroupRoot, string(s), parent))
	}
}

// groupV1 reads and removes the cgroup directly rather than through
// containerd's cgroup1, whose Stat parses every statistics file and whose
// Delete walks each hierarchy first: a sandbox's teardown needs two
// numbers and four rmdirs.
type groupV1 struct {
	dirs []string // per v1Subsystems: memory, pids, cpu, cpuacct
}

func (g *groupV1) add(pid int) error {
	b := []byte(strconv.Itoa(pid))
	for _, d := range g.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), b, 0); err != nil {
			return fmt.Errorf("add process to cgroup: %w", err)
		}
	}
	return nil
}

func (g *groupV1) usage() (time.Duration, int64) {
	cpu, _ := readUint(filepath.Join(g.dirs[3], "cpuacct.usage"))
	peak, _ := readUint(filepath.Join(g.dirs[0], "memory.max_usage_in_bytes"))
	return time.Duration(cpu), int64(peak)
}

func (g *groupV1) oomKilled() bool {
	return readKey(filepath.Join(g.dirs[0], "memory.oom_control"), "oom_kill") > 0
}

func (g *groupV1) pidsLimitHit() bool {
	return readKey(filepath.Join(g.dirs[1], "pids.events"), "max") > 0
}

func (g *groupV1) kill() {
	// The pids hierarchy sees every process of the sandbox.
	killAll(filepath.Join(g.dirs[1], "cgroup.procs"))
}

func (g *groupV1) destroy() error {
	g.kill()
	var errs []error
	for _, d := range g.dirs {
		if err := removeCgroup(d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

// removeCgroup removes an empty cgroup directory. The kernel refuses
// (EBUSY) while a killed process is still exiting, so it retries briefly.
func removeCgroup(dir string) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", dir, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readUint reads a file holding one number.
func readUint(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// cgroupV2 places each sandbox in cgroupRoot/interp/NAME on the unified
// hierarchy, or under a delegated parent.
type cgroupV2 struct {
	parent string // below the mount, such as /interp
	into   bool   // the kernel has CLONE_INTO_CGROUP
}

func (d cgroupV2) cloneInto() bool { return d.into }

func (d cgroupV2) create(name string, l Limits) (group, error) {
	mem := l.Memory
	var zero int64
	quota := int64(l.CPUs * cpuPeriod)
	period := uint64(cpuPeriod)
	res := &cgroup2.Resources{
		Memory: &cgroup2.Memory{Max: &mem, Swap: &zero},
		Pids:   &cgroup2.Pids{Max: l.Processes},
		CPU:    &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quota, &period)},
	}
	group := d.parent + "/" + name
	var m *cgroup2.Manager
	err := retryVanishedParent(func() (err error) {
		m, err = cgroup2.NewManager(cgroupRoot, group, res)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", group, err)
	}
	return &groupV2{m: m, dir: filepath.Join(cgroupRoot, group)}, nil
}

func (d cgroupV2) sweep() {
	dir := filepath.Join(cgroupRoot, d.parent)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && !aliveOwner(e.Name()) {
			killAll(filepath.Join(dir, e.Name(), "cgroup.procs"))
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func (d cgroupV2) removeParent() { _ = os.Remove(filepath.Join(cgroupRoot, d.parent)) }

type groupV2 struct {
	m   *cgroup2.Manager
	dir string
}

// open opens the cgroup's directory, for CLONE_INTO_CGROUP.
func (g *groupV2) open() (*os.File, error) {
	f, err := os.OpenFile(g.dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	return f, nil
}

func (g *groupV2) add(pid int) error {
	if err := g.m.AddProc(uint64(pid)); err != nil {
		return fmt.Errorf("add process to cgroup: %w", err)
	}
	return nil
}

func (g *groupV2) usage() (time.Duration, int64) {
	cpu := time.Duration(readKey(filepath.Join(g.dir, "cpu.stat"), "usage_usec")) * time.Microsecond
	var peak int64
	if b, err := os.ReadFile(filepath.Join(g.dir, "memory.peak")); err == nil {
		peak, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	return cpu, peak
}

func (g *groupV2) oomKilled() bool {
	return readKey(filepath.Join(g.dir, "memory.events"), "oom_kill") > 0
}

func (g *groupV2) pidsLimitHit() bool {
	return readKey(filepath.Join(g.dir, "pids.events"), "max") > 0
}

func (g *groupV2) kill() {
	if err := g.m.Kill(); err != nil {
		killAll(filepath.Join(g.dir, "cgroup.procs"))
	}
}

func (g *groupV2) destroy() error {
	g.kill()
	if err := g.m.Delete(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

// retryVanishedParent runs create again when it failed because the
// parent cgroup vanished: every Interp process on the host shares the
// parent and removes it when it is empty at its close, so another
// process's removal can fall between the parent's creation and the
// child's (ENOENT). Each retry makes the parent anew.
func retryVanishedParent(create func() error) error {
	err := create()
	for i := 0; i < 4 && errors.Is(err, fs.ErrNotExist); i++ {
		err = create()
	}
	return err
}
