package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestREADMEDefaults checks the README's table of shared defaults against
// the code: every default is in the table, with its value.
func TestREADMEDefaults(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"memory":       FormatSize(DefaultMemory),
		"cell_timeout": formatDuration(DefaultCellTimeout),
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "<!-- defaults:")
	table, _, ok2 := strings.Cut(table, "<!-- end defaults -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no table between <!-- defaults: --> and <!-- end defaults -->")
	}
	got := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		got[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("README says %s defaults to %q; the code says %q", name, got[name], v)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("README lists a default for %s, which this test does not know", name)
		}
	}
}

// formatDuration is d as the README writes it: 2m rather than 2m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
