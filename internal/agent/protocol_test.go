package agent

import (
	"regexp"
	"strings"
	"testing"
)

// gbnfRegexp turns a GBNF grammar without recursion, as the protocol's
// are, into an anchored regular expression, so that a test can ask which
// strings the grammar accepts: rules are inlined, literals quoted, and
// character classes, groups and repetitions keep their meaning.
func gbnfRegexp(t *testing.T, grammar string) *regexp.Regexp {
	t.Helper()
	rules := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(grammar), "\n") {
		name, body, ok := strings.Cut(line, "::=")
		if !ok {
			t.Fatalf("not a rule: %q", line)
		}
		rules[strings.TrimSpace(name)] = strings.TrimSpace(body)
	}
	var expand func(body string, depth int) string
	expand = func(body string, depth int) string {
		if depth > 10 {
			t.Fatalf("the grammar recurses: %q", body)
		}
		var b strings.Builder
		rs := []rune(body)
		for i := 0; i < len(rs); {
			c := rs[i]
			switch {
			case c == '"':
				j := i + 1
				var lit strings.Builder
				for ; j < len(rs) && rs[j] != '"'; j++ {
					if rs[j] == '\\' {
						j++
						switch rs[j] {
						case 'n':
							lit.WriteRune('\n')
						case 't':
							lit.WriteRune('\t')
						case 'r':
							lit.WriteRune('\r')
						default:
							lit.WriteRune(rs[j])
						}
						continue
					}
					lit.WriteRune(rs[j])
				}
				b.WriteString("(?:" + regexp.QuoteMeta(lit.String()) + ")")
				i = j + 1
			case c == '[':
				j := i + 1
				for ; j < len(rs) && rs[j] != ']'; j++ {
					if rs[j] == '\\' {
						j++
					}
				}
				b.WriteString(string(rs[i : j+1]))
				i = j + 1
			case c == '{':
				j := strings.IndexRune(string(rs[i:]), '}')
				b.WriteString(string(rs[i : i+len([]rune(string(rs[i:])[:j+1]))]))
				i += len([]rune(string(rs[i:])[:j+1]))
			case strings.ContainsRune("()|?*+", c):
				if c == '(' {
					b.WriteString("(?:")
				} else {
					b.WriteRune(c)
				}
				i++
			case c == ' ' || c == '\t':
				i++
			default:
				j := i
				for j < len(rs) && (rs[j] == '-' || rs[j] == '_' || rs[j] >= 'a' && rs[j] <= 'z' || rs[j] >= '0' && rs[j] <= '9') {
					j++
				}
				name := string(rs[i:j])
				rule, ok := rules[name]
				if !ok || j == i {
					t.Fatalf("unknown rule %q in %q", name, body)
				}
				b.WriteString("(?:" + expand(rule, depth+1) + ")")
				i = j
			}
		}
		return b.String()
	}
	root, ok := rules["root"]
	if !ok {
		t.Fatal("no root rule")
	}
	return regexp.MustCompile(`^(?:` + expand(root, 0) + `)$`)
}

// TestGrammarAndParser checks the pair: every string a step's grammar
// accepts parses as that step, and the grammar refuses what would not.
func TestGrammarAndParser(t *testing.T) {
	t.Parallel()
	format := taskFormat("Which species? Answer as @species[name] @mean[value].")
	tests := []struct {
		text string
		kind stepKind
	}{
		{"```python\nprint(df['x'].mean())\n```", stepCode},
		{"```python\nimport pandas as pd\n\ndf = pd.read_csv('data.csv')\nprint(df.x.mean())  # `x`\n```", stepCode},
		{"The average of x is 37.25.", stepAnswer},
		{"x 列的平均值是 37.25。", stepAnswer},
		{"The mean is 3.\nIt was computed from 4 rows.", stepAnswer},
		{"@species[virginica] @mean[2.026]", stepAnswer},
		{"```python\n```", stepMalformed},
		{"Here is the code:\n```python\nprint(1)\n```", stepMalformed},
		{"```python\nprint(1)\n```\nThat prints 1.", stepMalformed},
		{"```python\nprint(1)```", stepMalformed},
		{"```json\n{\"code\": \"print(1)\"}\n```", stepMalformed},
		{"", stepMalformed},
	}
	grammars := map[string]*regexp.Regexp{}
	for _, w := range []struct {
		name string
		want stepWant
		f    *answerFormat
	}{{"code", wantCode, nil}, {"answer", wantAnswer, nil}, {"either", wantEither, nil}, {"format", wantAnswer, format}, {"either-format", wantEither, format}} {
		grammars[w.name] = gbnfRegexp(t, stepGrammar(w.want, w.f))
	}
	for _, tt := range tests {
		kind, code := parseStep(tt.text)
		if kind != tt.kind {
			t.Errorf("%q parsed as %v, want %v", tt.text, kind, tt.kind)
		}
		if kind == stepCode && (strings.Contains(code, "```") || code == "") {
			t.Errorf("%q: code %q", tt.text, code)
		}
		for name, re := range grammars {
			if !re.MatchString(tt.text) {
				continue
			}
			// What a grammar accepts must parse, as the kind the
			// grammar asks for.
			switch {
			case kind == stepMalformed:
				t.Errorf("grammar %s accepts %q, which does not parse", name, tt.text)
			case name == "code" && kind != stepCode, name == "answer" && kind != stepAnswer:
				t.Errorf("grammar %s accepts %q, a %v", name, tt.text, kind)
			case strings.HasSuffix(name, "format") && kind == stepAnswer && !format.matches(tt.text):
				t.Errorf("grammar %s accepts %q, which does not follow the format", name, tt.text)
			}
		}
	}
	// And what each grammar is for, it accepts.
	for name, text := range map[string]string{
		"code":          tests[0].text,
		"either":        tests[2].text,
		"answer":        tests[3].text,
		"format":        "@species[virginica] @mean[2.026]",
		"either-format": "@species[Iris virginica]\n@mean[2.026]",
	} {
		if !grammars[name].MatchString(text) {
			t.Errorf("grammar %s refuses %q", name, text)
		}
	}
	// Under a format that starts with @, code may not start with it: a
	// small model made to write code writes the answer as code.
	if re := gbnfRegexp(t, stepGrammar(wantCode, format)); re.MatchString("```python\n@species[setosa] @mean[3.5]\n```") || !re.MatchString(tests[1].text) {
		t.Error("the code grammar under an @ format accepts the answer as code, or refuses code")
	}
	for name, text := range map[string]string{
		"code":   "The answer is 3.",
		"answer": tests[0].text,
		"format": "The species is virginica, mean 2.026",
	} {
		if grammars[name].MatchString(text) {
			t.Errorf("grammar %s accepts %q", name, text)
		}
	}
}

func TestFormatGrammar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		task, good, bad string
	}{
		{"计算相关系数，格式：@相关系数[数值]", "@相关系数[0.9953]", "相关系数是 0.9953"},
		{"Give the result in the format `{\"mean\": <m>, \"n\": <count>}`.", `{"mean": 2.5, "n": 10}`, `{"avg": 2.5}`},
		{"Answer in the format @std_alcohol[value], rounded to 4 decimals.", "@std_alcohol[0.8118]", "@std_alcohol[]"},
	}
	for _, tt := range tests {
		f := taskFormat(tt.task)
		if f == nil {
			t.Fatalf("%q: no format", tt.task)
		}
		re := gbnfRegexp(t, stepGrammar(wantAnswer, f))
		if !re.MatchString(tt.good) || !f.matches(tt.good) {
			t.Errorf("%q: the grammar (%v) or the format (%v) refuses %q", tt.task, re.MatchString(tt.good), f.matches(tt.good), tt.good)
		}
		if re.MatchString(tt.bad) {
			t.Errorf("%q: the grammar accepts %q", tt.task, tt.bad)
		}
	}
}

func TestTableHints(t *testing.T) {
	t.Parallel()
	ts := tables{"df": {Path: "iris.csv", Columns: []string{"x", "petal_length"}}}
	tests := []struct{ ename, evalue, want string }{
		{"NameError", "name 'x' is not defined", `write df["x"]`},
		{"NameError", "name 'iris' is not defined", "iris is not defined: iris.csv is loaded as df."},
		{"NameError", "name 'data' is not defined", "data is not defined: iris.csv is loaded as df."},
		{"NameError", "name 'np' is not defined", ""},
		{"NameError", "name 'iris_data' is not defined", "iris.csv is loaded as df"},
		{"KeyError", "'petal length'", `There is no column "petal length". The columns of df are: "x", "petal_length".`},
		{"KeyError", "'x'", ""},
		{"ValueError", "bad", ""},
	}
	for _, tt := range tests {
		got := ts.hint(tt.ename, tt.evalue)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %s: hint %q, want %q", tt.ename, tt.evalue, got, tt.want)
		}
	}
}
