// The shipped artifact itself (dist/index.js, minified, dependencies inlined — the file the
// portal serves as static/ancora-verify.js) agrees with the sources on real data.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadVector, repoRoot } from "./helpers.js";
import { goodBundleV1, signer } from "./world.js";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "index.js");
const skip = existsSync(dist) ? false : "dist/index.js is not built (npm run build)";

test("dist/index.js verifies bundles, headers and SPV proofs like the sources", { skip }, async () => {
  const sdk = await import(pathToFileURL(dist).href);
  for (const h of loadVector("mainnet01-genesis-headers.json").headers) assert.equal(sdk.blockHeaderHash(h), h.hash);
  const r = await sdk.verifyBundle(JSON.stringify(goodBundleV1()), { logKeys: [signer().verifierKey()] });
  assert.equal(r.verdict, "verified");
  const spv = loadVector("spv-txout-proof-crosschain.json");
  const res = sdk.verifySpv(spv.responseBody, loadVector("mainnet01-genesis-headers.json").headers[1]);
  assert.equal(res.ok, false);
  assert.ok(res.error instanceof sdk.AncoraError);
  assert.ok(sdk.merkleRoot([new Uint8Array([1])]) instanceof Uint8Array);
  assert.equal(typeof sdk.AncoraClient, "function");
});

test("the portal's static copy is the built artifact", { skip }, () => {
  const copy = join(repoRoot(), "static", "ancora-verify.js");
  assert.ok(readFileSync(copy).equals(readFileSync(dist)), "static/ancora-verify.js differs from dist/index.js: run npm run build");
});
