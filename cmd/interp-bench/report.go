package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// table is a Markdown table. Columns after the first are aligned right,
// for numbers, unless left is set.
type table struct {
	header []string
	rows   [][]string
	left   bool
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	line(t.header)
	sep := make([]string, len(t.header))
	for i := range sep {
		sep[i] = "---"
		if i > 0 && !t.left {
			sep[i] = "---:"
		}
	}
	b.WriteString("|" + strings.Join(sep, "|") + "|\n")
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}

// stats summarises a sample of durations.
type stats struct {
	n                      int
	median, p90, mean, min time.Duration
	max                    time.Duration
}

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return stats{
		n:      len(s),
		median: medianSorted(s),
		p90:    s[int(math.Ceil(0.9*float64(len(s))))-1], // nearest rank
		mean:   sum / time.Duration(len(s)),
		min:    s[0],
		max:    s[len(s)-1],
	}
}

func medianSorted[T int64 | float64 | time.Duration](s []T) T {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return medianSorted(s)
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// signedMS formats a difference in milliseconds with its sign.
func signedMS(d time.Duration) string { return fmt.Sprintf("%+.2f ms", float64(d)/1e6) }

// mib formats bytes in MiB.
func mib(b float64) string { return fmt.Sprintf("%.2f MiB", b/(1<<20)) }

// signedMiB formats a difference in bytes in MiB with its sign.
func signedMiB(b float64) string { return fmt.Sprintf("%+.2f MiB", b/(1<<20)) }

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// verdict says whether a target was met.
func verdict(met bool) string {
	if met {
		return "**met**"
	}
	return "**not met**"
}
