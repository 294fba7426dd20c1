// Command interp-bench measures what Interp costs and writes the results as
// Markdown, by default to BENCHMARKS.md (`make bench`).
//
// The machines that run it are noisy: other jobs, CPU frequency scaling and
// a shared page cache move absolute numbers from one run to the next. So
// every result is reported beside a baseline measured in the same run, with
// baseline and measured runs interleaved to share the noise, and given as a
// ratio or a difference against it. There are no timing thresholds: targets
// are stated beside the results, with whether this run met them, and never
// fail the program.
//
// The benchmarks are grouped in sections, each a function that returns
// Markdown. To add one (the agent loop, HTTP), write a
// func(context.Context, *config) (string, error) and list it in sections.
// A section that fails part-way may return what it measured so far with
// its error; the report keeps it, above the failure.
//
// Usage:
//
//	interp-bench [-only SECTION[,SECTION]] [-n N] [-rounds R] [-idle K] [-burst M] [-out FILE]
//
// With -out the whole file is written (replaced); without, the report goes
// to standard output. Progress goes to standard error. The sandbox section
// needs a host that can sandbox, in practice root.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/interp-dev/interp/internal/sandbox"
)

// config holds the knobs every section may use.
type config struct {
	// N is the number of iterations of sequential measurements.
	N int
	// Rounds is the number of repetitions of batch measurements, each
	// pairing a baseline batch with a measured one.
	Rounds int
	// Idle is the number of idle sandboxes for the memory measurement.
	Idle int
	// Burst is the number of sandboxes started at once.
	Burst int
	// LocalModels names the local models to measure, comma-separated
	// (all installed ones if empty).
	LocalModels string
	// Log receives progress messages.
	Log io.Writer
}

func (c *config) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "interp-bench: "+format+"\n", args...)
}

// section is one named group of benchmarks.
type section struct {
	name  string
	title string
	run   func(ctx context.Context, cfg *config) (string, error)
}

// sections lists every section, in the order they run and are reported.
var sections = []section{
	{name: "sandbox", title: "Sandbox", run: sandboxSection},
	{name: "session", title: "Sessions", run: sessionSection},
	{name: "burst", title: "A burst of new sessions", run: burstSection},
	{name: "deps", title: "Dependencies", run: depsSection},
	{name: "corpus", title: "Real-world imports", run: corpusSection},
	{name: "store", title: "Heavy packages: the shared store", run: storeSection},
	{name: "agent", title: "The AI loop", run: agentSection},
	{name: "server", title: "The HTTP service", run: serverSection},
	{name: "sdk", title: "The SDKs", run: sdkSection},
	{name: "local", title: "The local model", run: localSection},
}

// exitAtOnceEnv makes the binary exit first thing in main.
const exitAtOnceEnv = "_INTERP_BENCH_EXIT_AT_ONCE"

func main() {
	// Without interp-sandbox beside it, the sandbox backend re-executes
	// this binary as its spawner and as each sandbox's init.
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	// A diagnostic run measures how long this binary takes to get here.
	if os.Getenv(exitAtOnceEnv) != "" {
		os.Exit(0)
	}
	cfg := &config{Log: os.Stderr}
	only := flag.String("only", "", "run only these sections, comma-separated ("+sectionNames()+")")
	out := flag.String("out", "", "write the report to this file, replacing it (default: standard output)")
	flag.IntVar(&cfg.N, "n", 100, "iterations of sequential measurements")
	flag.IntVar(&cfg.Rounds, "rounds", 5, "rounds of batch measurements")
	flag.IntVar(&cfg.Idle, "idle", 20, "idle sandboxes for the memory measurement")
	flag.IntVar(&cfg.Burst, "burst", 100, "sandboxes started at once")
	flag.StringVar(&cfg.LocalModels, "local-models", "", "the local models to measure, comma-separated (default: every installed one)")
	flag.Parse()
	if flag.NArg() > 0 || cfg.N < 1 || cfg.Rounds < 1 || cfg.Idle < 1 || cfg.Burst < 1 {
		flag.Usage()
		os.Exit(2)
	}
	selected, err := selectSections(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interp-bench:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Sandboxes start as interp's do: from the small interp-sandbox.
	initNote, cleanup := useSandboxInit()
	defer cleanup()

	var b strings.Builder
	b.WriteString(intro)
	b.WriteString(machineReport(time.Now()))
	b.WriteString(initNote)
	failed := false
	for _, s := range selected {
		cfg.logf("section %s", s.name)
		start := time.Now()
		md, err := s.run(ctx, cfg)
		fmt.Fprintf(&b, "\n## %s\n\n", s.title)
		if err != nil {
			failed = true
			cfg.logf("section %s failed: %v", s.name, err)
			// What was measured before the failure is kept.
			b.WriteString(md)
			if md != "" {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "**This section failed:** %s\n", oneLine(err.Error()))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		b.WriteString(md)
		cfg.logf("section %s done in %s", s.name, time.Since(start).Round(time.Second))
	}

	if ctx.Err() != nil {
		// Interrupted: keep the previous report rather than a partial one.
		cfg.logf("interrupted; nothing written")
		os.Exit(130)
	}
	if *out == "" {
		fmt.Print(b.String())
	} else if err := os.WriteFile(*out, []byte(b.String()+keptSections(*out)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "interp-bench:", err)
		os.Exit(1)
	} else {
		cfg.logf("wrote %s", *out)
	}
	if failed {
		os.Exit(1)
	}
}

const intro = `# Benchmarks

What Interp costs, measured by ` + "`cmd/interp-bench`" + `. Reproduce with
` + "`make bench`" + ` (as root, since it starts sandboxes), which runs
` + "`go run ./cmd/interp-bench -out BENCHMARKS.md`" + ` and rewrites this file; add
` + "`-only SECTION`" + ` to run one section, ` + "`-n`" + ` to change the iterations.

The machines these run on are noisy, so no number here stands alone: every
result is given beside a baseline measured in the same run, with baseline and
measured runs interleaved so that they share the noise, and reported as a
ratio or a difference against it. Compare overheads and ratios between runs,
not absolute times. Targets are stated beside the results; missing one is
reported, never enforced.
`

func sectionNames() string {
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// selectSections returns the sections named in a comma-separated list, in
// their registry order, or every section for an empty list.
func selectSections(only string) ([]section, error) {
	if strings.TrimSpace(only) == "" {
		return sections, nil
	}
	want := make(map[string]bool)
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, s := range sections {
			found = found || s.name == name
		}
		if !found {
			return nil, fmt.Errorf("unknown section %q: have %s", name, sectionNames())
		}
		want[name] = true
	}
	var out []section
	for _, s := range sections {
		if want[s.name] {
			out = append(out, s)
		}
	}
	return out, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// useSandboxInit builds cmd/interp-sandbox into a temporary directory and
// makes the sandbox backend start every sandbox with it, as bin/interp
// does. Without a Go toolchain the bench re-executes itself instead, and
// says so.
func useSandboxInit() (note string, cleanup func()) {
	if os.Getenv(sandbox.InitEnv) != "" {
		return fmt.Sprintf("\nSandboxes start from `%s`.\n", os.Getenv(sandbox.InitEnv)), func() {}
	}
	dir, err := os.MkdirTemp("/var/tmp", "interp-bench-init-")
	if err != nil {
		return "\nSandboxes start by re-executing the bench binary.\n", func() {}
	}
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "interp-sandbox")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/interp-sandbox")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return fmt.Sprintf("\nSandboxes start by re-executing the bench binary (building interp-sandbox failed: %s).\n", oneLine(string(out))), func() {}
	}
	os.Setenv(sandbox.InitEnv, bin)
	return "\nSandboxes start from `interp-sandbox`, as with `bin/interp`.\n", func() { os.RemoveAll(dir) }
}

// interleave runs warmup+n rounds of runs, each round starting one run
// later, so that what is compared shares the machine's noise; keep records
// the results of each round after the warm-up.
func interleave(ctx context.Context, warmup, n int, runs []func() error, keep func()) error {
	for i := range warmup + n {
		if err := ctx.Err(); err != nil {
			return err
		}
		for j := range runs {
			if err := runs[(i+j)%len(runs)](); err != nil {
				return err
			}
		}
		if i >= warmup {
			keep()
		}
	}
	return nil
}

// keptHeading starts the part of the report that interp-bench does not
// measure (the answer quality that `interp eval` measures, with a real
// model): a rewrite keeps it as it is.
const keptHeading = "\n## Answer quality"

// keptSections returns what of the old report at path a rewrite keeps.
func keptSections(path string) string {
	old, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if i := strings.Index(string(old), keptHeading); i >= 0 {
		return string(old[i:])
	}
	return ""
}
