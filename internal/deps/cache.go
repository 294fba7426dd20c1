package deps

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// CacheLimits bound the shared uv cache. Zero fields mean no bound.
type CacheLimits struct {
	// MaxBytes is the size the cache is pruned down to, oldest first.
	MaxBytes int64
	// MaxAge removes entries not written for longer.
	MaxAge time.Duration
}

// DefaultCacheLimits are applied once a day by an Installer.
var DefaultCacheLimits = CacheLimits{MaxBytes: 10 << 30, MaxAge: 60 * 24 * time.Hour}

// PruneResult says what PruneCache did.
type PruneResult struct {
	Entries int   // cache entries removed
	Freed   int64 // bytes removed
	Size    int64 // bytes left
}

// PruneCache removes unpacked wheels and built distributions from a uv
// cache: those older than limits.MaxAge, then the oldest until the cache
// holds at most limits.MaxBytes. An entry is one directory directly under
// one of uv's bucket directories (archive-v0/<id>, sdists-v*/...), or one
// wheel or build environment Interp built from source (interp-built,
// interp-buildenv); the index pages, the base environment's constraints
// and uv's own bookkeeping are left alone (uv re-fetches, and Interp
// rebuilds, what a pruned entry held), and sizes count the entries only.
// It takes uv's cache lock, so it never runs beside an install: if uv
// holds the lock, it returns ErrCacheBusy. A missing cache is empty.
func PruneCache(ctx context.Context, dir string, limits CacheLimits) (PruneResult, error) {
	var res PruneResult
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return res, err
	}
	defer lock.Close()
	if err := chownForUV(lock.Name()); err != nil {
		return res, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return res, ErrCacheBusy
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	entries, err := cacheEntries(ctx, dir)
	if err != nil {
		return res, err
	}
	return evictOldest(entries, limits), nil
}

// evictOldest removes entries (oldest first) older than limits.MaxAge,
// then the oldest until the rest hold at most limits.MaxBytes, sparing
// those in use.
func evictOldest(entries []cacheEntry, limits CacheLimits) PruneResult {
	var res PruneResult
	for _, e := range entries {
		res.Size += e.size
	}
	now := time.Now()
	for _, e := range entries {
		old := limits.MaxAge > 0 && now.Sub(e.mod) > limits.MaxAge
		big := limits.MaxBytes > 0 && res.Size > limits.MaxBytes
		if (!old && !big) || e.inUse {
			continue
		}
		removeTree(e.path)
		if _, err := os.Lstat(e.path); err == nil {
			continue
		}
		res.Entries++
		res.Freed += e.size
		res.Size -= e.size
	}
	return res
}

// cacheEntry is one prunable entry of the cache or the store.
type cacheEntry struct {
	path  string
	size  int64
	mod   time.Time
	inUse bool
}

// prunable says whether a directory directly under the cache holds
// prunable entries.
func prunable(bucket string) bool {
	for _, p := range []string{"archive-", "sdists-", "built-wheels-", "interp-built", "interp-buildenv"} {
		if strings.HasPrefix(bucket, p) {
			return true
		}
	}
	return false
}

// cacheEntries lists the prunable entries of the cache at dir, oldest
// first. A missing cache has none.
func cacheEntries(ctx context.Context, dir string) ([]cacheEntry, error) {
	var entries []cacheEntry
	buckets, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, b := range buckets {
		if !b.IsDir() || !prunable(b.Name()) {
			continue
		}
		items, _ := os.ReadDir(filepath.Join(dir, b.Name()))
		for _, it := range items {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p := filepath.Join(dir, b.Name(), it.Name())
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			size := fi.Size()
			if fi.IsDir() {
				size += dirSize(p)
			}
			entries = append(entries, cacheEntry{path: p, size: size, mod: fi.ModTime()})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].mod.Before(entries[j].mod) })
	return entries, nil
}

// CacheStats describe a package cache.
type CacheStats struct {
	Dir     string    `json:"dir"`
	Bytes   int64     `json:"bytes"`   // everything under Dir
	Entries int       `json:"entries"` // prunable entries (see PruneCache)
	Oldest  time.Time `json:"oldest,omitzero"`
}

// CacheInfo measures the cache at dir without changing it; a missing
// cache is empty.
func CacheInfo(ctx context.Context, dir string) (CacheStats, error) {
	st := CacheStats{Dir: dir}
	entries, err := cacheEntries(ctx, dir)
	if err != nil {
		return st, err
	}
	st.Entries = len(entries)
	if len(entries) > 0 {
		st.Oldest = entries[0].mod
	}
	st.Bytes = dirSize(dir)
	return st, nil
}

// ErrCacheBusy: uv is using the cache; prune it later.
var ErrCacheBusy = errors.New("the package cache is in use; try again when no install is running")

// pruneDaily prunes the cache with limits (DefaultCacheLimits if zero) if
// it was not pruned in the last day, remembered by the time of a stamp file.
func pruneDaily(ctx context.Context, dir string, limits CacheLimits) {
	if limits == (CacheLimits{}) {
		limits = DefaultCacheLimits
	}
	stamp := filepath.Join(dir, ".interp-pruned")
	if fi, err := os.Stat(stamp); err == nil && time.Since(fi.ModTime()) < 24*time.Hour {
		return
	}
	if _, err := PruneCache(ctx, dir, limits); err == nil {
		_ = os.WriteFile(stamp, nil, 0o644)
		now := time.Now()
		_ = os.Chtimes(stamp, now, now)
	}
}
