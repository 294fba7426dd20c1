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
  // An input method composing: Enter picks a candidate, it must not send.
  await box.dispatchEvent("compositionstart", { data: "" });
  await page.keyboard.insertText("打印");
  await box.press("Enter");
  await expect(page.locator(".prompt")).toHaveCount(0);
  await box.dispatchEvent("compositionend", { data: "打印" });
  await page.keyboard.insertText("你好");
  await box.press("Enter");
  await expect(page.locator(".prompt").last()).toHaveText(/^打印\s*你好$/);
  await expect(page.locator(".out-stdout").last()).toContainText("你好，世界");
  await expect(page.locator(".step.answer").last()).toContainText("完成");
});
