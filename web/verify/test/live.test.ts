// Against a real `ancora serve`: submit → waitForProof → verify, end to end. Runs only when
// ANCORA_URL and ANCORA_API_KEY are set (e.g. by the e2e harness); skipped otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sha256 } from "@noble/hashes/sha2.js";
import { AncoraClient } from "../src/index.js";
import { hexEncode, utf8 } from "../src/encoding.js";

const url = process.env.ANCORA_URL;
const apiKey = process.env.ANCORA_API_KEY;
const skip = url && apiKey ? false : "ANCORA_URL and ANCORA_API_KEY are not set: no live Ancora service to test against";

test("live: an event submitted with the SDK is proved and verifies in the SDK", { skip, timeout: 120_000 }, async () => {
  const client = new AncoraClient({ baseUrl: url!, apiKey: apiKey! });
  const id = `sdk-live-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const digest = `sha256:${hexEncode(sha256(utf8(id)))}`;
  const [receipt] = await client.submit([{ id, digest }]);
  assert.equal(receipt!.id, id);
  assert.equal(receipt!.digest, digest);
  await client.waitForProof(id, { timeoutMs: 90_000 });
  const report = await client.verify(id);
  assert.equal(report.verdict, "verified", JSON.stringify(report.steps, null, 1));
});
