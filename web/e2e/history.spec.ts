import { readFileSync } from "node:fs";
import { ask, code, expect, script, test } from "./fixtures";

test("resume a conversation from the history, rename it and export it", async ({
  signedIn: page,
  request,
}) => {
  await script(request, code("answer = 6 * 7\nprint(answer)"), { Text: "It is 42." });
  await ask(page, "What is six times seven?");
  await expect(page.locator(".step.answer").last()).toContainText("It is 42.");
  const url = page.url();

  // Away, and back through the history list.
  await page.getByRole("button", { name: /New chat/ }).click();
  await expect(page.locator(".prompt")).toHaveCount(0);
  const nav = page.getByRole("navigation", { name: "History" });
  await nav
    .getByRole("button", { name: /What is six times seven/ })
    .first()
    .click();
  await expect(page).toHaveURL(url);
  await expect(page.locator(".out-stdout").first()).toContainText("42");

  // The session kept its state: the next task uses the variable.
  await script(request, code("print(answer + 1)"), { Text: "Now 43." });
  await ask(page, "Add one to it");
  await expect(page.locator(".out-stdout").last()).toContainText("43");
  await expect(page.locator(".step.answer").last()).toContainText("Now 43.");
  await expect(page.locator(".prompt")).toHaveCount(2);

  // Rename.
  page.once("dialog", (d) => void d.accept("Multiplication"));
  await nav.locator("li.current").getByRole("button", { name: "Rename" }).click();
  await expect(nav.getByRole("button", { name: /Multiplication/ })).toBeVisible();
  await nav.getByRole("searchbox").fill("multi");
  await expect(nav.locator(".conv")).toHaveCount(1);
  // The search runs on the server: it finds the code, not only titles.
  await nav.getByRole("searchbox").fill("ANSWER + 1");
  await expect(nav.locator(".conv")).toHaveCount(1);
  await expect(nav.locator(".conv")).toContainText("Multiplication");
  await nav.getByRole("searchbox").fill("no conversation says this");
  await expect(nav.locator(".conv")).toHaveCount(0);
  await nav.getByRole("searchbox").fill("");

  // Export as a notebook.
  await page.getByText("Export").click();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: ".ipynb" }).click(),
  ]);
  const nb = JSON.parse(readFileSync(await download.path(), "utf8"));
  expect(nb.nbformat).toBe(4);
  const sources = nb.cells.map((c: { source: string | string[] }) => [c.source].flat().join("")).join("\n");
  expect(sources).toContain("answer = 6 * 7");
  expect(sources).toContain("print(answer + 1)");
});
