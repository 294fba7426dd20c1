package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/session"
)

func TestZygoteTiming(t *testing.T) {
	m := session.NewManager(session.ManagerConfig{
		Kernel: config(t),
		Pool:   session.PoolConfig{Fork: true, Preload: []string{"numpy", "pandas", "matplotlib.pyplot"}},
	})
	defer m.Shutdown()
	ctx := context.Background()
	for i := 0; i < 8; i++ {
		t0 := time.Now()
		s, err := m.Create(ctx, session.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		evs := cell(t, s.Kernel(), "import pandas as pd; pd.DataFrame({'a': [1, 2, 3]})['a'].sum()")
		t2 := time.Now()
		t.Logf("create %v cell %v total %v %v", t1.Sub(t0), t2.Sub(t1), t2.Sub(t0), done(evs).Status)
	}
}
