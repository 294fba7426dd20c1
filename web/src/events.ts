// Turns the stream of a task's events (live, or recorded in the history)
// into what the chat shows: per task, its steps, each with the model's
// text, the code, and the outputs in order.

import type { AgentEvent, TaskResult } from "./types";

export type Output =
  | { kind: "stream"; name: "stdout" | "stderr"; text: string }
  | { kind: "display"; data: Record<string, unknown> }
  | { kind: "error"; ename: string; evalue: string; traceback: string[] }
  | { kind: "install"; phase: string; package: string; version?: string; message?: string }
  | { kind: "file"; path: string; size: number; change: string };

export interface Step {
  n: number;
  text: string;
  code: string;
  outputs: Output[];
  /** running, ok, error, interrupted, timeout, died: the cell's status. */
  status?: string;
  reason?: string;
  duration?: number;
  answer?: boolean;
  /** confirm is the code waiting for the person's run, edit or skip. */
  confirm?: { id: string; code: string };
}

export interface Turn {
  key: string;
  prompt: string;
  steps: Step[];
  running: boolean;
  stop?: string;
  reason?: string;
  taskID?: string;
}

export function newTurn(key: string, prompt: string, running = true): Turn {
  return { key, prompt, steps: [], running };
}

function stepOf(turn: Turn, n: number): Step {
  const last = turn.steps[turn.steps.length - 1];
  if (last && last.n === n) return last;
  const s: Step = { n, text: "", code: "", outputs: [] };
  turn.steps.push(s);
  return s;
}

/**
 * apply adds one event to a turn, in place, and returns it. Consecutive
 * writes to one stream become one output.
 */
export function apply(turn: Turn, type: string, ev: AgentEvent | TaskResult): Turn {
  if (type === "result") {
    const r = ev as TaskResult;
    turn.running = false;
    turn.stop = r.stop;
    turn.reason = r.reason;
    turn.taskID = r.task_id;
    for (const s of turn.steps) {
      if (s.status === "running") s.status = "interrupted";
      s.confirm = undefined;
    }
    return turn;
  }
  const e = ev as AgentEvent;
  // Any event after a question means it was answered.
  const last = turn.steps[turn.steps.length - 1];
  if (last?.confirm && e.type !== "confirm") last.confirm = undefined;
  const step = stepOf(turn, e.step ?? Math.max(1, turn.steps.length));
  switch (e.type) {
    case "confirm":
      step.confirm = { id: e.id ?? "", code: e.text ?? step.code };
      break;
    case "message":
      step.text += e.text ?? "";
      break;
    case "code":
      step.code += e.text ?? "";
      break;
    case "tool":
      step.code = e.text ?? step.code;
      step.status = "running";
      break;
    case "answer":
      step.text = e.text ?? step.text;
      step.answer = true;
      break;
    case "stop":
      turn.stop = e.status;
      turn.reason = e.reason;
      break;
    case "stdout":
    case "stderr": {
      // Outputs are replaced, never changed in place: views are
      // memoised by them.
      const i = step.outputs.length - 1;
      const last = step.outputs[i];
      if (last && last.kind === "stream" && last.name === e.type)
        step.outputs[i] = { ...last, text: last.text + (e.text ?? "") };
      else step.outputs.push({ kind: "stream", name: e.type, text: e.text ?? "" });
      break;
    }
    case "display":
      step.outputs.push({ kind: "display", data: e.data ?? {} });
      break;
    case "error":
      step.outputs.push({
        kind: "error",
        ename: e.ename ?? "",
        evalue: e.evalue ?? "",
        traceback: e.traceback ?? [],
      });
      break;
    case "install": {
      const prev = step.outputs.find((o) => o.kind === "install" && o.package === e.package);
      const o: Output = {
        kind: "install",
        phase: e.phase ?? "",
        package: e.package ?? "",
        version: e.version,
        message: e.message,
      };
      if (prev) Object.assign(prev, o);
      else step.outputs.push(o);
      break;
    }
    case "file":
      step.outputs.push({ kind: "file", path: e.path ?? "", size: e.size ?? 0, change: e.change ?? "" });
      break;
    case "done":
      step.status = e.status;
      step.reason = e.reason;
      step.duration = e.duration;
      break;
  }
  return turn;
}

/** fromHistory rebuilds the turns of a recorded conversation. */
export function fromHistory(
  tasks: { id: string; prompt: string; status: string; stop?: string; reason?: string }[],
  events: (AgentEvent & { task_id?: string })[],
): Turn[] {
  const byTask = new Map<string, Turn>();
  const turns = tasks.map((t) => {
    const turn: Turn = newTurn(t.id, t.prompt, t.status === "running");
    turn.taskID = t.id;
    turn.stop = t.stop;
    turn.reason = t.reason;
    byTask.set(t.id, turn);
    return turn;
  });
  for (const e of events) {
    const turn = e.task_id ? byTask.get(e.task_id) : undefined;
    if (turn) apply(turn, e.type, e);
  }
  return turns;
}

/** stripANSI removes terminal colour codes from a traceback. */
export function stripANSI(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes start with ESC
  return s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
}
