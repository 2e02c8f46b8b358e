// Every real Chainweb/Pact vector in shared/vectors, reproduced byte for byte, and the real
// SPV positive built from the mainnet01 chain-1 genesis block with its tampered twins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { b64urlDecode, b64urlEncode, hexDecode, hexEncode, utf8 } from "../src/encoding.js";
import {
  computeHeaderHash, decodeHeader, encodeHeader, genesisParentHash, headerFromInput, headerToJson, payloadFromJson, payloadHashes, versionCode,
} from "../src/chainweb.js";
import { nodeHash } from "../src/hash.js";
import { decodeSpvResponse, runSpvProof, commandResult } from "../src/spv.js";
import { encodeProof } from "../src/merkle.js";
import { AncoraError, blockHeaderHash, payloadProofRoot, pactCommandHash, verifyPactSignature, verifySpv } from "../src/index.js";
import { sign } from "../src/ed25519.js";
import { loadVector, vectorFiles } from "./helpers.js";
import { buildOutputProof, proofJson, spvResponse } from "./spvtools.js";

test("every shared vector file has a test here", () => {
  const covered = [
    "binary-header-golden.json", "genesis-payload-hashes.json", "genesis-payload-mainnet01-chain1.json", "keccak-event-proof.json",
    "mainnet01-genesis-headers.json", "pact-command-hash-sig.json", "spv-txout-proof-crosschain.json",
  ];
  assert.deepEqual(vectorFiles().filter((f) => !covered.includes(f)), [], "a new vector file needs a test");
});

test("the binary golden header decodes, re-encodes byte for byte and hashes to its block hash", () => {
  const v = loadVector("binary-header-golden.json");
  const bytes = b64urlDecode(v.headerBase64Url);
  assert.equal(bytes.length, 318);
  const h = decodeHeader(bytes);
  assert.equal(b64urlEncode(computeHeaderHash(h)), v.expectedHash);
  assert.equal(b64urlEncode(h.hash!), v.expectedHash);
  assert.deepEqual(encodeHeader(h), bytes);
  // The vector names the fork state `forkState`; the node's JSON calls it `featureFlags`.
  const { forkState, ...rest } = v.decoded;
  assert.deepEqual(headerToJson(h), { ...rest, featureFlags: forkState });
  assert.equal(blockHeaderHash({ ...rest, featureFlags: forkState }), v.expectedHash);
  assert.equal(blockHeaderHash(v.headerBase64Url), v.expectedHash);
  assert.equal(blockHeaderHash(JSON.stringify(v.headerBase64Url)), v.expectedHash);
  assert.equal(versionCode(v.decoded.chainwebVersion), 0x8000000e);
});

test("the ten mainnet01 genesis headers hash to their block hashes from their fields", () => {
  const v = loadVector("mainnet01-genesis-headers.json");
  assert.equal(v.headers.length, 10);
  for (const h of v.headers) {
    assert.equal(blockHeaderHash(h), h.hash, `chain ${h.chainId}`);
    // The claimed hash is ignored: remove it, or lie, and the computed hash is the same.
    assert.equal(blockHeaderHash({ ...h, hash: undefined }), h.hash);
    assert.equal(blockHeaderHash({ ...h, hash: v.headers[0].hash }), h.hash);
    assert.equal(blockHeaderHash(JSON.stringify(h)), h.hash);
    const decoded = headerFromInput(h);
    assert.equal(b64urlEncode(genesisParentHash(5, h.chainId)), h.parent, `genesis parent of chain ${h.chainId}`);
    assert.equal(blockHeaderHash(b64urlEncode(encodeHeader(decoded))), h.hash);
    assert.deepEqual(headerToJson(decoded), h);
    // Any one field changed changes the hash.
    assert.notEqual(blockHeaderHash({ ...h, nonce: "1" }), h.hash);
    assert.notEqual(blockHeaderHash({ ...h, height: 1 }), h.hash);
  }
});

test("the twenty genesis payload hashes are the node hash of their transactions and outputs roots", () => {
  const v = loadVector("genesis-payload-hashes.json");
  assert.equal(v.payloads.length, 20);
  for (const p of v.payloads) {
    const ph = nodeHash("SHA512t_256", b64urlDecode(p.recomputedTransactionsHash), b64urlDecode(p.recomputedOutputsHash));
    assert.equal(b64urlEncode(ph), p.expectedPayloadHash, p.file);
  }
});

test("the mainnet01 chain-1 genesis payload hashes to its payload hash through all three trees", () => {
  const v = loadVector("genesis-payload-mainnet01-chain1.json");
  const h = payloadHashes(payloadFromJson(v));
  assert.equal(b64urlEncode(h.transactionsHash), v.recomputed.transactionsHash);
  assert.equal(b64urlEncode(h.outputsHash), v.recomputed.outputsHash);
  assert.equal(b64urlEncode(h.payloadHash), v.expected.payloadHash);
  const headers = loadVector("mainnet01-genesis-headers.json").headers;
  assert.equal(headers[1].payloadHash, v.expected.payloadHash);
});

test("the Keccak-256 event proof runs to its expected root", () => {
  const v = loadVector("keccak-event-proof.json");
  const r = payloadProofRoot(v.proof);
  assert.ok(!(r instanceof AncoraError), String(r));
  assert.deepEqual(r, { rootType: "blockEvents", algorithm: "Keccak_256", root: v.expected.root });
  assert.deepEqual(payloadProofRoot(JSON.stringify(v.proof)), r);
  // With SHA-512/256 the same proof leads elsewhere.
  const other = payloadProofRoot({ ...v.proof, algorithm: "SHA512t_256" }) as { root: string };
  assert.notEqual(other.root, v.expected.root);
});

test("Pact command hashes and signatures match the vector, and a tampered command does not", () => {
  const v = loadVector("pact-command-hash-sig.json");
  assert.equal(v.vectors.length, 2);
  for (const x of v.vectors) {
    assert.equal(pactCommandHash(x.cmd), x.hash);
    assert.notEqual(pactCommandHash(x.cmd + " "), x.hash);
    if (x.sig === undefined) continue;
    assert.ok(verifyPactSignature(x.hash, x.sig, v.keyPair.publicKey));
    // Deterministic Ed25519: signing the hash bytes again gives the same signature.
    assert.equal(hexEncode(sign(hexDecode(v.keyPair.secretKey), b64urlDecode(x.hash))), x.sig);
    const flipped = (x.sig[0] === "0" ? "1" : "0") + x.sig.slice(1);
    assert.ok(!verifyPactSignature(x.hash, flipped, v.keyPair.publicKey));
    assert.ok(!verifyPactSignature(pactCommandHash(x.cmd + " "), x.sig, v.keyPair.publicKey));
  }
});

test("the real cross-chain /pact/spv response decodes step by step and runs to its root", () => {
  const v = loadVector("spv-txout-proof-crosschain.json");
  for (const text of [v.responseBody, JSON.stringify(v.responseBody), ` ${v.responseBody}\n`, JSON.stringify(v.decodedProof)]) {
    const p = decodeSpvResponse(text);
    assert.equal(p.chain, v.decoded.chain);
    assert.equal(p.object.steps.length, v.decoded.stepCount);
    assert.equal(p.object.position, BigInt(v.decoded.subjectPosition));
    assert.equal(encodeProof(p.object).length, v.decoded.objectLength);
    v.decoded.steps.forEach((s: any, i: number) => {
      assert.equal(p.object.steps[i]!.side, s.side === 0 ? "left" : "right", `step ${i}`);
      assert.equal(b64urlEncode(p.object.steps[i]!.sibling), s.sibling, `step ${i}`);
    });
    assert.ok("input" in p.subject);
    assert.equal(hexEncode(p.subject.input.subarray(0, 2)), v.decoded.subjectTagHex);
    assert.deepEqual(JSON.parse(commandResult(p).text), v.decoded.subjectJson);
    assert.equal(b64urlEncode(runSpvProof(p)), v.recomputed.root);
  }
  assert.equal(b64urlEncode(encodeProof(decodeSpvResponse(v.responseBody).object)), v.decodedProof.object);
});

// ---- The real SPV positive: a chain-1 genesis transaction output up to the chain-1 header ----

function genesis() {
  const payload = payloadFromJson(loadVector("genesis-payload-mainnet01-chain1.json"));
  const headerJson = loadVector("mainnet01-genesis-headers.json").headers[1];
  return { payload, headerJson, header: headerFromInput(headerJson) };
}

test("every chain-1 genesis transaction output is proven up to the real chain-1 genesis block hash", () => {
  const { payload, headerJson, header } = genesis();
  assert.equal(payload.transactions.length, 6);
  for (let i = 0; i < payload.transactions.length; i++) {
    const p = buildOutputProof(payload, i, header);
    const r = verifySpv(spvResponse(p), headerJson);
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.blockHash, headerJson.hash);
    assert.equal(r.chain, 1);
    assert.equal(r.height, 0);
    assert.equal(r.subjectText, new TextDecoder().decode(payload.transactions[i]![1]));
    assert.equal(typeof (r.subject as any).reqKey, "string");
    // The same through the other header forms: JSON text, binary base64url.
    assert.ok(verifySpv(spvResponse(p), JSON.stringify(headerJson)).ok);
    assert.ok(verifySpv(JSON.stringify(spvResponse(p)), b64urlEncode(encodeHeader(header))).ok);
  }
});

test("tampered twins of the genesis SPV proof all fail, each with a reason", () => {
  const { payload, headerJson, header } = genesis();
  const good = buildOutputProof(payload, 2, header);
  const b64 = (s: string) => b64urlEncode(utf8(s));
  const flipSibling = (k: number) => {
    const object = { ...good.object, steps: good.object.steps.map((s, i) => (i === k ? { ...s, sibling: s.sibling.map((x, j) => (j === 0 ? x ^ 1 : x)) } : s)) };
    return spvResponse({ ...good, object });
  };
  const flipSide = (k: number) => {
    const object = { ...good.object, steps: good.object.steps.map((s, i) => (i === k ? { ...s, side: s.side === "left" ? "right" : "left" } : s)) } as typeof good.object;
    return spvResponse({ ...good, object });
  };
  const subject = good.subject.slice();
  subject[subject.length - 2] ^= 1;
  const otherTx = buildOutputProof(payload, 3, header);
  const json = JSON.parse(proofJson(good));
  const cases: [string, string, unknown][] = [
    ["a sibling in the outputs tree", flipSibling(0), headerJson],
    ["the transactions hash", flipSibling(good.object.steps.length - 4), headerJson],
    ["a sibling in the header", flipSibling(good.object.steps.length - 1), headerJson],
    ["a side bit", flipSide(0), headerJson],
    ["the transaction output", spvResponse({ ...good, subject }), headerJson],
    ["another transaction's subject with this one's path", spvResponse({ ...good, subject: otherTx.subject }), headerJson],
    ["the target chain", spvResponse({ ...good, chain: 0 }), headerJson],
    ["the header's nonce (its claimed hash no longer matches)", spvResponse(good), { ...headerJson, nonce: "1" }],
    ["the header's nonce and its claimed hash", spvResponse(good), { ...headerJson, nonce: "1", hash: undefined }],
    ["a header of another chain", spvResponse(good), loadVector("mainnet01-genesis-headers.json").headers[0]],
    ["the algorithm", b64(JSON.stringify({ ...json, algorithm: "Keccak_256" })), headerJson],
    ["a truncated proof object", b64(JSON.stringify({ ...json, object: json.object.slice(0, -4) })), headerJson],
    ["a tree subject", b64(JSON.stringify({ ...json, subject: { tree: headerJson.payloadHash } })), headerJson],
    ["not base64url", "%%%", headerJson],
    ["not JSON inside", b64("{chain: 1}"), headerJson],
    ["a bad side byte", b64(JSON.stringify({ ...json, object: b64urlEncode(Object.assign(encodeProof(good.object), { [12]: 2 })) })), headerJson],
  ];
  for (const [what, proof, hdr] of cases) {
    const r = verifySpv(proof, hdr);
    assert.equal(r.ok, false, `tampered ${what} still verifies`);
    if (!r.ok) {
      assert.ok(r.error instanceof AncoraError, what);
      assert.ok(r.error.message.length > 0, what);
    }
  }
  // The untampered twin passes, so each failure above is the tamper's doing.
  assert.ok(verifySpv(spvResponse(good), headerJson).ok);
  // A chain given as a decimal string is tolerated, as by the Rust core.
  assert.ok(verifySpv(b64(proofJson(good, "1")), headerJson).ok);
});
