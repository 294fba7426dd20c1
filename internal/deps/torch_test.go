package deps_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// TestTorchIndexIsScopedToTheTorchFamily: with a torch index configured,
// torch (asked for, or pulled in by another package) comes from it, and
// nothing else does, even what that index also serves; without one, a GPU
// build on a host without a GPU is warned about. download.pytorch.org is
// not reachable where this runs, so two local indexes stand in for PyPI
// and PyTorch's CPU index.
func TestTorchIndexIsScopedToTheTorchFamily(t *testing.T) {
	main := pypitest.NewIndex(t,
		pypitest.Package{Name: "torch", Version: "2.0", Modules: map[string]string{"torch/__init__.py": "BUILD = 'cuda'\n"}, Requires: []string{"tinydep", "nvidia-fake-cu12"}},
		pypitest.Package{Name: "nvidia-fake-cu12", Version: "1.0", Modules: map[string]string{"nvidia_fake/__init__.py": ""}},
		pypitest.Package{Name: "usestorch", Version: "1.0", Modules: map[string]string{"usestorch.py": "import torch\nBUILD = torch.BUILD\n"}, Requires: []string{"torch"}},
		tinyPkgs[1], // tinydep 1.2
	)
	cpu := pypitest.NewIndex(t,
		pypitest.Package{Name: "torch", Version: "2.0+cpu", Modules: map[string]string{"torch/__init__.py": "BUILD = 'cpu'\n"}, Requires: []string{"tinydep"}},
		// PyTorch's index mirrors other packages: they must not come from it.
		pypitest.Package{Name: "tinydep", Version: "9.0", Modules: map[string]string{"tinydep.py": "BASE = 'from the torch index'\n"}},
	)
	versions := func(site string) string {
		infos, _ := filepath.Glob(filepath.Join(site, "*.dist-info"))
		var names []string
		for _, di := range infos {
			names = append(names, strings.TrimSuffix(filepath.Base(di), ".dist-info"))
		}
		return strings.Join(names, " ")
	}
	for _, tt := range []struct {
		req, want string
	}{
		{"torch", "tinydep-1.2 torch-2.0+cpu"},
		{"usestorch", "tinydep-1.2 torch-2.0+cpu usestorch-1.0"},
	} {
		t.Run(tt.req, func(t *testing.T) {
			in, _ := storeSetup(t, main.URL())
			in.TorchIndex = cpu.URL()
			site := siteDir(t)
			if err := in.Install(context.Background(), site, []deps.Requirement{{Name: tt.req}}, nil); err != nil {
				t.Fatal(err)
			}
			if got := versions(site); got != tt.want {
				t.Errorf("installed %q, want %q", got, tt.want)
			}
			data, _ := os.ReadFile(filepath.Join(site, "torch", "__init__.py"))
			if !strings.Contains(string(data), "cpu") {
				t.Errorf("torch is %q, not the CPU build", data)
			}
		})
	}
	for _, r := range cpu.Requests() {
		if strings.Contains(r, "tinydep") {
			t.Errorf("the torch index was asked for tinydep: %s", r)
		}
	}

	// Without a torch index, on a host without a GPU: a warning, with the
	// size and the setting to change.
	if _, err := os.Stat("/dev/nvidiactl"); err == nil {
		return
	}
	in, _ := storeSetup(t, main.URL())
	in.ConfigFile = "/etc/interp.yaml"
	var warnings []string
	install := func() {
		t.Helper()
		warnings = nil
		if err := in.Install(context.Background(), siteDir(t), []deps.Requirement{{Name: "torch"}}, func(ev session.Event) {
			if ev.Type == event.Stderr {
				warnings = append(warnings, ev.Text)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	install()
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "[interp: torch 2.0 from the package index is the CUDA build, with 1 GPU-only package (") ||
		!strings.Contains(warnings[0], "kB to download") || !strings.HasSuffix(warnings[0], ", and this host has no GPU. For PyTorch's CPU-only build, add install: {torch_index: cpu} to /etc/interp.yaml or set INTERP_TORCH_INDEX=cpu]\n") {
		t.Errorf("warnings %q", warnings)
	}
	// Once stored, nothing is downloaded: no warning.
	if install(); len(warnings) != 0 {
		t.Errorf("a second install warned: %q", warnings)
	}
}
