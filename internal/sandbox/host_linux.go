package sandbox

import (
	"os"
	"strings"

	"github.com/containerd/cgroups/v3"
	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// InspectHost reports what this host offers sandboxes.
func InspectHost() Host {
	h := Host{UserNamespaces: checkUserNamespaces()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	switch cgroups.Mode() {
	case cgroups.Unified:
		h.Cgroups = "v2"
	case cgroups.Hybrid:
		h.Cgroups = "hybrid"
	case cgroups.Legacy:
		h.Cgroups = "v1"
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			_, post, ok := strings.Cut(line, " - ")
			if ok && strings.HasPrefix(post, "cgroup") && strings.Contains(post, "favordynmods") {
				h.FavorDynMods = true
			}
		}
	}
	if abi, err := llsyscall.LandlockGetABIVersion(); err == nil {
		h.LandlockABI = abi
	}
	_, err := os.Stat("/proc/sys/kernel/seccomp/actions_avail")
	h.Seccomp = err == nil
	if f, err := openInit(); err == nil {
		h.Init = f.Name()
		f.Close()
		self, _ := os.Executable()
		h.InitIsSelf = h.Init == self
	}
	return h
}
