package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMESettings checks the README's table of settings against Table:
// every setting is there, in order, with its environment variable, flag
// and default. An empty default is written in parentheses, saying what
// applies instead.
func TestREADMESettings(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "<!-- settings:")
	table, _, ok2 := strings.Cut(table, "<!-- end settings -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no table between <!-- settings: --> and <!-- end settings -->")
	}
	var rows [][]string
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		row := make([]string, 4)
		for i := range row {
			row[i] = strings.Trim(strings.TrimSpace(cells[i+1]), "`")
		}
		rows = append(rows, row)
	}
	if len(rows) != len(Table) {
		t.Errorf("README lists %d settings; the code has %d", len(rows), len(Table))
	}
	for i, st := range Table {
		if i >= len(rows) {
			t.Errorf("README lacks %s", st.Key)
			continue
		}
		r := rows[i]
		flag := ""
		if st.Flag != "" {
			flag = "--" + st.Flag
		}
		def := r[1]
		if st.Default == "" && strings.HasPrefix(def, "(") {
			def = ""
		}
		if r[0] != st.Key || def != st.Default || r[2] != st.Env || r[3] != flag {
			t.Errorf("README row %d says %q; the code says %s, default %q, env %q, flag %q", i+1, r, st.Key, st.Default, st.Env, flag)
		}
	}
}
