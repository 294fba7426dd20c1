package agent

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/interp-dev/interp/internal/llm"
)

const toolName = "run_python"

// runPythonTool is the one tool the model gets.
var runPythonTool = llm.Tool{
	Name: toolName,
	Description: "Run Python code in the user's persistent session (like a Jupyter kernel: " +
		"variables, imports and files persist between calls). Returns stdout, stderr, " +
		"the value of the last expression, errors and files created.",
	Parameters: map[string]any{
		"type": "object",
		"properties": map[string]any{
			"code": map[string]any{"type": "string", "description": "The Python code to run."},
			"packages": map[string]any{
				"type":        "array",
				"items":       map[string]any{"type": "string"},
				"description": "Optional PyPI packages to install first, with versions if needed, e.g. [\"opencv-python-headless\", \"pandas>=2\"]. Imports are detected automatically, so this is rarely needed.",
			},
		},
		"required": []string{"code"},
	},
}

type toolArgs struct {
	Code     string   `json:"code"`
	Packages []string `json:"packages,omitempty"`
}

func encodeArgs(code string, packages []string) string {
	b, _ := json.Marshal(toolArgs{Code: code, Packages: packages})
	return string(b)
}

// parseArgs reads a tool call's arguments, forgiving what models get
// wrong: code fences around the JSON, raw newlines inside strings, a
// "source" or "script" key, trailing text, or no JSON at all.
func parseArgs(raw string) (toolArgs, bool) {
	s := strings.TrimSpace(raw)
	s = strings.TrimPrefix(strings.TrimSuffix(s, "```"), "```json")
	s = strings.TrimSpace(s)
	for _, cand := range []string{s, escapeRawNewlines(s), firstObject(s), escapeRawNewlines(firstObject(s))} {
		if cand == "" {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(cand), &m) != nil {
			continue
		}
		// Some models nest the arguments once more.
		if inner, ok := m["arguments"].(map[string]any); ok {
			m = inner
		}
		var a toolArgs
		for _, k := range []string{"code", "source", "script", "python", "cell"} {
			if c, ok := m[k].(string); ok {
				a.Code = c
				break
			}
		}
		if ps, ok := m["packages"].([]any); ok {
			for _, p := range ps {
				if s, ok := p.(string); ok {
					a.Packages = append(a.Packages, s)
				}
			}
		}
		return a, a.Code != ""
	}
	// Not JSON: a model that put the code itself in the arguments.
	if s != "" && !strings.HasPrefix(s, "{") {
		return toolArgs{Code: s}, true
	}
	return toolArgs{}, false
}

// escapeRawNewlines escapes control characters inside JSON strings, the
// commonest way local models break their JSON.
func escapeRawNewlines(s string) string {
	var b strings.Builder
	in, esc := false, false
	for _, c := range s {
		switch {
		case esc:
			esc = false
		case c == '\\' && in:
			esc = true
		case c == '"':
			in = !in
		case in && c == '\n':
			b.WriteString(`\n`)
			continue
		case in && c == '\t':
			b.WriteString(`\t`)
			continue
		case in && c == '\r':
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// firstObject returns the first balanced {...} in s, or "".
func firstObject(s string) string {
	start := strings.IndexByte(s, '{')
	if start < 0 {
		return ""
	}
	depth, in, esc := 0, false, false
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && in:
			esc = true
		case c == '"':
			in = !in
		case !in && c == '{':
			depth++
		case !in && c == '}':
			depth--
			if depth == 0 {
				return s[start : i+1]
			}
		}
	}
	return ""
}

var (
	fenceRE    = regexp.MustCompile("(?s)```(?:python|py|python3)[ \t]*\n(.*?)```")
	toolCallRE = regexp.MustCompile(`(?s)<tool_call>\s*(.*?)\s*</tool_call>`)
)

// codeFromText finds code in a plain-text answer: a tool call printed as
// text (<tool_call> tags or a bare {"name": "run_python", ...} object), or,
// with fenced, fenced Python blocks, which run together as one cell. A
// model that has tools and answers with a fenced block is showing code,
// not asking to run it.
func codeFromText(text string, fenced bool) (code string, packages []string, ok bool) {
	for _, m := range toolCallRE.FindAllStringSubmatch(text, -1) {
		if a, ok := parseArgs(m[1]); ok {
			return a.Code, a.Packages, true
		}
	}
	if code, ok := tripleQuotedCode(text); ok {
		return code, nil, true
	}
	if obj := firstObject(text); obj != "" && (strings.Contains(obj, `"`+toolName+`"`) || strings.Contains(obj, `"arguments"`)) {
		if a, ok := parseArgs(obj); ok {
			return a.Code, a.Packages, true
		}
	}
	if !fenced {
		return "", nil, false
	}
	var blocks []string
	for _, m := range fenceRE.FindAllStringSubmatch(text, -1) {
		if b := strings.TrimSpace(m[1]); b != "" {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) > 0 {
		return strings.Join(blocks, "\n\n"), nil, true
	}
	return "", nil, false
}

// tripleQuotedKeyRE finds a code argument written as a Python
// triple-quoted string, which small models print inside what should be a
// JSON tool call: {"name": "run_python", "arguments": {"code": """..."""}}.
var tripleQuotedKeyRE = regexp.MustCompile(`["']?(?:code|source|script)["']?\s*:\s*[rRuU]?("""|''')`)

// tripleQuotedCode returns the code of a tool call printed with a Python
// triple-quoted string, which no JSON parser reads.
func tripleQuotedCode(text string) (string, bool) {
	if !strings.Contains(text, toolName) && !strings.Contains(text, `"arguments"`) {
		return "", false
	}
	loc := tripleQuotedKeyRE.FindStringSubmatchIndex(text)
	if loc == nil {
		return "", false
	}
	quote := text[loc[2]:loc[3]]
	rest := text[loc[1]:]
	end := strings.Index(rest, quote)
	if end < 0 {
		return "", false
	}
	code := strings.Trim(rest[:end], "\n")
	return code, strings.TrimSpace(code) != ""
}

// codeStream extracts the code from a tool call's arguments while they
// stream, so the code shows as the model writes it.
type codeStream struct {
	args    map[int]*strings.Builder
	emitted map[int]int // bytes of decoded code already shown
}

func newCodeStream() *codeStream {
	return &codeStream{args: make(map[int]*strings.Builder), emitted: make(map[int]int)}
}

// add takes a fragment and returns the code that became visible with it.
func (s *codeStream) add(d *llm.ToolCallDelta) string {
	b, ok := s.args[d.Index]
	if !ok {
		b = &strings.Builder{}
		s.args[d.Index] = b
	}
	b.WriteString(d.Arguments)
	code := partialCode(b.String())
	if len(code) <= s.emitted[d.Index] {
		return ""
	}
	piece := code[s.emitted[d.Index]:]
	s.emitted[d.Index] = len(code)
	return piece
}

var codeKeyRE = regexp.MustCompile(`"code"\s*:\s*"`)

// partialCode decodes as much of the "code" string of an incomplete JSON
// object as has arrived.
func partialCode(args string) string {
	loc := codeKeyRE.FindStringIndex(args)
	if loc == nil {
		return ""
	}
	var b strings.Builder
	s := args[loc[1]:]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			break // the escape is cut: wait for more
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
		case 'u':
			if i+4 >= len(s) {
				return b.String()
			}
			var str string
			if json.Unmarshal([]byte(`"\u`+s[i+1:i+5]+`"`), &str) == nil {
				b.WriteString(str)
			}
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
