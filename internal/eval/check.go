package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

var numberRE = regexp.MustCompile(`[-−]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|[-−]?\.\d+`)

// numbers finds the numbers in text, reading "1,234.5" both as one
// number and as a list.
func numbers(text string) []float64 {
	var out []float64
	for _, m := range numberRE.FindAllString(text, -1) {
		m = strings.ReplaceAll(m, "−", "-")
		if f, err := strconv.ParseFloat(strings.ReplaceAll(m, ",", ""), 64); err == nil {
			out = append(out, f)
		}
		if strings.Contains(m, ",") {
			for _, part := range strings.Split(m, ",") {
				if f, err := strconv.ParseFloat(part, 64); err == nil {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// checkExpect reports whether answer holds every expected value, and if
// not, which is missing.
func checkExpect(answer string, expect []any, tol float64) (bool, string) {
	nums := numbers(answer)
	for _, e := range expect {
		switch v := e.(type) {
		case float64:
			found := false
			for _, n := range nums {
				if math.Abs(n-v) <= tol*math.Max(1, math.Abs(v))+1e-9 {
					found = true
					break
				}
			}
			if !found {
				return false, fmt.Sprintf("no %v in the answer", v)
			}
		case string:
			re := regexp.MustCompile(`(?i)(^|[^\pL\pN_])` + regexp.QuoteMeta(v) + `($|[^\pL\pN_])`)
			if !re.MatchString(answer) {
				return false, fmt.Sprintf("no %q in the answer", v)
			}
		}
	}
	return true, ""
}

// checkTimeout bounds a predicate's run.
const checkTimeout = 60 * time.Second

// checkPredicate runs the task's check(answer, ws) in the task's sandbox,
// in a fresh Python process (files kept), so that nothing the model's
// code left in the session can change the verdict.
func checkPredicate(ctx context.Context, sess *session.Session, check, answer string) (bool, string, error) {
	if err := sess.Restart(ctx); err != nil {
		return false, "", fmt.Errorf("restart the session to check: %w", err)
	}
	lit, _ := json.Marshal(answer)
	code := fmt.Sprintf(`
%s

def _interp_eval():
    import json
    try:
        ok = bool(check(%s, %q))
        print("__EVAL__" + json.dumps({"ok": ok}))
    except Exception as e:
        print("__EVAL__" + json.dumps({"ok": False, "detail": "check raised " + type(e).__name__ + ": " + str(e)[:200]}))

_interp_eval()
`, check, lit, sandbox.WorkspaceDir)
	var out session.Outcome
	done, err := sess.Execute(ctx, code, session.ExecOptions{Timeout: checkTimeout}, out.Add)
	if err != nil {
		return false, "", fmt.Errorf("run the check: %w", err)
	}
	if done.Status != event.StatusOK {
		return false, "the check failed: " + session.HeadTail(out.Text(400), 400), nil
	}
	_, after, ok := strings.Cut(out.Stdout(), "__EVAL__")
	if !ok {
		return false, "the check printed no verdict", nil
	}
	var v struct {
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(after)), &v); err != nil {
		return false, "the check's verdict is not JSON", nil
	}
	if !v.OK && v.Detail == "" {
		v.Detail = "check returned false"
	}
	return v.OK, v.Detail, nil
}
