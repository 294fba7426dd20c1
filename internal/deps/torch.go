package deps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TorchCPUIndex is PyTorch's index of CPU-only builds: the "cpu" preset
// of Installer.TorchIndex.
const TorchCPUIndex = "https://download.pytorch.org/whl/cpu"

// torchFamily are the distributions a TorchIndex serves; nothing else
// comes from it, so the one-index rule holds for every other package
// (PyTorch's index mirrors numpy, pillow and more).
var torchFamily = []string{"torch", "torchvision", "torchaudio"}

func isTorchFamily(name string) bool { return slices.Contains(torchFamily, Normalize(name)) }

// indexFor returns the index the distribution name is installed from.
func (in *Installer) indexFor(name string) string {
	if in.TorchIndex != "" && isTorchFamily(name) {
		return in.TorchIndex
	}
	return in.index()
}

// compile has uv resolve reqs within constraints and returns its
// name==version lines. With a TorchIndex, the request is a pyproject.toml
// whose [tool.uv.sources] pin the torch family, and only it, to that
// index (declared explicit, so uv consults it for nothing else); a member
// of the family that comes in as a dependency is made a direct
// requirement and the request resolved again, so it too comes from there.
func (in *Installer) compile(ctx context.Context, reqs []Requirement, constraints string) ([]byte, error) {
	args := append([]string{"pip", "compile", "--no-header", "--no-annotate", "--constraint", constraints}, in.uvArgs(in.index())...)
	if in.TorchIndex == "" {
		lines := make([]string, len(reqs))
		for i, r := range reqs {
			lines[i] = r.String()
		}
		return in.run(ctx, []byte(strings.Join(lines, "\n")+"\n"), append(args[:2:2], append([]string{"-"}, args[2:]...)...)...)
	}
	direct := slices.Clone(reqs)
	for range 2 {
		out, err := in.compileProject(ctx, direct, args)
		if err != nil {
			return nil, err
		}
		added := false
		for _, l := range strings.Split(string(out), "\n") {
			name, _, ok := strings.Cut(strings.TrimSpace(l), "==")
			if !ok || !isTorchFamily(name) || slices.ContainsFunc(direct, func(r Requirement) bool { return Normalize(r.Name) == Normalize(name) }) {
				continue
			}
			direct = append(direct, Requirement{Name: strings.TrimSpace(name)})
			added = true
		}
		if !added {
			return out, nil
		}
	}
	return in.compileProject(ctx, direct, args)
}

// compileProject resolves reqs written as a pyproject.toml that sends the
// torch family to TorchIndex.
func (in *Installer) compileProject(ctx context.Context, reqs []Requirement, args []string) ([]byte, error) {
	var b strings.Builder
	b.WriteString("[project]\nname = \"interp-request\"\nversion = \"0\"\ndependencies = [\n")
	var family []string
	for _, r := range reqs {
		// Requirements are checked by ParseRequirement: no quotes or
		// backslashes to escape.
		fmt.Fprintf(&b, "  %s,\n", strconv.Quote(r.String()))
		if isTorchFamily(r.Name) {
			family = append(family, r.Name)
		}
	}
	b.WriteString("]\n\n[tool.uv.sources]\n")
	for _, f := range family {
		fmt.Fprintf(&b, "%s = { index = \"interp-torch\" }\n", strconv.Quote(f))
	}
	fmt.Fprintf(&b, "\n[[tool.uv.index]]\nname = \"interp-torch\"\nurl = %s\nexplicit = true\n", strconv.Quote(in.TorchIndex))
	dir, err := os.MkdirTemp(in.CacheDir, "request-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "pyproject.toml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	return in.run(ctx, nil, append(args[:2:2], append([]string{file}, args[2:]...)...)...)
}

// hasGPU says whether the host has an NVIDIA GPU with its driver loaded.
func hasGPU() bool {
	for _, p := range []string{"/proc/driver/nvidia/version", "/dev/nvidiactl"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// gpuOnly says whether a distribution exists only for NVIDIA GPUs: the
// CUDA libraries PyTorch's default build pulls in from PyPI.
func gpuOnly(name string) bool {
	n := Normalize(name)
	return strings.HasPrefix(n, "nvidia-") || strings.HasPrefix(n, "cuda-") || n == "triton"
}

// gpuWarning returns, when pins would bring GPU builds (torch with its
// NVIDIA libraries) onto a host without a GPU and no TorchIndex is set, a
// one-line warning with their download size and how to switch: the
// setting, in the file it goes in (it has no environment variable or
// flag); "" else. Install emits it as a note on stderr, which every front
// end shows: the CLI, the API's streams, MCP's results and the history.
func (in *Installer) gpuWarning(ctx context.Context, pins []pin) string {
	if in.TorchIndex != "" || runtime.GOOS != "linux" || runtime.GOARCH != "amd64" || hasGPU() {
		return ""
	}
	var gpu []pin
	torch := ""
	for _, p := range pins {
		if gpuOnly(p.name) {
			gpu = append(gpu, p)
		}
		if Normalize(p.name) == "torch" {
			torch = p.version
		}
	}
	if torch == "" || len(gpu) == 0 {
		return ""
	}
	size := in.downloadSize(ctx, append(slices.Clone(gpu), pin{"torch", torch}))
	what := fmt.Sprintf("torch %s from the package index is the CUDA build, with %d GPU-only packages", torch, len(gpu))
	if len(gpu) == 1 {
		what = strings.TrimSuffix(what, "s")
	}
	if size > 0 {
		what += fmt.Sprintf(" (%s to download with them)", formatSize(size))
	}
	file := "the config file"
	if in.ConfigFile != "" {
		file = in.ConfigFile
	}
	return what + ", and this host has no GPU. For PyTorch's CPU-only build, add install: {torch_index: cpu} to " + file + " or set INTERP_TORCH_INDEX=cpu"
}

// downloadSize adds up the sizes the index gives for the Linux x86-64
// wheels of pins (the largest where several fit), within a few seconds;
// 0 if it cannot tell.
func (in *Installer) downloadSize(ctx context.Context, pins []pin) int64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := newIndexClient(in.index())
	var mu sync.Mutex
	var total int64
	ok := true
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, p := range pins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			files, err := c.files(ctx, p.name)
			var best int64
			for _, f := range files {
				v, isWheel := f.wheel()
				if err == nil && isWheel && v == p.version && (strings.Contains(f.Filename, "x86_64") || strings.HasSuffix(f.Filename, "-any.whl")) {
					best = max(best, f.Size)
				}
			}
			mu.Lock()
			total += best
			ok = ok && best > 0
			mu.Unlock()
		}()
	}
	wg.Wait()
	if !ok {
		return 0
	}
	return total
}

// formatSize writes bytes as people read them: "2.9 GB", "180 MB".
func formatSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%d kB", n/1000)
	}
}
