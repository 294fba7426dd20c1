package deps

import (
	"context"
	"errors"
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
// one of uv's bucket directories (archive-v0/<id>, sdists-v*/...); the
// index pages and uv's own bookkeeping are left alone (uv re-fetches what
// a pruned entry pointed to). It takes uv's cache lock, so it never runs
// beside an install: if uv holds the lock, it returns ErrCacheBusy.
func PruneCache(ctx context.Context, dir string, limits CacheLimits) (PruneResult, error) {
	var res PruneResult
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

	type entry struct {
		path string
		size int64
		mod  time.Time
	}
	var entries []entry
	buckets, err := os.ReadDir(dir)
	if err != nil {
		return res, err
	}
	for _, b := range buckets {
		if !b.IsDir() || !(strings.HasPrefix(b.Name(), "archive-") || strings.HasPrefix(b.Name(), "sdists-") || strings.HasPrefix(b.Name(), "built-wheels-")) {
			continue
		}
		items, _ := os.ReadDir(filepath.Join(dir, b.Name()))
		for _, it := range items {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			p := filepath.Join(dir, b.Name(), it.Name())
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			entries = append(entries, entry{p, dirSize(p) + fi.Size(), fi.ModTime()})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].mod.Before(entries[j].mod) })
	for _, e := range entries {
		res.Size += e.size
	}
	now := time.Now()
	for _, e := range entries {
		old := limits.MaxAge > 0 && now.Sub(e.mod) > limits.MaxAge
		big := limits.MaxBytes > 0 && res.Size > limits.MaxBytes
		if !old && !big {
			continue
		}
		if err := os.RemoveAll(e.path); err != nil {
			continue
		}
		res.Entries++
		res.Freed += e.size
		res.Size -= e.size
	}
	return res, nil
}

// ErrCacheBusy: uv is using the cache; prune it later.
var ErrCacheBusy = errors.New("the package cache is in use; try again when no install is running")

// pruneDaily prunes the cache with DefaultCacheLimits if it was not pruned
// in the last day, remembered by the time of a stamp file.
func pruneDaily(ctx context.Context, dir string) {
	stamp := filepath.Join(dir, ".interp-pruned")
	if fi, err := os.Stat(stamp); err == nil && time.Since(fi.ModTime()) < 24*time.Hour {
		return
	}
	if _, err := PruneCache(ctx, dir, DefaultCacheLimits); err == nil {
		_ = os.WriteFile(stamp, nil, 0o644)
		now := time.Now()
		_ = os.Chtimes(stamp, now, now)
	}
}
