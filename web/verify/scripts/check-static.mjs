// npm run check-static: fails when static/ancora-verify.js is not what a fresh build of
// web/verify produces (someone changed the SDK without rebuilding, or edited the copy).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./bundle.mjs";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "ancora-verify-"));
try {
  const fresh = join(dir, "index.js");
  await bundle(fresh);
  const committed = join(pkg, "../../static/ancora-verify.js");
  let old;
  try {
    old = readFileSync(committed);
  } catch {
    console.error(`check-static: ${committed} is missing; run npm run build in web/verify and commit it`);
    process.exit(1);
  }
  if (!readFileSync(fresh).equals(old)) {
    console.error("check-static: static/ancora-verify.js differs from a fresh build of web/verify; run `npm run build` there and commit the result");
    process.exit(1);
  }
  console.log("check-static: static/ancora-verify.js matches a fresh build");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
