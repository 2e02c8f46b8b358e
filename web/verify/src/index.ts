/**
 * @ancora/verify — check Ancora proof bundles, Chainweb SPV proofs and block headers without
 * trusting Ancora, and submit events to an Ancora service. Pure code (no Web Crypto), the same
 * formats and verdicts as the Rust core, for Node ≥ 20 and browsers.
 *
 * Nothing here throws on a bundle, proof or header, whatever its content: `verifyBundle` and
 * `verifySpv` report failures as verdicts, and the other pure functions return an
 * {@link AncoraError} instead of a value when their input is unusable.
 */
import { AncoraError, asAncoraError } from "./errors.js";
import { b64urlDecode as decode, b64urlEncode } from "./encoding.js";
import { computeHeaderHash, headerFromInput } from "./chainweb.js";
import { Leaf, MerkleTree, encodeProof } from "./merkle.js";
import { payloadProofFromJson, runPayloadProof } from "./spv.js";

export { AncoraError, isAncoraError } from "./errors.js";
export type { AncoraErrorCode } from "./errors.js";
export { verifyBundle, STEPS } from "./bundle.js";
export type { StepStatus, StepVerdict, TrustPointVerdict, VerificationReport, VerifyOptions } from "./bundle.js";
export { verifySpv } from "./spv.js";
export type { SpvResult } from "./spv.js";
export { AncoraClient, signedMessage, SIGNATURE_CONTEXT } from "./client.js";
export type { ClientOptions, EventInput, Receipt, SubmitterKey } from "./client.js";
export { pactCommandHash, verifyPactSignature } from "./pact.js";
export { b64urlEncode } from "./encoding.js";
export type { Leaf } from "./merkle.js";

/** Decodes base64url (padding tolerated) as strictly as the Rust core: stray characters,
 * impossible lengths and non-zero trailing bits give an AncoraError. */
export function b64urlDecode(text: string): Uint8Array | AncoraError {
  try {
    if (typeof text !== "string") throw new AncoraError("bad_input", "base64url text must be a string");
    return decode(text);
  } catch (e) {
    return asAncoraError(e);
  }
}

/**
 * The block hash (base64url, no padding) of a block header, recomputed from its fields (a
 * `hash` field is ignored). Takes the node's JSON object encoding (an object or its JSON
 * text) or the base64url binary encoding. Returns an AncoraError for anything else.
 */
export function blockHeaderHash(header: unknown): string | AncoraError {
  try {
    return b64urlEncode(computeHeaderHash(headerFromInput(header)));
  } catch (e) {
    return asAncoraError(e);
  }
}

function checkLeaves(leaves: unknown): Leaf[] {
  if (!Array.isArray(leaves)) throw new AncoraError("bad_input", "leaves must be an array of Uint8Array (or { tree: Uint8Array } nested roots)");
  return leaves.map((l, i) => {
    if (l instanceof Uint8Array) return l;
    const t = (l as { tree?: unknown } | null)?.tree;
    if (t instanceof Uint8Array && t.length === 32) return { tree: t };
    throw new AncoraError("bad_input", `leaves[${i}] must be a Uint8Array (an input leaf) or { tree: <32 bytes> } (a nested root)`);
  });
}

/**
 * The Merkle root (32 bytes) of `leaves` in Chainweb's merkle-log format with SHA-512/256:
 * each Uint8Array is an input leaf, hashed as `H(0x00 ‖ bytes)`; `{ tree: root }` is a nested
 * tree's root, taken as is. The empty list's root is `H("")`. Returns an AncoraError for bad
 * input.
 */
export function merkleRoot(leaves: Leaf[]): Uint8Array | AncoraError {
  try {
    return MerkleTree.build("SHA512t_256", checkLeaves(leaves)).root();
  } catch (e) {
    return asAncoraError(e);
  }
}

/**
 * The inclusion proof of `leaves[index]` as Chainweb's binary proof object (`u32 BE steps ‖
 * u64 BE position ‖ (side ‖ sibling)*`, the Rust core's `MerkleProof::encode`). Returns an
 * AncoraError for bad input or an index out of range.
 */
export function inclusionProof(leaves: Leaf[], index: number): Uint8Array | AncoraError {
  try {
    return encodeProof(MerkleTree.build("SHA512t_256", checkLeaves(leaves)).proof(index));
  } catch (e) {
    return asAncoraError(e);
  }
}

/**
 * Runs a new-format `/pact/spv2` payload proof (SHA-512/256 or Keccak-256) and returns the root
 * it leads to (base64url) with its type; the root is still to be linked to a trusted header.
 */
export function payloadProofRoot(proof: unknown): { rootType: string; algorithm: string; root: string } | AncoraError {
  try {
    const p = payloadProofFromJson(proof);
    return { rootType: p.rootType, algorithm: p.algorithm, root: b64urlEncode(runPayloadProof(p)) };
  } catch (e) {
    return asAncoraError(e);
  }
}
