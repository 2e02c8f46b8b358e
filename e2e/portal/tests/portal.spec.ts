// What a person does in the portal, in a real browser. run.sh seeds: an auditor and a
// submitter (ANCORA_E2E_AUDITOR / _SUBMITTER, password ANCORA_E2E_PASSWORD), and one event
// ANCORA_E2E_EVENT with digest ANCORA_E2E_DIGEST (hex) already proved.
import { test, expect, Page } from "@playwright/test";
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
  expect(bytes.toString("latin1")).toContain(env("ANCORA_E2E_EVENT"));
  fs.copyFileSync(file!, "../artifacts/event-report.pdf");
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
