package sandboxinit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The host files under /etc a sandbox sees read-only: what the dynamic
// loader, TLS, time zones and MIME guessing need, and nothing with secrets.
var etcEntries = []string{
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone",
	"ssl", "ca-certificates", "alternatives", "mime.types", "fonts",
	"protocols", "services", "os-release", "debian_version", "matplotlibrc",
}

// Device nodes bound from the host into the sandbox's /dev.
var devices = []string{"null", "zero", "full", "random", "urandom"}

// setupRoot builds the sandbox's filesystem in a fresh tmpfs and makes it
// the root. It runs in the sandbox's own mount namespace, as root of its
// user namespace.
func setupRoot(s *Spec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// A scratch tmpfs on /tmp becomes the root for a while, with the host
	// root under /old as the source of bind mounts.
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,nr_inodes=4096,mode=0755"); err != nil {
		return fmt.Errorf("mount scratch tmpfs: %w", err)
	}
	for _, d := range []string{"/tmp/new", "/tmp/old"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.PivotRoot("/tmp", "/tmp/old"); err != nil {
		return fmt.Errorf("pivot_root to scratch: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	// pivot_root needs the new root to be a mount point.
	if err := unix.Mount("/new", "/new", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind new root: %w", err)
	}

	if err := setupView(s.View); err != nil {
		return err
	}
	if err := setupEtc(s); err != nil {
		return err
	}
	if err := setupSys(s.CPUs); err != nil {
		return err
	}

	for _, f := range s.Files {
		if err := os.MkdirAll(filepath.Dir("/new"+f.Path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile("/new"+f.Path, f.Data, 0o444); err != nil {
			return err
		}
	}

	owner := 0
	if s.DropToUser {
		owner = UID
	}
	size := fmt.Sprintf("size=%d,nr_inodes=%d", s.DiskBytes, max(s.DiskBytes/4096, 1024))
	tmpfs := []struct{ dir, opts string }{
		{WorkspaceDir, fmt.Sprintf("%s,mode=0755,uid=%d,gid=%d", size, owner, owner)},
		{TmpDir, size + ",mode=1777"},
	}
	for _, t := range tmpfs {
		if err := mountTmpfs("/new"+t.dir, t.opts); err != nil {
			return err
		}
	}
	if err := setupDev(size); err != nil {
		return err
	}
	if err := os.Mkdir("/new/proc", 0o555); err != nil {
		return err
	}
	// A fresh procfs shows only this PID namespace. It must be mounted
	// while the host's /proc is still visible, or the kernel refuses.
	if err := unix.Mount("proc", "/new/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := bindReadOnly("/new/proc/sys", "/new/proc/sys"); err != nil {
		return err
	}
	if err := maskProc(s.Proc); err != nil {
		return err
	}

	if err := unix.Mount("", "/new", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make root read-only: %w", err)
	}
	if err := unix.Unmount("/old", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach host root: %w", err)
	}
	if err := unix.Chdir("/new"); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach scratch root: %w", err)
	}
	return unix.Chdir("/")
}

// setupView recreates the sandbox's view of the host: the symlinks copied,
// the files and directories bound. Every bind lands beneath a top-level
// directory made a mount point of its own, so that one mount_setattr per
// top-level directory makes all of them read-only.
func setupView(view []Mount) error {
	var tops []string
	made := map[string]bool{"/new": true}
	var mkdirs func(dir string) error
	mkdirs = func(dir string) error {
		if made[dir] {
			return nil
		}
		if err := mkdirs(filepath.Dir(dir)); err != nil {
			return err
		}
		if err := unix.Mkdir(dir, 0o755); err != nil && err != unix.EEXIST {
			return fmt.Errorf("mkdir %s: %w", strings.TrimPrefix(dir, "/new"), err)
		}
		made[dir] = true
		return nil
	}
	for _, m := range view {
		dst := "/new" + m.Path
		if m.Link != "" {
			if err := mkdirs(filepath.Dir(dst)); err != nil {
				return err
			}
			if err := unix.Symlink(m.Link, dst); err != nil && err != unix.EEXIST {
				return fmt.Errorf("symlink %s: %w", m.Path, err)
			}
			continue
		}
		top := "/new/" + strings.SplitN(m.Path[1:], "/", 2)[0]
		if !slices.Contains(tops, top) {
			tops = append(tops, top)
			if top != dst {
				if err := mkdirs(top); err != nil {
					return err
				}
				if err := unix.Mount(top, top, "", unix.MS_BIND, ""); err != nil {
					return fmt.Errorf("bind %s: %w", top, err)
				}
			}
		}
		src := "/old" + m.Path
		if m.From != "" {
			src = "/old" + m.From
		}
		flags := uintptr(unix.MS_BIND)
		if m.Dir {
			flags |= unix.MS_REC
		}
		// The mount point is usually there already, in the backend's
		// prepared tree (see package sandbox's usrTree).
		err := unix.Mount(src, dst, "", flags, "")
		if errors.Is(err, unix.ENOENT) {
			if err := mkdirs(filepath.Dir(dst)); err != nil {
				return err
			}
			if m.Dir {
				err = mkdirs(dst)
			} else {
				var fd int
				if fd, err = unix.Open(dst, unix.O_CREAT|unix.O_RDONLY|unix.O_CLOEXEC, 0o644); err == nil {
					unix.Close(fd)
				}
			}
			if err != nil {
				return fmt.Errorf("mount point %s: %w", m.Path, err)
			}
			err = unix.Mount(src, dst, "", flags, "")
		}
		if err != nil {
			return fmt.Errorf("bind %s: %w", m.Path, err)
		}
	}
	for _, top := range tops {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		err := unix.MountSetattr(unix.AT_FDCWD, top, unix.AT_RECURSIVE, &attr)
		if errors.Is(err, unix.ENOSYS) {
			err = remountEach(top)
		}
		if err != nil {
			return fmt.Errorf("make %s read-only: %w", strings.TrimPrefix(top, "/new"), err)
		}
	}
	return nil
}

// remountEach makes every mount at or beneath dir read-only, one by one,
// on kernels before 5.12, which lack mount_setattr.
func remountEach(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || (f[4] != dir && !strings.HasPrefix(f[4], dir+"/")) {
			continue
		}
		if err := bindReadOnly(f[4], f[4]); err != nil {
			return err
		}
	}
	return nil
}

// The /proc entries a sandbox never needs and that tell of the host, as
// container runtimes mask them (the kernel's command line, symbols,
// devices, memory map, timers, keys, locks, interrupts), and the
// directories of hardware and drivers. Each is hidden under an empty,
// read-only file or directory.
var (
	maskedProcFiles = []string{
		"cmdline", "kallsyms", "iomem", "ioports", "devices", "kcore", "keys", "key-users",
		"latency_stats", "timer_list", "timer_stats", "sched_debug", "modules", "config.gz",
		"partitions", "diskstats", "swaps", "vmallocinfo", "slabinfo", "zoneinfo",
		"buddyinfo", "pagetypeinfo", "interrupts", "softirqs", "mtrr", "locks", "consoles",
		"misc", "dma", "fb", "kpagecount", "kpageflags", "kpagecgroup", "sysrq-trigger",
	}
	maskedProcDirs = []string{
		"bus", "acpi", "asound", "scsi", "irq", "driver", "tty", "fs", "pressure",
		"dynamic_debug", "device-tree", "firmware",
	}
)

// maskProc hides the /proc entries above and shows the synthesised files
// over the kernel's, all from a small tmpfs of their own that is then made
// read-only as a whole, so each costs one bind.
func maskProc(files []File) error {
	const dir = "/proc-masks"
	if err := mountTmpfs(dir, "size=64k,nr_inodes=64,mode=0555"); err != nil {
		return err
	}
	if err := os.WriteFile(dir+"/empty", nil, 0o444); err != nil {
		return err
	}
	if err := os.Mkdir(dir+"/dir", 0o555); err != nil {
		return err
	}
	for i, f := range files {
		if err := os.WriteFile(fmt.Sprintf("%s/%d", dir, i), f.Data, 0o444); err != nil {
			return err
		}
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make the /proc masks read-only: %w", err)
	}
	bind := func(src, name string) error {
		err := unix.Mount(src, "/new/proc/"+name, "", unix.MS_BIND, "")
		if errors.Is(err, unix.ENOENT) {
			return nil // this kernel has no such entry
		}
		if err != nil {
			return fmt.Errorf("mask /proc/%s: %w", name, err)
		}
		return nil
	}
	for _, name := range maskedProcFiles {
		if err := bind(dir+"/empty", name); err != nil {
			return err
		}
	}
	for _, name := range maskedProcDirs {
		if err := bind(dir+"/dir", name); err != nil {
			return err
		}
	}
	for i, f := range files {
		if err := bind(fmt.Sprintf("%s/%d", dir, i), strings.TrimPrefix(f.Path, "/proc/")); err != nil {
			return err
		}
	}
	return nil
}

// setupSys writes the CPU counts glibc reads for sysconf's
// _SC_NPROCESSORS_ONLN and _SC_NPROCESSORS_CONF, and so Python's
// os.cpu_count(): the sandbox's quota, not the host's CPUs. Nothing else
// of /sys is shown.
func setupSys(cpus int) error {
	d := "/new/sys/devices/system/cpu"
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	r := "0\n"
	if cpus > 1 {
		r = fmt.Sprintf("0-%d\n", cpus-1)
	}
	for _, name := range []string{"online", "possible", "present"} {
		if err := os.WriteFile(d+"/"+name, []byte(r), 0o444); err != nil {
			return err
		}
	}
	return nil
}

// mirror makes host path src (under /old) visible read-only at dst: a
// symlink is copied, anything else bind-mounted. Missing sources are
// skipped; a host need not have every system directory.
func mirror(src, dst string) error {
	fi, err := os.Lstat(src)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	if fi.IsDir() {
		err = os.Mkdir(dst, 0o755)
	} else {
		err = os.WriteFile(dst, nil, 0o644)
	}
	if err != nil {
		return err
	}
	return bindReadOnly(src, dst)
}

// bindReadOnly bind-mounts src on dst, then makes the mount read-only,
// nosuid and nodev.
func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", strings.TrimPrefix(src, "/old"), err)
	}
	// Flags the host set on the source are locked in a user namespace: a
	// remount that drops them fails, so carry them over.
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", strings.TrimPrefix(src, "/old"), err)
	}
	return nil
}

func mountTmpfs(dst, opts string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", strings.TrimPrefix(dst, "/new"), err)
	}
	return nil
}

// setupEtc writes a minimal /etc: who the sandbox user is, a hosts file
// with only loopback, and read-only copies of a few harmless host files.
func setupEtc(s *Spec) error {
	if err := os.MkdirAll("/new/etc", 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"passwd":        "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:1000:1000:sandbox:/workspace:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"group":         "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n",
		"hosts":         "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"hostname":      "sandbox\n",
		"resolv.conf":   "",
		"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
	}
	for name, content := range files {
		if err := os.WriteFile("/new/etc/"+name, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, e := range etcEntries {
		src := "/old/etc/" + e
		// Follow a symlink such as localtime to the file it names, which
		// may live outside the directories the sandbox sees.
		if real, err := filepath.EvalSymlinks(src); err == nil && strings.HasPrefix(real, "/old/") {
			src = real
		}
		if err := mirror(src, "/new/etc/"+e); err != nil {
			return err
		}
	}
	return nil
}

// setupDev builds a minimal /dev: a few harmless device nodes from the
// host, the usual symlinks, and a size-limited /dev/shm.
func setupDev(sizeOpts string) error {
	if err := mountTmpfs("/new/dev", "size=64k,nr_inodes=64,mode=0755"); err != nil {
		return err
	}
	for _, d := range devices {
		dst := "/new/dev/" + d
		if err := os.WriteFile(dst, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/old/dev/"+d, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
	}
	links := map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	}
	for name, target := range links {
		if err := os.Symlink(target, "/new/dev/"+name); err != nil {
			return err
		}
	}
	// Python's multiprocessing needs POSIX semaphores in /dev/shm.
	return mountTmpfs("/new/dev/shm", sizeOpts+",mode=1777")
}

// loopbackUp brings up lo in the sandbox's empty network namespace, so that
// programs can still talk to themselves over localhost.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
