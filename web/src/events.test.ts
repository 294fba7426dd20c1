import { describe, expect, it } from "vitest";
import { apply, fromHistory, newTurn, stripANSI } from "./events";

describe("apply", () => {
  it("builds steps with streamed text, code, merged output, and status", () => {
    const t = newTurn("k", "plot");
    apply(t, "message", { type: "message", step: 1, text: "Let me " });
    apply(t, "message", { type: "message", step: 1, text: "plot." });
    apply(t, "code", { type: "code", step: 1, text: "print(" });
    apply(t, "tool", { type: "tool", step: 1, text: "print(1)" });
    apply(t, "stdout", { type: "stdout", step: 1, text: "1" });
    apply(t, "stdout", { type: "stdout", step: 1, text: "\n" });
    apply(t, "stderr", { type: "stderr", step: 1, text: "warn" });
    apply(t, "display", { type: "display", step: 1, data: { "image/png": "AAAA" } });
    apply(t, "done", { type: "done", step: 1, status: "ok", duration: 0.5 });
    apply(t, "answer", { type: "answer", step: 2, text: "Done." });
    apply(t, "result", { conversation_id: "c", session_id: "s", stop: "answer", steps: 2, task_id: "t1" });
    expect(t.running).toBe(false);
    expect(t.steps).toHaveLength(2);
    const [s1, s2] = t.steps;
    expect(s1.text).toBe("Let me plot.");
    expect(s1.code).toBe("print(1)");
    expect(s1.outputs).toEqual([
      { kind: "stream", name: "stdout", text: "1\n" },
      { kind: "stream", name: "stderr", text: "warn" },
      { kind: "display", data: { "image/png": "AAAA" } },
    ]);
    expect(s1.status).toBe("ok");
    expect(s2.answer).toBe(true);
    expect(s2.text).toBe("Done.");
    expect(t.stop).toBe("answer");
  });

  it("holds a confirm question until the next event answers it", () => {
    const t = newTurn("k", "x");
    apply(t, "tool", { type: "tool", step: 1, text: "print(1)" });
    apply(t, "confirm", { type: "confirm", step: 1, id: "cfm_1", text: "print(1)" });
    expect(t.steps[0].confirm).toEqual({ id: "cfm_1", code: "print(1)" });
    apply(t, "tool", { type: "tool", step: 1, text: "print(2)" });
    expect(t.steps[0].confirm).toBeUndefined();
    expect(t.steps[0].code).toBe("print(2)");
    apply(t, "confirm", { type: "confirm", step: 2, id: "cfm_2", text: "x" });
    apply(t, "result", { conversation_id: "c", session_id: "s", stop: "stopped", steps: 2 });
    expect(t.steps[1].confirm).toBeUndefined();
  });

  it("replaces a growing output rather than changing it, for memoised views", () => {
    const t = newTurn("k", "x");
    apply(t, "stdout", { type: "stdout", step: 1, text: "a" });
    const first = t.steps[0].outputs[0];
    apply(t, "stdout", { type: "stdout", step: 1, text: "b" });
    expect(t.steps[0].outputs[0]).not.toBe(first);
    expect(t.steps[0].outputs[0]).toEqual({ kind: "stream", name: "stdout", text: "ab" });
  });

  it("updates one install line per package", () => {
    const t = newTurn("k", "x");
    apply(t, "install", { type: "install", step: 1, phase: "resolving", package: "humanize" });
    apply(t, "install", {
      type: "install",
      step: 1,
      phase: "installed",
      package: "humanize",
      version: "4.9",
    });
    expect(t.steps[0].outputs).toEqual([
      { kind: "install", phase: "installed", package: "humanize", version: "4.9", message: undefined },
    ]);
  });

  it("marks a cell still running when the task ends as interrupted", () => {
    const t = newTurn("k", "x");
    apply(t, "tool", { type: "tool", step: 1, text: "sleep()" });
    apply(t, "result", { conversation_id: "c", session_id: "s", stop: "stopped", steps: 1 });
    expect(t.steps[0].status).toBe("interrupted");
  });
});

describe("fromHistory", () => {
  it("puts each recorded event in its task's turn", () => {
    const turns = fromHistory(
      [
        { id: "t1", prompt: "a", status: "ok", stop: "answer" },
        { id: "t2", prompt: "b", status: "running" },
      ],
      [
        { type: "answer", step: 1, text: "A", task_id: "t1" },
        { type: "tool", step: 1, text: "x=1", task_id: "t2" },
      ],
    );
    expect(turns.map((t) => [t.prompt, t.running, t.steps.length])).toEqual([
      ["a", false, 1],
      ["b", true, 1],
    ]);
  });
});

describe("stripANSI", () => {
  it("removes colour codes", () => {
    expect(stripANSI("\u001b[0;31mValueError\u001b[0m: x")).toBe("ValueError: x");
  });
});
