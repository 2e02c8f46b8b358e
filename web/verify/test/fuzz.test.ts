// Fuzzing with a fixed seed: random JSON, random bytes and mutated real bundles, proofs and
// headers go into every public function. Nothing may throw; verifiers must resolve with a
// verdict; and no single-character change to a bundle may still verify unless it changed
// nothing the proof covers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AncoraError, b64urlDecode, blockHeaderHash, inclusionProof, merkleRoot, payloadProofRoot, verifyBundle, verifySpv } from "../src/index.js";
import { b64urlEncode } from "../src/encoding.js";
import { loadVector, prng } from "./helpers.js";
import { bundleV2, chainwebBundleV1, goodBundleV1, signer } from "./world.js";

const rand = prng(0xa11c0a);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: T[]): T => xs[int(xs.length)]!;

function randomString(): string {
  const alphabets = ["abcXYZ019-_", "{}[]\":,\\ \n\t", "\u2014\u00e9\ud83d\ude00\u0000\u007f", "AQIDBAUGBwgJ+/="];
  const a = pick(alphabets);
  let s = "";
  for (let i = int(40); i > 0; i--) s += a[int(a.length)];
  return s;
}

function randomJson(depth = 0): unknown {
  const r = int(depth > 3 ? 6 : 9);
  switch (r) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return pick([0, 1, -1, 2 ** 53, 2 ** 64, 1.5, -0, 1e308, 4294967296, 5]);
    case 3: return randomString();
    case 4: return b64urlEncode(randomBytes(pick([0, 1, 12, 31, 32, 33, 45, 318])));
    case 5: return pick(["SHA512t_256", "Keccak_256", "tlog", "chainweb", "mainnet01", "result.data", "sha256:" + "ab".repeat(32)]);
    case 6: return Array.from({ length: int(4) }, () => randomJson(depth + 1));
    default: {
      const keys = ["version", "event", "batch", "anchor", "trust_point", "trustPoints", "type", "proof", "root", "leaf_index", "leafIndex", "chain", "object", "subject", "input", "tree", "algorithm", "nonce", "hash", "adjacents", randomString()];
      const o: Record<string, unknown> = {};
      for (let i = int(6); i > 0; i--) o[pick(keys)] = randomJson(depth + 1);
      return o;
    }
  }
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

/** Replaces a random value somewhere in `v` (a deep copy) with a random one, or deletes a key. */
function mutateValue(v: any): any {
  const copy = JSON.parse(JSON.stringify(v));
  const paths: (string | number)[][] = [];
  const walk = (x: any, p: (string | number)[]) => {
    paths.push(p);
    if (x && typeof x === "object") for (const k of Object.keys(x)) walk(x[k], [...p, Array.isArray(x) ? Number(k) : k]);
  };
  walk(copy, []);
  const p = pick(paths.slice(1));
  const parent = p.slice(0, -1).reduce((a: any, k) => a[k], copy);
  const last = p[p.length - 1]!;
  const r = rand();
  if (r < 0.2 && !Array.isArray(parent)) delete parent[last];
  else if (r < 0.6 && typeof parent[last] === "string" && parent[last].length > 0) {
    const s: string = parent[last];
    const at = int(s.length);
    parent[last] = s.slice(0, at) + pick(["A", "B", "_", "-", "=", "0", "+", "\n", ""]) + s.slice(at + 1);
  } else if (r < 0.7 && typeof parent[last] === "number") parent[last] = parent[last] + pick([1, -1, 2 ** 32, 0.5]);
  else parent[last] = randomJson(2);
  return copy;
}

function mutateText(s: string): string {
  const at = int(s.length);
  const r = int(3);
  const c = pick(["A", "0", '"', "{", "}", ",", " ", "\\", "\u2014", "9", "-"]);
  if (r === 0) return s.slice(0, at) + c + s.slice(at + 1);
  if (r === 1) return s.slice(0, at) + c + s.slice(at);
  return s.slice(0, at) + s.slice(at + 1);
}

const isReport = (r: any) => (r.verdict === "verified" || r.verdict === "failed") && Array.isArray(r.steps);

test("random JSON and random bytes never make a verifier throw", async () => {
  const key = { logKeys: [signer().verifierKey()] };
  for (let i = 0; i < 1200; i++) {
    const j = randomJson();
    const bytes = randomBytes(int(400));
    for (const input of [j, JSON.stringify(j) ?? "null", bytes, randomString()]) {
      const r = await verifyBundle(input, key);
      assert.ok(isReport(r));
      assert.equal(r.verdict, "failed");
      const s = verifySpv(input, j);
      assert.equal(typeof s.ok, "boolean");
      const h = blockHeaderHash(input);
      assert.ok(typeof h === "string" || h instanceof AncoraError);
      const d = b64urlDecode(input as string);
      assert.ok(d instanceof Uint8Array || d instanceof AncoraError);
      const p = payloadProofRoot(input);
      assert.ok(p instanceof AncoraError || typeof p.root === "string");
    }
    const leaves = Array.from({ length: int(9) }, () => (rand() < 0.8 ? randomBytes(int(40)) : rand() < 0.5 ? { tree: randomBytes(32) } : randomJson()));
    const root = merkleRoot(leaves as Uint8Array[]);
    assert.ok(root instanceof Uint8Array || root instanceof AncoraError);
    const proof = inclusionProof(leaves as Uint8Array[], pick([0, 1, leaves.length - 1, leaves.length, -1, 0.5, NaN]));
    assert.ok(proof instanceof Uint8Array || proof instanceof AncoraError);
    assert.ok(merkleRoot(j as never) instanceof Uint8Array || merkleRoot(j as never) instanceof AncoraError);
  }
});

test("mutated bundles, SPV proofs and headers resolve with a verdict, never an exception", async () => {
  const { bundle: cw1, header } = chainwebBundleV1();
  const { bundle: both } = bundleV2();
  const trust = { logKeys: [signer().verifierKey()], chainwebHeaders: [header] };
  const seeds = [goodBundleV1(), cw1, both];
  const spv = loadVector("spv-txout-proof-crosschain.json");
  const headers = loadVector("mainnet01-genesis-headers.json").headers;
  let verified = 0;
  for (let i = 0; i < 900; i++) {
    const seed = seeds[i % seeds.length];
    const m = rand() < 0.5 ? mutateValue(seed) : mutateText(JSON.stringify(seed));
    const r = await verifyBundle(m, trust);
    assert.ok(isReport(r), JSON.stringify(r));
    if (r.verdict === "verified") verified++;
    const s = verifySpv(rand() < 0.5 ? mutateText(spv.responseBody) : spv.responseBody, mutateValue(pick(headers)));
    assert.equal(typeof s.ok, "boolean");
    const h = blockHeaderHash(rand() < 0.5 ? mutateValue(pick(headers)) : mutateText(JSON.stringify(pick(headers))));
    assert.ok(typeof h === "string" || h instanceof AncoraError);
  }
  // Mutations that only touch informational fields (ids, request key) may still verify.
  assert.ok(verified < 90, `${verified} mutated bundles verified`);
});

test("no single-character change to a bundle's text still verifies unless it changes nothing covered", async () => {
  const good = goodBundleV1();
  const text = JSON.stringify(good, null, 2);
  // Ids are informational; hex in the tenant id and the digest reads the same in either case.
  const informational = (v: any) => {
    delete v.batch?.batch_id;
    delete v.anchor?.anchor_id;
    if (v.event) {
      v.event.tenant_id = String(v.event.tenant_id).toLowerCase();
      v.event.digest = String(v.event.digest).toLowerCase();
    }
    return v;
  };
  const base = informational(structuredClone(good));
  const key = { logKeys: [signer().verifierKey()] };
  for (let i = 0; i < text.length; i++) {
    for (const c of ["A", "7", '"', "_"]) {
      if (text[i] === c) continue;
      const t = text.slice(0, i) + c + text.slice(i + 1);
      const r = await verifyBundle(t, key);
      if (r.verdict !== "verified") continue;
      assert.deepEqual(informational(JSON.parse(t)), base, `byte ${i} set to ${c} still verifies`);
    }
  }
});
