package sandbox

// Host is what this host offers sandboxes, for diagnostics such as
// `interp doctor`. NewNamespaces decides for itself whether it can sandbox;
// this says why it is slow or what it lacks.
type Host struct {
	// Kernel is the running kernel's release.
	Kernel string
	// UserNamespaces is nil when sandboxes can create user namespaces.
	UserNamespaces error
	// Cgroups is "v2", "hybrid" or "v1"; empty where there are none.
	Cgroups string
	// FavorDynMods reports a cgroup hierarchy mounted with favordynmods.
	// On v1 and hybrid hosts, without it, moving each sandbox into its
	// cgroup waits for an RCU grace period, about 10 ms.
	FavorDynMods bool
	// LandlockABI is the kernel's Landlock ABI version; 0 without Landlock.
	LandlockABI int
	// Seccomp reports seccomp filters.
	Seccomp bool
	// Init is the program sandboxes start as, and InitIsSelf reports that
	// it is this executable, re-executed: a large binary that starts each
	// sandbox more slowly than interp-sandbox would.
	Init       string
	InitIsSelf bool
}
