package agent

import (
	"fmt"
	"strings"
)

// The fenced protocol of the small-model mode, where the provider obeys
// grammars (llama.cpp): every answer of the model is either one fenced
// Python block, which runs, or a final answer in plain text, which ends
// the task. A small model writes a fenced block far more reliably than a
// JSON tool call (it puts its code in Python triple quotes, or prints
// the call as text), and a GBNF grammar makes every step well formed: the
// model cannot answer before a run has printed a result, nor write
// anything but the answer once its code has printed one.

// Grammars of one step, by what the loop wants next.
const freeAnswerRules = "answer ::= [^`\\n \\t] [^`]*\n"

// codeRules are the rules of a fenced block of code. A line starts with
// anything but a backtick, so the block ends only at a closing fence at
// the start of a line. If the task's answer format starts with a
// character no Python statement of a task like it starts with ('@', as in
// @mean[value]), lines may not start with it either: a small model made
// to write code first writes the answer as code, with made-up values.
func codeRules(format *answerFormat) string {
	not := "`\\n"
	if c, ok := format.lead(); ok {
		not += gbnfClassChar(c)
	}
	return "code ::= \"```python\\n\" line+ \"```\"\n" +
		"line ::= ([^" + not + "] [^\\n]*)? \"\\n\"\n"
}

// lead is the character every template of the format starts with, if
// that is one no Python statement needs to start with (only a decorator
// starts with '@').
func (f *answerFormat) lead() (rune, bool) {
	if f == nil || len(f.templates) == 0 {
		return 0, false
	}
	var c rune
	for i, t := range f.templates {
		r := []rune(t)[0]
		if i > 0 && r != c {
			return 0, false
		}
		c = r
	}
	return c, c == '@'
}

// stepGrammar is the GBNF grammar of the next step: code until some run
// has printed a result, the answer once the last run printed one, and
// either in between. format, if set, shapes the answer.
func stepGrammar(want stepWant, format *answerFormat) string {
	answer := freeAnswerRules
	if g := formatAnswerRules(format); g != "" {
		answer = g
	}
	switch want {
	case wantCode:
		return "root ::= code\n" + codeRules(format)
	case wantAnswer:
		return "root ::= answer\n" + answer
	}
	return "root ::= code | answer\n" + codeRules(format) + answer
}

// stepWant is what the next step of the model may be.
type stepWant int

const (
	wantCode stepWant = iota
	wantAnswer
	wantEither
)

// formatAnswerRules is an answer rule that follows the task's format
// templates, one after another, or "" if there is none.
func formatAnswerRules(f *answerFormat) string {
	if f == nil {
		return ""
	}
	var parts []string
	for _, t := range f.templates {
		segs, ok := templateSegments(t)
		if !ok {
			return ""
		}
		parts = append(parts, gbnfSegments(segs))
	}
	if len(parts) == 0 {
		return ""
	}
	return "answer ::= " + strings.Join(parts, " [ \\n]? ") + "\n"
}

// gbnfSegments is the GBNF sequence of a template: literals as they are,
// optional spaces, and a placeholder as one line of text that stops
// before the literal after it.
func gbnfSegments(segs []segment) string {
	var out []string
	for i, sg := range segs {
		switch sg.kind {
		case segLiteral:
			out = append(out, gbnfString(sg.text))
		case segSpace:
			out = append(out, `" "?`)
		case segHole:
			stop := ""
			for _, next := range segs[i+1:] {
				if next.kind == segLiteral {
					stop = gbnfClassChar([]rune(next.text)[0])
					break
				}
			}
			// Not a space first: the value, not a gap, comes next.
			out = append(out, fmt.Sprintf("[^%s`\\n ] [^%s`\\n]*", stop, stop))
		}
	}
	return "(" + strings.Join(out, " ") + ")"
}

// gbnfString quotes s as a GBNF string literal.
func gbnfString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// gbnfClassChar escapes c for a GBNF character class.
func gbnfClassChar(c rune) string {
	switch c {
	case '\\', ']', '[', '^', '-', '"':
		return `\` + string(c)
	case '\n':
		return `\n`
	}
	return string(c)
}

// stepKind is what a step of the fenced protocol was.
type stepKind int

const (
	stepCode stepKind = iota
	stepAnswer
	stepMalformed
)

// parseStep reads one answer of the model under the fenced protocol: one
// fenced Python block and nothing else is code; text without a fence is
// the final answer; anything else is malformed. It accepts exactly what
// the grammars produce.
func parseStep(text string) (stepKind, string) {
	const open, fence = "```python\n", "```"
	t := strings.TrimSpace(text)
	if t == "" {
		return stepMalformed, ""
	}
	if !strings.Contains(t, fence) {
		return stepAnswer, t
	}
	if !strings.HasPrefix(t, open) || !strings.HasSuffix(t, fence) {
		return stepMalformed, ""
	}
	body := t[len(open) : len(t)-len(fence)]
	if !strings.HasSuffix(body, "\n") {
		return stepMalformed, ""
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "`") {
			return stepMalformed, ""
		}
	}
	code := strings.TrimSpace(body)
	if code == "" {
		return stepMalformed, ""
	}
	return stepCode, code
}
