package deps_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox/sandboxtest"
	"github.com/interp-dev/interp/internal/session"
)

// storeSetup is an installer with a store, and a state directory for
// kernels on the store's file system.
func storeSetup(t *testing.T, index string) (*deps.Installer, string) {
	t.Helper()
	in := installer(t, index)
	// Package directories cannot be under the sandbox's /tmp.
	state, err := os.MkdirTemp("/var/tmp", "interp-store-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	in.CacheDir = filepath.Join(state, "cache")
	in.Store = &deps.Store{Dir: filepath.Join(state, "store")}
	return in, state
}

func storeKernel(t *testing.T, state string) *session.Kernel {
	t.Helper()
	k, err := session.Start(context.Background(), session.Config{Backend: sandboxtest.Backend(t), Runtime: runtime(t), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func wheelFetches(idx *pypitest.Index) int {
	n := 0
	for _, r := range idx.Requests() {
		if strings.HasSuffix(r, ".whl") {
			n++
		}
	}
	return n
}

// TestStoreSharesPackagesBetweenSessions: two sessions share one stored
// copy of a package; neither can change it; what one installs alone
// stays invisible to the other, and so does the store.
func TestStoreSharesPackagesBetweenSessions(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in, state := storeSetup(t, idx.URL())
	a, b := storeKernel(t, state), storeKernel(t, state)
	for _, k := range []*session.Kernel{a, b} {
		if err := in.Install(context.Background(), k.SiteDir(), []deps.Requirement{{Name: "tinypkg"}}, nil); err != nil {
			t.Fatal(err)
		}
		if out, failure := run(t, k, "import tinypkg\nprint(tinypkg.VALUE)"); out != "42\n" {
			t.Fatalf("import after install: %q %+v", out, failure)
		}
	}
	if n := wheelFetches(idx); n != 2 {
		t.Errorf("wheels fetched %d times, want 2 (tinypkg and tinydep, once)", n)
	}
	fa, err := os.Stat(filepath.Join(a.SiteDir(), "tinypkg", "__init__.py"))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(filepath.Join(b.SiteDir(), "tinypkg", "__init__.py"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(fa, fb) {
		t.Error("the two sessions have two copies of tinypkg, not one stored file")
	}
	if fa.Mode().Perm()&0o222 != 0 {
		t.Errorf("a stored file is writable: %v", fa.Mode())
	}
	if st := fa.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && st.Uid != 0 {
		t.Errorf("a stored file belongs to uid %d, not root", st.Uid)
	}

	// Session a tries to change the shared package every way it can.
	out, _ := run(t, a, `import os, tinypkg
p = tinypkg.__file__
d = os.path.dirname(p)
for what, f in [("write", lambda: open(p, "a").write("VALUE = 0\n")),
                ("chmod", lambda: os.chmod(p, 0o777)),
                ("unlink", lambda: os.unlink(p)),
                ("rename", lambda: os.rename(p, p + ".x")),
                ("create", lambda: open(os.path.join(d, "evil.py"), "w").write("x"))]:
    try:
        f()
        print(what, "allowed")
    except OSError as e:
        print(what, "refused")
`)
	if strings.Contains(out, "allowed") || strings.Count(out, "refused") != 5 {
		t.Errorf("session a could change the stored package:\n%s", out)
	}
	if out, _ := run(t, b, "import importlib, tinypkg\nimportlib.reload(tinypkg)\nprint(tinypkg.VALUE)"); out != "42\n" {
		t.Errorf("session b sees tinypkg changed: %q", out)
	}

	// A private install of a's is not b's, and b cannot see the store.
	if err := in.Install(context.Background(), a.SiteDir(), []deps.Requirement{{Name: "Other_Name"}}, nil); err != nil {
		t.Fatal(err)
	}
	if out, failure := run(t, a, "import othermod\nprint(othermod.X)"); out != "other\n" {
		t.Fatalf("a's own install: %q %+v", out, failure)
	}
	probe := fmt.Sprintf(`import importlib.util, os
print(importlib.util.find_spec("othermod"), os.path.exists(%q))`, in.Store.Dir)
	if out, _ := run(t, b, probe); out != "None False\n" {
		t.Errorf("session b sees a's private package or the store: %q", out)
	}
}

// TestStoreEvictionSparesEntriesInUse: eviction removes the least
// recently used entries that no session links to, and never one a live
// session uses.
func TestStoreEvictionSparesEntriesInUse(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, append(tinyPkgs, pypitest.Package{Name: "third", Version: "1.0", Modules: map[string]string{"third.py": "Y = 3\n"}})...)
	in, state := storeSetup(t, idx.URL())
	live := storeKernel(t, state)
	ctx := context.Background()
	if err := in.Install(ctx, live.SiteDir(), []deps.Requirement{{Name: "tinypkg"}}, nil); err != nil {
		t.Fatal(err)
	}
	// Two packages used by sessions that have ended: Other_Name first.
	for _, name := range []string{"Other_Name", "third"} {
		site := siteDir(t)
		if err := in.Install(ctx, site, []deps.Requirement{{Name: name}}, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(site); err != nil {
			t.Fatal(err)
		}
	}
	names := func() map[string]deps.StoreEntry {
		st, err := in.Store.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]deps.StoreEntry{}
		for _, e := range st.Entries {
			m[e.Name] = e
		}
		return m
	}
	before := names()
	if len(before) != 4 || before["tinypkg-1.0"].Users != 1 || before["other_name-2.0"].Users != 0 {
		t.Fatalf("store before pruning: %+v", before)
	}
	// A budget that holds the newest unused entry: the older one goes.
	res, err := in.Store.Prune(ctx, deps.CacheLimits{MaxBytes: before["tinypkg-1.0"].Bytes + before["tinydep-1.2"].Bytes + before["third-1.0"].Bytes})
	if err != nil {
		t.Fatal(err)
	}
	after := names()
	if res.Entries != 1 || len(after) != 3 || after["other_name-2.0"].Name != "" || after["third-1.0"].Name == "" {
		t.Errorf("pruned %+v, left %v", res, after)
	}
	// The smallest budget: everything unused goes, what live uses stays.
	if _, err := in.Store.Prune(ctx, deps.CacheLimits{MaxBytes: 1}); err != nil {
		t.Fatal(err)
	}
	after = names()
	if len(after) != 2 || after["tinypkg-1.0"].Name == "" || after["tinydep-1.2"].Name == "" {
		t.Errorf("left %v, want tinypkg and tinydep, which a live session uses", after)
	}
	if out, failure := run(t, live, "import tinypkg\nprint(tinypkg.VALUE)"); out != "42\n" {
		t.Errorf("the live session after pruning: %q %+v", out, failure)
	}
	// Once its session has ended, it goes too; a new install restores it.
	live.Close()
	if _, err := in.Store.Prune(ctx, deps.CacheLimits{MaxBytes: 1}); err != nil {
		t.Fatal(err)
	}
	if after := names(); len(after) != 0 {
		t.Errorf("left %v after the last session ended", after)
	}
	k := storeKernel(t, state)
	if err := in.Install(ctx, k.SiteDir(), []deps.Requirement{{Name: "tinypkg"}}, nil); err != nil {
		t.Fatal(err)
	}
	if out, failure := run(t, k, "import tinypkg\nprint(tinypkg.VALUE)"); out != "42\n" {
		t.Errorf("reinstalled after eviction: %q %+v", out, failure)
	}
}

// crashEnv names the store a helper process installs into and is killed
// in the middle of (see TestMain).
const crashEnv = "INTERP_TEST_STORE_CRASH"

// crashWhileStoring installs into the store named by crashEnv and kills
// its own process once the distribution's files are in place, before
// the entry is sealed and published.
func crashWhileStoring() {
	dir, index, _ := strings.Cut(os.Getenv(crashEnv), "|")
	rt, err := python.Find("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s := &deps.Store{Dir: dir}
	deps.SetBeforeSeal(s, func(string) { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) })
	in := &deps.Installer{UV: rt.UV, Python: rt.Executable, BaseLock: rt.BaseLock(), CacheDir: filepath.Join(dir, "..", "crash-cache"), IndexURL: index, Store: s}
	site := filepath.Join(dir, "..", "crash-site")
	_ = os.MkdirAll(site, 0o755)
	err = in.Install(context.Background(), site, []deps.Requirement{{Name: "tinydep"}}, nil)
	fmt.Fprintln(os.Stderr, "not killed:", err)
	os.Exit(3)
}

// TestStoreCrashWhileStoring: a process killed in the middle of storing a
// distribution leaves nothing a later session could use; the next install
// stores it whole.
func TestStoreCrashWhileStoring(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in, state := storeSetup(t, idx.URL())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+in.Store.Dir+"|"+idx.URL())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the helper was not killed while storing: %v\n%s", err, out)
	}
	tmps, _ := os.ReadDir(filepath.Join(in.Store.Dir, "tmp"))
	if len(tmps) == 0 {
		t.Fatal("the helper died before it began storing")
	}
	st, err := in.Store.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Entries) != 0 {
		t.Fatalf("a crashed install left entries: %+v", st.Entries)
	}
	if refs, _ := os.ReadDir(filepath.Join(in.Store.Dir, "refs")); len(refs) != 0 {
		t.Fatalf("a crashed install left %d refs", len(refs))
	}
	k := storeKernel(t, state)
	if err := in.Install(context.Background(), k.SiteDir(), []deps.Requirement{{Name: "tinypkg"}}, nil); err != nil {
		t.Fatal(err)
	}
	if out, failure := run(t, k, "import tinypkg\nprint(tinypkg.VALUE)"); out != "42\n" {
		t.Errorf("after the crash: %q %+v", out, failure)
	}
	if _, err := in.Store.Prune(context.Background(), deps.CacheLimits{}); err != nil {
		t.Fatal(err)
	}
	if tmps, _ := os.ReadDir(filepath.Join(in.Store.Dir, "tmp")); len(tmps) != 0 {
		t.Errorf("pruning left %d crashed unpacks", len(tmps))
	}
}

// TestStorePinnedPackagesInWarmPoolKernels: a pinned (prewarmed)
// package survives any eviction and is importable in a warm-pool kernel's
// first cell, with no install and no request to the index.
func TestStorePinnedPackagesInWarmPoolKernels(t *testing.T) {
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in, state := storeSetup(t, idx.URL())
	ctx := context.Background()
	if err := in.Pin(ctx, []deps.Requirement{{Name: "tinypkg"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Store.Prune(ctx, deps.CacheLimits{MaxBytes: 1}); err != nil {
		t.Fatal(err)
	}
	requests := len(idx.Requests())
	m := session.NewManager(session.ManagerConfig{
		Kernel: session.Config{Backend: sandboxtest.Backend(t), Runtime: runtime(t), StateDir: state, PrepareSite: in.Store.LinkPinned},
		Pool:   session.PoolConfig{Size: 1},
	})
	t.Cleanup(m.Shutdown)
	for i := 0; m.Pool().Ready() < 1; i++ {
		if i == 600 {
			t.Fatal("the warm pool has no kernel after a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s, err := m.Create(ctx, session.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out, failure := run(t, s.Kernel(), "import tinypkg\nprint(tinypkg.VALUE)"); out != "42\n" {
		t.Errorf("a pinned package in a new session: %q %+v", out, failure)
	}
	if n := len(idx.Requests()); n != requests {
		t.Errorf("linking pinned packages asked the index %d times", n-requests)
	}
	// Without pins, a session starts with an empty package directory.
	k := storeKernel(t, state)
	if out, _ := run(t, k, "import importlib.util\nprint(importlib.util.find_spec('tinypkg'))"); out != "None\n" {
		t.Errorf("a session without the hook sees tinypkg: %q", out)
	}
}

// TestStorePrewarmedInstallSkipsUV: once a package is pinned (prewarmed),
// a new session that imports it gets it linked from the store: no uv
// run, no request to the index, an installed event that says so; the
// store's listing marks it pinned and counts the session as its user.
func TestStorePrewarmedInstallSkipsUV(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, tinyPkgs...)
	in, state := storeSetup(t, idx.URL())
	ctx := context.Background()
	if err := in.Pin(ctx, []deps.Requirement{{Name: "tinypkg"}}, nil); err != nil {
		t.Fatal(err)
	}
	requests := len(idx.Requests())
	// Another process's installer (nothing resolved yet), whose uv runs fail.
	in = &deps.Installer{UV: filepath.Join(t.TempDir(), "no-uv"), Python: in.Python, BaseLock: in.BaseLock, CacheDir: in.CacheDir,
		IndexURL: in.IndexURL, Map: in.Map, Timeout: in.Timeout, Store: &deps.Store{Dir: in.Store.Dir}}
	k := storeKernel(t, state)
	var evs []session.Event
	if err := in.Install(ctx, k.SiteDir(), []deps.Requirement{{Name: "tinypkg"}}, func(ev session.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Phase != event.PhaseInstalled || evs[0].Package != "tinypkg" || evs[0].Version != "1.0" || evs[0].Message != deps.PrewarmedMessage {
		t.Errorf("events %+v, want one installed event of tinypkg 1.0, prewarmed", evs)
	}
	if n := len(idx.Requests()); n != requests {
		t.Errorf("a prewarmed install asked the index %d times", n-requests)
	}
	if out, failure := run(t, k, "import tinypkg\nprint(tinypkg.VALUE)"); out != "42\n" {
		t.Errorf("a prewarmed package: %q %+v", out, failure)
	}
	st, err := in.Store.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Entries {
		if !e.Pinned || e.Users != 1 {
			t.Errorf("entry %+v: want pinned, with this session as its one user", e)
		}
	}
	if len(st.Entries) != 2 {
		t.Errorf("store entries %+v, want tinypkg and tinydep", st.Entries)
	}

}
