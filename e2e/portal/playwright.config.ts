// Chromium from Debian's package (/usr/bin/chromium); Playwright never downloads a browser
// (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 in run.sh; never `npx playwright install`).
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  workers: 1,
  reporter: [["list"]],
  outputDir: "../artifacts/test-results",
  use: {
    baseURL: process.env.ANCORA_URL ?? "http://127.0.0.1:18080",
    acceptDownloads: true,
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    },
  },
});
