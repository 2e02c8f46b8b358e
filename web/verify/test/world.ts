// The prover's view, rebuilt in TypeScript exactly as the Rust core's tests build it
// (backend/proof/tests/bundle.rs): event 3 of a 5-event batch, that batch 1 of a 3-batch
// anchor, that anchor leaf 6 of a 10-leaf log signed with seed [7; 32]; and a Chainweb trust
// point in a block built on the real mainnet01 chain-0 genesis header with its payload swapped.
import { sha256 } from "@noble/hashes/sha2.js";
import { b64Encode, b64urlEncode, concat, hexEncode, utf8 } from "../src/encoding.js";
import { digest as hashDigest } from "../src/hash.js";
import { EventLeaf, encodeEventLeaf, uuidText } from "../src/event.js";
import { MerkleTree, encodeProof } from "../src/merkle.js";
import { BlockHeader, Payload, computeHeaderHash, headerFromInput, headerToJson, payloadHashes } from "../src/chainweb.js";
import { NoteSigner, loadVector } from "./helpers.js";
import { buildOutputProof, spvResponse } from "./spvtools.js";

const A = "SHA512t_256" as const;
export const ORIGIN = "log.ancora.test/v1";
export const TENANT = new Uint8Array([0x01, 0x8f, 0x3c, 0x2a, 0x7b, 0x10, 0x7c, 0x00, 0x80, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);

export function event(i: number): EventLeaf {
  return {
    tenantId: TENANT,
    eventId: `inv-2026-${String(i).padStart(4, "0")}`,
    digest: { algorithm: "sha256", bytes: sha256(utf8(`invoice ${i}`)) },
    submitter: "ak_live_ab12",
    receivedAtMicros: 1_767_225_600_000_000n + BigInt(i),
  };
}

export const signer = () => new NoteSigner(ORIGIN, new Uint8Array(32).fill(7));
export const otherSigner = () => new NoteSigner(ORIGIN, new Uint8Array(32).fill(9));

export function world() {
  const leaves = [0, 1, 2, 3, 4].map((i) => encodeEventLeaf(event(i)));
  const batch = MerkleTree.build(A, leaves);
  const other = (s: string) => ({ tree: hashDigest(A, utf8(s)) });
  const anchor = MerkleTree.build(A, [other("batch 0"), { tree: batch.root() }, other("batch 2")]);
  const logLeaves: Uint8Array[] = [];
  for (let i = 0; i < 10; i++) logLeaves.push(i === 6 ? anchor.root() : hashDigest(A, utf8("anchor"), new Uint8Array([i])));
  const log = MerkleTree.fromLeafHashes(A, logLeaves);
  return { event: event(3), leaf: leaves[3]!, batch, anchor, log };
}

function eventSection(w: ReturnType<typeof world>, v: 1 | 2) {
  const e = w.event;
  const d = `sha256:${hexEncode(e.digest.bytes)}`;
  return v === 1
    ? { tenant_id: uuidText(e.tenantId), event_id: e.eventId, digest: d, submitter: e.submitter, received_at_micros: Number(e.receivedAtMicros), leaf: b64urlEncode(w.leaf) }
    : { tenantId: uuidText(e.tenantId), eventId: e.eventId, digest: d, submitter: e.submitter, receivedAtMicros: Number(e.receivedAtMicros), leaf: b64urlEncode(w.leaf) };
}

export function tlogPoint(w: ReturnType<typeof world>, v: 1 | 2, s = signer()) {
  const checkpoint = s.signNote(`${ORIGIN}\n10\n${b64Encode(w.log.root())}\n`);
  const proof = b64urlEncode(encodeProof(w.log.proof(6)));
  return v === 1
    ? { type: "tlog", origin: ORIGIN, leaf_index: 6, log_size: 10, proof, checkpoint }
    : { type: "tlog", origin: ORIGIN, leafIndex: 6, logSize: 10, proof, checkpoint };
}

/** The Chainweb side: an anchoring output holding the anchor root, in a block on the real
 * mainnet01 chain-0 genesis header (payload swapped), and that header. */
export function chainwebBlock(w: ReturnType<typeof world>) {
  const base = headerFromInput(loadVector("mainnet01-genesis-headers.json").headers[0]);
  const output = JSON.stringify({
    continuation: null, events: [], gas: 400, logs: null, metaData: null,
    reqKey: b64urlEncode(new Uint8Array(32).fill(3)),
    result: { data: b64urlEncode(w.anchor.root()), status: "success" }, txId: 7,
  });
  const payload: Payload = {
    minerData: utf8('{"account":"miner","predicate":"keys-all","public-keys":[]}'),
    coinbase: utf8('{"result":{"status":"success","data":"Write succeeded"}}'),
    transactions: [
      [utf8('{"cmd":"other"}'), utf8('{"result":{"status":"success","data":1}}')],
      [utf8('{"cmd":"anchor"}'), utf8(output)],
    ],
  };
  const header: BlockHeader = { ...base, payloadHash: payloadHashes(payload).payloadHash };
  delete header.hash;
  header.hash = computeHeaderHash(header);
  return { header, payload, headerJson: headerToJson(header), spv: spvResponse(buildOutputProof(payload, 1, header)) };
}

export function chainwebPoint(w: ReturnType<typeof world>, v: 1 | 2) {
  const b = chainwebBlock(w);
  const hash = b64urlEncode(b.header.hash!);
  const rk = b64urlEncode(new Uint8Array(32).fill(3));
  const point =
    v === 1
      ? { type: "chainweb", network: "mainnet01", chain_id: 0, block_height: 0, block_hash: hash, spv_proof: b.spv, header: b.headerJson, anchor_root_location: "result.data", request_key: rk }
      : { type: "chainweb", network: "mainnet01", chainId: 0, blockHeight: 0, blockHash: hash, spvProof: b.spv, header: b.headerJson, anchorRootLocation: "result.data", requestKey: rk };
  return { point, header: b.headerJson };
}

function steps(w: ReturnType<typeof world>, v: 1 | 2, batchId?: string, anchorId = "0190a1b2-0000-7000-8000-0000000000a7") {
  const batch: Record<string, unknown> = { algorithm: A };
  if (batchId !== undefined) batch[v === 1 ? "batch_id" : "batchId"] = batchId;
  batch[v === 1 ? "leaf_index" : "leafIndex"] = 3;
  batch.proof = b64urlEncode(encodeProof(w.batch.proof(3)));
  batch.root = b64urlEncode(w.batch.root());
  const anchor: Record<string, unknown> = { algorithm: A };
  anchor[v === 1 ? "anchor_id" : "anchorId"] = anchorId;
  anchor[v === 1 ? "leaf_index" : "leafIndex"] = 1;
  anchor.proof = b64urlEncode(encodeProof(w.anchor.proof(1)));
  anchor.root = b64urlEncode(w.anchor.root());
  return { batch, anchor };
}

/** The Rust test's good_bundle(), as JSON. */
export function goodBundleV1(): any {
  const w = world();
  return { version: 1, event: eventSection(w, 1), ...steps(w, 1, "0190a1b2-0000-7000-8000-000000000042"), trust_point: tlogPoint(w, 1) };
}

/** The Rust test's chainweb_bundle(), as JSON, with its header. */
export function chainwebBundleV1(): { bundle: any; header: any } {
  const w = world();
  const { point, header } = chainwebPoint(w, 1);
  return { bundle: { version: 1, event: eventSection(w, 1), ...steps(w, 1, undefined, "anchor-cw"), trust_point: point }, header };
}

/** A version-2 bundle with the trust points named ("tlog", "chainweb", or both). */
export function bundleV2(kinds: ("tlog" | "chainweb")[] = ["tlog", "chainweb"]): { bundle: any; header: any } {
  const w = world();
  const cw = chainwebPoint(w, 2);
  const trustPoints = kinds.map((k) => (k === "tlog" ? tlogPoint(w, 2) : cw.point));
  return {
    bundle: { version: 2, event: eventSection(w, 2), ...steps(w, 2, "0190a1b2-0000-7000-8000-000000000042"), trustPoints },
    header: cw.header,
  };
}

export { concat };
