import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { catalogs } from "../i18n";
import type { ConversationSummary } from "../types";
import { markOf, Sidebar } from "./Sidebar";

const t = catalogs.en;

function conv(id: string, title: string, status?: string, state?: string): ConversationSummary {
  const at = "2026-12-06T21:00:00Z";
  return { id, kind: "chat", title, created_at: at, updated_at: at, tasks: 1, cells: 1, status, state };
}

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("markOf", () => {
  it.each([
    [undefined, undefined, undefined],
    ["answered", "answered", undefined],
    ["running", "running", { kind: "running", label: "Running" }],
    ["stopped", "step limit", { kind: "stopped", label: "Step limit" }],
    ["stopped", "stopped", { kind: "stopped", label: "Stopped" }],
    ["interrupted", "interrupted", { kind: "stopped", label: "Interrupted" }],
    ["failed", "failed", { kind: "failed", label: "Failed" }],
    ["died", "out of memory", { kind: "failed", label: "out of memory" }],
    ["stopped", "some new reason", { kind: "stopped", label: "some new reason" }],
  ])("status %s, state %s", (status, state, want) => {
    expect(markOf({ status, state }, t)).toEqual(want);
  });

  it("speaks Chinese too", () => {
    expect(markOf({ status: "running", state: "running" }, catalogs.zh)?.label).toBe("运行中");
    expect(markOf({ status: "stopped", state: "step limit" }, catalogs.zh)?.label).toBe("达到步数上限");
  });
});

function show(list: ConversationSummary[], onChanged = vi.fn()) {
  render(
    <Sidebar t={t} list={list} onOpen={vi.fn()} onNew={vi.fn()} onChanged={onChanged} onError={vi.fn()} />,
  );
  return onChanged;
}

describe("Sidebar", () => {
  it("marks running, stopped and failed conversations in words, in each one's name", () => {
    show([
      conv("c1", "Plot sales", "running", "running"),
      conv("c2", "Big loop", "stopped", "step limit"),
      conv("c3", "Broken", "failed", "failed"),
      conv("c4", "Done", "answered", "answered"),
    ]);
    expect(screen.getByRole("button", { name: /Plot sales.*Running/ })).toBeTruthy();
    expect(screen.getByRole("button", { name: /Big loop.*Step limit/ })).toBeTruthy();
    expect(screen.getByRole("button", { name: /Broken.*Failed/ })).toBeTruthy();
    const done = screen.getByRole("button", { name: /^Done/ });
    expect(within(done).queryByTestId("conv-state")).toBeNull();
    const states = screen.getAllByTestId("conv-state").map((e) => e.dataset.state);
    expect(states).toEqual(["running", "stopped", "failed"]);
    // The icons are decoration: the words say it.
    for (const icon of document.querySelectorAll(".conv-state-icon"))
      expect(icon.getAttribute("aria-hidden")).toBe("true");
  });

  it("asks for the list again while a task runs, and stops when none does", () => {
    vi.useFakeTimers();
    const onChanged = show([conv("c1", "Plot sales", "running", "running")]);
    vi.advanceTimersByTime(5000);
    expect(onChanged).toHaveBeenCalledTimes(1);
    cleanup();
    const idle = show([conv("c1", "Plot sales", "answered", "answered")]);
    vi.advanceTimersByTime(20000);
    expect(idle).not.toHaveBeenCalled();
  });
});
