import { readFileSync } from "node:fs";
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
