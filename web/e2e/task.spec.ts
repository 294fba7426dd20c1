import { ask, askBeforeRunning, code, expect, script, test, withText } from "./fixtures";

test("a task with a plot and a table streams in", async ({ signedIn: page, request }) => {
  await script(
    request,
    withText(
      "I'll make the data first.",
      code(
        [
          "import matplotlib.pyplot as plt, pandas as pd, numpy as np",
          "x = np.linspace(0, 6.3, 50)",
          "plt.plot(x, np.sin(x)); plt.title('sine')",
          "df = pd.DataFrame({'x': [1, 2, 3], 'square': [1, 4, 9]})",
          "display(df)",
          "print('rows', len(df))",
        ].join("\n"),
      ),
    ),
    { Text: "Here is the **sine** plot and the table of squares." },
  );
  await ask(page, "Plot a sine and show a table of squares");
  await expect(page.locator(".prompt").last()).toHaveText("Plot a sine and show a table of squares");
  await expect(page.locator("pre.code").last()).toContainText("plt.plot");
  await expect(page.locator(".out-stdout").last()).toContainText("rows 3");
  await expect(page.locator("img.out-image").last()).toBeVisible();
  const frame = page.frameLocator("iframe.html-frame").last();
  await expect(frame.locator("table")).toContainText("square");
  await expect(frame.locator("td").last()).toHaveText("9");
  await expect(page.locator(".step.answer strong")).toHaveText("sine");
  await expect(page.getByTestId("cell-status").last()).toContainText("ok");
  await expect(page).toHaveURL(/\/c\/conv_/);
  // The step's code can be collapsed.
  await page.getByRole("button", { name: "Hide code" }).last().click();
  await expect(page.locator("pre.code")).toHaveCount(0);
});

test("Stop interrupts a long cell, and the session lives on", async ({ signedIn: page, request }) => {
  await script(request, code("import time\nprint('sleeping', flush=True)\ntime.sleep(120)"), {
    Text: "Stopped early.",
  });
  await ask(page, "Sleep for two minutes");
  await expect(page.locator(".out-stdout").last()).toContainText("sleeping");
  // The history marks the conversation as running, in words.
  const history = page.getByRole("navigation", { name: "History" });
  await expect(history.getByRole("button", { name: /Sleep for two minutes.*Running/ })).toBeVisible();
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.locator(".turn-end").last()).toContainText("Stopped", { timeout: 30_000 });
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
  // Then as stopped, and no longer running.
  const mark = history.locator("li.current").getByTestId("conv-state");
  await expect(mark).toHaveAttribute("data-state", "stopped");
  await expect(mark).toHaveText(/Stopped|Interrupted/);

  // Esc stops too.
  await script(request, code("import time\nprint('again', flush=True)\ntime.sleep(120)"), { Text: "x" });
  await ask(page, "Sleep again");
  await expect(page.locator(".out-stdout").last()).toContainText("again");
  await page.keyboard.press("Escape");
  await expect(page.locator(".turn-end").last()).toContainText("Stopped", { timeout: 30_000 });
});

test("a reload in the middle of a task reattaches to it", async ({ signedIn: page, request }) => {
  await script(
    request,
    code("import time\nfor i in range(8):\n    print('tick', i, flush=True)\n    time.sleep(0.5)"),
    { Text: "All ticks done." },
  );
  await ask(page, "Count slowly");
  await expect(page.locator(".out-stdout").last()).toContainText("tick 1");
  await page.reload();
  await expect(page.getByText("Reattached to the running task.")).toBeVisible();
  await expect(page.locator(".out-stdout").last()).toContainText("tick 7");
  await expect(page.locator(".step.answer").last()).toContainText("All ticks done.");
  // The whole task is there once: the replay starts at its beginning.
  await expect(page.locator(".prompt")).toHaveCount(1);
  await expect(page.locator(".out-stdout").last()).toContainText("tick 0");
});

test("confirm before run: skip a step, edit the next, and the edit runs", async ({
  signedIn: page,
  request,
}) => {
  await askBeforeRunning(page, true);
  await script(
    request,
    code("open('skipped.txt', 'w').write('x')\nprint('skipped ran')"),
    code("print('from the model')"),
    { Text: "Finished." },
  );
  await ask(page, "Two steps, asked first");
  const ask1 = page.getByRole("group", { name: "Run this code?" });
  await expect(ask1).toContainText("skipped.txt");
  await ask1.getByRole("button", { name: "Skip" }).click();
  await expect(page.getByTestId("cell-status").first()).toContainText("skipped");

  const ask2 = page.getByRole("group", { name: "Run this code?" });
  await expect(ask2).toContainText("from the model");
  await ask2.getByRole("button", { name: "Edit" }).click();
  await ask2.getByRole("textbox", { name: "Edit the code" }).fill("print('edited in the browser')");
  await ask2.getByRole("button", { name: "Run edited" }).click();
  await expect(page.locator(".out-stdout").last()).toContainText("edited in the browser");
  await expect(page.locator(".step.answer").last()).toContainText("Finished.");
  await expect(page.locator(".out-stdout")).toHaveCount(1);
  await expect(page.locator("pre.code").last()).toContainText("edited in the browser");

  // Off again, for the other tests (the setting is the user's).
  await askBeforeRunning(page, false);
});
