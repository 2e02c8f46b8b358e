// The cross-language fixtures the Rust core commits (backend/proof/tests/fixtures/bundles/*.json):
// each names a bundle, what the verifier trusts, and the verdict and step statuses the Rust
// `verify_bundle` gives. This verifier must give the same, step for step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { verifyBundle } from "../src/index.js";
import { J, isObject, parseJson } from "../src/json.js";
import { repoRoot } from "./helpers.js";

const dir = join(repoRoot(), "backend/proof/tests/fixtures/bundles");
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];

/** JSON text of a value read by the strict parser, integers exact. */
function text(v: J): string {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return `[${v.map(text).join(",")}]`;
  if (isObject(v)) return `{${[...v].map(([k, x]) => `${JSON.stringify(k)}:${text(x)}`).join(",")}}`;
  return JSON.stringify(v);
}

if (files.length === 0) {
  test("cross-language bundle fixtures", { skip: `no fixtures in ${dir} (the Rust core's bundle-v2 work commits them there)` }, () => {});
}

for (const f of files) {
  const raw = readFileSync(join(dir, f), "utf8");
  const fx = JSON.parse(raw);
  test(`fixture ${f}: ${fx.name ?? ""}`, async () => {
    const tree = parseJson(raw, f);
    assert.ok(isObject(tree));
    const b = tree.get("bundle")!;
    const bundle = typeof b === "string" ? b : text(b);
    const trust = fx.trust ?? {};
    const r = await verifyBundle(bundle, { logKeys: trust.logKeys ?? trust.log_keys ?? [], chainwebHeaders: trust.chainwebHeaders ?? trust.chainweb_headers ?? [] });
    const got = { verdict: r.verdict, steps: r.steps.map((s) => ({ step: s.step, status: s.status })) };
    const want = { verdict: fx.expected.verdict, steps: (fx.expected.steps ?? []).map((s: any) => ({ step: s.step, status: s.status })) };
    assert.deepEqual(got, want, `${fx.description ?? ""}\n${JSON.stringify(r.steps, null, 1)}${r.error ? `\n${r.error.message}` : ""}`);
  });
}
