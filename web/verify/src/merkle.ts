/**
 * Merkle trees, inclusion proofs and the binary proof object, exactly as Chainweb's
 * `merkle-log` (0.2.0) defines them and the Rust core (`ancora_proof::merkle`) implements them.
 *
 * * An input leaf hashes as `H(0x00 ‖ bytes)`; an inner node as `H(0x01 ‖ left ‖ right)`.
 * * A tree leaf is the root of a nested tree and enters as is.
 * * The empty tree's root is `H("")`.
 * * The shape is RFC 6962's (an odd last node is carried up unchanged).
 *
 * The proof object is `u32 BE step count ‖ u64 BE subject position ‖ (side u8 ‖ 32-byte
 * sibling)*`, steps leaf to root; side 0x00 = sibling on the left, 0x01 = on the right.
 */
import { fail } from "./errors.js";
import { readBE, be } from "./encoding.js";
import { HashAlgorithm, HASH_LEN, emptyRoot, leafHash, nodeHash } from "./hash.js";

/** One proof step. */
export interface ProofStep {
  /** "left": `cur = H(0x01 ‖ sibling ‖ cur)`; "right": `cur = H(0x01 ‖ cur ‖ sibling)`. */
  side: "left" | "right";
  sibling: Uint8Array;
}

/** An inclusion proof: steps from a subject to a root, possibly across nested trees. */
export interface MerkleProof {
  /** The subject's leaf index in the first tree (informational: running never reads it). */
  position: bigint;
  steps: ProofStep[];
}

/** A leaf: bytes hashed as an input leaf, or `{ tree }`, a nested root taken as is. */
export type Leaf = Uint8Array | { tree: Uint8Array };

export const PROOF_HEADER_LEN = 12;
export const STEP_LEN = 1 + HASH_LEN;

/** A leaf's node hash. */
export function leafNodeHash(alg: HashAlgorithm, leaf: Leaf): Uint8Array {
  return leaf instanceof Uint8Array ? leafHash(alg, leaf) : leaf.tree;
}

/** Decodes a binary proof object; rejects short input, a length other than
 * `12 + steps × 33` and side bytes other than 0 or 1. */
export function decodeProof(bytes: Uint8Array): MerkleProof {
  if (bytes.length < PROOF_HEADER_LEN) {
    fail(`proof object: expected ${PROOF_HEADER_LEN} bytes, got ${bytes.length}`, "bad_encoding");
  }
  const count = Number(readBE(bytes, 0, 4));
  const position = readBE(bytes, 4, 8);
  const expected = PROOF_HEADER_LEN + count * STEP_LEN;
  if (bytes.length !== expected) {
    fail(`proof object: expected ${expected} bytes, got ${bytes.length}`, "bad_encoding");
  }
  const steps: ProofStep[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = PROOF_HEADER_LEN + i * STEP_LEN;
    const side = bytes[at]!;
    if (side > 1) fail(`bad side byte 0x${side.toString(16).padStart(2, "0")} in proof step (must be 0x00 or 0x01)`, "bad_encoding");
    steps[i] = { side: side === 0 ? "left" : "right", sibling: bytes.subarray(at + 1, at + STEP_LEN) };
  }
  return { position, steps };
}

/** The binary proof object. */
export function encodeProof(p: MerkleProof): Uint8Array {
  const out = new Uint8Array(PROOF_HEADER_LEN + p.steps.length * STEP_LEN);
  out.set(be(p.steps.length, 4), 0);
  out.set(be(p.position, 8), 4);
  p.steps.forEach((s, i) => {
    const at = PROOF_HEADER_LEN + i * STEP_LEN;
    out[at] = s.side === "left" ? 0 : 1;
    out.set(s.sibling, at + 1);
  });
  return out;
}

/** Runs a proof from a leaf's node hash; returns the root it leads to (still to be trusted). */
export function rootFromHash(alg: HashAlgorithm, p: MerkleProof, leaf: Uint8Array): Uint8Array {
  let cur = leaf;
  for (const s of p.steps) cur = s.side === "left" ? nodeHash(alg, s.sibling, cur) : nodeHash(alg, cur, s.sibling);
  return cur;
}

/** Runs a proof for a subject leaf. */
export function runProof(alg: HashAlgorithm, p: MerkleProof, subject: Leaf): Uint8Array {
  return rootFromHash(alg, p, leafNodeHash(alg, subject));
}

/** A tree kept level by level (`levels[0]` the leaf hashes, the last level the root). */
export class MerkleTree {
  private constructor(readonly alg: HashAlgorithm, private readonly levels: Uint8Array[][]) {}

  /** Builds a tree over leaf node hashes. */
  static fromLeafHashes(alg: HashAlgorithm, leafHashes: Uint8Array[]): MerkleTree {
    const levels = [leafHashes];
    let prev = leafHashes;
    while (prev.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i < prev.length; i += 2) {
        next.push(i + 1 < prev.length ? nodeHash(alg, prev[i]!, prev[i + 1]!) : prev[i]!);
      }
      levels.push(next);
      prev = next;
    }
    return new MerkleTree(alg, levels);
  }

  /** Builds a tree over leaves. */
  static build(alg: HashAlgorithm, leaves: Leaf[]): MerkleTree {
    return MerkleTree.fromLeafHashes(alg, leaves.map((l) => leafNodeHash(alg, l)));
  }

  get size(): number {
    return this.levels[0]!.length;
  }

  /** The root; `H("")` for the empty tree. */
  root(): Uint8Array {
    const top = this.levels[this.levels.length - 1]!;
    return top.length === 1 ? top[0]! : emptyRoot(this.alg);
  }

  /** The inclusion proof of leaf `index`. */
  proof(index: number): MerkleProof {
    const n = this.size;
    if (!Number.isSafeInteger(index) || index < 0 || index >= n) {
      fail(`leaf index ${index} out of range for a tree of ${n} leaves`, "index_out_of_range");
    }
    const steps: ProofStep[] = [];
    let i = index;
    for (let l = 0; l < this.levels.length - 1; l++) {
      const level = this.levels[l]!;
      const sib = i ^ 1;
      if (sib < level.length) steps.push({ side: sib < i ? "left" : "right", sibling: level[sib]! });
      i >>= 1;
    }
    return { position: BigInt(index), steps };
  }
}

/** Chains an inner proof with the proof of its root in the next tree (`merkleProof_`). */
export function chainProofs(inner: MerkleProof, ...outer: MerkleProof[]): MerkleProof {
  return { position: inner.position, steps: inner.steps.concat(...outer.map((o) => o.steps)) };
}

/** The root of leaf hashes with `O(log n)` memory (merkle-log's stack algorithm). */
export function rootOf(alg: HashAlgorithm, leafHashes: Iterable<Uint8Array>): Uint8Array {
  const stack: { h: number; v: Uint8Array }[] = [];
  for (const leaf of leafHashes) {
    let cur = { h: 0, v: leaf };
    while (stack.length > 0 && stack[stack.length - 1]!.h === cur.h) {
      const top = stack.pop()!;
      cur = { h: cur.h + 1, v: nodeHash(alg, top.v, cur.v) };
    }
    stack.push(cur);
  }
  let acc: Uint8Array | undefined;
  while (stack.length > 0) {
    const { v } = stack.pop()!;
    acc = acc === undefined ? v : nodeHash(alg, v, acc);
  }
  return acc ?? emptyRoot(alg);
}
