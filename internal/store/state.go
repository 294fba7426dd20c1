package store

import (
	"strings"

	"github.com/interp-dev/interp/internal/event"
)

// stopStates name, in a few words, why a task stopped without an answer.
var stopStates = map[string]string{
	event.StopMaxSteps:      "step limit",
	event.StopMaxFailures:   "too many failures",
	event.StopRepeatedError: "repeated error",
	event.StopTokenBudget:   "token budget",
	event.StopUser:          "stopped",
	event.StopDeclined:      "declined",
	event.StopRefused:       "refused",
	event.StopProvider:      "model error",
}

// taskState says how a task ended, from its status and stop.
func taskState(status, stop string) string {
	if status == TaskStopped {
		if s, ok := stopStates[stop]; ok {
			return s
		}
	}
	return status
}

// CellState says in a few words how a cell ended, from its status and
// reason: a died cell by what ended its process ("out of memory", "CPU
// time limit", "crashed", "killed"), a timeout as "time limit".
func CellState(status, reason string) string {
	switch status {
	case event.StatusTimeout:
		return "time limit"
	case event.StatusDied:
		switch {
		case reason == event.ReasonMemory:
			return "out of memory"
		case reason == event.ReasonCPUTime:
			return "CPU time limit"
		case strings.Contains(reason, "crashed"):
			return "crashed"
		case strings.Contains(reason, "signal"), reason == "killed":
			return "killed"
		case strings.Contains(reason, "exited"):
			return "exited"
		}
	}
	return status
}
