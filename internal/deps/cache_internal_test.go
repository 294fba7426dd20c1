package deps

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/python"
	"github.com/interp-dev/interp/internal/session"
)

func TestPruneCacheByAgeAndSize(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mk := func(rel string, size int, age time.Duration) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "f"), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ancient := mk("archive-v0/ancient", 1000, 90*24*time.Hour)
	old := mk("archive-v0/old", 4000, 5*24*time.Hour)
	recent := mk("archive-v0/recent", 4000, time.Hour)
	index := mk("simple-v27/pypi", 50000, 90*24*time.Hour) // index pages are left alone
	res, err := PruneCache(context.Background(), dir, CacheLimits{MaxBytes: 10000, MaxAge: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for p, kept := range map[string]bool{ancient: false, old: false, recent: true, index: true} {
		if _, err := os.Stat(p); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", filepath.Base(p), err == nil, kept)
		}
	}
	if res.Entries != 2 || res.Freed < 5000 {
		t.Errorf("result %+v", res)
	}

	// uv holds the cache: pruning waits for another time.
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	if _, err := PruneCache(context.Background(), dir, CacheLimits{MaxBytes: 1}); !errors.Is(err, ErrCacheBusy) {
		t.Errorf("pruning a cache in use: %v", err)
	}
}

func TestProgressPerPackage(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	var got []string
	p := &progress{cache: cache, versions: map[string]string{"polars": "1.9.0", "humanize": "4.9.0"},
		emit: func(ev session.Event) {
			if ev.Type == event.Install && ev.Phase == event.PhaseDownloading {
				got = append(got, strings.Join(strings.Fields(fmt.Sprint(ev.Package, " ", ev.Version, " ", ev.Message, " ", ev.Total)), " "))
			}
		}}
	for _, l := range []string{"Resolved 2 packages in 266ms", "Downloading polars (31.5MiB)", "Downloading torch (800.0MiB)", " Downloaded polars", "Prepared 2 packages in 2.48s"} {
		p.line(l)
	}
	want := "polars 1.9.0 downloading 31.5MiB 33030144|torch downloading 800.0MiB 838860800|polars 1.9.0 downloaded 33030144"
	if strings.Join(got, "|") != want {
		t.Errorf("events %q, want %q", strings.Join(got, "|"), want)
	}
	// Only uv's in-flight directories are measured, not the whole cache.
	if err := os.MkdirAll(filepath.Join(cache, ".tmpAbc", "torch"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cache, ".tmpAbc", "torch", "x.so"), make([]byte, 3000), 0o644)
	os.MkdirAll(filepath.Join(cache, "archive-v0", "id"), 0o755)
	os.WriteFile(filepath.Join(cache, "archive-v0", "id", "big"), make([]byte, 100000), 0o644)
	if n := inFlightBytes(cache); n != 3000 {
		t.Errorf("in-flight bytes %d, want 3000", n)
	}
	if progressLine("Downloading polars (31.5MiB)") == false || progressLine("error: something") {
		t.Error("progressLine")
	}
}

// TestProgressBytesOfTotal: while packages download, the progress events
// say the bytes read of the total announced, and the time left.
func TestProgressBytesOfTotal(t *testing.T) {
	t.Parallel()
	rt, err := python.Find("")
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(data, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// A child stands in for uv: it reads the 1 MiB when told, then waits.
	// (Not this process: its parallel tests read too, and would count.)
	uv := exec.Command(rt.Executable, "-I", "-S", "-c",
		"import sys\nsys.stdin.readline()\nopen(sys.argv[1], 'rb').read()\nprint('read', flush=True)\nsys.stdin.readline()", data)
	tell, err := uv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := uv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := uv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tell.Close(); uv.Wait() }()
	evs := make(chan session.Event, 16)
	p := &progress{cache: t.TempDir(), emit: func(ev session.Event) { evs <- ev }}
	p.started(uv.Process.Pid)
	p.line("Downloading big (4.0MiB)")
	<-evs
	if _, err := io.WriteString(tell, "go\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "read\n" {
		t.Fatalf("the stand-in for uv said %q, %v", line, err)
	}
	done := make(chan struct{})
	defer close(done)
	go p.tick(done)
	select {
	case ev := <-evs:
		if ev.Package != "big" || ev.Total != 4<<20 || ev.Bytes < 1<<20 || ev.Bytes > ev.Total || ev.ETA <= 0 {
			t.Errorf("progress %+v, want at least 1MiB of 4MiB of big and a time left", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no progress event")
	}
	for _, tt := range []struct {
		in   string
		want int64
	}{{"31.5MiB", 33030144}, {"2.0GiB", 2 << 30}, {"512.0KiB", 512 << 10}, {"900B", 900}} {
		if n, err := parseSize(tt.in); err != nil || n != tt.want {
			t.Errorf("parseSize(%q) = %d, %v", tt.in, n, err)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize accepted lots")
	}
}

// TestCacheInfoAndPruneOldestFirst: info counts what is there; a size
// budget removes the oldest entries first, built wheels included, and
// leaves the base environment and its constraints alone.
func TestCacheInfoAndPruneOldestFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "cache")
	put := func(rel string, size int, age time.Duration) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		for q := p; q != dir && q != root; q = filepath.Dir(q) {
			if err := os.Chtimes(q, when, when); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	day := 24 * time.Hour
	built := put("cache/interp-built/old_pkg-1.0-py3-none-any.whl", 5000, 4*day)
	a := put("cache/archive-v0/a/a.py", 10000, 3*day)
	b := put("cache/archive-v0/b/b.py", 20000, 2*day)
	c := put("cache/archive-v0/c/c.py", 30000, day)
	constraints := put("cache/base-0123456789abcdef.txt", 100, 99*day)
	index := put("cache/simple-v16/pypi/numpy.rkyv", 700, 99*day)
	baseEnv := put("env/lib/python3.12/site-packages/numpy/__init__.py", 40000, 99*day)

	empty, err := CacheInfo(context.Background(), filepath.Join(root, "missing"))
	if err != nil || empty.Entries != 0 || empty.Bytes != 0 {
		t.Errorf("info of a missing cache: %+v, %v", empty, err)
	}
	info, err := CacheInfo(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Dir != dir || info.Entries != 4 || info.Bytes != 5000+10000+20000+30000+100+700 {
		t.Errorf("info %+v, want 4 entries and 65800 bytes", info)
	}
	if got := time.Since(info.Oldest).Round(day); got != 4*day {
		t.Errorf("oldest entry %v old, want 4 days", got)
	}

	// 65000 bytes of entries (plus their directories) against 45000:
	// the built wheel, a and b go, oldest first; c fits.
	res, err := PruneCache(context.Background(), dir, CacheLimits{MaxBytes: 45000})
	if err != nil {
		t.Fatal(err)
	}
	for p, kept := range map[string]bool{built: false, a: false, b: false, c: true, constraints: true, index: true, baseEnv: true} {
		if _, err := os.Stat(p); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", p[len(root):], err == nil, kept)
		}
	}
	if res.Entries != 3 || res.Freed < 35000 || res.Size > 45000 || res.Size < 30000 {
		t.Errorf("result %+v, want 3 entries and at least 35000 bytes freed", res)
	}
	if after, _ := CacheInfo(context.Background(), dir); after.Entries != 1 {
		t.Errorf("info after pruning: %+v", after)
	}
	// No budget and no age: nothing goes.
	if res, err := PruneCache(context.Background(), dir, CacheLimits{}); err != nil || res.Entries != 0 {
		t.Errorf("pruning without limits: %+v, %v", res, err)
	}
}
