import {
  api,
  ask,
  askBeforeRunning,
  code,
  expect,
  key,
  putSettings,
  script,
  settings,
  signIn,
  test,
} from "./fixtures";

test("settings: a model and limits, checked by the server and kept for the user", async ({
  signedIn: page,
  request,
}) => {
  const open = async () => {
    await page.getByRole("button", { name: "Settings", exact: true }).click();
    return page.getByRole("dialog", { name: "Settings" });
  };
  let dlg = await open();
  // The server lists its models and says what it allows.
  const models = dlg.getByLabel("Model");
  await expect(models).toContainText("The server's default (openai · gpt-test)");
  await expect(models).toContainText("openai · gpt-4.1-mini");
  await expect(dlg.getByTestId("memory-range")).toHaveText(/^Allowed: 64–\d+ MiB$/);
  await expect(dlg.getByTestId("timeout-range")).toHaveText(/^Allowed: 0\.001–\d+ s$/);

  // Out of range: the server refuses, and says why.
  await dlg.getByLabel("Memory of new sessions (MiB)").fill("999999");
  await dlg.getByRole("button", { name: "Save" }).click();
  await expect(dlg.getByRole("alert")).toContainText("maximum");

  await models.selectOption({ label: "openai · gpt-4.1-mini" });
  await dlg.getByLabel("Memory of new sessions (MiB)").fill("1536");
  await dlg.getByLabel("Time limit of one cell (s)").fill("90");
  await dlg.getByRole("button", { name: "Save" }).click();
  await expect(dlg.getByRole("status")).toHaveText("Saved.");
  await dlg.getByRole("button", { name: "Close" }).click();

  // Kept on the server: another page load sees them.
  await page.reload();
  dlg = await open();
  await expect(dlg.getByLabel("Model")).toHaveValue("openai\u0000gpt-4.1-mini");
  await expect(dlg.getByLabel("Memory of new sessions (MiB)")).toHaveValue("1536");
  await expect(dlg.getByLabel("Time limit of one cell (s)")).toHaveValue("90");
  await dlg.getByRole("button", { name: "Close" }).click();

  // The next task runs with them: its model, and its session's limits.
  await script(request, code("print('with my settings')"), { Text: "Done with my model." });
  await ask(page, "Use my settings");
  await expect(page.locator(".step.answer").last()).toContainText("Done with my model.");
  const conv = /\/c\/(conv_[a-z0-9]+)/.exec(page.url())?.[1] ?? "";
  const c = await (await api(request, "GET", `/v1/conversations/${conv}`)).json();
  expect(c.model).toBe("gpt-4.1-mini");
  const sessions = await (await api(request, "GET", "/v1/sessions")).json();
  const mine = sessions.sessions.find(
    (s: { conversation_id?: string; memory: number }) => s.memory === 1536 << 20,
  );
  expect(mine?.cell_timeout).toBe(90);

  // Back to the defaults, for the other tests.
  dlg = await open();
  await dlg.getByLabel("Model").selectOption("");
  await dlg.getByLabel("Memory of new sessions (MiB)").fill("");
  await dlg.getByLabel("Time limit of one cell (s)").fill("");
  await dlg.getByRole("button", { name: "Save" }).click();
  await expect(dlg.getByRole("status")).toHaveText("Saved.");
});

test("ask before running: the user's setting, so another browser asks too", async ({
  signedIn: page,
  browser,
  request,
}) => {
  await askBeforeRunning(page, true);
  expect((await settings(request)).confirm).toBe(true);

  // A new browser context: nothing of the first one's storage, and its
  // tasks ask all the same.
  const other = await browser.newContext();
  try {
    const p2 = await other.newPage();
    await signIn(p2);
    await p2.getByRole("button", { name: "Settings", exact: true }).click();
    await expect(p2.getByRole("checkbox", { name: "Ask before running code" })).toBeChecked();
    await p2.getByRole("button", { name: "Close" }).click();
    await script(request, code("print('asked first')"), { Text: "Ran after asking." });
    await ask(p2, "Ask me before running");
    const q = p2.getByRole("group", { name: "Run this code?" });
    await expect(q).toContainText("asked first");
    await q.getByRole("button", { name: "Run", exact: true }).click();
    await expect(p2.locator(".out-stdout").last()).toContainText("asked first");
    await expect(p2.locator(".step.answer").last()).toContainText("Ran after asking.");

    // Turned off there, it is off here after a reload.
    await askBeforeRunning(p2, false);
  } finally {
    await other.close();
  }
  await page.reload();
  await page.getByRole("button", { name: "Settings", exact: true }).click();
  await expect(page.getByRole("checkbox", { name: "Ask before running code" })).not.toBeChecked();
  await page.getByRole("button", { name: "Close" }).click();
});

test("ask before running: a browser that kept the switch itself hands it to the server once", async ({
  page,
  request,
}) => {
  const s = await settings(request);
  await putSettings(request, { ...s, confirm: false });
  await page.goto("/");
  await page.evaluate(() => localStorage.setItem("interp.confirm", "1"));
  await page.getByLabel(/API key/).fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: /New chat/ })).toBeVisible();
  await expect.poll(async () => (await settings(request)).confirm).toBe(true);
  await expect.poll(() => page.evaluate(() => localStorage.getItem("interp.confirm"))).toBeNull();
  await page.getByRole("button", { name: "Settings", exact: true }).click();
  await expect(page.getByRole("checkbox", { name: "Ask before running code" })).toBeChecked();
});
