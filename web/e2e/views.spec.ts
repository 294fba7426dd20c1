import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "@playwright/test";
import { ask, code, expect, script, test, withText } from "./fixtures";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// axe-core's serious and critical violations on the page as it is.
async function axe(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is injected
    const r = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical")
      .map(
        (v: { id: string; nodes: { target: string[] }[] }) =>
          `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
      );
  });
}

const shots = process.env.E2E_SHOTS;

test("the main views pass axe, in light and dark, wide and phone-wide", async ({ page, request }) => {
  // The strict CSP keeps axe's injected script out only if it is inline:
  // page.evaluate runs through the debugger, as a test tool should.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto("/");
  expect(await axe(page)).toEqual([]);
  if (shots) await page.screenshot({ path: `${shots}/signin.png` });

  await page.getByLabel(/API key/).fill(process.env.E2E_KEY ?? "");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: /New chat/ })).toBeVisible();
  await script(
    request,
    withText(
      "Let me load the numbers and plot them.",
      code(
        [
          "import matplotlib.pyplot as plt, pandas as pd, numpy as np",
          "df = pd.DataFrame({'month': ['Jan', 'Feb', 'Mar', 'Apr'], 'sales': [120, 135, 160, 152]})",
          "plt.figure(figsize=(6, 3)); plt.bar(df.month, df.sales, color='#2457c5'); plt.title('Sales by month')",
          "display(df)",
          "print('total', df.sales.sum())",
        ].join("\n"),
      ),
    ),
    {
      Text: "Sales grew from **120** to a peak of **160** in March; the total is 567.\n\n| month | sales |\n|---|---|\n| Mar | 160 |",
    },
  );
  await ask(page, "Plot monthly sales and show the table");
  await expect(page.locator(".step.answer").last()).toContainText("567");
  await expect(page.locator("img.out-image").last()).toBeVisible();
  expect(await axe(page)).toEqual([]);
  if (shots) {
    await page.setViewportSize({ width: 1280, height: 1150 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${shots}/chat.png` });
  }

  // The Settings dialog, light then dark; asking before running code is
  // turned on here, for the confirm bar below.
  const settings = page.getByRole("dialog", { name: "Settings" });
  await page.getByRole("button", { name: "Settings", exact: true }).click();
  await expect(page.getByTestId("model")).toContainText("gpt-test");
  await expect(settings.getByTestId("memory-range")).toBeVisible();
  await settings.getByRole("checkbox", { name: "Ask before running code" }).check();
  await expect(settings.getByTestId("confirm-status")).toHaveText("Saved.");
  expect(await axe(page)).toEqual([]);
  if (shots) await settings.screenshot({ path: `${shots}/settings.png` });
  await page.getByLabel("Theme").selectOption("dark");
  expect(await axe(page)).toEqual([]);
  if (shots) await settings.screenshot({ path: `${shots}/settings-dark.png` });
  await page.getByRole("button", { name: "Close" }).click();
  expect(await axe(page)).toEqual([]);
  if (shots) await page.screenshot({ path: `${shots}/chat-dark.png` });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("button", { name: "Settings", exact: true }).click();
  await page.getByLabel("Theme").selectOption("light");
  await page.getByRole("button", { name: "Close" }).click();
  await expect(page.locator("img.out-image").last()).toBeVisible();
  expect(await axe(page)).toEqual([]);
  // Nothing wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  // The files panel, open since the wide view, covers the chat on a
  // phone: closed, the picture shows the chat.
  await page.getByRole("button", { name: "Files", pressed: true }).click();
  await expect(page.locator(".side-panel")).toHaveCount(0);
  expect(await axe(page)).toEqual([]);
  if (shots) await page.screenshot({ path: `${shots}/phone.png` });

  // The confirm bar (asking before running code was turned on above): the
  // step's code waits for Run, Edit or Skip.
  await page.setViewportSize({ width: 1280, height: 800 });
  await script(
    request,
    withText(
      "I'll add the growth from month to month.",
      code("df['growth'] = df.sales.pct_change().round(3)\ndisplay(df)"),
    ),
    { Text: "Sales grew fastest in March (+18.5%)." },
  );
  await ask(page, "Add the monthly growth");
  const bar = page.getByRole("group", { name: "Run this code?" });
  await expect(bar).toContainText("pct_change");
  await expect(bar.getByRole("button", { name: "Run", exact: true })).toBeVisible();
  expect(await axe(page)).toEqual([]);
  if (shots) await page.screenshot({ path: `${shots}/confirm.png` });
  await page.getByRole("button", { name: "Settings", exact: true }).click();
  await page.getByLabel("Theme").selectOption("dark");
  await page.getByRole("button", { name: "Close" }).click();
  await expect(bar).toBeVisible();
  expect(await axe(page)).toEqual([]);
  if (shots) await page.screenshot({ path: `${shots}/confirm-dark.png` });
  await bar.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.locator(".step.answer").last()).toContainText("fastest in March");
  await page.getByRole("button", { name: "Settings", exact: true }).click();
  await settings.getByRole("checkbox", { name: "Ask before running code" }).uncheck();
  await expect(settings.getByTestId("confirm-status")).toHaveText("Saved.");
  await page.getByRole("button", { name: "Close" }).click();
});
