// Bundle verification against the Rust core: the same bundle built byte for byte (its insta
// snapshot), the same step names and verdicts, the same tampering table, and version 2's
// trust-point rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AncoraError, STEPS, verifyBundle } from "../src/index.js";
import type { VerificationReport } from "../src/index.js";
import { repoRoot } from "./helpers.js";
import { bundleV2, chainwebBundleV1, goodBundleV1, otherSigner, signer } from "./world.js";

const snapshot = (name: string) => {
  const text = readFileSync(join(repoRoot(), "backend/proof/tests/snapshots", `integration__bundle__${name}.snap`), "utf8");
  return JSON.parse(text.slice(text.indexOf("\n---\n") + 5));
};
const trust = () => ({ logKeys: [signer().verifierKey()] });
const failed = (r: VerificationReport) => r.steps.filter((s) => s.status !== "ok").map((s) => s.step);
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

function flipB64(s: string, at: number): string {
  return s.slice(0, at) + (s[at] === "A" ? "B" : "A") + s.slice(at + 1);
}

test("the TypeScript world builds the Rust core's snapshot bundle byte for byte", () => {
  assert.deepEqual(goodBundleV1(), snapshot("tlog_bundle"));
});

test("a good v1 tlog bundle verifies with the same steps, details and hashes as the Rust report", async () => {
  const want = snapshot("tlog_report");
  for (const input of [goodBundleV1(), JSON.stringify(goodBundleV1(), null, 2), new TextEncoder().encode(JSON.stringify(goodBundleV1()))]) {
    const r = await verifyBundle(input, trust());
    assert.equal(r.verdict, "verified");
    assert.equal(r.bundleVersion, 1);
    assert.deepEqual(r.steps, want.steps);
  }
});

test("without a log key a v1 bundle fails at the checkpoint step only, as in Rust", async () => {
  const want = snapshot("tlog_report_without_key");
  const r = await verifyBundle(goodBundleV1());
  assert.equal(r.verdict, "failed");
  assert.deepEqual(r.steps.map((s) => [s.step, s.status]), want.steps.map((s: any) => [s.step, s.status]));
  assert.deepEqual(r.steps[4], want.steps[4]);
  assert.match(r.steps[3]!.detail, /^no log key given/);
});

test("a checkpoint signed by another key fails the checkpoint step", async () => {
  const r = await verifyBundle(goodBundleV1(), { logKeys: [otherSigner().verifierKey()] });
  assert.deepEqual(failed(r), [STEPS.CHECKPOINT]);
  // Both keys given: the right one is used.
  const both = await verifyBundle(goodBundleV1(), { logKeys: [otherSigner().verifierKey(), signer().verifierKey()] });
  assert.equal(both.verdict, "verified");
});

const set = (path: string, f: (x: any) => any) => (v: any) => {
  const keys = path.split("/").filter(Boolean);
  const last = keys.pop()!;
  const o = keys.reduce((a, k) => a[k], v);
  o[last] = f(o[last]);
};

// The Rust core's tampering table (tests/bundle.rs), case for case.
const TAMPERS: [string, (v: any) => void, string[]][] = [
  ["event id", set("/event/event_id", () => "inv-2026-9999"), [STEPS.EVENT_LEAF]],
  ["digest", set("/event/digest", () => `sha256:${"ab".repeat(32)}`), [STEPS.EVENT_LEAF]],
  ["submitter", set("/event/submitter", () => "someone else"), [STEPS.EVENT_LEAF]],
  ["received time", set("/event/received_at_micros", () => 1), [STEPS.EVENT_LEAF]],
  ["tenant", set("/event/tenant_id", () => "00000000-0000-0000-0000-000000000000"), [STEPS.EVENT_LEAF]],
  ["leaf bytes", set("/event/leaf", (x) => flipB64(x, 30)), [STEPS.EVENT_LEAF, STEPS.EVENT_TO_BATCH]],
  ["batch proof", set("/batch/proof", (x) => flipB64(x, 20)), [STEPS.EVENT_TO_BATCH]],
  ["batch leaf index", set("/batch/leaf_index", () => 2), [STEPS.EVENT_TO_BATCH]],
  ["batch root", set("/batch/root", (x) => flipB64(x, 5)), [STEPS.EVENT_TO_BATCH, STEPS.BATCH_TO_ANCHOR]],
  ["anchor proof", set("/anchor/proof", (x) => flipB64(x, 20)), [STEPS.BATCH_TO_ANCHOR]],
  ["anchor root", set("/anchor/root", (x) => flipB64(x, 5)), [STEPS.BATCH_TO_ANCHOR, STEPS.ANCHOR_TO_LOG]],
  ["log proof", set("/trust_point/proof", (x) => flipB64(x, 20)), [STEPS.ANCHOR_TO_LOG]],
  ["log leaf index", set("/trust_point/leaf_index", () => 7), [STEPS.ANCHOR_TO_LOG]],
  ["log size", set("/trust_point/log_size", () => 11), [STEPS.CHECKPOINT]],
  ["log size, other shape", set("/trust_point/log_size", () => 7), [STEPS.CHECKPOINT, STEPS.ANCHOR_TO_LOG]],
  ["origin", set("/trust_point/origin", () => "other.log/v1"), [STEPS.CHECKPOINT]],
  [
    "checkpoint root",
    set("/trust_point/checkpoint", (s: string) => {
      const lines = s.split("\n");
      const root = lines[2]!.replace(lines[2]!.slice(0, 2), lines[2]!.startsWith("AA") ? "BB" : "AA");
      return s.replace(lines[2]!, root);
    }),
    [STEPS.CHECKPOINT, STEPS.ANCHOR_TO_LOG],
  ],
  [
    "checkpoint signature",
    set("/trust_point/checkpoint", (s: string) => {
      const at = new TextEncoder().encode(s).length - 10;
      const b = new TextEncoder().encode(s);
      b[at] = b[at] === 65 ? 66 : 65;
      return new TextDecoder().decode(b);
    }),
    [STEPS.CHECKPOINT],
  ],
];

test("tampering with each field fails exactly the steps the Rust core fails", async () => {
  for (const [what, tamper, expected] of TAMPERS) {
    const v = goodBundleV1();
    tamper(v);
    const r = await verifyBundle(v, trust());
    assert.deepEqual(failed(r), expected, `tampered ${what}: ${JSON.stringify(r.steps, null, 1)}`);
    assert.equal(r.verdict, "failed", what);
  }
});

test("the same tampering in a v2 bundle fails the same steps", async () => {
  const camel: Record<string, string> = {
    event_id: "eventId", received_at_micros: "receivedAtMicros", tenant_id: "tenantId", leaf_index: "leafIndex", log_size: "logSize",
    trust_point: "trustPoints/0",
  };
  for (const [what, , expected] of TAMPERS) {
    const v1 = goodBundleV1();
    TAMPERS.find((t) => t[0] === what)![1](v1);
    // Carry the tampered v1 values over to the v2 shape.
    const v2 = bundleV2(["tlog"]).bundle;
    const conv = (o: any): any => Object.fromEntries(Object.entries(o).map(([k, x]) => [camel[k] ?? k.replace(/_(.)/g, (_, c) => c.toUpperCase()), x]));
    v2.event = conv(v1.event);
    v2.batch = conv(v1.batch);
    v2.anchor = conv(v1.anchor);
    v2.trustPoints = [conv(v1.trust_point)];
    const r = await verifyBundle(v2, trust());
    assert.deepEqual(failed(r), expected, `v2 tampered ${what}`);
    assert.equal(r.verdict, "failed");
  }
});

test("unreadable bundles resolve with a failed verdict, no steps and an error saying why", async () => {
  const good = goodBundleV1();
  const cases: [unknown, RegExp][] = [
    ["not json", /not JSON/],
    ["[1]", /JSON object/],
    ["{}", /no "version"/],
    [{ ...good, version: 3 }, /version 3 is not supported/],
    [{ ...good, version: "1" }, /not supported/],
    [(() => { const v = clone(good); delete v.anchor; return v; })(), /missing field "anchor"/],
    [(() => { const v = clone(good); delete v.batch.root; return v; })(), /batch.*root/],
    [(() => { const v = clone(good); v.batch.surprise = 1; return v; })(), /surprise/],
    [(() => { const v = clone(good); v.trust_point.surprise = 1; return v; })(), /surprise/],
    [{ ...good, extra: 1 }, /extra/],
    [(() => { const v = clone(good); v.trust_point.type = "carrier-pigeon"; return v; })(), /trust_point/],
    [(() => { const v = clone(good); v.batch.root = v.batch.root.slice(1); return v; })(), /batch/],
    [(() => { const v = clone(good); v.batch.leaf_index = 1.5; return v; })(), /leaf_index/],
    [(() => { const v = clone(good); v.batch.leaf_index = -1; return v; })(), /leaf_index/],
    [JSON.stringify(good).replace('"leaf_index":3', '"leaf_index":3.0'), /leaf_index/],
    [(() => { const v = clone(good); v.batch.algorithm = "SHA256"; return v; })(), /algorithm/],
    [(() => { const v = clone(good); v.event.digest = "md5:00"; return v; })(), /digest/],
    [(() => { const v = clone(good); v.event.tenant_id = "nope"; return v; })(), /tenant/],
    [(() => { const v = clone(good); v.event.leaf = "A"; return v; })(), /leaf/],
    [JSON.stringify(good) + "x", /trailing/],
    [JSON.stringify(good).replace('"ak_live_ab12"', '"ak\\ud800"'), /surrogate/],
    [null, /JSON object/],
    [42, /JSON object/],
  ];
  for (const [input, why] of cases) {
    const r = await verifyBundle(input, trust());
    assert.equal(r.verdict, "failed", String(why));
    assert.deepEqual(r.steps, []);
    assert.ok(r.error instanceof AncoraError);
    assert.match(r.error!.message, why);
  }
});

test("a v1 chainweb bundle verifies against a trusted header, and fails as in Rust without one", async () => {
  const { bundle, header } = chainwebBundleV1();
  const r = await verifyBundle(bundle, { chainwebHeaders: [header] });
  assert.equal(r.verdict, "verified", JSON.stringify(r.steps, null, 1));
  assert.deepEqual(r.steps.slice(3).map((s) => s.step), [STEPS.ANCHOR_TO_OUTPUT, STEPS.OUTPUT_TO_BLOCK, STEPS.TRUSTED_HEADER]);
  const untrusted = await verifyBundle(bundle);
  assert.deepEqual(failed(untrusted), [STEPS.TRUSTED_HEADER]);
  assert.equal(untrusted.steps[5]!.status, "failed");
  assert.match(untrusted.steps[5]!.detail, /^no trusted Chainweb header given/);
  // A trusted header of that chain and height that is another block.
  const other = { ...header, nonce: "1", hash: undefined };
  assert.deepEqual(failed(await verifyBundle(bundle, { chainwebHeaders: [other] })), [STEPS.TRUSTED_HEADER]);
  // Headers in other forms: JSON text.
  assert.equal((await verifyBundle(bundle, { chainwebHeaders: [JSON.stringify(header)] })).verdict, "verified");
});

test("a v1 chainweb bundle with another anchor root, header or SPV proof fails where Rust fails", async () => {
  const { bundle, header } = chainwebBundleV1();
  const t = { chainwebHeaders: [header] };
  let v = clone(bundle);
  v.anchor.root = flipB64(v.anchor.root, 3);
  assert.deepEqual(failed(await verifyBundle(v, t)), [STEPS.BATCH_TO_ANCHOR, STEPS.ANCHOR_TO_OUTPUT]);
  v = clone(bundle);
  v.trust_point.header.nonce = "1";
  assert.deepEqual(failed(await verifyBundle(v, t)), [STEPS.OUTPUT_TO_BLOCK]);
  v = clone(bundle);
  v.trust_point.spv_proof = "bm9wZQ";
  const r = await verifyBundle(v, t);
  assert.deepEqual(r.steps.filter((s) => s.status !== "ok").map((s) => [s.step, s.status]), [
    [STEPS.ANCHOR_TO_OUTPUT, "failed"],
    [STEPS.OUTPUT_TO_BLOCK, "skipped"],
  ]);
  v = clone(bundle);
  v.trust_point.network = "testnet04";
  assert.deepEqual(failed(await verifyBundle(v, t)), [STEPS.OUTPUT_TO_BLOCK]);
  v = clone(bundle);
  v.trust_point.block_height = 1;
  assert.deepEqual(failed(await verifyBundle(v, t)), [STEPS.OUTPUT_TO_BLOCK, STEPS.TRUSTED_HEADER]);
  v = clone(bundle);
  v.trust_point.chain_id = 1;
  assert.deepEqual(failed(await verifyBundle(v, t)), [STEPS.OUTPUT_TO_BLOCK, STEPS.TRUSTED_HEADER]);
  v = clone(bundle);
  v.trust_point.anchor_root_location = "result.events";
  assert.deepEqual(failed(await verifyBundle(v, t)), [STEPS.ANCHOR_TO_OUTPUT]);
  v = clone(bundle);
  v.trust_point.header = "not a header";
  assert.deepEqual(failed(await verifyBundle(v, t)), [STEPS.OUTPUT_TO_BLOCK]);
});

// ---- version 2 ----

test("a v2 bundle with both trust points verifies with both, in bundle order", async () => {
  const { bundle, header } = bundleV2();
  const r = await verifyBundle(bundle, { ...trust(), chainwebHeaders: [header] });
  assert.equal(r.verdict, "verified");
  assert.equal(r.bundleVersion, 2);
  assert.deepEqual(r.steps.map((s) => [s.step, s.status]), [
    [STEPS.EVENT_LEAF, "ok"], [STEPS.EVENT_TO_BATCH, "ok"], [STEPS.BATCH_TO_ANCHOR, "ok"],
    [STEPS.CHECKPOINT, "ok"], [STEPS.ANCHOR_TO_LOG, "ok"],
    [STEPS.ANCHOR_TO_OUTPUT, "ok"], [STEPS.OUTPUT_TO_BLOCK, "ok"], [STEPS.TRUSTED_HEADER, "ok"],
  ]);
});

test("in v2 a trust step with no trust given at all is unchecked, and one fully checked point suffices", async () => {
  const { bundle, header } = bundleV2();
  const status = (r: VerificationReport, step: string) => r.steps.find((s) => s.step === step)!.status;
  // Only the log key: the chainweb point's trust step is unchecked; the tlog point carries it.
  let r = await verifyBundle(bundle, trust());
  assert.equal(status(r, STEPS.TRUSTED_HEADER), "unchecked");
  assert.equal(r.verdict, "verified");
  assert.deepEqual(r.trustPoints.map((t) => [t.type, t.status]), [["tlog", "verified"], ["chainweb", "unchecked"]]);
  assert.deepEqual(r.trustPoints[1]!.steps, [STEPS.ANCHOR_TO_OUTPUT, STEPS.OUTPUT_TO_BLOCK, STEPS.TRUSTED_HEADER]);
  // Only the header: the checkpoint is unchecked; the chainweb point carries it.
  r = await verifyBundle(bundle, { chainwebHeaders: [header] });
  assert.equal(status(r, STEPS.CHECKPOINT), "unchecked");
  assert.equal(status(r, STEPS.ANCHOR_TO_LOG), "ok");
  assert.equal(r.verdict, "verified");
  // Nothing trusted: both unchecked, no point fully checked.
  r = await verifyBundle(bundle);
  assert.deepEqual(r.steps.filter((s) => s.status !== "ok").map((s) => [s.step, s.status]), [
    [STEPS.CHECKPOINT, "unchecked"],
    [STEPS.TRUSTED_HEADER, "unchecked"],
  ]);
  assert.equal(r.verdict, "failed");
  // Given but not matching is a failure, and a failure anywhere fails the bundle.
  r = await verifyBundle(bundle, { logKeys: [otherSigner().verifierKey()], chainwebHeaders: [header] });
  assert.equal(status(r, STEPS.CHECKPOINT), "failed");
  assert.equal(r.verdict, "failed");
  r = await verifyBundle(bundle, { ...trust(), chainwebHeaders: [{ ...header, nonce: "9", hash: undefined }] });
  assert.equal(status(r, STEPS.TRUSTED_HEADER), "failed");
  assert.equal(r.verdict, "failed");
  // A header of another chain or height only: given, none matching.
  r = await verifyBundle(bundle, { ...trust(), chainwebHeaders: [{ ...header, height: 5 }] });
  assert.equal(status(r, STEPS.TRUSTED_HEADER), "failed");
});

test("v2 bundles with a single trust point follow the same rules", async () => {
  const tlogOnly = bundleV2(["tlog"]).bundle;
  assert.equal((await verifyBundle(tlogOnly, trust())).verdict, "verified");
  const noKey = await verifyBundle(tlogOnly);
  assert.equal(noKey.verdict, "failed");
  assert.deepEqual(noKey.steps.map((s) => s.status), ["ok", "ok", "ok", "unchecked", "ok"]);
  const { bundle: cwOnly, header } = bundleV2(["chainweb"]);
  assert.equal((await verifyBundle(cwOnly, { chainwebHeaders: [header] })).verdict, "verified");
  const noHeader = await verifyBundle(cwOnly, trust());
  assert.deepEqual(noHeader.steps.map((s) => s.status), ["ok", "ok", "ok", "ok", "ok", "unchecked"]);
  assert.equal(noHeader.verdict, "failed");
});

test("v2 refuses bundles that break its shape rules", async () => {
  const { bundle } = bundleV2();
  const [tl, cw] = bundle.trustPoints;
  const cases: [any, RegExp][] = [
    [{ ...bundle, trustPoints: [] }, /1 or 2/],
    [{ ...bundle, trustPoints: [tl, cw, tl] }, /1 or 2/],
    [{ ...bundle, trustPoints: [cw, tl] }, /before/],
    [{ ...bundle, trustPoints: [tl, tl] }, /at most one/],
    [{ ...bundle, trustPoints: tl }, /sequence/],
    [{ ...bundle, trust_point: tl }, /unknown field/],
    [{ ...bundle, event: { ...bundle.event, event_id: "x" } }, /unknown field `event_id`/],
    [{ ...bundle, trustPoints: [{ ...tl, leaf_index: 6 }] }, /unknown field `leaf_index`/],
    [{ ...bundle, trustPoints: [tl, { ...cw, headerSource: { node: "http://n" } }] }, /fetchedAt/],
  ];
  for (const [b, why] of cases) {
    const r = await verifyBundle(b, trust());
    assert.equal(r.verdict, "failed");
    assert.deepEqual(r.steps, []);
    assert.match(r.error?.message ?? "", why);
  }
  const ok = { ...bundle, trustPoints: [tl, { ...cw, headerSource: { node: "http://node.example", fetchedAt: "2026-01-01T00:00:00Z" } }] };
  assert.equal((await verifyBundle(ok, trust())).verdict, "verified");
});

test("malformed trust options reject with bad_trust; the bundle is never the cause", async () => {
  for (const opts of [{ logKeys: ["not a key"] }, { logKeys: [42 as unknown as string] }, { chainwebHeaders: [{ nonce: 1 }] }, { chainwebNodes: [1 as unknown as string] }]) {
    await assert.rejects(verifyBundle(goodBundleV1(), opts), (e: unknown) => e instanceof AncoraError && e.code === "bad_trust");
  }
});

test("bundles with numbers beyond 2^53 are read exactly, not rounded", async () => {
  const text = JSON.stringify(goodBundleV1()).replace('"log_size":10', '"log_size":18446744073709551615');
  const r = await verifyBundle(text, trust());
  assert.match(r.steps[3]!.detail, /18446744073709551615/);
  const over = JSON.stringify(goodBundleV1()).replace('"log_size":10', '"log_size":18446744073709551616');
  assert.deepEqual((await verifyBundle(over, trust())).steps, []);
});

test("chainwebNodes: the header is fetched from each node and trusted only when it hashes to the block asked for", async () => {
  const { createServer } = await import("node:http");
  const { bundle, header } = bundleV2(["chainweb"]);
  const hash = bundle.trustPoints[0].blockHash;
  const seen: { url: string; accept: string }[] = [];
  let answer: unknown = header;
  const server = createServer((req, res) => {
    seen.push({ url: req.url!, accept: String(req.headers.accept) });
    if (req.url !== `/chainweb/0.0/mainnet01/chain/0/header/${hash}`) {
      res.writeHead(404);
      return res.end("no such block");
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const node = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const trusted = (r: VerificationReport) => r.steps.find((s) => s.step === STEPS.TRUSTED_HEADER)!;
    let r = await verifyBundle(bundle, { chainwebNodes: [node + "/"] });
    assert.equal(r.verdict, "verified", JSON.stringify(r.steps, null, 1));
    assert.equal(trusted(r).status, "ok");
    assert.deepEqual(seen[0], { url: `/chainweb/0.0/mainnet01/chain/0/header/${hash}`, accept: "application/json;blockheader-encoding=object" });
    // A node that answers with another block (claiming the asked-for hash) is not trusted.
    answer = { ...header, nonce: "77" };
    r = await verifyBundle(bundle, { chainwebNodes: [node] });
    assert.equal(trusted(r).status, "failed");
    assert.match(trusted(r).detail, /hashes to/);
    // An unreachable node: given, nothing matching, so failed rather than unchecked.
    r = await verifyBundle(bundle, { chainwebNodes: ["http://127.0.0.1:9"], timeoutMs: 2000 });
    assert.equal(trusted(r).status, "failed");
    assert.equal(r.verdict, "failed");
    // One good node among bad ones suffices.
    answer = header;
    r = await verifyBundle(bundle, { chainwebNodes: ["http://127.0.0.1:9", node], timeoutMs: 2000 });
    assert.equal(r.verdict, "verified");
  } finally {
    server.close();
  }
});

test("v2 reads tenantId only as hyphenated lowercase and the header only as an object; v1 is lenient as before", async () => {
  const { bundle } = bundleV2();
  const upper = clone(bundle);
  upper.event.tenantId = upper.event.tenantId.toUpperCase();
  const bare = clone(bundle);
  bare.event.tenantId = bare.event.tenantId.replaceAll("-", "");
  const binaryHeader = clone(bundle);
  binaryHeader.trustPoints[1].header = "AAAA";
  for (const [b, why] of [[upper, /tenantId/], [bare, /tenantId/], [binaryHeader, /header must be a JSON object/]] as const) {
    const r = await verifyBundle(b, trust());
    assert.deepEqual(r.steps, []);
    assert.match(r.error!.message, why);
  }
  const v1 = goodBundleV1();
  v1.event.tenant_id = v1.event.tenant_id.toUpperCase().replaceAll("-", "");
  assert.equal((await verifyBundle(v1, trust())).verdict, "verified");
});
