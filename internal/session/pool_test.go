package session_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/session"
)

// waitFor polls cond until it holds, failing the test after a minute
// and a half: a liveness bound for a loaded machine, not a timing claim.
func waitFor(t *testing.T, p *session.Pool, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 90s: %+v", what, p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// burst makes n requests to the pool at once and closes what they got.
// Every request must get a live kernel, whatever the pool holds.
func burst(t *testing.T, p *session.Pool, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := p.Get(context.Background())
			if err != nil {
				errs <- err
				return
			}
			if !k.Alive() {
				t.Error("the pool handed out a dead kernel")
			}
			k.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a request in a burst of %d failed: %v", n, err)
	}
}

func TestPoolGrowsWithDemandAndShrinksWhenQuiet(t *testing.T) {
	t.Parallel()
	p := session.NewPool(config(t), session.PoolConfig{Size: 1, Max: 3, Preload: []string{"json"}, ShrinkAfter: 3 * time.Second})
	defer p.Close()
	waitFor(t, p, "holding its first kernel", func() bool { return p.Ready() == 1 })

	// One request finds the kernel, the others find the pool empty: each
	// miss raises the target, up to Max.
	burst(t, p, 4)
	if st := p.Stats(); st.Target != 3 {
		t.Fatalf("after a burst of 4 on a pool of 1 (max 3), the target is %d, want 3", st.Target)
	}
	waitFor(t, p, "grown to 3 ready kernels", func() bool { return p.Ready() == 3 })

	// Nobody asks: it halves what it holds above its floor, then again.
	waitFor(t, p, "shrunk back to 1", func() bool { st := p.Stats(); return st.Ready == 1 && st.Target == 1 })

	// What it kept is a preloaded kernel.
	k, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if got := stdout(cell(t, k, "import sys\nprint('json' in sys.modules)")); got != "True\n" {
		t.Errorf("a kernel kept by the shrunk pool is not preloaded: %q", got)
	}
}

func TestPoolStaysWithinItsMemoryBudget(t *testing.T) {
	t.Parallel()
	cfg := config(t)
	// Measure what one pooled kernel counts for.
	probe := session.NewPool(cfg, session.PoolConfig{Size: 1, Preload: []string{"json"}})
	waitFor(t, probe, "measuring a kernel", func() bool { return probe.Stats().PerKernel > 0 })
	per := probe.Stats().PerKernel
	probe.Close()

	// Room for two and a half kernels: the pool must stop short of Max,
	// at what its budget holds of the kernels it measured itself (their
	// peaks vary from kernel to kernel).
	budget := per * 5 / 2
	p := session.NewPool(cfg, session.PoolConfig{Size: 1, Max: 6, Preload: []string{"json"}, MemoryBudget: budget, ShrinkAfter: time.Hour})
	defer p.Close()
	waitFor(t, p, "holding its first kernel", func() bool { return p.Ready() == 1 })
	burst(t, p, 6)
	if st := p.Stats(); st.Target != 6 {
		t.Errorf("after a burst of 6, the target is %d, want 6 (the budget, not the target, holds it back)", st.Target)
	}
	fits := func(st session.PoolStats) int { return max(int(budget/st.PerKernel), 1) }
	waitFor(t, p, "holding what its budget fits", func() bool {
		st := p.Stats()
		return st.Starting == 0 && st.Ready == fits(st)
	})
	st := p.Stats()
	if st.Highest > fits(st) {
		t.Errorf("the pool held or started %d kernels at once; its budget of %d bytes has room for %d of %d", st.Highest, budget, fits(st), st.PerKernel)
	}
	if st.Ready >= 6 {
		t.Errorf("the pool grew to its Max of 6 kernels of %d bytes, over its budget of %d", st.PerKernel, budget)
	}
}

func TestPoolBudgetTooSmallStillServes(t *testing.T) {
	t.Parallel()
	// A budget smaller than any kernel: the pool starts one to measure,
	// then none, and every request is still served, cold.
	p := session.NewPool(config(t), session.PoolConfig{Size: 2, Max: 4, MemoryBudget: 1})
	defer p.Close()
	waitFor(t, p, "holding its first kernel", func() bool { return p.Ready() == 1 })
	burst(t, p, 3)
	// Let a refill the budget should refuse have its chance to start.
	time.Sleep(time.Second)
	if st := p.Stats(); st.Ready+st.Starting != 0 || st.Highest != 1 {
		t.Errorf("a pool with a 1-byte budget holds %d and starts %d kernels (at most %d at once); want none after the first", st.Ready, st.Starting, st.Highest)
	}
}

func TestPoolYieldsToRunningCells(t *testing.T) {
	t.Parallel()
	m := session.NewManager(session.ManagerConfig{
		Kernel: config(t), IdleTimeout: -1,
		Pool: session.PoolConfig{Size: 1, Preload: []string{"json"}, YieldAt: 1},
	})
	defer m.Shutdown()
	p := m.Pool()
	waitFor(t, p, "holding its first kernel", func() bool { return p.Ready() == 1 })
	s, err := m.Create(context.Background(), session.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var once sync.Once
	ran := make(chan error, 1)
	go func() {
		_, err := s.Execute(context.Background(), "import time\nprint('started', flush=True)\ntime.sleep(600)", session.ExecOptions{},
			func(ev session.Event) {
				if ev.Type == "stdout" {
					once.Do(func() { close(started) })
				}
			})
		ran <- err
	}()
	<-started
	// The refill is due a quarter of a second after the Create; with one
	// cell running and YieldAt 1, it must wait.
	time.Sleep(time.Second)
	if st := p.Stats(); st.Ready+st.Starting != 0 {
		t.Errorf("the pool started a kernel while a session's cell ran: %+v", st)
	}
	if err := s.Interrupt(); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, "refilled once the cell ended", func() bool { return p.Ready() == 1 })
}
