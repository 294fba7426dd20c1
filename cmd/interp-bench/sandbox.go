package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/sandbox"
)

// Targets of the sandbox section.
const (
	targetStartOverhead = 10 * time.Millisecond
	targetIdleOverhead  = 2 << 20 // bytes per idle sandbox
)

// Python programs the sandbox section runs.
const (
	codePass = "pass"
	// codeIdle says it is ready, so that memory is measured once Python
	// has started, then sleeps.
	codeIdle = "import sys, time; sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(3600)"
)

// settleDelay lets the kernel finish freeing what the previous batch used
// (namespaces and mounts are torn down partly asynchronously) and finish
// starting the current one before /proc/meminfo is read.
const settleDelay = time.Second

// sbxBench runs the same Python command in sandboxes and bare, on the host.
type sbxBench struct {
	b   *sandbox.Namespaces
	py  string   // interpreter, the same path inside and outside
	ro  []string // what a sandbox must see to run it
	env []string // the environment of both
}

func sandboxSection(ctx context.Context, cfg *config) (string, error) {
	b, err := sandbox.NewNamespaces()
	if err != nil {
		return "", err
	}
	// Close kills and waits for any sandbox still running, on every path.
	defer b.Close()
	s := &sbxBench{b: b, env: sandbox.DefaultEnv()}
	// /usr/bin/python3 with -S starts in a few milliseconds, so the
	// sandbox's own cost is not lost in Python's start-up.
	s.py = "/usr/bin/python3"
	s.ro = python.System(s.py).ReadOnly
	if _, err := os.Stat(s.py); err != nil {
		rt, err := python.Find("")
		if err != nil {
			return "", err
		}
		s.py, s.ro = rt.Executable, rt.ReadOnly
	}

	var md strings.Builder
	md.WriteString(s.about())

	cfg.logf("sandbox: start-up latency, %d iterations", cfg.N)
	part, err := s.startup(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("start-up latency: %w", err)
	}
	md.WriteString(part)

	cfg.logf("sandbox: memory of %d idle sandboxes, %d rounds", cfg.Idle, cfg.Rounds)
	part, err = s.idleMemory(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("idle memory: %w", err)
	}
	md.WriteString(part)

	cfg.logf("sandbox: %d at once, %d rounds", cfg.Burst, cfg.Rounds)
	part, err = s.burst(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("burst: %w", err)
	}
	md.WriteString(part)
	return md.String(), nil
}

// initProgram returns the program every sandbox's init (and the spawner)
// runs: interp-sandbox where useSandboxInit built it, else this binary.
func initProgram() string {
	if p := os.Getenv(sandbox.InitEnv); p != "" {
		return p
	}
	exe, _ := os.Executable()
	return exe
}

// fileSize formats the size of file.
func fileSize(file string) string {
	fi, err := os.Stat(file)
	if err != nil {
		return "unknown size"
	}
	return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
}

// favorDynMods reports whether the cgroup hierarchies are mounted with
// favordynmods, which spares each join of a cgroup an RCU grace period.
func favorDynMods() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, " - cgroup") && strings.Contains(line, "favordynmods") {
			return "on"
		}
	}
	return "off"
}

// about describes what the section runs.
func (s *sbxBench) about() string {
	cg := "v1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg = "v2"
	}
	python := s.py
	if out, err := exec.Command(s.py, "-S", "-c", "import sys; print(sys.version.split()[0])").Output(); err == nil {
		python += " (Python " + strings.TrimSpace(string(out)) + ")"
	}
	return fmt.Sprintf(`The Namespaces backend with default limits, against the same Python
command started bare with `+"`os/exec`"+` (same environment, no isolation).
Each sandbox's init is `+"`%s`"+` (%s), started by the backend's spawner
process; it builds the sandbox and then executes Python.

- Python: %s
- cgroups: %s, favordynmods %s (scripts/setup turns it on); running as uid %d
`, filepath.Base(initProgram()), fileSize(initProgram()), python, cg, favorDynMods(), os.Getuid())
}

func (s *sbxBench) spec(code string, stdout io.Writer, l sandbox.Limits) *sandbox.Spec {
	return &sandbox.Spec{
		Argv:     []string{s.py, "-S", "-c", code},
		Env:      s.env,
		ReadOnly: s.ro,
		Stdout:   stdout,
		Limits:   l,
	}
}

func (s *sbxBench) bareCmd(ctx context.Context, code string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.py, "-S", "-c", code)
	cmd.Env = s.env
	// Nothing outlives the benchmark, as with the sandboxes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// runSandbox runs code in a new sandbox and returns the time until Start
// returned (Python has been executed) and until Wait returned (Python has
// exited and the sandbox is cleaned up).
func (s *sbxBench) runSandbox(ctx context.Context, code string) (start, total time.Duration, err error) {
	t0 := time.Now()
	p, err := s.b.Start(ctx, s.spec(code, nil, sandbox.Limits{}))
	if err != nil {
		return 0, 0, err
	}
	start = time.Since(t0)
	res, err := p.Wait()
	total = time.Since(t0)
	if err == nil {
		err = res.Err()
	}
	return start, total, err
}

// runBare runs code on the host and returns the time until it exited.
func (s *sbxBench) runBare(ctx context.Context, code string) (time.Duration, error) {
	cmd := s.bareCmd(ctx, code)
	t0 := time.Now()
	err := cmd.Run()
	return time.Since(t0), err
}

// runNamespacesOnly runs code bare but in the namespaces a sandbox gets,
// with the same kind of ID maps, and nothing else of a sandbox: no cgroup,
// no new root, no init. It shows what creating the namespaces costs.
func (s *sbxBench) runNamespacesOnly(ctx context.Context, code string) (time.Duration, error) {
	cmd := s.bareCmd(ctx, code)
	a := cmd.SysProcAttr
	a.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
		syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
	host := os.Getuid()
	if host == 0 {
		host = 1<<31 - 2 // an ID nobody uses, like the sandboxes' own
	}
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: host, Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: host, Size: 1}}
	if os.Getuid() == 0 {
		a.GidMappingsEnableSetgroups = true
		a.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	t0 := time.Now()
	err := cmd.Run()
	return time.Since(t0), err
}

// runInitExit starts the init's program and has it exit first thing in
// main: what executing the init costs before it begins its work.
// interp-sandbox, started outside a sandbox, says so and exits; this
// binary exits at once when told to.
func (s *sbxBench) runInitExit(ctx context.Context) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, initProgram())
	cmd.Env = []string{exitAtOnceEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t0 := time.Now()
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == 2 {
		err = nil // interp-sandbox's refusal to run outside a sandbox
	}
	return time.Since(t0), err
}

// startup measures the latency of one run of `python3 -S -c pass`, in a
// sandbox and bare, and of two diagnostic runs, rotating their order.
func (s *sbxBench) startup(ctx context.Context, cfg *config) (string, error) {
	var bare, sbx, sbxStart, diff, nsOnly, self []time.Duration
	var b, st, t, ns, se time.Duration
	runs := []func() error{
		func() (err error) { b, err = s.runBare(ctx, codePass); return wrap("bare", err) },
		func() (err error) { st, t, err = s.runSandbox(ctx, codePass); return wrap("sandbox", err) },
		func() (err error) { ns, err = s.runNamespacesOnly(ctx, codePass); return wrap("namespaces only", err) },
		func() (err error) { se, err = s.runInitExit(ctx); return wrap("init program", err) },
	}
	const warmup = 5 // the page cache, the allocator and the kernel's caches
	if err := interleave(ctx, warmup, cfg.N, runs, func() {
		bare, sbx, sbxStart, diff = append(bare, b), append(sbx, t), append(sbxStart, st), append(diff, t-b)
		nsOnly, self = append(nsOnly, ns), append(self, se)
	}); err != nil {
		return "", err
	}
	sb, ss, sst, sd := summarize(bare), summarize(sbx), summarize(sbxStart), summarize(diff)
	sns, sse := summarize(nsOnly), summarize(self)
	overhead := ss.median - sb.median

	t1 := newTable("`python3 -S -c pass`", "median", "p90", "mean", "min")
	row := func(name string, st stats) { t1.add(name, ms(st.median), ms(st.p90), ms(st.mean), ms(st.min)) }
	row("bare (baseline)", sb)
	row("sandbox, start to exit", ss)
	row("sandbox, start until Python runs", sst)
	t1.add("paired difference (sandbox − bare)", signedMS(sd.median), signedMS(sd.p90), signedMS(sd.mean), signedMS(sd.min))

	share := func(d time.Duration) string {
		if overhead <= 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(d)/float64(overhead))
	}
	t2 := newTable("diagnostic run", "median", "adds to a sandbox", "share of the overhead")
	t2.add("bare Python in new user (with ID maps), mount, PID, network, IPC and UTS namespaces",
		ms(sns.median), signedMS(sns.median-sb.median)+" (vs bare)", share(sns.median-sb.median))
	t2.add("the init's program ("+filepath.Base(initProgram())+") started, exiting first thing in main", ms(sse.median), "≤ "+ms(sse.median), "≤ "+share(sse.median))

	heapPart, err := s.startupWithHeap(ctx, cfg)
	if err != nil {
		return "", err
	}
	joinPart, err := cgroupJoin(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("cgroup join: %w", err)
	}

	var md strings.Builder
	fmt.Fprintf(&md, `
### Start a sandbox and run Python

Start a sandbox, run `+"`%s -S -c pass`"+` in it and wait for it to exit and
for the sandbox to be cleaned up, beside the same command run bare, %d times
each after %d warm-up runs, rotating the order of the runs. "Start until
Python runs" is the time until `+"`Start`"+` returned, when Python has been
executed.

%s
- **Overhead: %s** (sandbox median − bare median); ratio **%s**.
- Target: ≤ %s overhead. This run: %s.

Where the time goes, from two diagnostic runs interleaved with the above:
creating the namespaces, and starting the init (exec of a %s binary, Go
runtime and package initialisation; an upper bound, as it includes a fork
and a wait that a sandbox pays only once). The rest of the overhead is the
request to the spawner, the cgroup (created, joined and removed for each
sandbox; made while the init builds the sandbox), building the new root's
mounts, Landlock, seccomp and the supervision around the run.

%s`, s.py, cfg.N, warmup, t1, signedMS(overhead), ratio(float64(ss.median), float64(sb.median)),
		ms(targetStartOverhead), verdict(overhead <= targetStartOverhead), fileSize(initProgram()), t2)
	md.WriteString(heapPart)
	md.WriteString(joinPart)
	return md.String(), nil
}

// heapBallast is the heap the process that starts sandboxes holds in
// startupWithHeap: a server with sessions and a history cache holds that
// much.
const heapBallast = 256 << 20

// startupWithHeap repeats the start-up measurement while this process
// holds heapBallast of touched heap. A process that forks copies its page
// tables; the spawner, not this process, forks each sandbox, so the
// sandbox's overhead should not grow. The namespaces-only run, forked from
// this process, shows what it would cost otherwise.
func (s *sbxBench) startupWithHeap(ctx context.Context, cfg *config) (string, error) {
	cfg.logf("sandbox: start-up latency with %d MiB of heap, %d iterations", heapBallast>>20, cfg.N/2)
	heap := make([]byte, heapBallast)
	for i := 0; i < len(heap); i += 4096 {
		heap[i] = 1
	}
	var bare, sbx, nsOnly []time.Duration
	var b, t, ns time.Duration
	runs := []func() error{
		func() (err error) { b, err = s.runBare(ctx, codePass); return wrap("bare", err) },
		func() (err error) { _, t, err = s.runSandbox(ctx, codePass); return wrap("sandbox", err) },
		func() (err error) { ns, err = s.runNamespacesOnly(ctx, codePass); return wrap("namespaces only", err) },
	}
	n := max(cfg.N/2, 1)
	if err := interleave(ctx, 2, n, runs, func() {
		bare, sbx, nsOnly = append(bare, b), append(sbx, t), append(nsOnly, ns)
	}); err != nil {
		return "", err
	}
	runtime.KeepAlive(heap)
	sb, ss, sns := summarize(bare), summarize(sbx), summarize(nsOnly)
	t3 := newTable("with "+fmt.Sprint(heapBallast>>20)+" MiB of heap", "median", "overhead (vs bare)")
	t3.add("bare (baseline)", ms(sb.median), "")
	t3.add("sandbox, start to exit (forked by the spawner)", ms(ss.median), signedMS(ss.median-sb.median))
	t3.add("namespaces only, forked by this process", ms(sns.median), signedMS(sns.median-sb.median))
	return fmt.Sprintf(`
The same, %d times each, while the process that starts the sandboxes holds
%d MiB of touched heap, as a server with many sessions might. Forking
copies the forking process's page tables, and a sandbox cannot be started
with vfork (its ID maps are written while the child waits); the spawner,
a small process of its own, does the forking, so the sandbox's overhead
stays where it was. The last row forks from this process, as starting
sandboxes directly would.

%s`, n, heapBallast>>20, t3), nil
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// readyWriter closes ready on the first write.
type readyWriter struct {
	once  sync.Once
	ready chan struct{}
}

func newReadyWriter() *readyWriter { return &readyWriter{ready: make(chan struct{})} }

func (w *readyWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(b), nil
}

// startIdle starts k idle Pythons, in sandboxes or bare, and waits until
// each has said it is ready. It returns their PIDs and a function that kills
// and waits for them all, which must be called even on error.
func (s *sbxBench) startIdle(ctx context.Context, sandboxed bool, k int) ([]int, func(), error) {
	var pids []int
	var stops []func()
	stopAll := func() {
		for _, stop := range stops {
			stop()
		}
	}
	var readies []*readyWriter
	for range k {
		w := newReadyWriter()
		readies = append(readies, w)
		if sandboxed {
			p, err := s.b.Start(ctx, s.spec(codeIdle, w, sandbox.Limits{Timeout: -1}))
			if err != nil {
				return nil, stopAll, err
			}
			pids = append(pids, p.Pid())
			stops = append(stops, func() { p.Kill(); _, _ = p.Wait() })
		} else {
			cmd := s.bareCmd(ctx, codeIdle)
			cmd.Stdout = w
			if err := cmd.Start(); err != nil {
				return nil, stopAll, err
			}
			pids = append(pids, cmd.Process.Pid)
			stops = append(stops, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		}
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for _, w := range readies {
		select {
		case <-w.ready:
		case <-deadline.C:
			return nil, stopAll, errors.New("idle Python did not become ready in 30s")
		case <-ctx.Done():
			return nil, stopAll, ctx.Err()
		}
	}
	return pids, stopAll, nil
}

// The /proc/meminfo fields reported, beside MemAvailable.
var meminfoFields = []string{"AnonPages", "Slab", "SUnreclaim", "PageTables", "KernelStack", "Percpu", "Shmem", "VmallocUsed"}

// kernelFields are the /proc/meminfo fields of kernel memory that add up,
// without overlap, to what a sandbox costs beside its processes' Pss.
var kernelFields = []string{"Slab", "PageTables", "KernelStack", "Percpu", "Shmem"}

// memSample is the memory one batch of idle processes cost, per process.
type memSample struct {
	pss       float64            // sum of Pss of the processes
	available float64            // fall in MemAvailable
	fields    map[string]float64 // rise of each of meminfoFields
}

// settle waits for the system to settle and returns /proc/meminfo. This
// process's garbage is freed first so that its heap does not drift.
func settle(ctx context.Context) (map[string]int64, error) {
	select {
	case <-time.After(settleDelay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	debug.FreeOSMemory()
	return readMeminfo()
}

// idleBatch starts k idle Pythons, in sandboxes or bare, measures what
// they cost per process, and stops them.
func (s *sbxBench) idleBatch(ctx context.Context, sandboxed bool, k int) (memSample, error) {
	before, err := settle(ctx)
	if err != nil {
		return memSample{}, err
	}
	pids, stop, err := s.startIdle(ctx, sandboxed, k)
	defer stop()
	if err != nil {
		return memSample{}, err
	}
	after, err := settle(ctx)
	if err != nil {
		return memSample{}, err
	}
	total, err := treesPss(pids)
	if err != nil {
		return memSample{}, err
	}
	m := memSample{
		pss:       float64(total) / float64(k),
		available: float64(before["MemAvailable"]-after["MemAvailable"]) / float64(k),
		fields:    make(map[string]float64),
	}
	for _, f := range meminfoFields {
		m.fields[f] = float64(after[f]-before[f]) / float64(k)
	}
	return m, nil
}

// idleMemory measures the memory of idle sandboxes against idle bare
// processes, in rounds that alternate which goes first.
func (s *sbxBench) idleMemory(ctx context.Context, cfg *config) (string, error) {
	k := cfg.Idle
	// Warm up: the page cache, and the kernel's slab caches, which keep
	// the pages they grew into.
	for _, sandboxed := range []bool{false, true} {
		if _, err := s.idleBatch(ctx, sandboxed, k); err != nil {
			return "", err
		}
	}
	var bare, sbx []memSample
	for r := range cfg.Rounds {
		for j := range 2 {
			sandboxed := (r+j)%2 == 1
			m, err := s.idleBatch(ctx, sandboxed, k)
			if err != nil {
				return "", fmt.Errorf("sandboxed=%v: %w", sandboxed, err)
			}
			if sandboxed {
				sbx = append(sbx, m)
			} else {
				bare = append(bare, m)
			}
		}
	}

	t := newTable("per process", "bare (baseline)", "sandbox", "overhead (sandbox − bare)", "overhead range over rounds")
	var availSpread float64
	row := func(name string, get func(memSample) float64) (overhead, spread float64) {
		var b, sb, d []float64
		for i := range bare {
			b, sb, d = append(b, get(bare[i])), append(sb, get(sbx[i])), append(d, get(sbx[i])-get(bare[i]))
		}
		over := median(d)
		lo, hi := d[0], d[0]
		for _, x := range d {
			lo, hi = min(lo, x), max(hi, x)
		}
		t.add(name, mib(median(b)), mib(median(sb)), signedMiB(over), signedMiB(lo)+" … "+signedMiB(hi))
		return over, hi - lo
	}
	// The processes' own memory plus the kernel's: a sum of parts that
	// other programs on the machine disturb far less than MemAvailable.
	parts := func(m memSample) float64 {
		sum := m.pss
		for _, f := range kernelFields {
			sum += m.fields[f]
		}
		return sum
	}
	partsOverhead, _ := row("**Pss + kernel ("+strings.Join(kernelFields, " + ")+")**", parts)
	pssOverhead, _ := row("Pss of the processes (user space, host view)", func(m memSample) float64 { return m.pss })
	availOverhead, availSpread := row("**MemAvailable consumed (everything, system-wide)**", func(m memSample) float64 { return m.available })
	for _, f := range meminfoFields {
		row("rise of "+f, func(m memSample) float64 { return m.fields[f] })
	}

	availVerdict := verdict(availOverhead <= targetIdleOverhead)
	if availSpread > targetIdleOverhead {
		availVerdict = fmt.Sprintf("**inconclusive** (its range over rounds, %s wide, exceeds the target)", mib(availSpread))
	}

	var md strings.Builder
	fmt.Fprintf(&md, `
### Memory per idle sandbox

%d sandboxes each running `+"`python3 -S -c \"…; time.sleep(3600)\"`"+` (the
program first prints a line, so that memory is measured once Python is up),
beside %d bare processes running the same; %d rounds after a warm-up round,
alternating which goes first, and a settling second before each reading of
/proc/meminfo. Values are per process, medians over the rounds; the overhead
is the median of the per-round differences.

%s
- **Overhead per idle sandbox: %s** counting its processes' Pss and the
  kernel memory in the listed /proc/meminfo fields (%s of it Pss); **%s**
  counting the fall in MemAvailable.
- Target: ≤ %s overhead per idle sandbox. This run: %s on Pss + kernel; %s
  on MemAvailable, which is far noisier.

What the measures include. Pss is what the processes map, shared pages split
between their users: the same Python in both cases, and in a sandbox also
its init, which stays as PID 1 to reap orphans (a small Go program, most
of whose pages all the sandboxes share). The kernel fields are system-wide rises of /proc/meminfo: slab
(namespaces, the mount tree with its bind mounts, the tmpfs superblocks and
inodes of the root, the workspace, /tmp, /dev and /dev/shm, the kernfs nodes
and structures of its cgroup (four directories on cgroup v1, one on v2), the
loopback device and the rest of the network namespace, the Landlock ruleset
and seccomp filter), page
tables, kernel stacks, per-CPU memory (which grows only by whole chunks, so it
usually reads 0 although each memory cgroup does take per-CPU statistics) and
Shmem (the small files written into the sandbox's tmpfs). Not counted there:
vmalloc'd memory (JIT-compiled BPF, for one; its rise is listed apart and
includes the kernel stacks again) and page cache. The fall in MemAvailable
catches everything the host gave up, including what this benchmark's own
process holds per sandbox (goroutines, pipes), but is taken system-wide: it
also moves with whatever other programs on the machine allocate or free
meanwhile, and counts only part of reclaimable slab.
`, k, k, cfg.Rounds, t, signedMiB(partsOverhead), signedMiB(pssOverhead), signedMiB(availOverhead),
		mib(targetIdleOverhead), verdict(partsOverhead <= targetIdleOverhead), availVerdict)
	return md.String(), nil
}

// burstOnce starts m Pythons at once, in sandboxes or bare, and returns the
// time until the last one finished and the errors.
func (s *sbxBench) burstOnce(ctx context.Context, sandboxed bool, m int) (time.Duration, []error) {
	start := make(chan struct{})
	errs := make([]error, m)
	var wg sync.WaitGroup
	for i := range m {
		wg.Go(func() {
			<-start
			if sandboxed {
				_, _, errs[i] = s.runSandbox(ctx, codePass)
			} else {
				_, errs[i] = s.runBare(ctx, codePass)
			}
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return wall, out
}

// burst measures starting many sandboxes at once against as many bare
// processes, in rounds that alternate which goes first.
func (s *sbxBench) burst(ctx context.Context, cfg *config) (string, error) {
	m := cfg.Burst
	var bare, sbx []time.Duration
	var bareErrs, sbxErrs []error
	for r := range cfg.Rounds + 1 { // round 0 warms up
		for j := range 2 {
			sandboxed := (r+j)%2 == 1
			wall, errs := s.burstOnce(ctx, sandboxed, m)
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			if r == 0 {
				continue
			}
			if sandboxed {
				sbx, sbxErrs = append(sbx, wall), append(sbxErrs, errs...)
			} else {
				bare, bareErrs = append(bare, wall), append(bareErrs, errs...)
			}
		}
	}
	sb, ss := summarize(bare), summarize(sbx)
	t := newTable(fmt.Sprintf("%d × `python3 -S -c pass` at once", m), "wall, median", "min", "max", "throughput", "errors")
	t.add("bare (baseline)", ms(sb.median), ms(sb.min), ms(sb.max),
		fmt.Sprintf("%.0f /s", float64(m)/sb.median.Seconds()), fmt.Sprintf("%d of %d", len(bareErrs), m*cfg.Rounds))
	t.add("sandbox", ms(ss.median), ms(ss.min), ms(ss.max),
		fmt.Sprintf("%.0f /s", float64(m)/ss.median.Seconds()), fmt.Sprintf("%d of %d", len(sbxErrs), m*cfg.Rounds))

	errLine := "Errors: none, in sandboxes or bare."
	if n := len(sbxErrs) + len(bareErrs); n > 0 {
		var first error
		if len(sbxErrs) > 0 {
			first = sbxErrs[0]
		} else {
			first = bareErrs[0]
		}
		errLine = fmt.Sprintf("**Errors: %d sandboxed and %d bare runs failed** (there must be none); the first: %s.",
			len(sbxErrs), len(bareErrs), oneLine(first.Error()))
	}
	var md strings.Builder
	fmt.Fprintf(&md, `
### %d sandboxes at once

Start %d sandboxes at once, one goroutine each, each running
`+"`python3 -S -c pass`"+`, and wait for the last to finish and be cleaned up;
beside %d bare processes at once. %d rounds after a warm-up round, alternating
which goes first; medians over the rounds.

%s
- Sandboxes: **%s** the wall time of bare processes (%s); %s of extra wall
  time per sandbox.
- %s
`, m, m, m, cfg.Rounds, t, ratio(float64(ss.median), float64(sb.median)), signedMS(ss.median-sb.median),
		signedMS((ss.median-sb.median)/time.Duration(m)), errLine)
	return md.String(), nil
}

// cgroupJoin times what joining its cgroup costs a sandbox: moving a
// process into a new cgroup (a write to cgroup.procs), beside creating the
// cgroup (a mkdir in the same hierarchy) as the baseline. Without
// favordynmods the move waits for an RCU grace period.
func cgroupJoin(ctx context.Context, cfg *config) (string, error) {
	dir, err := joinTestParent()
	if err != nil {
		return "", err
	}
	cfg.logf("sandbox: cgroup join, %d iterations, in %s", cfg.N, dir)
	var mkdirs, moves []time.Duration
	for i := range 5 + cfg.N {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		cmd := exec.CommandContext(ctx, "sleep", "10")
		if err := cmd.Start(); err != nil {
			return "", err
		}
		cg := filepath.Join(dir, fmt.Sprintf("interp-bench-join-%d", i))
		t0 := time.Now()
		err := os.Mkdir(cg, 0o755)
		t1 := time.Now()
		if err == nil {
			err = os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(fmt.Sprint(cmd.Process.Pid)), 0)
		}
		t2 := time.Now()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if rerr := removeEmpty(cg); err == nil {
			err = rerr
		}
		if err != nil {
			return "", err
		}
		if i >= 5 {
			mkdirs, moves = append(mkdirs, t1.Sub(t0)), append(moves, t2.Sub(t1))
		}
	}
	sm, sv := summarize(mkdirs), summarize(moves)
	t := newTable("cgroup operation", "median", "p90", "ratio to mkdir")
	t.add("create a cgroup: mkdir (baseline)", ms(sm.median), ms(sm.p90), "")
	t.add("move a process into it: write to cgroup.procs", ms(sv.median), ms(sv.p90), ratio(float64(sv.median), float64(sm.median)))
	return fmt.Sprintf(`
Joining the cgroup, %d times after 5 warm-up runs, in %s, with
favordynmods %s. Without favordynmods the move waits for an RCU grace
period. That was measured once on these machines, before the remount: a
median of 10.3 ms per move, against 0.20 ms after it. This benchmark cannot
show both: once the option has been set, the kernel keeps the fast path
until reboot.

%s`, cfg.N, dir, favorDynMods(), t), nil
}

// joinTestParent is the pids cgroup of this process on v1 and hybrid
// hosts, or its cgroup on v2: where a test cgroup may be made.
func joinTestParent() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "pids" {
			return filepath.Join("/sys/fs/cgroup/pids", f[2]), nil
		}
		if f[0] == "0" && f[1] == "" {
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				return filepath.Join("/sys/fs/cgroup", f[2]), nil
			}
		}
	}
	return "", errors.New("no pids cgroup hierarchy to test in")
}

// removeEmpty removes an emptied cgroup, waiting briefly for the killed
// process to leave it.
func removeEmpty(dir string) error {
	var err error
	for range 100 {
		if err = os.Remove(dir); err == nil || os.IsNotExist(err) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return err
}
