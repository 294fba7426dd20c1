package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// targetSDKOverhead is the most an SDK may add to the median round trip
// of `1+1` over a raw HTTP request.
const targetSDKOverhead = time.Millisecond

// sdkSection measures each SDK's round trip of `1+1` against the same
// request made raw with that language's HTTP client, in the same process
// and interleaved, on a server as interp serve runs it.
func sdkSection(ctx context.Context, cfg *config) (string, error) {
	s, done, err := newSrvBench(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	if s.rec, err = s.startServer(false); err != nil {
		return "", err
	}
	defer s.rec.stop()
	key, err := s.newUser(ctx, "sdk")
	if err != nil {
		return "", err
	}
	n := 5 * cfg.N
	var md strings.Builder
	fmt.Fprintf(&md, `Each SDK against the same request made raw, in one process of its language,
interleaved (the order alternating), %d times each after 20 warm-up runs, on
one warm session of a server as `+"`interp serve`"+` runs it (%s runtime,
executions recorded in the history, on 127.0.0.1). The raw request is
`+"`POST /v1/sessions/{id}/execute`"+` with `+"`{\"code\": \"1+1\"}`"+`, its JSON
answer decoded, with the language's usual client on a kept-alive connection:
httpx for Python, fetch for Node. The SDK call is `+"`sb.run_code(\"1+1\")`"+` /
`+"`sb.runCode(\"1+1\")`"+`, which sends the same request and also builds the typed
events and the Execution. The overhead is judged on the median of the paired
differences (SDK − raw, each pair run back to back), which the machine's noise
moves least; the difference of the medians is shown beside it.

`, n, s.rtName)
	tb := newTable("SDK", "raw request (baseline), median", "SDK, median", "raw p90", "SDK p90", "overhead (median − median)", "paired difference, median")
	var bullets []string
	var failures []string
	for _, lang := range []struct {
		name string
		cmd  func() ([]string, error)
	}{
		{"Python (`sdk/python`, httpx)", pythonBench},
		{"TypeScript (`sdk/typescript`, Node " + nodeVersion() + ", fetch)", nodeBench},
	} {
		cfg.logf("sdk: %s", lang.name)
		argv, err := lang.cmd()
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", lang.name, err))
			continue
		}
		raw, sdk, err := runSDKBench(ctx, append(argv, s.rec.url, key, fmt.Sprint(n)))
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", lang.name, err))
			continue
		}
		diffs := make([]time.Duration, len(raw))
		for i := range raw {
			diffs[i] = sdk[i] - raw[i]
		}
		sr, ss := summarize(raw), summarize(sdk)
		over := ss.median - sr.median
		tb.add(lang.name, msp(sr.median), msp(ss.median), msp(sr.p90), msp(ss.p90), signedMSP(over), signedMSP(median(diffs)))
		paired := median(diffs)
		bullets = append(bullets, fmt.Sprintf("- %s: the SDK adds **%s** at the median of the paired differences (%s median − median, %s). Target ≤ %s: %s.",
			lang.name, signedMSP(paired), signedMSP(over), ratio(float64(ss.median), float64(sr.median)), msp(targetSDKOverhead), verdict(paired <= targetSDKOverhead)))
	}
	md.WriteString(tb.String())
	md.WriteString("\n")
	md.WriteString(strings.Join(bullets, "\n"))
	md.WriteString("\n")
	if len(failures) > 0 {
		return md.String(), fmt.Errorf("%s", strings.Join(failures, "; "))
	}
	return md.String(), nil
}

// pythonBench makes the Python SDK's venv and returns the command of its
// bench.
func pythonBench() ([]string, error) {
	out, err := exec.Command("sdk/python/scripts/venv").Output()
	if err != nil {
		return nil, fmt.Errorf("sdk/python/scripts/venv: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return []string{lines[len(lines)-1], "sdk/python/scripts/bench.py"}, nil
}

// nodeBench builds the TypeScript SDK and returns the command of its
// bench.
func nodeBench() ([]string, error) {
	dir := "sdk/typescript"
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		if out, err := command(dir, "npm", "ci", "--no-audit", "--no-fund", "--silent").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("npm ci: %v: %s", err, oneLine(string(out)))
		}
	}
	if out, err := command(dir, "npm", "run", "build", "--silent").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("npm run build: %v: %s", err, oneLine(string(out)))
	}
	return []string{"node", filepath.Join(dir, "bench", "bench.mjs")}, nil
}

func command(dir, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Dir = dir
	return c
}

func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
}

// runSDKBench runs a bench script, which prints {"raw": [ns], "sdk": [ns]}.
func runSDKBench(ctx context.Context, argv []string) (raw, sdk []time.Duration, err error) {
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v: %s", strings.Join(argv[:2], " "), err, oneLine(lastLines(stderr.String(), 5)))
	}
	var r struct{ Raw, SDK []int64 }
	if err := json.Unmarshal(out, &r); err != nil || len(r.Raw) == 0 || len(r.Raw) != len(r.SDK) {
		return nil, nil, fmt.Errorf("%s printed %q: %v", argv[1], oneLine(string(out)), err)
	}
	for i := range r.Raw {
		raw = append(raw, time.Duration(r.Raw[i]))
		sdk = append(sdk, time.Duration(r.SDK[i]))
	}
	return raw, sdk, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
