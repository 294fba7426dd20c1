import { code, expect, key, script, test } from "./fixtures";

test.use({ locale: "zh-CN" });

test("Chinese interface, and IME composition does not send early", async ({ page, request }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "登录 Interp" })).toBeVisible();
  await page.getByLabel("API 密钥").fill(key);
  await page.getByRole("button", { name: "登录" }).click();
  await expect(page.getByRole("button", { name: /新对话/ })).toBeVisible();

  await script(request, code("print('你好，世界')"), { Text: "完成：已打印问候。" });
  const box = page.getByRole("textbox");
  await box.click();
  // A real input method, through Chromium's own IME path (CDP), not
  // synthetic DOM events: pinyin is being composed, and Enter, which picks
  // a candidate, must not send.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Input.imeSetComposition", { text: "dayin", selectionStart: 5, selectionEnd: 5 });
  await expect(box).toHaveValue("dayin");
  await box.press("Enter");
  await expect(page.locator(".prompt")).toHaveCount(0);
  // The candidate is committed: the composition ends with the characters.
  // (Chromium without a platform IME lets the Enter add a line: only
  // whitespace, which sending trims.)
  await cdp.send("Input.insertText", { text: "打印" });
  await expect(box).toHaveValue(/^打印\s*$/);
  await cdp.send("Input.imeSetComposition", { text: "nihao", selectionStart: 5, selectionEnd: 5 });
  await box.press("Enter");
  await expect(page.locator(".prompt")).toHaveCount(0);
  await cdp.send("Input.insertText", { text: "你好" });
  await expect(box).toHaveValue(/^打印\s*你好\s*$/);
  // Out of the composition, Enter sends.
  await box.press("Enter");
  await expect(page.locator(".prompt").last()).toHaveText(/^打印\s*你好$/);
  await expect(page.locator(".out-stdout").last()).toContainText("你好，世界");
  await expect(page.locator(".step.answer").last()).toContainText("完成");
});
