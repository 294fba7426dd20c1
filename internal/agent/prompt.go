package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/sandbox"
)

// systemPrompt tells the model the truth about where its code runs.
func (r *run) systemPrompt(ctx context.Context) (string, error) {
	a := r.a
	k := a.cfg.Session.Kernel()
	if k == nil {
		return "", fmt.Errorf("agent: the session is closed")
	}
	version, _ := k.Python()
	var files []string
	if list, err := k.Workspace().List(); err == nil {
		for _, f := range list {
			if !f.IsDir && len(files) < 50 {
				files = append(files, fmt.Sprintf("%s (%s)", f.Path, sandbox.FormatBytes(f.Size)))
			}
		}
	}
	if a.cfg.SmallModel {
		prompt, tabs := a.compactPrompt(ctx, version, files)
		r.tables = tabs
		return prompt, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "You are Interp, an assistant that solves tasks by writing and running Python code.\n\n")
	fmt.Fprintf(&b, "Your environment:\n")
	fmt.Fprintf(&b, "- Python %s in a secure sandbox, as a persistent session: variables, imports and files persist between runs, as in Jupyter.\n", version)
	fmt.Fprintf(&b, "- The working directory is %s. Save files the user should get there.\n", sandbox.WorkspaceDir)
	if len(files) > 0 {
		fmt.Fprintf(&b, "- Files in it now: %s.\n", strings.Join(files, ", "))
	} else {
		fmt.Fprintf(&b, "- It is empty now.\n")
	}
	if len(a.cfg.Packages) > 0 {
		fmt.Fprintf(&b, "- Preinstalled packages: %s.\n", strings.Join(a.cfg.Packages, ", "))
	}
	if a.cfg.Auto != nil {
		fmt.Fprintf(&b, "- Missing packages are installed automatically when your code imports them (from PyPI, wheels only).\n")
	} else {
		fmt.Fprintf(&b, "- Packages cannot be installed: use the preinstalled ones and the standard library.\n")
	}
	fmt.Fprintf(&b, "- There is no internet access: do not download data or call web APIs.\n")
	fmt.Fprintf(&b, "- Plots: matplotlib figures are captured and shown to the user automatically after each run; plt.show() is not needed. The value of the last expression is shown too, as in Jupyter, so a DataFrame at the end displays as a table.\n\n")
	if a.cfg.NoTools {
		fmt.Fprintf(&b, "To run code, write it in one ```python fenced block; you will get the output back.\n")
	} else {
		fmt.Fprintf(&b, "To run code, call the %s tool; you will get the output back.\n", toolName)
	}
	fmt.Fprintf(&b, "Work step by step: run small pieces, look at the results, fix errors. ")
	fmt.Fprintf(&b, "When the task is done, reply with a short answer for the user without running more code, in the language the user wrote in.\n")
	return b.String(), nil
}

// compactPrompt is the system prompt for small models: short, since they
// lose track of long instructions, and with a preview of the data so that
// the first code they write uses the real column names.
func (a *Agent) compactPrompt(ctx context.Context, version string, files []string) (string, tables) {
	var b strings.Builder
	var tabs tables
	fmt.Fprintf(&b, "You solve tasks by running Python %s code in a persistent session (variables and files persist) in %s. There is no internet.\n", version, sandbox.WorkspaceDir)
	if len(files) > 0 {
		fmt.Fprintf(&b, "Files: %s.\n", strings.Join(files, ", "))
		var p string
		if p, tabs = a.dataPreview(ctx); p != "" {
			fmt.Fprintf(&b, "\nData preview:\n%s\n\n", p)
		}
	}
	if a.fenced() {
		fmt.Fprintf(&b, "To run code, reply with one ```python block; you get its output back.")
	} else {
		fmt.Fprintf(&b, "To run code, call %s.", toolName)
	}
	fmt.Fprintf(&b, " Compute every number with code and print it; never guess. Save files in the working directory.\n")
	fmt.Fprintf(&b, "When the printed output answers the task, reply with the short final answer, in the user's language, without code.\n")
	return b.String(), tabs
}

// estimate is a rough token count: four bytes a token, plus images.
func estimate(msgs []llm.Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Content)/4 + 4
		for _, c := range m.ToolCalls {
			n += len(c.Arguments) / 4
		}
		n += 1000 * len(m.Images)
	}
	return n
}

// trimContext keeps the conversation under the context limit: old tool
// outputs go first, then old images; the current task never goes.
func (a *Agent) trimContext(task int) {
	limit := a.limits.ContextTokens
	if estimate(a.history) <= limit {
		return
	}
	// The last two messages are the freshest results: keep them.
	end := len(a.history) - 2
	for i := 0; i < end && estimate(a.history) > limit; i++ {
		m := &a.history[i]
		if i == task {
			continue
		}
		m.Images = nil
		if (m.Role == llm.RoleTool || (m.Role == llm.RoleUser && strings.HasPrefix(m.Content, "Result of running"))) && len(m.Content) > 200 {
			m.Content = m.Content[:120] + "\n[older output trimmed to save context]"
		}
	}
	for i := 0; i < end && estimate(a.history) > limit; i++ {
		m := &a.history[i]
		if i != task && m.Role == llm.RoleAssistant && len(m.Content) > 400 {
			m.Content = m.Content[:300] + "\n[older message trimmed]"
		}
	}
}
