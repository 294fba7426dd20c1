package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/interp-dev/interp/internal/sandbox"
)

// Zygotes: a runner that has loaded the pool's Preload once, outside any
// sandbox, from which kernels are forked into new sandboxes (see
// sandbox.Zygote). A forked kernel is ready in the time a fork and a
// sandbox take, and shares the loaded modules' memory with its siblings.
// Each owner (a user of the server) gets zygotes of their own: programs
// of one zygote share its memory layout and hash secret, which sessions
// of different users must not. Making one costs what a preloaded kernel
// costs, so an owner gets one on their second request within zygoteIdle
// (the first starts from nothing, as without zygotes): many users who
// open one session each make none. The second starts from nothing too,
// while the zygote is made; later ones wait for it if it is not ready. A zygote is replaced after
// zygoteForks forks or zygoteAge, so that no layout lives long, and closed
// after zygoteIdle without a fork; at most maxZygotes are kept.
const (
	zygoteForks = 128
	zygoteAge   = 10 * time.Minute
	zygoteIdle  = 10 * time.Minute
	maxZygotes  = 8
	// zygoteRetry is how long a zygote that failed to start is not tried
	// again for its owner: their kernels start the slow way meanwhile.
	zygoteRetry = time.Minute
)

// errNotForked wraps the reasons a request gets no fork that are no
// failure: its kernel starts from nothing, as without zygotes.
var errNotForked = errors.New("not forked")

var (
	// errNoZygote: the backend cannot fork (the unsafe one).
	errNoZygote = fmt.Errorf("%w: the sandbox backend has no zygotes", errNotForked)
	// errFirstRequest: the owner's first request in a while, which makes
	// no zygote.
	errFirstRequest = fmt.Errorf("%w: the owner's first request makes no zygote", errNotForked)
	// errMaking: the request that makes its owner's zygote, which does not
	// wait for it.
	errMaking = fmt.Errorf("%w: the owner's zygote is being made", errNotForked)
	// errTooMany: maxZygotes are being made.
	errTooMany = fmt.Errorf("%w: as many zygotes as may be are being made", errNotForked)
)

// forker is a backend that can make zygotes: sandbox.Namespaces.
type forker interface {
	NewZygote(ctx context.Context, zs sandbox.ZygoteSpec) (*sandbox.Zygote, error)
}

type zygotes struct {
	cfg     Config
	preload []string

	mu     sync.Mutex
	slots  map[string]*zygoteSlot
	asked  map[string]time.Time // owners' first requests, within zygoteIdle
	closed bool
	failed int // forks that failed, for PoolStats
}

// zygoteSlot is an owner's zygote, ready once done is closed.
type zygoteSlot struct {
	done chan struct{}
	z    *sandbox.Zygote
	err  error
	at   time.Time // when it was made, or failed
	used time.Time
}

func newZygotes(cfg Config, preload []string) *zygotes {
	return &zygotes{cfg: cfg.withDefaults(), preload: preload, slots: make(map[string]*zygoteSlot), asked: make(map[string]time.Time)}
}

// start forks a kernel for owner from their zygote, making the zygote
// first if they have none; concurrent callers wait for the same one.
func (zs *zygotes) start(ctx context.Context, owner string) (*Kernel, error) {
	if _, ok := zs.cfg.Backend.(forker); !ok {
		return nil, errNoZygote
	}
	zs.mu.Lock()
	if zs.closed {
		zs.mu.Unlock()
		return nil, ErrManagerDown
	}
	sl := zs.slots[owner]
	if sl != nil && zs.stale(sl) {
		zs.retire(owner, sl)
		sl = nil
	}
	if sl == nil {
		if at, ok := zs.asked[owner]; !ok || time.Since(at) > zygoteIdle {
			zs.asked[owner] = time.Now()
			zs.mu.Unlock()
			return nil, errFirstRequest
		}
		// The request that makes the zygote does not wait for it: a cold
		// start is quicker. Those that come while it is being made wait:
		// a burst's cold starts would share the CPU with it and each other.
		if !zs.evict() {
			zs.mu.Unlock()
			return nil, errTooMany
		}
		sl = &zygoteSlot{done: make(chan struct{}), at: time.Now(), used: time.Now()}
		zs.slots[owner] = sl
		go zs.make(sl)
		zs.mu.Unlock()
		return nil, errMaking
	}
	sl.used = time.Now()
	zs.mu.Unlock()
	select {
	case <-sl.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if sl.err != nil {
		return nil, sl.err
	}
	k, err := start(ctx, zs.cfg, sl.z)
	if err != nil && ctx.Err() == nil {
		zs.mu.Lock()
		zs.failed++
		if zs.slots[owner] == sl {
			// A zygote that cannot fork (a kernel without setns on a
			// pidfd, say) is not tried again for zygoteRetry.
			zs.retire(owner, sl)
			failed := &zygoteSlot{done: make(chan struct{}), err: err, at: time.Now(), used: time.Now()}
			close(failed.done)
			zs.slots[owner] = failed
		}
		zs.mu.Unlock()
	}
	return k, err
}

// stale reports whether sl must be replaced. zs.mu is held.
func (zs *zygotes) stale(sl *zygoteSlot) bool {
	select {
	case <-sl.done:
	default:
		return false // still starting: wait for it
	}
	if sl.err != nil {
		return time.Since(sl.at) > zygoteRetry
	}
	return !sl.z.Alive() || sl.z.Forks() >= zygoteForks || sl.z.Age() >= zygoteAge
}

// retire removes owner's slot and closes its zygote once made. The
// kernels it forked live on. zs.mu is held.
func (zs *zygotes) retire(owner string, sl *zygoteSlot) {
	delete(zs.slots, owner)
	go func() {
		<-sl.done
		if sl.z != nil {
			sl.z.Close()
		}
	}()
}

// evict makes room for one more zygote, retiring the least recently
// used ready one, and reports whether there is room: zygotes being made
// are not retired. zs.mu is held.
func (zs *zygotes) evict() bool {
	for len(zs.slots) >= maxZygotes {
		var oldest string
		var lru *zygoteSlot
		for owner, sl := range zs.slots {
			select {
			case <-sl.done:
			default:
				continue
			}
			if lru == nil || sl.used.Before(lru.used) {
				oldest, lru = owner, sl
			}
		}
		if lru == nil {
			return false
		}
		zs.retire(oldest, lru)
	}
	return true
}

// expire retires zygotes unused for zygoteIdle, and forgets first
// requests as old.
func (zs *zygotes) expire() {
	zs.mu.Lock()
	defer zs.mu.Unlock()
	for owner, at := range zs.asked {
		if time.Since(at) > zygoteIdle {
			delete(zs.asked, owner)
		}
	}
	for owner, sl := range zs.slots {
		select {
		case <-sl.done:
		default:
			continue
		}
		if time.Since(sl.used) > zygoteIdle {
			zs.retire(owner, sl)
		}
	}
}

// make starts sl's zygote.
func (zs *zygotes) make(sl *zygoteSlot) {
	defer close(sl.done)
	z, err := zs.newZygote()
	sl.z, sl.err, sl.at = z, err, time.Now()
	zs.mu.Lock()
	defer zs.mu.Unlock()
	if zs.closed && z != nil {
		z.Close()
	}
}

func (zs *zygotes) newZygote() (*sandbox.Zygote, error) {
	cfg := zs.cfg
	// The zygote runs outside any sandbox: its caches and temporary files
	// go to a directory of its own, which it needs only while preparing
	// (matplotlib reads its font list there).
	dir, err := os.MkdirTemp(cfg.StateDir, "zygote-")
	if err != nil {
		return nil, fmt.Errorf("session: zygote: %w", err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	z, err := cfg.Backend.(forker).NewZygote(ctx, sandbox.ZygoteSpec{
		Python: []string{cfg.Runtime.Executable, "-I", "-B"},
		// A kernel's own, but for its package directory: what every
		// forked kernel shows as its environment.
		Env:        append(kernelEnv(cfg), cfg.Env...),
		PrepareEnv: []string{"HOME=" + dir, "TMPDIR=" + dir, "XDG_CACHE_HOME=" + dir + "/cache", "MPLCONFIGDIR=" + dir + "/matplotlib"},
		Program:    sandbox.File{Path: runnerPath, Data: runnerSource},
		Prepare:    zs.preload,
		CPUs:       cfg.Limits.WithDefaults().CPUs,
	})
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return z, nil
}

// close closes every zygote; kernels forked from them live on.
func (zs *zygotes) close() {
	zs.mu.Lock()
	defer zs.mu.Unlock()
	zs.closed = true
	for owner, sl := range zs.slots {
		zs.retire(owner, sl)
	}
}

// stats reports the zygotes ready and the forks that failed.
func (zs *zygotes) stats() (ready, failed int) {
	zs.mu.Lock()
	defer zs.mu.Unlock()
	for _, sl := range zs.slots {
		select {
		case <-sl.done:
			if sl.z != nil {
				ready++
			}
		default:
		}
	}
	return ready, zs.failed
}
