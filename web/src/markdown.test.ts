import { describe, expect, it } from "vitest";
import { pngSize } from "./components/Outputs";
import { BoundedCache, hasMath, renderMarkdown } from "./markdown";

describe("renderMarkdown", () => {
  it("renders tables and code", () => {
    const html = renderMarkdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n`x`");
    expect(html).toContain("<table>");
    expect(html).toContain("<code>x</code>");
  });
  it("removes scripts, handlers and javascript: links", () => {
    const html = renderMarkdown(
      '<script>alert(1)</script><img src=x onerror="alert(1)"> [a](javascript:alert(1)) <a href="data:text/html,x">d</a>',
    );
    const div = document.createElement("div");
    div.innerHTML = html;
    expect(div.querySelector("script")).toBeNull();
    expect(div.querySelector("[onerror]")).toBeNull();
    for (const a of div.querySelectorAll("a"))
      expect(a.getAttribute("href") ?? "").not.toMatch(/^(javascript|data):/i);
  });
  it("finds math", () => {
    expect(hasMath("the mean is $\\mu$ here")).toBe(true);
    expect(hasMath("costs $5 and $6")).toBe(false);
  });
});

describe("BoundedCache", () => {
  it("computes once, and forgets the oldest past its size", () => {
    const c = new BoundedCache<string, number>(2);
    let calls = 0;
    const make = () => ++calls;
    expect(c.get("a", make)).toBe(1);
    expect(c.get("a", make)).toBe(1);
    c.get("b", make);
    c.get("c", make); // "a" goes
    expect(c.get("a", make)).toBe(4);
  });
});

describe("pngSize", () => {
  it("reads a PNG's size from its header, and nothing from other data", () => {
    // The first 24 bytes of a 640x480 PNG.
    const head = [137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 2, 128, 0, 0, 1, 224];
    const b64 = btoa(String.fromCharCode(...head, 8, 2, 0, 0, 0));
    expect(pngSize(b64)).toEqual({ width: 640, height: 480 });
    expect(pngSize(btoa("not a png at all, not at all"))).toEqual({});
    expect(pngSize("@@@")).toEqual({});
  });
});
