package eval

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a run.
type Report struct {
	Suite   string       `json:"suite"`
	Label   string       `json:"label,omitempty"` // what was measured: model and configuration
	Started time.Time    `json:"started"`
	Summary Summary      `json:"summary"`
	Tasks   []TaskResult `json:"tasks"`
}

// Summary sums a run up.
type Summary struct {
	N        int     `json:"n"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
	// CodeRan counts the tasks that ran any code, CodeOK those whose
	// code all ran without error.
	CodeRan int `json:"code_ran"`
	CodeOK  int `json:"code_ok"`
	// Failed counts the tasks that could not be run at all.
	Failed    int     `json:"failed"`
	MeanSteps float64 `json:"mean_steps"`
	// StepsParsed counts the steps of all tasks whose output was well
	// formed under the agent's protocol, of StepsTotal.
	StepsParsed     int     `json:"steps_parsed"`
	StepsTotal      int     `json:"steps_total"`
	MeanTokens      float64 `json:"mean_tokens"`
	TokensEstimated bool    `json:"tokens_estimated,omitempty"`
	WallP50         float64 `json:"wall_p50_s"`
	WallP90         float64 `json:"wall_p90_s"`
	// ByLang is the accuracy per language of the tasks.
	ByLang map[string]float64 `json:"by_lang,omitempty"`
}

func summarise(rs []TaskResult) Summary {
	s := Summary{N: len(rs), ByLang: map[string]float64{}}
	if s.N == 0 {
		return s
	}
	var walls []float64
	steps, tokens := 0, 0
	langN, langOK := map[string]int{}, map[string]int{}
	for _, r := range rs {
		if r.Correct {
			s.Correct++
		}
		if r.Cells > 0 {
			s.CodeRan++
			if r.CellErrors == 0 {
				s.CodeOK++
			}
		}
		if r.Error != "" {
			s.Failed++
		}
		steps += r.Steps
		s.StepsTotal += r.Steps
		s.StepsParsed += r.Steps - len(r.Unparsed)
		tokens += r.Tokens
		s.TokensEstimated = s.TokensEstimated || r.TokensEstimated
		walls = append(walls, r.Seconds)
		if r.Lang != "" {
			langN[r.Lang]++
			if r.Correct {
				langOK[r.Lang]++
			}
		}
	}
	s.Accuracy = float64(s.Correct) / float64(s.N)
	s.MeanSteps = float64(steps) / float64(s.N)
	s.MeanTokens = float64(tokens) / float64(s.N)
	sort.Float64s(walls)
	s.WallP50, s.WallP90 = percentile(walls, 50), percentile(walls, 90)
	for l, n := range langN {
		s.ByLang[l] = float64(langOK[l]) / float64(n)
	}
	return s
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// WriteTable prints the report for a person: one line a task, then the
// summary.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tOK\tSTEPS\tPARSED\tCELLS\tERRORS\tTOKENS\tSECONDS\tANSWER / WHY")
	for _, t := range r.Tasks {
		ok := "no"
		if t.Correct {
			ok = "yes"
		}
		note := oneLine(t.Answer, 60)
		switch {
		case t.Error != "":
			note = "error: " + oneLine(t.Error, 60)
		case t.Answer == "" && t.Reason != "":
			note = "no answer: " + oneLine(t.Reason, 60)
		case !t.Correct && t.Detail != "":
			note = oneLine(t.Answer, 40) + " (" + t.Detail + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%s\n", t.ID, ok, t.Steps, t.Steps-len(t.Unparsed), t.Cells, t.CellErrors, t.Tokens, t.Seconds, note)
	}
	tw.Flush()
	s := r.Summary
	est := ""
	if s.TokensEstimated {
		est = " (some estimated)"
	}
	fmt.Fprintf(w, "\n%s\n", r.Label)
	fmt.Fprintf(w, "accuracy      %d/%d = %.1f%%", s.Correct, s.N, 100*s.Accuracy)
	var langs []string
	for l := range s.ByLang {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		fmt.Fprintf(w, "  %s %.1f%%", l, 100*s.ByLang[l])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "code ran      %d/%d tasks, without any error in %d\n", s.CodeRan, s.N, s.CodeOK)
	if s.Failed > 0 {
		fmt.Fprintf(w, "not run       %d tasks (see the errors above)\n", s.Failed)
	}
	fmt.Fprintf(w, "steps         %.1f a task; well formed %d/%d\n", s.MeanSteps, s.StepsParsed, s.StepsTotal)
	fmt.Fprintf(w, "tokens        %.0f a task%s\n", s.MeanTokens, est)
	fmt.Fprintf(w, "wall time     p50 %.1f s, p90 %.1f s a task\n", s.WallP50, s.WallP90)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
