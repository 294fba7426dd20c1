package deps

import (
	"regexp"
	"strconv"
	"strings"
)

// python2Hints are telltales of Python 2 source, each with what Python 3
// wants instead. They are matched against a syntax error's message and
// the offending line.
var python2Hints = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`Missing parentheses in call to 'print'|^\s*print\s+(?:[^\s(=.,)\]}]|>>)`), "the print statement (Python 3: print(...))"},
	{regexp.MustCompile(`Missing parentheses in call to 'exec'|^\s*exec\s+["'\w]`), "the exec statement (Python 3: exec(...))"},
	{regexp.MustCompile(`multiple exception types must be parenthesized|^\s*except\s+[\w.]+\s*,\s*\w+\s*:`), "except X, e (Python 3: except X as e)"},
	{regexp.MustCompile(`^\s*raise\s+[\w.]+\s*,`), "raise E, msg (Python 3: raise E(msg))"},
	{regexp.MustCompile(`leading zeros in decimal integer literals|\b0[0-7]+\b`), "an octal literal like 0777 (Python 3: 0o777)"},
	{regexp.MustCompile(`\b\d+[lL]\b`), "a long literal like 10L (Python 3: 10)"},
	{regexp.MustCompile("`[^`]+`"), "backquotes (Python 3: repr(...))"},
	{regexp.MustCompile(`<>`), "the <> operator (Python 3: !=)"},
	{regexp.MustCompile(`\bur["']`), "a ur'' string literal"},
}

// syntaxLineRE finds the line number a SyntaxError names.
var syntaxLineRE = regexp.MustCompile(`line (\d+)`)

// Python2Syntax says why code that failed to parse with message msg is
// Python 2 code, or returns "" if nothing suggests it. msg is a
// SyntaxError's text; code, if not empty, is the source, whose offending
// line is looked at too.
func Python2Syntax(code, msg string) string {
	if !strings.Contains(msg, "SyntaxError") && !strings.Contains(msg, "Missing parentheses") &&
		!strings.Contains(msg, "invalid syntax") && !strings.Contains(msg, "parenthesized") && !strings.Contains(msg, "leading zeros") {
		return ""
	}
	texts := []string{msg}
	if m := syntaxLineRE.FindStringSubmatch(msg); m != nil && code != "" {
		if n, err := strconv.Atoi(m[1]); err == nil {
			if lines := strings.Split(code, "\n"); n >= 1 && n <= len(lines) {
				texts = append(texts, lines[n-1])
			}
		}
	}
	for _, h := range python2Hints {
		for _, t := range texts {
			for _, l := range strings.Split(t, "\n") {
				if h.re.MatchString(l) {
					return "this is Python 2 code (" + h.what + "); Interp runs Python 3: port it, for example with the 2to3 tool's fixes"
				}
			}
		}
	}
	return ""
}
