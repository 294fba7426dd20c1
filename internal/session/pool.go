package session

import (
	"context"
	"sync"
	"time"
)

// PoolConfig sizes the warm pool.
type PoolConfig struct {
	// Size is how many ready kernels to keep. Zero disables the pool.
	Size int
	// Preload lists modules every pooled kernel imports in advance, such
	// as numpy, pandas and matplotlib.pyplot. They are not bound to any
	// name: the user's namespace starts empty.
	Preload []string
	// MemoryBudget caps the memory all pooled kernels may use together;
	// the pool holds fewer kernels rather than go over it. Zero means
	// Size times the kernels' memory limit.
	MemoryBudget int64
}

// refillDelay is how long the pool waits after handing out a kernel before
// starting another.
const refillDelay = 250 * time.Millisecond

// Pool keeps kernels started and preloaded in advance, so that a new
// session is ready at once. It refills in the background.
type Pool struct {
	cfg   Config
	pcfg  PoolConfig
	ready chan *Kernel

	mu       sync.Mutex
	perKern  int64 // measured memory of one preloaded kernel
	inFlight int
	closed   bool
	refill   chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	// lastErr is the last failure to start a kernel, for diagnostics.
	lastErr error
}

// NewPool starts filling a pool of kernels made with cfg.
func NewPool(cfg Config, pcfg PoolConfig) *Pool {
	cfg = cfg.withDefaults()
	if pcfg.MemoryBudget == 0 {
		pcfg.MemoryBudget = int64(pcfg.Size) * cfg.Limits.WithDefaults().Memory
	}
	p := &Pool{
		cfg:    cfg,
		pcfg:   pcfg,
		ready:  make(chan *Kernel, max(pcfg.Size, 1)),
		refill: make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	if pcfg.Size > 0 {
		p.wg.Add(1)
		go p.fill()
		p.kick()
	}
	return p
}

// Get returns a ready kernel from the pool, or starts one when the pool is
// empty. Either way the pool refills in the background.
func (p *Pool) Get(ctx context.Context) (*Kernel, error) {
	for {
		select {
		case k := <-p.ready:
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
		p.kick()
		// The caller waits for this one: no preloading, which would make
		// every session pay for modules it may never import.
		return Start(ctx, p.cfg)
	}
}

// Ready returns how many kernels are waiting in the pool.
func (p *Pool) Ready() int { return len(p.ready) }

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

// fill keeps the pool at its size and within its memory budget.
func (p *Pool) fill() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case <-p.refill:
		}
		for p.wantMore() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			k, err := p.start(ctx)
			cancel()
			p.mu.Lock()
			p.inFlight--
			p.lastErr = err
			p.mu.Unlock()
			if err != nil {
				// Try again on the next Get rather than spin.
				break
			}
			if _, mem := k.Usage(); mem > 0 {
				p.mu.Lock()
				p.perKern = max(p.perKern, mem)
				p.mu.Unlock()
			}
			select {
			case p.ready <- k:
			case <-p.stop:
				k.Close()
				return
			}
		}
	}
}

// wantMore reports whether one more kernel fits, and reserves its place.
func (p *Pool) wantMore() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	n := len(p.ready) + p.inFlight
	if n >= p.pcfg.Size {
		return false
	}
	if p.perKern > 0 && int64(n+1)*p.perKern > p.pcfg.MemoryBudget {
		return false
	}
	p.inFlight++
	return true
}
