import { defineConfig } from "@playwright/test";

// Run by the Go test TestBrowser (web/e2e_test.go), which starts interp
// serve, interp ui and the fake model, and passes their addresses in
// E2E_* variables. Chromium is Debian's: Playwright's own browsers cannot
// be downloaded here.
export default defineConfig({
  testDir: "e2e",
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  globalTimeout: 9 * 60_000,
  expect: { timeout: 45_000 },
  reporter: [["list"]],
  use: {
    baseURL: process.env.E2E_BASE_URL,
    trace: "off",
    launchOptions: {
      executablePath: process.env.E2E_CHROMIUM || "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
