import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { catalogs } from "../i18n";
import { Composer } from "./Composer";

function setup(running = false) {
  const onSend = vi.fn();
  const onStop = vi.fn();
  render(<Composer t={catalogs.en} running={running} stopping={false} onSend={onSend} onStop={onStop} />);
  return { onSend, onStop, box: screen.getByRole("textbox") };
}

afterEach(cleanup);

describe("Composer", () => {
  it("sends on Enter, not on Shift+Enter", () => {
    const { onSend, box } = setup();
    fireEvent.change(box, { target: { value: "plot a sine" } });
    fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).toHaveBeenCalledWith("plot a sine");
  });

  it("does not send while an input method composes", () => {
    const { onSend, box } = setup();
    fireEvent.compositionStart(box);
    fireEvent.change(box, { target: { value: "画一个正弦" } });
    fireEvent.keyDown(box, { key: "Enter", keyCode: 229 });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.compositionEnd(box);
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).toHaveBeenCalledWith("画一个正弦");
  });

  it("offers Stop while a task runs", () => {
    const { onStop } = setup(true);
    fireEvent.click(screen.getByRole("button", { name: "Stop" }));
    expect(onStop).toHaveBeenCalled();
  });
});
