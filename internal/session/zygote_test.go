package session_test

import (
	"context"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// TestForkedSessions checks sessions forked from a zygote, as a user sees
// them: the pool's modules are loaded but bound to no name, cells,
// plots, files and restarts work as in any session, two sessions share
// no state, and each owner gets a zygote of their own.
func TestForkedSessions(t *testing.T) {
	t.Parallel()
	m := session.NewManager(session.ManagerConfig{
		Kernel: config(t),
		Pool:   session.PoolConfig{Fork: true, Preload: []string{"numpy", "pandas", "matplotlib.pyplot"}},
	})
	defer m.Shutdown()
	ctx := context.Background()
	create := func(owner string) *session.Session {
		t.Helper()
		s, err := m.Create(ctx, session.CreateOptions{Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// An owner's first request makes no zygote: many users who open one
	// session each should not pay for one each. The second makes it, but
	// starts from nothing rather than wait; the third is forked.
	for i := range 2 {
		s := create("alice")
		if got := stdout(cell(t, s.Kernel(), "import sys\nprint('pandas' in sys.modules)")); got != "False\n" {
			t.Errorf("alice's session %d: %q", i+1, got)
		}
	}
	a := create("alice")
	if st := m.Pool().Stats(); st.Zygotes != 1 || st.ForkFailures != 0 {
		t.Fatalf("after alice's third session: %+v", st)
	}
	k := a.Kernel()
	evs := cell(t, k, "import sys, os\nprint('pandas' in sys.modules, 'pd' in dir(), os.getcwd(), os.environ['HOME'], os.environ['MPLCONFIGDIR'])")
	if got := stdout(evs); got != "True False /workspace /workspace /tmp/.cache/matplotlib\n" {
		t.Errorf("forked kernel: %q", got)
	}
	if d := done(evs); d.ExecutionCount != 1 {
		t.Errorf("first cell has count %d", d.ExecutionCount)
	}
	// The zygote prepared with directories of the host's; the environment
	// a forked kernel shows is a kernel's own.
	environ := stdout(cell(t, k, "print(open('/proc/self/environ', 'rb').read().decode())"))
	if strings.Contains(environ, session.DefaultStateDir()) || !strings.Contains(environ, "HOME=/workspace") {
		t.Errorf("a forked kernel's /proc/self/environ: %q", environ)
	}
	evs = cell(t, k, "import pandas as pd, tempfile\npd.DataFrame({'a': [1, 2, 3]}).to_csv('t.csv')\nprint(pd.read_csv('t.csv')['a'].sum(), tempfile.gettempdir())")
	if got := stdout(evs); got != "6 /tmp\n" {
		t.Errorf("pandas in a forked kernel: %q %+v", got, evs)
	}
	evs = cell(t, k, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.savefig('p.png')")
	if len(images(evs)) != 1 {
		t.Errorf("a plot shows %d images: %+v", len(images(evs)), evs)
	}
	if _, err := a.ReadFile("p.png", 1<<20); err != nil {
		t.Errorf("the plot's file: %v", err)
	}
	cell(t, k, "secret = 42")

	b := create("alice")
	if got := stdout(cell(t, b.Kernel(), "import os\nprint('secret' in dir(), sorted(os.listdir('.')))")); got != "False []\n" {
		t.Errorf("a sibling session sees: %q", got)
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stdout(cell(t, b.Kernel(), "import sys\nprint(1 + 1, 'pandas' in sys.modules)")); got != "2 False\n" {
		t.Errorf("after a restart, which starts a Python afresh: %q", got)
	}

	// Python's hash secret is fixed when a process starts: sessions of one
	// zygote share it, and so one owner's; another owner's differ.
	hashOf := func(s *session.Session) string {
		t.Helper()
		return stdout(cell(t, s.Kernel(), "print(hash('interp'))"))
	}
	create("bob")
	create("bob")
	bob := create("bob")
	if st := m.Pool().Stats(); st.Zygotes != 2 {
		t.Errorf("alice and bob share a zygote: %+v", st)
	}
	if ha, hb := hashOf(a), hashOf(bob); ha == hb {
		t.Errorf("alice's and bob's sessions share a hash secret: %s", ha)
	}
	if got := stdout(cell(t, k, "print(secret)")); !strings.HasPrefix(got, "42") {
		t.Errorf("alice's first session lost its state: %q", got)
	}
}

// TestForkFallsBack checks that sessions still start, from nothing, where
// no zygote can be had: a backend that cannot fork, and a zygote whose
// modules fail to load, which the pool's stats then name.
func TestForkFallsBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cfg     session.Config
		preload []string
		lastErr string
	}{
		{"unsafe backend", unsafeConfig(t), []string{"json"}, ""},
		{"module that does not exist", config(t), []string{"json", "no_such_module_xyz"}, "no_such_module_xyz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := session.NewManager(session.ManagerConfig{Kernel: c.cfg, Pool: session.PoolConfig{Fork: true, Preload: c.preload}})
			defer m.Shutdown()
			for range 3 {
				s, err := m.Create(context.Background(), session.CreateOptions{Owner: "carol"})
				if err != nil {
					t.Fatal(err)
				}
				if got := stdout(cell(t, s.Kernel(), "import sys\nprint(1 + 1, 'json' in sys.modules and 'json' in dir())")); got != "2 False\n" {
					t.Errorf("session: %q", got)
				}
			}
			st := m.Pool().Stats()
			if st.Zygotes != 0 {
				t.Errorf("stats: %+v", st)
			}
			if c.lastErr != "" && (st.LastErr == nil || !strings.Contains(st.LastErr.Error(), c.lastErr)) {
				t.Errorf("the pool's last error does not name %s: %v", c.lastErr, st.LastErr)
			}
		})
	}
}

// unsafeConfig is config with the backend that runs on the host.
func unsafeConfig(t testing.TB) session.Config {
	cfg := config(t)
	b := sandbox.NewUnsafe()
	t.Cleanup(func() { b.Close() })
	cfg.Backend = b
	return cfg
}
