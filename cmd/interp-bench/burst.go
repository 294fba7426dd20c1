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
func pandasSession(ctx context.Context, m *session.Manager, opts session.CreateOptions) (time.Duration, *session.Session, error) {
	t0 := time.Now()
	sess, err := m.Create(ctx, opts)
	if err != nil {
		return 0, nil, err
	}
	if err := checkDone(sess.Execute(ctx, codePandasCell, session.ExecOptions{}, nil)); err != nil {
		sess.Close()
		return 0, nil, err
	}
	return time.Since(t0), sess, nil
}

// forkPool is the pool of a manager whose sessions are forked from their
// owner's zygote when the pool is empty.
func forkPool(size int) session.PoolConfig {
	return session.PoolConfig{Size: size, Fork: true, Preload: preloadModules}
}

// forkCheck says whether requests of m that should have been forked were
// started from nothing instead, or "" if none was.
func forkCheck(m *session.Manager) string {
	st := m.Pool().Stats()
	switch {
	case st.ForkFailures > 0:
		return fmt.Sprintf("%d fork(s) failed and fell back to a cold start (last error: %v)", st.ForkFailures, st.LastErr)
	case st.LastErr != nil:
		return fmt.Sprintf("the pool reported an error, maybe a zygote that failed to start (requests then start cold): %s", oneLine(st.LastErr.Error()))
	}
	return ""
}

// newOwnerRuns is how many new owners' first three requests are timed:
// the second has a zygote made, about a second of CPU.
const newOwnerRuns = 5

// makeZygote has m make the zygote of the owner "" by asking for sessions
// until it has one: an owner's first request that finds the pool empty
// starts from nothing, their second too while it has the zygote made, the
// third waits for it; a request the pool serves makes none.
func makeZygote(ctx context.Context, m *session.Manager) error {
	for range 6 {
		if m.Pool().Stats().Zygotes > 0 {
			return nil
		}
		sess, err := m.Create(ctx, session.CreateOptions{})
		if err != nil {
			return err
		}
		sess.Close()
	}
	st := m.Pool().Stats()
	if st.Zygotes == 0 {
		return fmt.Errorf("no zygote after 6 requests: %v", st.LastErr)
	}
	return nil
}

// pandasReady times a request to a ready pandas session (Create and the
// pandas cell) without a warm pool, started from nothing or forked from
// the owner's zygote, beside the same from a full pool.
func (s *sessBench) pandasReady(ctx context.Context, cfg *config) (string, error) {
	manager := func(pool session.PoolConfig) *session.Manager {
		return session.NewManager(session.ManagerConfig{Kernel: s.kernelConfig(s.base), IdleTimeout: -1, Pool: pool})
	}
	cold := manager(session.PoolConfig{})
	defer cold.Shutdown()
	warm := manager(session.PoolConfig{Size: 1, Preload: preloadModules})
	defer warm.Shutdown()
	forked := manager(forkPool(0))
	defer forked.Shutdown()
	managers := []*session.Manager{cold, warm, forked}
	// Every run starts with the warm pool full and idle, so that no kernel
	// starts in the background meanwhile.
	quiet := func() error { return waitPool(ctx, warm, 1, 5*time.Minute) }
	run := func(m *session.Manager, opts session.CreateOptions, check func(*session.Session) error) (time.Duration, error) {
		if err := quiet(); err != nil {
			return 0, err
		}
		d, sess, err := pandasSession(ctx, m, opts)
		if err != nil {
			return 0, err
		}
		defer sess.Close()
		if check != nil {
			err = check(sess)
		}
		return d, err
	}
	// Warm-up: the forked manager's first requests make the zygote of the
	// owner every later request has; a forked session must hold what the
	// zygote preloaded.
	if err := makeZygote(ctx, forked); err != nil {
		return "", err
	}
	for _, m := range managers {
		check := func(sess *session.Session) error { return preloaded(ctx, sess) }
		if m == cold {
			check = nil
		}
		if _, err := run(m, session.CreateOptions{}, check); err != nil {
			return "", err
		}
	}
	if st := forked.Pool().Stats(); st.Zygotes != 1 {
		return "", fmt.Errorf("no zygote after the warm-up (%d ready): %v", st.Zygotes, st.LastErr)
	}
	runs := 10 * cfg.Rounds
	times := make([][]time.Duration, len(managers))
	for i := range runs {
		for j := range managers {
			k := (i + j) % len(managers)
			d, err := run(managers[k], session.CreateOptions{}, nil)
			if err != nil {
				return "", err
			}
			times[k] = append(times[k], d)
		}
	}
	// A new owner's first, second and third requests, one after the other.
	owners := make([][]time.Duration, 3)
	for i := range newOwnerRuns {
		owner := session.CreateOptions{Owner: fmt.Sprintf("bench-owner-%d", i)}
		for r := range owners {
			d, err := run(forked, owner, nil)
			if err != nil {
				return "", err
			}
			owners[r] = append(owners[r], d)
		}
	}
	if st := forked.Pool().Stats(); st.Zygotes != 1+newOwnerRuns {
		return "", fmt.Errorf("%d zygotes after %d new owners' third requests, want %d: %v", st.Zygotes, newOwnerRuns, 1+newOwnerRuns, st.LastErr)
	}
	sc, sw, sf := summarize(times[0]), summarize(times[1]), summarize(times[2])
	s1, s2, s3 := summarize(owners[0]), summarize(owners[1]), summarize(owners[2])
	t := newTable("request → pandas cell done", "runs", "median", "p90", "max", "median ÷ no warm pool")
	t.add("**no warm pool** (baseline: `Manager.Create` starts a kernel; the cell imports pandas)", fmt.Sprint(len(times[0])), ms(sc.median), ms(sc.p90), ms(sc.max), "1.00×")
	t.add("**forked from the owner's zygote** (no warm pool: `Pool{Size: 0, Fork: true, Preload}`; the zygote made by warm-up requests)",
		fmt.Sprint(len(times[2])), ms(sf.median), ms(sf.p90), ms(sf.max), ratio(float64(sf.median), float64(sc.median)))
	for i, what := range []string{
		"forked, a new owner's first request (starts from nothing, makes no zygote)",
		"forked, a new owner's second request (starts from nothing; their zygote is made meanwhile)",
		"forked, a new owner's third request, right after (waits for the zygote if not yet made, then forks)",
	} {
		st := []stats{s1, s2, s3}[i]
		t.add(what, fmt.Sprint(len(owners[i])), ms(st.median), ms(st.p90), ms(st.max), ratio(float64(st.median), float64(sc.median)))
	}
	t.add("from a full warm pool (pandas imported in advance), for reference", fmt.Sprint(len(times[1])), ms(sw.median), ms(sw.p90), ms(sw.max), ratio(float64(sw.median), float64(sc.median)))
	fell := ""
	if c := forkCheck(forked); c != "" {
		fell = "- **Not all forked**: " + c + ", so the forked rows mix in cold starts.\n"
	}
	return fmt.Sprintf(`
### Request to a ready pandas session

`+"`Manager.Create`"+` then the first cell `+"`%s`"+`, timed from the
request to the cell's done event, on three managers, in turn:

- without a warm pool (a new sandbox, a new Python, pandas imported by the
  cell: a cold start, the path every session took when the pool was
  empty);
- without a warm pool but with `+"`PoolConfig.Fork`"+`: the kernel is
  forked from a zygote of the request's owner, a runner that has imported
  numpy, pandas and matplotlib.pyplot and made its IPython shell once, so
  the cell finds pandas imported; warm-up requests made the zygote (an
  owner's first request that finds the pool empty starts from nothing and
  makes none; their second starts from nothing too, having the zygote
  made meanwhile; later ones wait for it if it is not made yet);
- with a pool of one (the same modules preloaded), full and idle.

Every run waits until that pool is full, so that no kernel starts in the
background meanwhile; a warm-up run of each comes first. Then the first
three requests of %d new owners, one after the other.

%s
- **Forked from the owner's zygote: %s** median, %s the cold start's
  %s. Target < %s: %s.
- A new owner's first two requests start from nothing (%s and %s
  median); their third, right after, is forked once the zygote the second
  had made is ready: %s median. A zygote serves one owner (programs forked
  from it share its memory layout and hash secret), so a server makes one
  per user who opens more than one session, and again when their zygote
  is replaced (after 128 forks or 10 minutes) or closed (after 10 idle
  minutes).
%s`, strings.ReplaceAll(codePandasCell, "\n", "; "), newOwnerRuns, t, ms(sf.median), ratio(float64(sf.median), float64(sc.median)),
		ms(sc.median), ms(targetPandasReady), verdict(sf.median < targetPandasReady), ms(s1.median), ms(s2.median), ms(s3.median), fell), nil
}

// forkedKernels measures k idle sessions forked from one zygote, after
// first, with the zygote's own Pss.
func (s *sessBench) forkedKernels(ctx context.Context, k int, first string) (idleSample, error) {
	m := session.NewManager(session.ManagerConfig{Kernel: s.kernelConfig(s.base), IdleTimeout: -1, MaxSessions: 2 * k, Pool: forkPool(0)})
	defer m.Shutdown()
	// The zygote is the new child of this process that runs Python on a
	// program read from its standard input.
	old := zygotePids(s.base.Executable)
	if err := makeZygote(ctx, m); err != nil {
		return idleSample{}, err
	}
	var zygote []int
	for pid := range zygotePids(s.base.Executable) {
		if !old[pid] {
			zygote = append(zygote, pid)
		}
	}
	if len(zygote) != 1 {
		return idleSample{}, fmt.Errorf("found %d new zygote processes (want 1): %v", len(zygote), m.Pool().Stats().LastErr)
	}
	create := func(ctx context.Context) (*session.Session, error) { return m.Create(ctx, session.CreateOptions{}) }
	shared := func() (int64, error) { return pss(zygote[0]) }
	sample, err := s.idleKernels(ctx, k, first, kernelSource{create: create, shared: shared})
	if err == nil {
		if c := forkCheck(m); c != "" {
			err = fmt.Errorf("forked sessions: %s", c)
		}
	}
	return sample, err
}

// pandasMemory measures idle sessions that imported numpy, pandas and
// matplotlib, started from nothing or forked from a zygote that had,
// beside idle sessions that did not.
func (s *sessBench) pandasMemory(ctx context.Context, cfg *config) (string, error) {
	k := min(cfg.Idle, 10)
	rounds := min(cfg.Rounds, 3)
	firstPandas := codeImports + "\n" + codeFirstCell
	kinds := []func() (idleSample, error){
		func() (idleSample, error) { return s.idleKernels(ctx, k, codeFirstCell, kernelSource{}) },
		func() (idleSample, error) { return s.idleKernels(ctx, k, firstPandas, kernelSource{}) },
		func() (idleSample, error) { return s.forkedKernels(ctx, k, firstPandas) },
	}
	samples := make([][]idleSample, len(kinds))
	for r := range rounds {
		for j := range kinds {
			i := (r + j) % len(kinds)
			m, err := kinds[i]()
			if err != nil {
				return "", err
			}
			samples[i] = append(samples[i], m)
		}
	}
	bare, pandas, forked := samples[0], samples[1], samples[2]
	med := func(xs []idleSample, get func(idleSample) float64) float64 {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = get(x)
		}
		return median(v)
	}
	getPss := func(m idleSample) float64 { return m.pss }
	getSpread := func(m idleSample) float64 { return m.pss + m.shared/float64(k) }
	getShared := func(m idleSample) float64 { return m.shared }
	getCur := func(m idleSample) float64 { return m.current }
	getPeak := func(m idleSample) float64 { return m.peak }
	t := newTable("per idle session", "after `"+codeFirstCell+"`", "started cold, after `"+codeImports+"` (baseline)",
		"forked from a zygote, after the same cell", "cold ÷ after `"+codeFirstCell+"`", "forked ÷ cold")
	row := func(what string, get, getForked func(idleSample) float64) {
		b, p, f := med(bare, get), med(pandas, get), med(forked, getForked)
		t.add(what, mib(b), mib(p), mib(f), ratio(p, b), ratio(f, p))
	}
	row("**Pss of its processes** (host view)", getPss, getPss)
	row(fmt.Sprintf("**Pss, the zygote's spread over the %d sessions** (forked: its own plus 1/%d of the zygote's)", k, k), getPss, getSpread)
	row("cgroup: memory in use now", getCur, getCur)
	row("cgroup: peak (`Kernel.Usage`, what the pool's budget counts)", getPeak, getPeak)
	spread, cold := med(forked, getSpread), med(pandas, getPss)
	getProcs := func(m idleSample) float64 { return m.procs }
	return fmt.Sprintf(`
### Memory per idle pandas session

%d kernels at a time, each idle after its first cell, measured as in
"Memory per idle session" above (the Pss of the processes in each
sandbox's cgroup: its init and its program, forked ones too, whose parent
is the zygote until it hands them to the init). The batches rotate
between kernels whose first cell is `+"`%s`"+` (the 19 MiB Pss session of
issue 17), kernels started cold whose first cell imports numpy, pandas and
matplotlib.pyplot, as a pooled kernel has (the baseline: today's idle
pandas session), and kernels forked from one zygote (`+"`PoolConfig.Fork`"+`,
no warm pool; requests before made the zygote) that run the same first
cell, whose imports the zygote made. Medians over %d round(s) of each.

%s
- The zygote's own Pss, measured with its %d sessions alive: **%s**. Pss
  splits each page among the processes that map it, so a forked
  session's Pss already counts its share of the pages it still shares
  with the zygote and its siblings, and the zygote's Pss is the share left
  to it; the two together are what the %d sessions and their zygote
  cost. Processes per sandbox: %.0f started cold, %.0f forked (an init and
  its program). The cgroup figures count only what each sandbox allocated
  after the fork: pages it shares with the zygote are charged to the
  zygote's cgroup.
- **Per idle pandas session, forked: %s Pss** of its own processes, **%s**
  with the zygote's Pss spread over the %d sessions, against %s for one
  started cold (%s of it). Target: half of today's per-session memory
  (%s or less), counting the zygote's share: %s.
`, k, codeFirstCell, rounds, t, k, mib(med(forked, getShared)), k, med(pandas, getProcs), med(forked, getProcs),
		mib(med(forked, getPss)), mib(spread), k, mib(cold), ratio(spread, cold), mib(cold/2), verdict(spread <= cold/2)), nil
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
// closes them once all are done. owner names the i-th request's owner;
// nil: all are of one.
func burstOnce(ctx context.Context, m *session.Manager, n int, owner func(i int) string) burstResult {
	r := burstResult{ready: m.Pool().Ready()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var open []*session.Session
	start := make(chan struct{})
	for i := range n {
		var opts session.CreateOptions
		if owner != nil {
			opts.Owner = owner(i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, sess, err := pandasSession(ctx, m, opts)
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
// (the default before the adaptive pool), on a pool of two whose misses
// are forked from a zygote (first the burst makes the zygote, then it is
// made in advance, then every request is of another owner), then twice on
// an adaptive pool: first as it starts, then once it has grown from the
// first burst.
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
	var notes []string
	report := func(extra string) string {
		return md.String() + t.String() + extra + strings.Join(notes, "")
	}
	fmt.Fprintf(&md, `
### A burst of new pandas sessions

%d sessions asked for at once (one goroutine each, released together), each
running `+"`%s`"+` as its first cell as soon as
`+"`Manager.Create`"+` returns, timed from the request to the cell's done
event; all stay open until the last is done, then close. Kernels: base
environment, IPython, default limits (one core each); the machine's %d
cores are shared by all. Six bursts, one after the other, each on a
manager of its own but the last; the requests of a burst are of one
owner but in the fourth:

1. **fixed pool of 2** (baseline: the default before the adaptive pool),
   full at the start;
2. **forked**: a pool of 2, full at the start, whose misses are forked
   from the owner's zygote (`+"`Pool{Size: 2, Fork: true, Preload}`"+`, the
   default a server has once forking is on); the burst's first two
   misses start from nothing (an owner's first request makes no zygote,
   their second has it made meanwhile), and the others wait for it;
3. the same, with the zygote made in advance by requests before the
   burst;
4. the same as 2, but every request is of another owner, as when many
   users arrive at once: each is its owner's first, which starts from
   nothing and makes no zygote;
5. **adaptive pool**, floor 2, at most %d, a memory budget of %s (%s of
   this machine's available memory, at most %s), full at its floor at the
   start: the first burst it sees;
6. the **same adaptive pool** once it has grown from that burst to what
   its budget holds, and the burst again.

One round of each (a burst takes minutes on this machine).

`, n, strings.ReplaceAll(codePandasCell, "\n", "; "), runtime.NumCPU(), n, mib(float64(budget)), "half", mib(burstPoolMemory))

	fixed := manager(session.PoolConfig{Size: 2, Preload: preloadModules})
	if err := waitPool(ctx, fixed, 2, 10*time.Minute); err != nil {
		fixed.Shutdown()
		return "", err
	}
	cfg.logf("burst: fixed pool of 2")
	rf := burstOnce(ctx, fixed, n, nil)
	fixed.Shutdown()
	add("fixed pool of 2 (baseline)", rf)

	forkBurst := func(what string, advance bool, owner func(int) string) (burstResult, error) {
		m := manager(forkPool(2))
		defer m.Shutdown()
		if advance {
			if err := makeZygote(ctx, m); err != nil {
				return burstResult{}, err
			}
		}
		if err := waitPool(ctx, m, 2, 10*time.Minute); err != nil {
			return burstResult{}, err
		}
		cfg.logf("burst: %s", what)
		r := burstOnce(ctx, m, n, owner)
		if c := forkCheck(m); c != "" {
			notes = append(notes, fmt.Sprintf("- %s: **not all forked**: %s.\n", what, c))
		}
		add(what, r)
		return r, nil
	}
	rz, err := forkBurst("**forked**, the burst makes the zygote", false, nil)
	if err != nil {
		return report(""), err
	}
	rzr, err := forkBurst("**forked**, the zygote made in advance", true, nil)
	if err != nil {
		return report(""), err
	}
	rzo, err := forkBurst("forked, every request of another owner", false, func(i int) string { return fmt.Sprint("bench-owner-", i) })
	if err != nil {
		return report(""), err
	}

	adaptive := manager(session.PoolConfig{Size: 2, Max: n, Preload: preloadModules, MemoryBudget: budget, ShrinkAfter: time.Hour})
	defer adaptive.Shutdown()
	if err := waitPool(ctx, adaptive, 2, 10*time.Minute); err != nil {
		return report(""), err
	}
	cfg.logf("burst: adaptive pool, first burst")
	ra := burstOnce(ctx, adaptive, n, nil)
	add("adaptive pool, first burst", ra)
	grow := time.Now()
	cfg.logf("burst: adaptive pool growing (target %d)", adaptive.Pool().Stats().Target)
	if err := settlePool(ctx, adaptive, budget, 30*time.Minute); err != nil {
		return report(""), err
	}
	grown := time.Since(grow)
	st := adaptive.Pool().Stats()
	cfg.logf("burst: adaptive pool, repeat burst (%d ready)", st.Ready)
	rr := burstOnce(ctx, adaptive, n, nil)
	add("**adaptive pool, grown**: the burst again", rr)

	p99 := func(r burstResult) time.Duration { return percentile(r.times, 99) }
	p50 := func(r burstResult) time.Duration { return summarize(r.times).median }
	extra := fmt.Sprintf(`
- Fixed pool of 2 (baseline): **p50 %s, p99 %s**.
- **Forked**, the burst making the zygote: **p50 %s, p99 %s**, %s the
  fixed pool's p99; with the zygote made in advance: p50 %s, p99 %s
  (%s). Target p99 < %s: %s for the first, %s for the second.
  With every request of another owner: p50 %s, p99 %s (%s): %d
  requests start from nothing, as on the fixed pool.
- Adaptive pool, first burst: p50 %s, p99 %s. Adaptive pool grown to %d
  kernels (its target %d; %s counted per kernel, so %s holds %d; growing
  took %s, one kernel at a time): p50 %s, p99 %s, %s the fixed pool's
  p99 (target %s for the grown pool; a burst on a pool that has not
  grown, and does not fork, pays every cold start, about %s of CPU each,
  on %d cores).
`, ms(p50(rf)), ms(p99(rf)),
		ms(p50(rz)), ms(p99(rz)), ratio(float64(p99(rz)), float64(p99(rf))), ms(p50(rzr)), ms(p99(rzr)),
		ratio(float64(p99(rzr)), float64(p99(rf))), ms(targetBurstP99), verdict(p99(rz) < targetBurstP99), verdict(p99(rzr) < targetBurstP99),
		ms(p50(rzo)), ms(p99(rzo)), ratio(float64(p99(rzo)), float64(p99(rf))), max(n-2, 0),
		ms(p50(ra)), ms(p99(ra)),
		st.Ready, st.Target, mib(float64(st.PerKernel)), mib(float64(budget)), int(budget/max(st.PerKernel, 1)), grown.Round(time.Second),
		ms(p50(rr)), ms(p99(rr)), ratio(float64(p99(rr)), float64(p99(rf))),
		verdict(p99(rr) < targetBurstP99), "0.6 s", runtime.NumCPU())
	for _, r := range []burstResult{rf, rz, rzr, rzo, ra, rr} {
		if r.first != nil {
			extra += fmt.Sprintf("- A session failed: %s\n", oneLine(r.first.Error()))
			err = r.first
		}
	}
	return report(extra), err
}
