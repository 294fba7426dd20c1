package session

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"
)

// PoolConfig sizes the warm pool.
type PoolConfig struct {
	// Size is how many ready kernels the pool keeps when sessions are
	// asked for rarely: its floor. Zero with a zero Max disables the pool.
	Size int
	// Max is the most ready kernels the pool grows to under demand. Each
	// request that finds the pool empty raises what it aims to hold by
	// one, up to Max and within MemoryBudget; a quiet pool shrinks back
	// to Size (see ShrinkAfter). Zero, or less than Size: Size, a fixed
	// pool.
	Max int
	// Preload lists modules every pooled kernel imports in advance, such
	// as numpy, pandas and matplotlib.pyplot. They are not bound to any
	// name: the user's namespace starts empty.
	Preload []string
	// MemoryBudget caps the memory of the kernels the pool holds and is
	// starting, together. A kernel counts for the most any pooled kernel
	// has used (its sandbox's peak, preloading included); until one has
	// been measured the pool starts one kernel at a time, and a kernel
	// that cannot be measured counts for its memory limit. The pool holds
	// fewer kernels rather than go over the budget. Zero means Max times
	// the kernels' memory limit.
	MemoryBudget int64
	// YieldAt: while this many cells or more run in the sessions of the
	// pool's Manager, the pool starts no kernel, leaving the CPU to them
	// (after a burst, their first cells import what they need). Zero
	// means the number of CPUs.
	YieldAt int
	// Fork: a request that finds the pool empty gets a kernel forked from
	// a zygote of its owner's, which has loaded Preload once (see
	// zygotes), rather than one started from nothing; an owner's first
	// such request in a while makes none and starts from nothing. Where
	// the backend cannot fork (the unsafe one), or a zygote fails to
	// start, kernels start from nothing as without it.
	Fork bool
	// ShrinkAfter is how long a pool that holds more than Size goes
	// without a request (or a new kernel of its own) before it halves
	// what it holds above Size, and again after each further such
	// period. Zero: one minute.
	ShrinkAfter time.Duration
}

// refillDelay is how long the pool waits after handing out a kernel before
// starting another.
const refillDelay = 250 * time.Millisecond

// Pool keeps kernels started and preloaded in advance, so that a new
// session is ready at once. It refills in the background, one kernel at
// a time, and adapts: it grows while requests find it empty and shrinks
// when they stop. It never makes a request wait for it: an empty pool
// starts a kernel for the caller (without preloading), and while such
// kernels are starting the pool starts none of its own, leaving the CPU
// to those who wait.
type Pool struct {
	cfg   Config
	pcfg  PoolConfig
	ready chan *Kernel
	// running counts the cells running in the Manager's sessions; nil
	// outside a Manager.
	running func() int

	mu         sync.Mutex
	target     int       // kernels the pool aims to hold: Size to Max
	perKern    int64     // memory one pooled kernel counts for; 0 until measured
	inFlight   int       // kernels the pool is starting
	cold       int       // kernels started for callers of Get, now starting
	highest    int       // the most kernels held and starting at once
	quietSince time.Time // the last request served, new kernel or shrink
	closed     bool
	refill     chan struct{}
	stop       chan struct{}
	wg         sync.WaitGroup
	// lastErr is the last failure to start a kernel, for diagnostics.
	lastErr error
	// zygotes fork kernels for requests that find the pool empty; nil
	// unless PoolConfig.Fork.
	zygotes *zygotes
}

// NewPool starts filling a pool of kernels made with cfg.
func NewPool(cfg Config, pcfg PoolConfig) *Pool { return newPool(cfg, pcfg, nil) }

// newPool makes a pool that yields to the cells running counts.
func newPool(cfg Config, pcfg PoolConfig, running func() int) *Pool {
	cfg = cfg.withDefaults()
	pcfg.Size = max(pcfg.Size, 0)
	pcfg.Max = max(pcfg.Max, pcfg.Size)
	if pcfg.MemoryBudget == 0 {
		pcfg.MemoryBudget = int64(pcfg.Max) * cfg.Limits.WithDefaults().Memory
	}
	if pcfg.ShrinkAfter <= 0 {
		pcfg.ShrinkAfter = time.Minute
	}
	if pcfg.YieldAt <= 0 {
		pcfg.YieldAt = runtime.NumCPU()
	}
	p := &Pool{
		cfg:        cfg,
		pcfg:       pcfg,
		ready:      make(chan *Kernel, max(pcfg.Max, 1)),
		running:    running,
		target:     pcfg.Size,
		quietSince: time.Now(),
		refill:     make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if pcfg.Fork {
		p.zygotes = newZygotes(cfg, pcfg.Preload)
	}
	if pcfg.Max > 0 {
		p.wg.Add(1)
		go p.fill()
		p.kick()
	}
	return p
}

// Get returns a ready kernel from the pool, or starts one when the pool is
// empty. Either way the pool refills in the background.
func (p *Pool) Get(ctx context.Context) (*Kernel, error) { return p.get(ctx, "") }

// get is Get for a request of owner's, whose zygote forks the kernel when
// the pool is empty.
func (p *Pool) get(ctx context.Context, owner string) (*Kernel, error) {
	for {
		select {
		case k := <-p.ready:
			p.mu.Lock()
			p.quietSince = time.Now()
			p.mu.Unlock()
			// Refilling loads a whole new kernel: wait a moment, so that
			// it does not compete with the first cells of the one handed
			// out, which a caller usually runs at once.
			time.AfterFunc(refillDelay, p.kick)
			if !k.Alive() {
				k.Close()
				continue
			}
			return k, nil
		default:
		}
		p.mu.Lock()
		p.quietSince = time.Now()
		// A miss: one more kernel would have been wanted.
		p.target = min(p.target+1, p.pcfg.Max)
		p.cold++
		p.mu.Unlock()
		k, err := p.startMiss(ctx, owner)
		p.mu.Lock()
		p.cold--
		p.quietSince = time.Now()
		p.mu.Unlock()
		p.kick()
		return k, err
	}
}

// startMiss starts a kernel for a request that found the pool empty:
// forked from owner's zygote, with Preload loaded, or else started from
// nothing without preloading, which would make every session pay for
// modules it may never import.
func (p *Pool) startMiss(ctx context.Context, owner string) (*Kernel, error) {
	if p.zygotes != nil {
		p.zygotes.expire()
		k, err := p.zygotes.start(ctx, owner)
		if err == nil || ctx.Err() != nil {
			return k, err
		}
		if !errors.Is(err, errNotForked) {
			p.mu.Lock()
			p.lastErr = err
			p.mu.Unlock()
		}
	}
	return Start(ctx, p.cfg)
}

// Ready returns how many kernels are waiting in the pool.
func (p *Pool) Ready() int { return len(p.ready) }

// PoolStats describes the pool's state, for metrics and tests.
type PoolStats struct {
	// Ready kernels wait in the pool; Starting are being started for it.
	Ready, Starting int
	// Target is how many kernels the pool aims to hold now.
	Target int
	// Highest is the most kernels the pool held and was starting at once.
	Highest int
	// PerKernel is the memory a pooled kernel counts for against the
	// budget, 0 until one has been measured.
	PerKernel int64
	// LastErr is the last failure to start a pooled kernel, or to fork one.
	LastErr error
	// Zygotes counts the zygotes ready to fork kernels (PoolConfig.Fork);
	// ForkFailures the forks that failed, whose callers got a kernel
	// started from nothing instead.
	Zygotes, ForkFailures int
}

// Stats returns the pool's state.
func (p *Pool) Stats() PoolStats {
	var zygotes, failures int
	if p.zygotes != nil {
		zygotes, failures = p.zygotes.stats()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Ready: len(p.ready), Starting: p.inFlight, Target: p.target, Highest: p.highest,
		PerKernel: p.perKern, LastErr: p.lastErr, Zygotes: zygotes, ForkFailures: failures}
}

// Close stops refilling and closes the waiting kernels.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stop)
	p.mu.Unlock()
	if p.zygotes != nil {
		p.zygotes.close()
	}
	p.wg.Wait()
	for {
		select {
		case k := <-p.ready:
			k.Close()
		default:
			return
		}
	}
}

func (p *Pool) kick() {
	select {
	case p.refill <- struct{}{}:
	default:
	}
}

// start starts one kernel and preloads its modules.
func (p *Pool) start(ctx context.Context) (*Kernel, error) {
	k, err := Start(ctx, p.cfg)
	if err != nil {
		return nil, err
	}
	if len(p.pcfg.Preload) > 0 {
		if err := k.preload(ctx, p.pcfg.Preload); err != nil {
			k.Close()
			return nil, err
		}
	}
	return k, nil
}

// fill keeps the pool at its target and within its memory budget, and
// shrinks it when quiet.
func (p *Pool) fill() {
	defer p.wg.Done()
	// The tick also retries a refill that yielded to running cells.
	tick := time.NewTicker(min(max(p.pcfg.ShrinkAfter/4, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			// Also a retry after a failed start.
			p.shrink()
		case <-p.refill:
		}
		for p.wantMore() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			k, err := p.start(ctx)
			cancel()
			p.mu.Lock()
			p.inFlight--
			p.lastErr = err
			if err == nil {
				_, mem := k.Usage()
				if mem <= 0 {
					// Unmeasured counts as the most it may use.
					mem = p.cfg.Limits.WithDefaults().Memory
				}
				p.perKern = max(p.perKern, mem)
			}
			p.mu.Unlock()
			if err != nil {
				// Try again on the next Get or tick rather than spin.
				break
			}
			p.mu.Lock()
			// Idle time counts from when the pool holds its kernels.
			p.quietSince = time.Now()
			p.mu.Unlock()
			select {
			case p.ready <- k:
			case <-p.stop:
				k.Close()
				return
			}
		}
	}
}

// wantMore reports whether one more kernel is wanted and fits, and
// reserves its place.
func (p *Pool) wantMore() bool {
	// Counted before taking p.mu: it takes the Manager's locks.
	yield := p.running != nil && p.running() >= p.pcfg.YieldAt
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.cold > 0 {
		// Kernels started for waiting callers go first; the one that
		// ends last kicks the pool again.
		return false
	}
	if yield {
		// So do the sessions' cells; the tick tries again.
		return false
	}
	n := len(p.ready) + p.inFlight
	if n >= p.target {
		return false
	}
	if p.perKern == 0 && n > 0 {
		// The first kernel is measured before a second is started.
		return false
	}
	if p.perKern > 0 && int64(n+1)*p.perKern > p.pcfg.MemoryBudget {
		return false
	}
	p.inFlight++
	p.highest = max(p.highest, n+1)
	return true
}

// shrink halves what a quiet pool holds above its floor, once per
// ShrinkAfter without a request.
func (p *Pool) shrink() {
	p.mu.Lock()
	if p.closed || p.cold > 0 || p.target <= p.pcfg.Size || time.Since(p.quietSince) < p.pcfg.ShrinkAfter {
		p.mu.Unlock()
		return
	}
	p.target = p.pcfg.Size + (p.target-p.pcfg.Size)/2
	p.quietSince = time.Now() // the next halving waits for another quiet period
	target := p.target
	p.mu.Unlock()
	for len(p.ready) > target {
		select {
		case k := <-p.ready:
			k.Close()
		default:
			return
		}
	}
}
