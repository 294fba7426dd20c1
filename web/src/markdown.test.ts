import { describe, expect, it } from "vitest";
import { hasMath, renderMarkdown } from "./markdown";

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
