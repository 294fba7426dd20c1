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

export const test = base.extend<{ signedIn: Page }>({
  signedIn: async ({ page }, use) => {
    await signIn(page);
    await use(page);
  },
});

export { expect };
