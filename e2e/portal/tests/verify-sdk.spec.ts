// The browser's own verdict: the portal loads the JS SDK (@ancora/verify, served as
// /static/ancora-verify.js) and verifies bundles in the page, beside the server's verdict.
// run.sh seeds one proved event (ANCORA_E2E_EVENT) and an auditor; see portal.spec.ts.
//
// E2E_SDK_FROM_DISK=1 serves static/portal.js and static/ancora-verify.js from this checkout
// instead of the server (to try SDK or portal.js changes against an older `ancora` binary).
// Without it the server must serve the module: a missing route fails these tests.
import { test, expect, Page } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";

const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through run.sh)`);
  return v;
};
const shots = "../artifacts/screenshots";
fs.mkdirSync(shots, { recursive: true });
const staticDir = path.resolve(__dirname, "../../../static");

test.beforeEach(async ({ page }) => {
  if (process.env.E2E_SDK_FROM_DISK === "1") {
    for (const file of ["portal.js", "ancora-verify.js"]) {
      await page.route(`**/static/${file}`, (route) =>
        route.fulfill({ contentType: "text/javascript; charset=utf-8", body: fs.readFileSync(path.join(staticDir, file), "utf8") }),
      );
    }
  }
  await signIn(page, env("ANCORA_E2E_AUDITOR"));
});

async function signIn(page: Page, email: string) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(env("ANCORA_E2E_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
}

const eventPage = () => `/t/${env("ANCORA_E2E_TENANT")}/events/${encodeURIComponent(env("ANCORA_E2E_EVENT"))}`;

test("the SDK module is served as JavaScript, byte for byte the committed build", async ({ page }) => {
  test.skip(process.env.E2E_SDK_FROM_DISK === "1", "served from disk in this run");
  const resp = await page.request.get("/static/ancora-verify.js");
  expect(resp.status()).toBe(200);
  expect(resp.headers()["content-type"]).toContain("javascript");
  const committed = fs.readFileSync(path.join(staticDir, "ancora-verify.js"), "utf8");
  expect(await resp.text()).toBe(committed);
});

test("an event page shows the browser's verdict beside the server's", async ({ page }) => {
  await page.goto(eventPage());
  await expect(page.getByTestId("verdict")).toContainText("verified");
  await expect(page.getByTestId("browser-verdict")).toHaveText("Your browser's verdict: verified");
  await page.getByText("Steps checked in your browser").click();
  await expect(page.locator("#browser-verdict li.step")).not.toHaveCount(0);
  await expect(page.locator("#browser-verdict .badge.failed")).toHaveCount(0);
  await page.screenshot({ path: `${shots}/event-browser-verdict.png`, fullPage: true });
});

test("the verify page verifies a pasted bundle in the browser too, and catches a tampered one", async ({ page }) => {
  await page.goto(eventPage());
  const bundle = await page.evaluate(async (href) => (await fetch(href)).text(), await page.getByRole("link", { name: "Download bundle" }).getAttribute("href"));
  await page.goto(`/t/${env("ANCORA_E2E_TENANT")}/verify`);
  await page.getByLabel("Bundle (JSON)").fill(bundle);
  await page.getByRole("button", { name: "Verify pasted bundle" }).click();
  await expect(page.getByTestId("verdict")).toContainText("verified");
  await expect(page.getByTestId("browser-verdict")).toHaveText("Your browser's verdict: verified");
  await page.screenshot({ path: `${shots}/verify-browser-verdict.png`, fullPage: true });

  // Another event id: the bundle still reads, but its event leaf no longer matches.
  const tampered = bundle.replace(env("ANCORA_E2E_EVENT"), env("ANCORA_E2E_EVENT") + "-forged");
  expect(tampered).not.toBe(bundle);
  await page.getByLabel("Bundle (JSON)").fill(tampered);
  await page.getByRole("button", { name: "Verify pasted bundle" }).click();
  await expect(page.getByTestId("verdict")).toContainText("failed");
  await expect(page.getByTestId("browser-verdict")).toHaveText("Your browser's verdict: failed");
  await page.getByText("Steps checked in your browser").click();
  await expect(page.locator("#browser-verdict li.step.failed").first()).toContainText("event leaf");
  await page.screenshot({ path: `${shots}/verify-browser-verdict-tampered.png`, fullPage: true });
});
