import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ask, code, expect, script, test } from "./fixtures";

test("upload a CSV, and download what the code made", async ({ signedIn: page, request }) => {
  await page.getByTestId("upload").setInputFiles({
    name: "data.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("city,temp\nBeijing,12\nShanghai,17\n"),
  });
  const files = page.getByRole("region", { name: "Files" });
  await expect(files.getByRole("button", { name: "data.csv" })).toBeVisible();
  // A preview of its head.
  await files.getByRole("button", { name: "data.csv" }).click();
  await expect(files.locator(".preview-table")).toContainText("Shanghai");

  await script(
    request,
    code(
      "import pandas as pd\ndf = pd.read_csv('data.csv')\ndf['temp_f'] = df.temp * 9 / 5 + 32\ndf.to_csv('out.csv', index=False)\nprint(df.temp_f.tolist())",
    ),
    { Text: "Wrote out.csv." },
  );
  await ask(page, "Convert data.csv to Fahrenheit");
  await expect(page.locator(".out-stdout").last()).toContainText("53.6");
  await expect(page.locator(".step.answer").last()).toContainText("Wrote out.csv");

  // The file event links to it, and the panel lists it.
  const link = page.locator(".out-file a", { hasText: "out.csv" });
  await expect(link).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  expect(download.suggestedFilename()).toBe("out.csv");
  const body = readFileSync(await download.path(), "utf8");
  expect(body).toContain("Shanghai,17,62.6");
  await expect(files.getByRole("button", { name: "out.csv" })).toBeVisible();

  // Reopened from the history, the conversation shows its session's files.
  const url = page.url();
  await page.getByRole("button", { name: /New chat/ }).click();
  await expect(files.getByRole("button", { name: "out.csv" })).toHaveCount(0);
  await page.goto(url);
  await expect(files.getByRole("button", { name: "out.csv" })).toBeVisible();
});

test("drop a file from the desktop onto the files panel", async ({ signedIn: page }) => {
  const dir = mkdtempSync(join(tmpdir(), "interp-drop-"));
  const file = join(dir, "dropped.csv");
  writeFileSync(file, "a,b\n1,2\n3,4\n");
  const files = page.getByRole("region", { name: "Files" });
  await expect(files).toBeVisible();
  const box = await files.boundingBox();
  if (!box) throw new Error("the files panel has no box");
  // A real drag of a file from outside the browser, through Chromium's
  // drag-and-drop (CDP Input.dispatchDragEvent with a file on disk), not a
  // DataTransfer made up in the page.
  const cdp = await page.context().newCDPSession(page);
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const data = { items: [], files: [file], dragOperationsMask: 1 };
  await cdp.send("Input.dispatchDragEvent", { type: "dragEnter", ...at, data });
  await cdp.send("Input.dispatchDragEvent", { type: "dragOver", ...at, data });
  await expect(files).toHaveClass(/dragging/);
  await cdp.send("Input.dispatchDragEvent", { type: "drop", ...at, data });
  await expect(files.getByRole("button", { name: "dropped.csv" })).toBeVisible();
  await files.getByRole("button", { name: "dropped.csv" }).click();
  await expect(files.locator(".preview-table")).toContainText("3");
});
