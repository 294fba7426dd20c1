import { expect, key, signIn, test } from "./fixtures";

test("a wrong key is refused and a right one signs in with an HttpOnly cookie", async ({ page, context }) => {
  await page.goto("/");
  await page.getByLabel(/API key/).fill("ik_wrongwrongwrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText(/invalid API key/i);

  await signIn(page);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "interp_session");
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe("Strict");
  // The page cannot see the cookie, and the key is kept nowhere.
  expect(await page.evaluate(() => document.cookie)).toBe("");
  const stored = await page.evaluate(
    () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
  );
  expect(stored).not.toContain(key);
  expect(stored).not.toContain(session?.value ?? "-");

  // The page is served with a strict CSP.
  const res = await page.request.get("/");
  const csp = res.headers()["content-security-policy"];
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain("unsafe-eval");

  // Reloading keeps the sign-in; signing out ends it.
  await page.reload();
  await expect(page.getByRole("button", { name: /New chat/ })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByLabel(/API key/)).toBeVisible();
  await page.reload();
  await expect(page.getByLabel(/API key/)).toBeVisible();
});

test("another origin cannot use the cookie", async ({ page, context }) => {
  await signIn(page);
  const cookie = (await context.cookies()).find((c) => c.name === "interp_session");
  const res = await page.request.get("/v1/sessions", {
    headers: { Origin: "https://evil.example", Cookie: `interp_session=${cookie?.value}` },
  });
  expect(res.status()).toBe(403);
  const post = await page.request.post("/v1/sessions", {
    data: {},
    headers: { Cookie: `interp_session=${cookie?.value}` },
  });
  expect(post.status()).toBe(403); // no CSRF token
});

test("interp ui's link signs in once", async ({ browser }) => {
  const url = process.env.E2E_UI_URL ?? "";
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("button", { name: /New chat/ })).toBeVisible();
  await expect(page.getByText("local", { exact: true })).toBeVisible();
  await ctx.close();

  const other = await browser.newContext();
  const p2 = await other.newPage();
  const res = await p2.goto(url);
  expect(res?.status()).toBe(403);
  await other.close();
});
