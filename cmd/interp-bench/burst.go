package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/interp-dev/interp/internal/session"
)

// Targets of the burst section (issue 17).
const (
	targetPandasReady = 50 * time.Millisecond // request to a ready pandas session, no pool
	targetBurstP99    = 5 * time.Second       // p99 of a burst of new pandas sessions
)

// codePandasCell is a burst's first cell: it needs pandas.
const codePandasCell = "import pandas as pd\npd.DataFrame({'a': [1, 2, 3]})['a'].sum()"

// burstPoolMemory caps the adaptive pool's budget in the burst section; it
// takes at most half of what the machine has available.
const burstPoolMemory = 12 << 30

// burstSection measures a burst of new pandas sessions: request to a
// ready pandas session without a pool, the memory of an idle pandas
// session, and a burst of cfg.Burst sessions at once on a fixed pool of
// two against the adaptive pool.
func burstSection(ctx context.Context, cfg *config) (string, error) {
	s, cleanup, err := newSessBench()
	if err != nil {
		return "", err
	}
	defer cleanup()
	load := func() string {
		b, _ := os.ReadFile("/proc/loadavg")
		f := strings.Fields(string(b))
		if len(f) < 3 {
			return "unknown"
		}
		return strings.Join(f[:3], ", ")
	}
	var md strings.Builder
	fmt.Fprintf(&md, "Load average (1, 5, 15 min) at the start of the section: %s.\n", load())
	parts := []struct {
		what string
		run  func(context.Context, *config) (string, error)
	}{
		{fmt.Sprintf("request to a ready pandas session, %d runs", 2*cfg.Rounds), s.pandasReady},
		{"memory of idle pandas sessions", s.pandasMemory},
		{fmt.Sprintf("a burst of %d new pandas sessions", cfg.Burst), s.burst},
	}
	for _, p := range parts {
		cfg.logf("burst: %s", p.what)
		t0 := time.Now()
		part, err := p.run(ctx, cfg)
		md.WriteString(part)
		if err != nil {
			return md.String(), fmt.Errorf("%s: %w", p.what, err)
		}
		cfg.logf("burst: done in %s", time.Since(t0).Round(time.Second))
	}
	fmt.Fprintf(&md, "\nLoad average at the end of the section: %s.\n", load())
	return md.String(), nil
}

// pandasSession creates a session and runs the pandas cell on it, and
// returns how long that took from the request.
func pandasSession(ctx context.Context, m *session.Manager) (time.Duration, *session.Session, error) {
	t0 := time.Now()
	sess, err := m.Create(ctx, session.CreateOptions{})
	if err != nil {
		return 0, nil, err
	}
	if err := checkDone(sess.Execute(ctx, codePandasCell, session.ExecOptions{}, nil)); err != nil {
		sess.Close()
		return 0, nil, err
	}
	return time.Since(t0), sess, nil
}

// pandasReady times a request to a ready pandas session (Create and the
// pandas cell) without a warm pool, beside the same from a full pool.
func (s *sessBench) pandasReady(ctx context.Context, cfg *config) (string, error) {
	cold := session.NewManager(session.ManagerConfig{Kernel: s.kernelConfig(s.base), IdleTimeout: -1})
	defer cold.Shutdown()
	warm := session.NewManager(session.ManagerConfig{
		Kernel: s.kernelConfig(s.base), IdleTimeout: -1,
		Pool: session.PoolConfig{Size: 1, Preload: preloadModules},
	})
	defer warm.Shutdown()
	var colds, warms []time.Duration
	for i := range 2*cfg.Rounds + 1 {
		for j := range 2 {
			// The warm run waits for a full, idle pool first.
			m := cold
			if (i+j)%2 == 1 {
				m = warm
				if err := waitPool(ctx, warm, 1, 5*time.Minute); err != nil {
					return "", err
				}
			}
			d, sess, err := pandasSession(ctx, m)
			if err != nil {
				return "", err
			}
			sess.Close()
			if i == 0 {
				continue // warm-up
			}
			if m == cold {
				colds = append(colds, d)
			} else {
				warms = append(warms, d)
			}
		}
	}
	sc, sw := summarize(colds), summarize(warms)
	t := newTable("request → pandas cell done", "median", "p90", "max")
	t.add("**no warm pool** (`Manager.Create` starts a kernel; the cell imports pandas)", ms(sc.median), ms(sc.p90), ms(sc.max))
	t.add("from a full warm pool (pandas imported in advance), for reference", ms(sw.median), ms(sw.p90), ms(sw.max))
	return fmt.Sprintf(`
### Request to a ready pandas session

`+"`Manager.Create`"+` then the first cell `+"`%s`"+`, timed from the
request to the cell's done event, on a manager without a warm pool (a new
sandbox, a new Python, pandas imported by the cell: a cold start, the path
every session takes when the pool is empty), alternating with a manager
whose pool of one (numpy, pandas and matplotlib.pyplot preloaded) is full
and idle. %d runs each after a warm-up run.

%s
- **Without a warm pool: %s** median. Target < %s: %s. No template
  kernel is forked (see ARCHITECTURE.md, "New sessions"): a session
  without a pooled kernel starts a Python and imports pandas itself.
`, strings.ReplaceAll(codePandasCell, "\n", "; "), len(colds), t, ms(sc.median), ms(targetPandasReady), verdict(sc.median < targetPandasReady)), nil
}

// pandasMemory measures idle sessions that imported numpy, pandas and
// matplotlib, beside idle sessions that did not.
func (s *sessBench) pandasMemory(ctx context.Context, cfg *config) (string, error) {
	k := min(cfg.Idle, 10)
	rounds := min(cfg.Rounds, 3)
	var bare, pandas []idleSample
	for r := range rounds {
		for j := range 2 {
			first := codeFirstCell
			if (r+j)%2 == 1 {
				first = codeImports + "\n" + codeFirstCell
			}
			m, err := s.idleKernels(ctx, k, first)
			if err != nil {
				return "", err
			}
			if first == codeFirstCell {
				bare = append(bare, m)
			} else {
				pandas = append(pandas, m)
			}
		}
	}
	med := func(xs []idleSample, get func(idleSample) float64) float64 {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = get(x)
		}
		return median(v)
	}
	getPss := func(m idleSample) float64 { return m.pss }
	getCur := func(m idleSample) float64 { return m.current }
	getPeak := func(m idleSample) float64 { return m.peak }
	t := newTable("per idle session", "after `"+codeFirstCell+"` (baseline)", "after `"+codeImports+"`", "ratio")
	t.add("**Pss of its processes** (host view)", mib(med(bare, getPss)), mib(med(pandas, getPss)), ratio(med(pandas, getPss), med(bare, getPss)))
	t.add("cgroup: memory in use now", mib(med(bare, getCur)), mib(med(pandas, getCur)), ratio(med(pandas, getCur), med(bare, getCur)))
	t.add("cgroup: peak (`Kernel.Usage`, what the pool's budget counts)", mib(med(bare, getPeak)), mib(med(pandas, getPeak)), ratio(med(pandas, getPeak), med(bare, getPeak)))
	return fmt.Sprintf(`
### Memory per idle pandas session

%d kernels at a time, each idle after its first cell, measured as in
"Memory per idle session" above; the batches alternate between kernels
whose first cell is `+"`%s`"+` (the 19 MiB Pss session of issue 17) and
kernels whose first cell imports numpy, pandas and matplotlib.pyplot, as
a pooled kernel has. Medians over %d round(s) of each.

%s
- **Per idle pandas session: %s Pss**, %s the bare session's %s. Issue
  17 asks for half of today's per-session memory; nothing here shares a
  pandas session's memory with another (each has its own Python heap), so
  it is not halved.
`, k, codeFirstCell, rounds, t, mib(med(pandas, getPss)), ratio(med(pandas, getPss), med(bare, getPss)), mib(med(bare, getPss))), nil
}

// burstResult is one burst of new sessions.
type burstResult struct {
	times  []time.Duration // request to the first cell's done, per session
	wall   time.Duration
	errors int
	first  error
	ready  int // kernels the pool held when the burst began
}

// burstOnce creates n sessions at once, each running the pandas cell, and
// closes them once all are done.
func burstOnce(ctx context.Context, m *session.Manager, n int) burstResult {
	r := burstResult{ready: m.Pool().Ready()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var open []*session.Session
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, sess, err := pandasSession(ctx, m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.errors++
				if r.first == nil {
					r.first = err
				}
				return
			}
			r.times = append(r.times, d)
			open = append(open, sess)
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	r.wall = time.Since(t0)
	for _, sess := range open {
		sess.Close()
	}
	return r
}

// settlePool waits until the pool has stopped growing: nothing starting,
// and as many ready as its target or its budget allows.
func settlePool(ctx context.Context, m *session.Manager, budget int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st := m.Pool().Stats()
		fits := st.Target
		if st.PerKernel > 0 {
			fits = min(fits, int(budget/st.PerKernel))
		}
		if st.Starting == 0 && st.Ready >= fits {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the adaptive pool did not settle in %s: %+v", timeout, st)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// burst runs cfg.Burst new pandas sessions at once on a fixed pool of two
// (the default before the adaptive pool), then twice on an adaptive pool:
// first as it starts, then once it has grown from the first burst.
func (s *sessBench) burst(ctx context.Context, cfg *config) (string, error) {
	n := cfg.Burst
	budget := int64(burstPoolMemory)
	if mi, err := readMeminfo(); err == nil {
		budget = min(budget, mi["MemAvailable"]/2)
	}
	manager := func(pool session.PoolConfig) *session.Manager {
		return session.NewManager(session.ManagerConfig{
			Kernel: s.kernelConfig(s.base), MaxSessions: 2 * n, IdleTimeout: -1, Pool: pool,
		})
	}
	var md strings.Builder
	t := newTable("burst of "+fmt.Sprint(n)+" new sessions, request → pandas cell done", "kernels ready in the pool", "p50", "p90", "p99", "max", "burst wall time", "errors")
	add := func(what string, r burstResult) {
		st := summarize(r.times)
		t.add(what, fmt.Sprint(r.ready), ms(st.median), ms(percentile(r.times, 90)), ms(percentile(r.times, 99)), ms(st.max),
			ms(r.wall), fmt.Sprintf("%d of %d", r.errors, n))
	}
	report := func(extra string) string {
		return md.String() + t.String() + extra
	}
	fmt.Fprintf(&md, `
### A burst of new pandas sessions

%d sessions asked for at once (one goroutine each, released together), each
running `+"`%s`"+` as its first cell as soon as
`+"`Manager.Create`"+` returns, timed from the request to the cell's done
event; all stay open until the last is done, then close. Kernels: base
environment, IPython, default limits (one core each); the machine's %d
cores are shared by all. Three managers, one after the other:

1. **fixed pool of 2** (baseline: the default before the adaptive pool),
   full at the start;
2. **adaptive pool**, floor 2, at most %d, a memory budget of %s (%s of
   this machine's available memory, at most %s), full at its floor at the
   start: the first burst it sees;
3. the **same adaptive pool** once it has grown from that burst to what
   its budget holds, and the burst again.

One round of each (a burst takes minutes on this machine).

`, n, strings.ReplaceAll(codePandasCell, "\n", "; "), runtime.NumCPU(), n, mib(float64(budget)), "half", mib(burstPoolMemory))

	fixed := manager(session.PoolConfig{Size: 2, Preload: preloadModules})
	if err := waitPool(ctx, fixed, 2, 10*time.Minute); err != nil {
		fixed.Shutdown()
		return "", err
	}
	cfg.logf("burst: fixed pool of 2")
	rf := burstOnce(ctx, fixed, n)
	fixed.Shutdown()
	add("fixed pool of 2 (baseline)", rf)

	adaptive := manager(session.PoolConfig{Size: 2, Max: n, Preload: preloadModules, MemoryBudget: budget, ShrinkAfter: time.Hour})
	defer adaptive.Shutdown()
	if err := waitPool(ctx, adaptive, 2, 10*time.Minute); err != nil {
		return report(""), err
	}
	cfg.logf("burst: adaptive pool, first burst")
	ra := burstOnce(ctx, adaptive, n)
	add("adaptive pool, first burst", ra)
	grow := time.Now()
	cfg.logf("burst: adaptive pool growing (target %d)", adaptive.Pool().Stats().Target)
	if err := settlePool(ctx, adaptive, budget, 30*time.Minute); err != nil {
		return report(""), err
	}
	grown := time.Since(grow)
	st := adaptive.Pool().Stats()
	cfg.logf("burst: adaptive pool, repeat burst (%d ready)", st.Ready)
	rr := burstOnce(ctx, adaptive, n)
	add("**adaptive pool, grown**: the burst again", rr)

	p99 := percentile(rr.times, 99)
	extra := fmt.Sprintf(`
- Fixed pool of 2: **p50 %s, p99 %s**. Adaptive pool, first burst: p50
  %s, p99 %s. Adaptive pool grown to %d kernels (its target %d; %s
  counted per kernel, so %s holds %d; growing took %s, one kernel at a
  time): **p50 %s, p99 %s**, %s the fixed pool's p99. Target p99 < %s:
  %s (for the grown pool; a burst on a pool that has not grown pays
  every cold start, about %s of CPU each, on %d cores).
`, ms(summarize(rf.times).median), ms(percentile(rf.times, 99)),
		ms(summarize(ra.times).median), ms(percentile(ra.times, 99)),
		st.Ready, st.Target, mib(float64(st.PerKernel)), mib(float64(budget)), int(budget/max(st.PerKernel, 1)), grown.Round(time.Second),
		ms(summarize(rr.times).median), ms(p99), ratio(float64(p99), float64(percentile(rf.times, 99))),
		ms(targetBurstP99), verdict(p99 < targetBurstP99), "0.6 s", runtime.NumCPU())
	var err error
	for _, r := range []burstResult{rf, ra, rr} {
		if r.first != nil {
			extra += fmt.Sprintf("- A session failed: %s\n", oneLine(r.first.Error()))
			err = r.first
		}
	}
	return report(extra), err
}
