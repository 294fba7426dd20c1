package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// machineReport describes the machine and the date of the run as Markdown.
func machineReport(now time.Time) string {
	model, logical := cpuInfo()
	mem := "unknown"
	if mi, err := readMeminfo(); err == nil {
		mem = fmt.Sprintf("%.1f GiB", float64(mi["MemTotal"])/(1<<30))
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	t := newTable("", "")
	t.left = true
	t.add("Date", now.UTC().Format("2006-01-02 15:04 MST"))
	t.add("CPU", model)
	t.add("Cores", fmt.Sprintf("%d logical (%d usable by this process)", logical, runtime.NumCPU()))
	t.add("Memory", mem)
	t.add("Kernel", fmt.Sprintf("Linux %s (%s)", kernel, runtime.GOARCH))
	t.add("Go", runtime.Version())
	return "\n## Machine\n\n" + t.String()
}

// cpuInfo returns the CPU model and the number of logical CPUs listed in
// /proc/cpuinfo.
func cpuInfo() (model string, logical int) {
	model = "unknown"
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return model, runtime.NumCPU()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			logical++
		case "model name", "Model", "cpu model":
			if model == "unknown" && strings.TrimSpace(v) != "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	if logical == 0 {
		logical = runtime.NumCPU()
	}
	return model, logical
}
