package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// Targets of the store section.
const (
	targetStoreImport = 1.5 // a new session's import with the package stored, against the floor
	targetStoreDisk   = 1.1 // disk of storeSessions sessions, against one install
	storeSessions     = 20
)

// storePackageEnv names the heavy package the store section measures
// (default torch); storeCacheEnv a uv cache to keep between runs, so that
// a rerun does not download torch's gigabytes again.
const (
	storePackageEnv = "INTERP_BENCH_STORE_PACKAGE"
	storeCacheEnv   = "INTERP_BENCH_STORE_CACHE"
)

// storeSection measures the shared package store (deps.Store) with a
// heavy package: a new session's install and import of it, against the
// same import with the files already in place (the floor) and against an
// install by uv from a warm cache into the session's directory (what
// every session paid before the store); and the disk that storeSessions
// sessions using it take.
func storeSection(ctx context.Context, cfg *config) (string, error) {
	pkg := envOr(storePackageEnv, "torch")
	module := strings.ReplaceAll(pkg, "-", "_")
	rt, err := python.Find("")
	if err != nil {
		return "", err
	}
	if rt.UV == "" {
		return "**Not measured:** uv is not installed; run scripts/setup.\n", nil
	}
	b, err := sandbox.NewNamespaces()
	if err != nil {
		return "", err
	}
	defer b.Close()
	// Package directories are bound into sandboxes, so not under /tmp;
	// uv runs as nobody when this runs as root and must reach them.
	root, err := os.MkdirTemp("/var/tmp", "interp-bench-store-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(root)
	if err := os.Chmod(root, 0o755); err != nil {
		return "", err
	}
	cache := os.Getenv(storeCacheEnv)
	if cache == "" {
		cache = filepath.Join(root, "cache")
	}
	m, err := deps.LoadMap()
	if err != nil {
		return "", err
	}
	// The store gets a uv cache of its own: sealing an entry seals the
	// cache's files it was linked from (root's, read-only), after which uv,
	// running as nobody, may no longer link them and copies instead, which
	// would slow the baseline below unfairly.
	store := &deps.Store{Dir: filepath.Join(root, "store")}
	withStore := &deps.Installer{UV: rt.UV, Python: rt.Executable, BaseLock: rt.BaseLock(), CacheDir: filepath.Join(root, "cache-store"), Map: m, Timeout: 20 * time.Minute, Store: store}
	direct := &deps.Installer{UV: rt.UV, Python: rt.Executable, BaseLock: rt.BaseLock(), CacheDir: cache, Map: m, Timeout: 20 * time.Minute}
	reqs := []deps.Requirement{{Name: pkg}}
	state := filepath.Join(root, "state")
	if err := os.Mkdir(state, 0o711); err != nil {
		return "", err
	}
	kcfg := session.Config{Backend: b, Runtime: rt, StateDir: state, Limits: sandbox.Limits{Memory: 4 << 30}}

	var md strings.Builder
	fmt.Fprintf(&md, `The shared package store (`+"`deps.Store`"+`) with a heavy package, %s, from
PyPI (the default index) into sessions of the Namespaces backend, uv %s. The
store's uv cache starts empty, so its first install downloads; the uv cache of
the baseline (uv installing into each session's directory) %s.
`, pkg, uvVersion(rt.UV), map[bool]string{true: "is kept between runs (" + storeCacheEnv + ")", false: "starts empty"}[os.Getenv(storeCacheEnv) != ""])

	// The first install fills the cache (if empty) and the store, and
	// leaves the Installers knowing what the request resolves to, as a
	// running service does after its first session.
	cfg.logf("store: first install of %s", pkg)
	site0, err := newSite(root, "first")
	if err != nil {
		return "", err
	}
	t0 := time.Now()
	if err := withStore.Install(ctx, site0, reqs, nil); err != nil {
		return md.String(), fmt.Errorf("first install: %w", err)
	}
	first := time.Since(t0)
	site1, err := newSite(root, "direct-warm")
	if err != nil {
		return "", err
	}
	if err := direct.Install(ctx, site1, reqs, nil); err != nil {
		return md.String(), fmt.Errorf("first direct install: %w", err)
	}
	fmt.Fprintf(&md, "\nThe first install into the store (resolve, download, unpack, seal, link): %.1f s.\n", first.Seconds())

	// New session -> import finished, three ways, interleaved.
	code := "import " + module
	var floor, stored, today, links []time.Duration
	ways := []struct {
		name string
		into *[]time.Duration
		run  func(k *session.Kernel) error
	}{
		{"floor", &floor, func(k *session.Kernel) error {
			return nil // the files were linked in before the clock started
		}},
		{"store", &stored, func(k *session.Kernel) error { return withStore.Install(ctx, k.SiteDir(), reqs, nil) }},
		{"uv from the cache", &today, func(k *session.Kernel) error { return direct.Install(ctx, k.SiteDir(), reqs, nil) }},
	}
	rounds := max(3, cfg.Rounds)
	cfg.logf("store: new session to `%s` finished, %d rounds", code, rounds)
	for r := range rounds + 1 { // the first round warms the page cache
		for j := range ways {
			w := ways[(r+j)%len(ways)]
			k, err := session.Start(ctx, kcfg)
			if err != nil {
				return md.String(), err
			}
			if w.name == "floor" {
				if err := withStore.Install(ctx, k.SiteDir(), reqs, nil); err != nil {
					k.Close()
					return md.String(), err
				}
			}
			t := time.Now()
			err = w.run(k)
			if r > 0 && w.name == "store" {
				links = append(links, time.Since(t))
			}
			if err == nil {
				_, err = timeCell(ctx, k, code)
			}
			d := time.Since(t)
			k.Close()
			if err != nil {
				return md.String(), fmt.Errorf("%s: %w", w.name, err)
			}
			if r > 0 {
				*w.into = append(*w.into, d)
			}
		}
	}
	fl, st, td := summarize(floor), summarize(stored), summarize(today)
	t := newTable("from a new session to `"+code+"` finished", "median", "min", "max", "vs the floor")
	t.add("the floor: the files already in the session's package directory", secs(fl.median), secs(fl.min), secs(fl.max), "1.00×")
	t.add("**the store**: install (links) + import", secs(st.median), secs(st.min), secs(st.max), ratio(float64(st.median), float64(fl.median)))
	t.add("before the store: uv installs from its warm cache + import", secs(td.median), secs(td.min), secs(td.max), ratio(float64(td.median), float64(fl.median)))
	fmt.Fprintf(&md, "\n%d rounds after one to warm the page cache, each way in turn:\n\n%s", rounds, t)
	fmt.Fprintf(&md, "\nOf the store's, the install (resolution remembered, %s's distributions linked from the store) took %s at the median.\n", pkg, secs(median(links)))
	fmt.Fprintf(&md, "\nTarget: the store within %.1f× of the floor: %s (%s).\n", targetStoreImport,
		verdict(float64(st.median) <= targetStoreImport*float64(fl.median)), ratio(float64(st.median), float64(fl.median)))

	// Disk: storeSessions package directories using the package.
	cfg.logf("store: disk of %d sessions", storeSessions)
	var storeSites, directSites []string
	for i := range storeSessions {
		s, err := newSite(root, fmt.Sprintf("disk-store-%d", i))
		if err != nil {
			return md.String(), err
		}
		if err := withStore.Install(ctx, s, reqs, nil); err != nil {
			return md.String(), err
		}
		storeSites = append(storeSites, s)
		s, err = newSite(root, fmt.Sprintf("disk-direct-%d", i))
		if err != nil {
			return md.String(), err
		}
		if err := direct.Install(ctx, s, reqs, nil); err != nil {
			return md.String(), err
		}
		directSites = append(directSites, s)
	}
	one := diskUsage(directSites[:1]...)
	withStoreDisk := diskUsage(append([]string{store.Dir}, storeSites...)...)
	withStoreAndCache := diskUsage(append([]string{store.Dir, withStore.CacheDir}, storeSites...)...)
	directDisk := diskUsage(directSites...)
	cacheDisk := diskUsage(cache)
	storeCacheDisk := diskUsage(withStore.CacheDir)
	t = newTable("disk (allocated blocks, a file linked twice counted once)", "bytes", "vs one install")
	t.add("one install (one package directory)", gib(one), "1.00×")
	t.add(fmt.Sprintf("**%d sessions with the store** (the store and their directories)", storeSessions), gib(withStoreDisk), ratio(float64(withStoreDisk), float64(one)))
	t.add(fmt.Sprintf("%d sessions with the store, and the store's uv cache", storeSessions), gib(withStoreAndCache), ratio(float64(withStoreAndCache), float64(one)))
	t.add(fmt.Sprintf("%d sessions, uv into each directory", storeSessions), gib(directDisk), ratio(float64(directDisk), float64(one)))
	t.add("the baseline's uv cache, besides", gib(cacheDisk), ratio(float64(cacheDisk), float64(one)))
	t.add("the store's uv cache, besides (its files are the store's: not counted twice with it)", gib(storeCacheDisk), ratio(float64(storeCacheDisk), float64(one)))
	fmt.Fprintf(&md, "\n%s", t)
	fmt.Fprintf(&md, "\nTarget: %d sessions within %.1f× of one install: %s.\n", storeSessions, targetStoreDisk,
		verdict(float64(withStoreDisk) <= targetStoreDisk*float64(one)))
	md.WriteString(`
uv links what it installs from its cache (hard links, on one file system),
so the directories it fills share their files with the cache too, and the
store's entries share theirs with the store's cache; what the store adds is
that a session's directory is assembled by Interp without running uv, from
files sealed read-only and owned by root, and that the store's size is
bounded without touching what live sessions use. The CPU
preset's first install is not measured here: download.pytorch.org is not
reachable from this machine.
`)
	return md.String(), nil
}

func newSite(root, name string) (string, error) {
	dir := filepath.Join(root, "state", "site-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// diskUsage adds up the blocks allocated to the files under dirs,
// counting each inode once, as du does.
func diskUsage(dirs ...string) int64 {
	seen := map[uint64]bool{}
	var n int64
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			var st syscall.Stat_t
			if syscall.Lstat(p, &st) != nil || seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
			n += st.Blocks * 512
			return nil
		})
	}
	return n
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func gib(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
