import { type APIRequestContext, test as base, expect, type Page } from "@playwright/test";

export const key = process.env.E2E_KEY ?? "";
const control = process.env.E2E_CONTROL ?? "";

export interface Turn {
  Text?: string;
  ToolCalls?: { Name: string; Arguments: string }[];
  Delay?: number;
}

/** script tells the fake model what to answer to the next requests. */
export async function script(request: APIRequestContext, ...turns: Turn[]): Promise<void> {
  const res = await request.post(control, { data: turns });
  expect(res.status()).toBe(204);
}

/** code is a turn that runs Python. */
export function code(src: string): Turn {
  return { ToolCalls: [{ Name: "run_python", Arguments: JSON.stringify({ code: src }) }] };
}

/** withText adds the model's text before a turn's tool call. */
export function withText(text: string, turn: Turn): Turn {
  return { ...turn, Text: text };
}

/** signIn signs the page's browser in through the form. */
export async function signIn(page: Page): Promise<void> {
  await page.goto("/");
  await page.getByLabel(/API key/).fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: /New chat/ })).toBeVisible();
}

/** ask types a task and sends it with Enter. */
export async function ask(page: Page, prompt: string): Promise<void> {
  const box = page.getByRole("textbox", { name: /Describe a task/ });
  await box.fill(prompt);
  await box.press("Enter");
}

/** api calls the API with the bearer key, as another program would. */
export async function api(request: APIRequestContext, method: string, path: string) {
  const res = await request.fetch(path, { method, headers: { Authorization: `Bearer ${key}` } });
  return res;
}

/**
 * askBeforeRunning turns the Settings dialog's "Ask before running code"
 * on or off, and waits until the server has saved it.
 */
export async function askBeforeRunning(page: Page, on: boolean): Promise<void> {
  await page.getByRole("button", { name: "Settings", exact: true }).click();
  await page.getByRole("checkbox", { name: "Ask before running code" }).setChecked(on);
  await expect(page.getByTestId("confirm-status")).toHaveText("Saved.");
  await page.getByRole("button", { name: "Close" }).click();
}

/** settings reads the user's settings through the API. */
export async function settings(request: APIRequestContext): Promise<Record<string, unknown>> {
  const res = await api(request, "GET", "/v1/me/settings");
  expect(res.status()).toBe(200);
  return (await res.json()).settings;
}

/** putSettings replaces the user's settings through the API. */
export async function putSettings(request: APIRequestContext, body: Record<string, unknown>): Promise<void> {
  const res = await request.put("/v1/me/settings", {
    headers: { Authorization: `Bearer ${key}` },
    data: body,
  });
  expect(res.status()).toBe(200);
}

export const test = base.extend<{ signedIn: Page; confirmOff: undefined }>({
  signedIn: async ({ page }, use) => {
    await signIn(page);
    await use(page);
  },
  // Asking before running code is the user's setting, on the server: a
  // test that turned it on has it turned off after, even when it failed,
  // or the next tests' tasks would wait for an answer.
  confirmOff: [
    async ({ request }, use) => {
      await use(undefined);
      const s = await settings(request);
      if (s.confirm) await putSettings(request, { ...s, confirm: false });
    },
    { auto: true },
  ],
});

export { expect };
