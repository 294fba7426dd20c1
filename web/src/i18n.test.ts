import { describe, expect, it } from "vitest";
import { catalogs, detectLanguage } from "./i18n";

describe("i18n", () => {
  it("has every message in Chinese", () => {
    for (const k of Object.keys(catalogs.en))
      expect(catalogs.zh[k as keyof typeof catalogs.zh], k).toBeTruthy();
  });
  it("follows the browser's language", () => {
    expect(detectLanguage(["zh-CN", "en"])).toBe("zh");
    expect(detectLanguage(["fr", "en-GB"])).toBe("en");
    expect(detectLanguage(["fr"])).toBe("en");
  });
});
