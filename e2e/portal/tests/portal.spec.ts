// What a person does in the portal, in a real browser. run.sh seeds: an auditor and a
// submitter (ANCORA_E2E_AUDITOR / _SUBMITTER, password ANCORA_E2E_PASSWORD), and one event
// ANCORA_E2E_EVENT with digest ANCORA_E2E_DIGEST (hex) already proved.
import { test, expect, Page } from "@playwright/test";
import { execFileSync } from "child_process";
import * as fs from "fs";

const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through run.sh)`);
  return v;
};
const PASSWORD = () => env("ANCORA_E2E_PASSWORD");
const shots = "../artifacts/screenshots";
fs.mkdirSync(shots, { recursive: true });

async function signIn(page: Page, email: string) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD());
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("an auditor signs in, finds an event by digest, opens it and downloads its PDF report", async ({ page }) => {
  await page.goto("/login");
  await page.screenshot({ path: `${shots}/login.png`, fullPage: true });
  await signIn(page, env("ANCORA_E2E_AUDITOR"));
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await page.screenshot({ path: `${shots}/dashboard.png`, fullPage: true });

  await page.getByRole("link", { name: "Events" }).click();
  await page.screenshot({ path: `${shots}/catalog.png`, fullPage: true });
  await page.getByLabel("Event id or digest").fill(env("ANCORA_E2E_DIGEST"));
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("link", { name: env("ANCORA_E2E_EVENT") }).click();
  await expect(page.getByTestId("verdict")).toContainText("verified");
  await page.screenshot({ path: `${shots}/event.png`, fullPage: true });

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("report-pdf").click(),
  ]);
  const file = await download.path();
  const bytes = fs.readFileSync(file!);
  expect(bytes.subarray(0, 5).toString()).toBe("%PDF-");
  fs.copyFileSync(file!, "../artifacts/event-report.pdf");
  // The text a reader sees (poppler's pdftotext), not just bytes somewhere in the file.
  const text = execFileSync("pdftotext", ["-layout", "../artifacts/event-report.pdf", "-"]).toString();
  expect(text).toContain(env("ANCORA_E2E_EVENT"));
  // The digest is wrapped over two lines in its column.
  expect(text.replace(/\s+/g, "")).toContain(`sha256:${env("ANCORA_E2E_DIGEST")}`);

  await page.getByRole("link", { name: "view batch" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Batch");
  await page.screenshot({ path: `${shots}/batch.png`, fullPage: true });
});

test("the audit log links each entry to its proof", async ({ page }) => {
  await signIn(page, env("ANCORA_E2E_AUDITOR"));
  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
  const created = page.locator("tr", { hasText: "tenant.created" });
  await expect(created).toHaveCount(1);
  await page.screenshot({ path: `${shots}/audit.png`, fullPage: true });
  await created.getByTitle("The proof of this entry").click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("audit-");
});

test("the portal is usable from the keyboard and on a phone-sized screen", async ({ page }) => {
  await signIn(page, env("ANCORA_E2E_AUDITOR"));
  await page.goto(`/t/${env("ANCORA_E2E_TENANT")}/events`);
  // The first Tab reaches the skip link, which moves focus past the navigation.
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/#main$/);
  // Search by keyboard only: focus the field, type, submit with Enter.
  await page.getByLabel("Event id or digest").focus();
  await page.keyboard.type(env("ANCORA_E2E_DIGEST"));
  await page.keyboard.press("Enter");
  await expect(page.getByRole("link", { name: env("ANCORA_E2E_EVENT") })).toBeVisible();

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`/t/${env("ANCORA_E2E_TENANT")}/events/${encodeURIComponent(env("ANCORA_E2E_EVENT"))}`);
  await expect(page.getByTestId("verdict")).toContainText("verified");
  // Nothing wider than the screen except inside scrollable tables.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${shots}/event-mobile.png`, fullPage: true });
  await page.goto(`/t/${env("ANCORA_E2E_TENANT")}/events`);
  await page.screenshot({ path: `${shots}/catalog-mobile.png`, fullPage: true });
});

test("an auditor verifies an uploaded bundle on the server", async ({ page }) => {
  await signIn(page, env("ANCORA_E2E_AUDITOR"));
  await page.goto(`/t/${env("ANCORA_E2E_TENANT")}/events/${encodeURIComponent(env("ANCORA_E2E_EVENT"))}`);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download bundle" }).click(),
  ]);
  const bundlePath = (await download.path())!;
  await page.getByRole("link", { name: "Verify" }).click();
  await page.getByLabel("Bundle file").setInputFiles({ name: "bundle.json", mimeType: "application/json", buffer: fs.readFileSync(bundlePath) });
  await page.getByRole("button", { name: "Verify uploaded file" }).click();
  await expect(page.getByTestId("verdict")).toContainText("verified");
  await page.screenshot({ path: `${shots}/verify.png`, fullPage: true });

  await page.getByLabel("Bundle (JSON)").fill("this is not a bundle");
  await page.getByRole("button", { name: "Verify pasted bundle" }).click();
  await expect(page.getByTestId("verify-error")).toContainText("not an Ancora proof bundle");
});

test("a submitter sees a 403 page", async ({ page }) => {
  await signIn(page, env("ANCORA_E2E_SUBMITTER"));
  const resp = await page.goto(`/t/${env("ANCORA_E2E_TENANT")}/events`);
  expect(resp?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  await page.screenshot({ path: `${shots}/forbidden.png`, fullPage: true });
});

test("a form whose CSRF token was tampered with is refused", async ({ page }) => {
  await signIn(page, env("ANCORA_E2E_AUDITOR"));
  await page.goto(`/t/${env("ANCORA_E2E_TENANT")}/verify`);
  await page.locator("form:has(#bundle) input[name=csrf]").evaluate((el: HTMLInputElement) => { el.value = "forged"; });
  await page.getByLabel("Bundle (JSON)").fill("{}");
  await page.getByRole("button", { name: "Verify pasted bundle" }).click();
  await expect(page.getByRole("heading", { name: "Form expired" })).toBeVisible();
  await page.screenshot({ path: `${shots}/csrf.png`, fullPage: true });
});
