package agent

import (
	"regexp"
	"strings"
	"unicode"
)

// answerFormat is the form a task asks its answer in, as templates that
// the final answer must each contain: "@mean[value]", "`{"mean": x}`",
// "in the format `YYYY-MM-DD`". A template's names and keys stay as they
// are; its placeholders match anything.
type answerFormat struct {
	templates []string
	patterns  []*regexp.Regexp
}

var (
	// A tag with a value in brackets: @name[value], @name[v1, v2].
	tagTemplateRE = regexp.MustCompile(`@[\p{L}\p{N}_.\-]+\[[^\[\]\n]*\]`)
	// A code span or quote that follows a word saying "format" within
	// the same sentence.
	formatSpanRE = regexp.MustCompile("(?i)(?:format|in the form|as follows|like this|格式|形式|形如)[^\n。.;；`]{0,40}?(?:`([^`\n]{2,200})`|\"([^\"\n]{2,200})\"|“([^”\n]{2,200})”)")
)

// taskFormat finds the answer format a task states, or nil.
func taskFormat(task string) *answerFormat {
	f := &answerFormat{}
	seen := map[string]bool{}
	add := func(t string) {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			return
		}
		re, ok := templatePattern(t)
		if !ok {
			return
		}
		seen[t] = true
		f.templates = append(f.templates, t)
		f.patterns = append(f.patterns, re)
	}
	spans := formatSpanRE.FindAllStringSubmatch(task, -1)
	for _, m := range spans {
		for _, g := range m[1:] {
			if g != "" && !tagTemplateRE.MatchString(g) {
				add(g)
			}
		}
	}
	for _, t := range tagTemplateRE.FindAllString(task, -1) {
		add(t)
	}
	if len(f.templates) == 0 {
		return nil
	}
	return f
}

// matches reports whether answer follows every template.
func (f *answerFormat) matches(answer string) bool {
	for _, re := range f.patterns {
		if !re.MatchString(answer) {
			return false
		}
	}
	return true
}

// describe lists the templates for the model.
func (f *answerFormat) describe() string {
	return strings.Join(f.templates, " ")
}

// A template is a sequence of segments: literal text, optional
// whitespace, and placeholders that stand for any value.
type segment struct {
	kind int // segLiteral, segSpace or segHole
	text string
}

const (
	segLiteral = iota
	segSpace
	segHole
)

// templateSegments reads a template: punctuation stays as it is; a word
// before a bracket or an equals sign, or a quoted key before a colon, is
// a name and stays; any other word, and anything written <like this> or
// {like_this}, is a placeholder; whitespace is optional. A template with
// no structure at all (just words) is not a format.
func templateSegments(t string) ([]segment, bool) {
	var segs []segment
	rs := []rune(t)
	literals := 0
	last := func() int {
		if len(segs) == 0 {
			return -1
		}
		return segs[len(segs)-1].kind
	}
	nextSignificant := func(i int) rune {
		for ; i < len(rs); i++ {
			if !unicode.IsSpace(rs[i]) {
				return rs[i]
			}
		}
		return 0
	}
	placeholder := func() {
		if last() != segHole {
			segs = append(segs, segment{kind: segHole})
		}
	}
	literal := func(s string) {
		literals++
		if last() == segLiteral {
			segs[len(segs)-1].text += s
			return
		}
		segs = append(segs, segment{kind: segLiteral, text: s})
	}
	for i := 0; i < len(rs); {
		c := rs[i]
		if end := placeholderEnd(rs, i); end > 0 {
			placeholder()
			i = end
			continue
		}
		switch {
		case unicode.IsSpace(c):
			for i < len(rs) && unicode.IsSpace(rs[i]) {
				i++
			}
			if last() != segHole {
				segs = append(segs, segment{kind: segSpace})
			}
		case isWordRune(c) || c == '"' || c == '\'':
			j := i + 1
			if c == '"' || c == '\'' {
				for j < len(rs) && rs[j] != c {
					j++
				}
				if j < len(rs) {
					j++
				}
			} else {
				for j < len(rs) && isWordRune(rs[j]) {
					j++
				}
			}
			// A name before a bracket or =, or a quoted key before a
			// colon, is literal; a bare word before a colon (`name:
			// value`) is as much a placeholder as the value.
			next := nextSignificant(j)
			quoted := c == '"' || c == '\''
			if next == '[' || next == '(' || next == '=' || (quoted && (next == ':' || next == '：')) {
				literal(string(rs[i:j]))
			} else {
				placeholder()
			}
			i = j
		default:
			literal(string(c))
			i++
		}
	}
	return segs, literals > 0
}

// templatePattern turns a template into a pattern that an answer
// following it matches.
func templatePattern(t string) (*regexp.Regexp, bool) {
	segs, ok := templateSegments(t)
	if !ok {
		return nil, false
	}
	var b strings.Builder
	for _, sg := range segs {
		switch sg.kind {
		case segLiteral:
			b.WriteString(regexp.QuoteMeta(sg.text))
		case segSpace:
			b.WriteString(`\s*`)
		case segHole:
			b.WriteString(`.+?`)
		}
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, false
	}
	return re, true
}

// placeholderEnd returns the end of a placeholder written <like this> or
// {like_this} that starts at i, or 0.
func placeholderEnd(rs []rune, i int) int {
	var closer rune
	switch rs[i] {
	case '<':
		closer = '>'
	case '{':
		closer = '}'
	default:
		return 0
	}
	for j := i + 1; j < len(rs) && j < i+40; j++ {
		switch {
		case rs[j] == closer:
			if j == i+1 {
				return 0
			}
			return j + 1
		case closer == '}' && !isWordRune(rs[j]) && rs[j] != ' ':
			return 0 // a JSON object, not a placeholder
		case rs[j] == '\n' || rs[j] == rs[i]:
			return 0
		}
	}
	return 0
}

func isWordRune(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '.' || c == '-' || c == '%'
}

// restatePrompt asks a model to give its answer again in the format the
// task asked for.
func restatePrompt(f *answerFormat) string {
	return "Your answer does not follow the format the task asked for: " + f.describe() +
		"\nRestate your final answer in exactly that format, with the values you computed. Do not run code."
}
