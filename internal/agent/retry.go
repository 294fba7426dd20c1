package agent

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/interp-dev/interp/internal/session"
)

// Re-sent code. A model decoding greedily (temperature 0, as small models
// run) that reads its failed code and the error often writes the very
// same code again: it copies what is in front of it, so confidently that
// a warmer temperature alone does not change it (Qwen2.5-Coder-0.5B sent
// the same code again at 0.7 and at 1.0). Running it again only repeats the
// error. Instead the loop does not run it, takes the failed attempt and
// its result out of the conversation, so that there is nothing to copy,
// puts in their place a note of what failed and where, and samples the
// retry warmer; only after limits.MaxRepeats such re-sends in a row does
// the task stop.

// stuckRun is the last run of code that got nowhere: it failed, or it ran
// and printed nothing.
type stuckRun struct {
	code string // normalised
	note string // what replaces the attempt when the model sends it again
	sig  string // the error, for the stop's reason
	// attempt is the history index of the model's message that sent
	// the code: it and the report of the run after it are what a
	// re-send replaces with the note.
	attempt int
	resent  int // times in a row the model sent the code again
}

// retryTemperatures are the sampling temperatures of the steps after a
// re-send, by how many re-sends came in a row: warm enough to leave the
// greedy path, not so hot that the code falls apart (at 1.0 the 0.5B
// model once wrote on until the task's time limit).
var retryTemperatures = []float64{0.6, 0.8}

// retryTemperature is the temperature of the step after the n-th re-send
// in a row (n ≥ 1).
func retryTemperature(n int) float64 {
	return retryTemperatures[min(n, len(retryTemperatures))-1]
}

// cellLineRE finds the line of the cell a traceback points at, in the
// forms the kernel writes: File "<cell 2>", line 3 and Cell In[2], line 3.
var cellLineRE = regexp.MustCompile(`(?:File "<cell \d+>"|Cell In\s*\[\d+\]), line (\d+)`)

// failingLine is the line of code a failure points at, with its number,
// or 0 if the traceback does not say.
func failingLine(code string, failure *session.Event) (int, string) {
	if failure == nil {
		return 0, ""
	}
	m := cellLineRE.FindAllStringSubmatch(strings.Join(failure.Traceback, "\n"), -1)
	if len(m) == 0 {
		return 0, ""
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	lines := strings.Split(code, "\n")
	if n < 1 || n > len(lines) {
		return 0, ""
	}
	return n, strings.TrimSpace(lines[n-1])
}

// failedNote stands for a failed attempt the model sent again: the error,
// where, and the hint it had.
func failedNote(code string, failure *session.Event, sig, hint string) string {
	var b strings.Builder
	b.WriteString("[note] Your code failed with " + sig)
	if n, line := failingLine(code, failure); n > 0 {
		fmt.Fprintf(&b, " at line %d: `%s`", n, line)
	}
	b.WriteString(". " + hint + " You wrote the same code again, so it was taken out: do not write it again. Write different code for the task.")
	return b.String()
}

// silentNote stands for code that printed nothing, sent again.
const silentNote = "[note] Your code ran but printed nothing, and you wrote the same code again, so it was taken out. " +
	"Write code that prints the values the task asks for, with print()."

// Answer checks for small models: an answer that copies the markup of the
// feedback, or states numbers no run printed (small models make numbers
// up, or do arithmetic in their head and get it wrong), is sent back once.

// feedbackMarkup is markup the loop writes into results, which an answer
// never needs.
var feedbackMarkup = []string{"[status:", "[next]", "[guidance]", "[when you answer]", "[note]"}

var (
	// A number in an answer: not part of a name (s2, int64, x1).
	numberRE = regexp.MustCompile(`\d+(?:\.\d+)?(?:[eE][-+]?\d+)?`)
	// Thousands separators, to drop: 86,968.84.
	thousandsRE = regexp.MustCompile(`(\d),(\d{3})\b`)
)

// numbers are the numbers in s, by value, with the decimals each was
// written with; digits that are part of a word are not numbers.
func numbers(s string) (vals []float64, decimals []int) {
	s = thousandsRE.ReplaceAllString(thousandsRE.ReplaceAllString(s, "$1$2"), "$1$2")
	for _, loc := range numberRE.FindAllStringIndex(s, -1) {
		if loc[0] > 0 {
			c := s[loc[0]-1]
			if c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				continue
			}
		}
		if loc[1] < len(s) {
			if c := s[loc[1]]; c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				continue
			}
		}
		text := s[loc[0]:loc[1]]
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			continue
		}
		d := 0
		if i := strings.IndexByte(text, '.'); i >= 0 && !strings.ContainsAny(text, "eE") {
			d = len(text) - i - 1
		}
		vals, decimals = append(vals, v), append(decimals, d)
	}
	return vals, decimals
}

// ungrounded lists the numbers of answer that none of sources shows, as
// written or rounded, or as a percentage of a fraction shown.
func ungrounded(answer string, sources []string) []string {
	var shown []float64
	for _, s := range sources {
		v, _ := numbers(s)
		shown = append(shown, v...)
	}
	vals, decimals := numbers(answer)
	var out []string
	seen := map[float64]bool{}
	for i, a := range vals {
		tol := 0.5*math.Pow(10, -float64(decimals[i]))*(1+1e-9) + 1e-12
		ok := false
		for _, o := range shown {
			if math.Abs(a-o) <= tol || math.Abs(a-100*o) <= tol {
				ok = true
				break
			}
		}
		if !ok && !seen[a] {
			seen[a] = true
			out = append(out, strconv.FormatFloat(a, 'f', decimals[i], 64))
		}
	}
	return out
}

// answerProblem says what is wrong with a small model's answer, or "".
// sources are the task and the results of its runs.
func answerProblem(answer string, sources []string) string {
	for _, m := range feedbackMarkup {
		if strings.Contains(answer, m) {
			return "Your answer copied the markup of the output (" + m + " …). Write your final answer to the task again, without it."
		}
	}
	if miss := ungrounded(answer, sources); len(miss) > 0 {
		return "No output of your code shows " + strings.Join(miss, ", ") + ". Do not calculate in your head or guess: " +
			"run code that prints the value the task asks for, or answer with the values the output shows."
	}
	return ""
}

// outcomeSections are the headers of a run's result as the loop writes it
// (session.Outcome.Text); copied into an answer, they are noise.
var outcomeSections = map[string]bool{"stdout:": true, "stderr:": true, "result:": true, "error:": true}

// withoutMarkup is a small model's final answer without the lines it
// copied from the loop's feedback: status lines, section headers, image
// placeholders and the loop's instructions. What the lines carried (a
// value under result:, the files line) stays. An answer that was nothing
// but markup becomes a plain sentence pointing at the output.
func withoutMarkup(answer string) string {
	copied := false
	for _, m := range feedbackMarkup {
		copied = copied || strings.Contains(answer, m)
	}
	if !copied {
		return answer
	}
	var kept []string
	for _, line := range strings.Split(answer, "\n") {
		t := strings.TrimSpace(line)
		// A status is a tag; what follows it on its line may be the
		// model's. The loop's instructions fill their lines.
		for strings.HasPrefix(t, "[status:") && strings.Contains(t, "]") {
			t = strings.TrimSpace(t[strings.Index(t, "]")+1:])
			line = t
		}
		drop := t == "" || outcomeSections[t] || strings.HasPrefix(t, "[image ") || strings.HasPrefix(t, "installed: ")
		for _, m := range feedbackMarkup {
			drop = drop || strings.HasPrefix(t, m)
		}
		if !drop {
			kept = append(kept, line)
		}
	}
	if out := strings.TrimSpace(strings.Join(kept, "\n")); out != "" {
		return out
	}
	return "Done: the code ran without error; its output is above."
}
