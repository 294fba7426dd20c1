package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/interp-dev/interp/internal/cell"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/session"
)

// Error classes of a failed run, each with guidance for the model.
const (
	ClassSyntax  = "syntax"
	ClassMissing = "missing_module"
	ClassRuntime = "runtime_error"
	ClassTimeout = "timeout"
	ClassMemory  = "memory"
	ClassKilled  = "killed"
)

var guidance = map[string]string{
	ClassSyntax:  "The code did not compile. Fix the syntax at the line shown and run it again.",
	ClassMissing: "A module is missing. Interp installs imported packages automatically; if the install failed, the package may not exist under that name: pass the right PyPI name in `packages`, or use a preinstalled library instead.",
	ClassRuntime: "The code raised an exception. Read the traceback, fix the cause, and run only what is needed again: earlier variables still exist.",
	ClassTimeout: "The code ran over its time limit and was interrupted. Make it faster: vectorise, work on a sample, or avoid waiting on the network (there is none).",
	ClassMemory:  "The code ran out of memory and the Python process was restarted: variables are gone, files remain. Use less memory: read in chunks, select columns, use smaller dtypes, or sample.",
	ClassKilled:  "The Python process ended and was restarted: variables are gone, files remain. Avoid what ended it (os._exit, a crash in native code).",
}

// shortGuidance is the guidance for small models: one short sentence.
var shortGuidance = map[string]string{
	ClassSyntax:  "Fix the syntax error.",
	ClassMissing: "Use a preinstalled library instead.",
	ClassRuntime: "Fix the cause and run again; earlier variables still exist.",
	ClassTimeout: "Too slow: make it faster.",
	ClassMemory:  "Out of memory; variables are gone. Use less memory.",
	ClassKilled:  "Python restarted; variables are gone.",
}

// classify says what kind of failure a cell had, or "" for success.
func classify(done session.Event, failure *session.Event) string {
	switch done.Status {
	case event.StatusOK:
		return ""
	case event.StatusTimeout:
		return ClassTimeout
	case event.StatusDied:
		if done.Reason == event.ReasonMemory {
			return ClassMemory
		}
		return ClassKilled
	}
	if failure != nil {
		switch failure.EName {
		case "SyntaxError", "IndentationError", "TabError":
			return ClassSyntax
		case "ModuleNotFoundError", "ImportError":
			return ClassMissing
		}
	}
	return ClassRuntime
}

// runCall runs one tool call and returns the message that reports its
// result to the model. stop says the loop must end now.
func (r *run) runCall(ctx context.Context, step int, call llm.ToolCall) (llm.Message, bool, error) {
	a := r.a
	reply := func(text string) llm.Message {
		return llm.Message{Role: llm.RoleTool, ToolCallID: call.ID, Content: text}
	}
	if call.Name != toolName {
		r.failures++
		return reply(fmt.Sprintf("There is no tool named %q. Use %s with a `code` argument.", call.Name, toolName)), false, nil
	}
	args, ok := parseArgs(call.Arguments)
	if !ok {
		r.failures++
		r.emit(Event{Event: session.Event{Type: event.Stderr, Text: "[interp: the model's tool call had no usable code]\n"}, Step: step})
		msg := reply(`The arguments were not valid JSON with a "code" string. Call ` + toolName + ` again with {"code": "..."}.`)
		if r.failures >= a.limits.MaxFailures {
			r.stop(event.StopMaxFailures, fmt.Sprintf("%d failures in a row, the limit", r.failures))
			return msg, true, nil
		}
		return msg, false, nil
	}
	r.emit(Event{Event: session.Event{Type: event.Tool, Text: args.Code}, Step: step, Tool: toolName, Packages: args.Packages})
	edited := false
	if a.cfg.Confirm != nil || a.cfg.Review != nil {
		v, err := a.review(ctx, args.Code)
		switch {
		case err != nil && ctx.Err() != nil:
			r.stop(event.StopUser, "stopped by the user")
			return reply("The user stopped the task before this code ran."), true, nil
		case err != nil:
			r.stop(event.StopDeclined, "the user declined to run the code")
			return reply("The user declined to run this code. Ask what they want instead."), true, nil
		case v.Skip:
			r.emit(Event{Event: session.Event{Type: event.Done, Status: event.StatusDeclined, Reason: "skipped by the user"}, Step: step})
			return reply("The user skipped this code: it did not run. Do what they asked another way, or ask them."), false, nil
		case v.Code != "" && v.Code != args.Code:
			args.Code, edited = v.Code, true
			r.emit(Event{Event: session.Event{Type: event.Tool, Text: args.Code}, Step: step, Tool: toolName, Packages: args.Packages})
		}
	}

	if a.cfg.Admit != nil {
		if err := a.cfg.Admit(ctx); err != nil {
			r.stop(event.StopRefused, err.Error())
			return reply("This code was not run: " + err.Error()), true, nil
		}
	}

	var out session.Outcome
	runner := cell.Runner{Auto: a.cfg.Auto}
	ran, err := runner.Run(ctx, a.cfg.Session, args.Code, cell.Options{Timeout: a.limits.CellTimeout, Packages: args.Packages}, func(ev session.Event) {
		r.emit(Event{Event: ev, Step: step})
		out.Add(ev)
	})
	if err != nil {
		return llm.Message{}, true, fmt.Errorf("agent: the Python session is gone: %w", err)
	}
	done, failure := ran.Done, out.Failure()
	if ctx.Err() != nil {
		r.stop(event.StopUser, "stopped by the user")
		return reply(render(&out, a.limits.MaxToolOutput) + "\n[stopped by the user]"), true, nil
	}
	class := classify(done, failure)
	if edited {
		out.Note("The user edited your code before it ran. This ran instead:\n" + args.Code)
	}
	// What was installed, or why nothing can be (a Python 2 module, a
	// release that removed the API), goes to the model as a note.
	if ran.Recovery.Message != "" {
		out.Note(ran.Recovery.Message)
	}
	msg := reply(render(&out, a.limits.MaxToolOutput))
	if a.cfg.Vision {
		msg.Images = visionImages(out.Images())
	}
	if class == "" {
		r.failures, r.codeOK = 0, true
		r.answerNow = strings.TrimSpace(out.Stdout()) != "" || len(out.Results()) > 0
		r.repeats.reset()
		r.stuck = nil
		r.printed = r.printed || r.answerNow || len(out.Images()) > 0
		if !r.answerNow && len(out.Images()) == 0 {
			r.stuck = &stuckRun{code: normaliseCode(args.Code), note: silentNote, sig: "printed nothing"}
		}
		msg.Content = "[status: ok]\n" + msg.Content
		return msg, false, nil
	}
	r.failures++
	r.answerNow = false
	sig := class
	if failure != nil {
		sig = failure.EName + ": " + failure.EValue
	}
	hint := guidance[class]
	if a.cfg.SmallModel {
		hint = shortGuidance[class]
		if failure != nil {
			if h := r.tables.hint(failure.EName, failure.EValue); h != "" {
				hint = h
			}
		}
		if class == ClassSyntax && r.format != nil && r.format.matches(args.Code) {
			// A model made to write code before it may answer writes
			// the answer as code, with values it made up.
			hint = "That is the answer's format, not code. First compute the values with code and print them."
		}
	}
	v := r.repeats.record(args.Code, sig, a.limits.MaxRepeats)
	if v == hintApproach {
		hint = approachHint
	}
	r.stuck = &stuckRun{code: normaliseCode(args.Code), note: failedNote(args.Code, failure, normaliseError(sig), hint), sig: "failed with " + normaliseError(sig)}
	msg.Content = fmt.Sprintf("[status: error, %s]\n%s\n[guidance] %s", class, msg.Content, hint)
	switch {
	case v == stopRepeat:
		r.stop(event.StopRepeatedError, fmt.Sprintf("the same error came back %d times in a row (%s)", r.repeats.sameError+1, normaliseError(sig)))
		return msg, true, nil
	case r.failures >= a.limits.MaxFailures:
		r.stop(event.StopMaxFailures, fmt.Sprintf("%d failed runs in a row, the limit", r.failures))
		return msg, true, nil
	}
	return msg, false, nil
}

// render is a cell's result as the model reads it.
func render(o *session.Outcome, max int) string {
	if text := o.Text(max); text != "" {
		return text
	}
	return "(no output)"
}

// maxVisionImages caps the images sent back to a model that can see.
const maxVisionImages = 4

// visionImages are the cell's images for a model that can see them.
func visionImages(imgs []session.Image) []llm.Image {
	var out []llm.Image
	for _, img := range imgs {
		if len(out) == maxVisionImages {
			break
		}
		if img.MIME == "image/png" || img.MIME == "image/jpeg" {
			out = append(out, llm.Image{MIME: img.MIME, Data: img.Data})
		}
	}
	return out
}
