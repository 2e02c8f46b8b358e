/**
 * The two Merkle hash algorithms Chainweb knows: SHA-512/256 (FIPS 180-4, its own IV — not
 * SHA-512 cut to 32 bytes) and Keccak-256 (original 0x01 padding, not SHA3-256), and the
 * domain-separated leaf and node hashes of Chainweb's merkle-log.
 */
import { sha512_256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { fail } from "./errors.js";
import { b64urlDecode } from "./encoding.js";

/** A Merkle hash algorithm, by its Chainweb name. */
export type HashAlgorithm = "SHA512t_256" | "Keccak_256";

/** Length of every hash. */
export const HASH_LEN = 32;

/** Parses a Chainweb algorithm name. */
export function algorithmFromName(name: string): HashAlgorithm {
  if (name === "SHA512t_256" || name === "Keccak_256") return name;
  return fail(`unknown hash algorithm ${JSON.stringify(name)}`);
}

function hasher(alg: HashAlgorithm) {
  return alg === "SHA512t_256" ? sha512_256 : keccak_256;
}

/** The digest of the concatenation of `parts`. */
export function digest(alg: HashAlgorithm, ...parts: Uint8Array[]): Uint8Array {
  const h = hasher(alg).create();
  for (const p of parts) h.update(p);
  return h.digest();
}

const LEAF = new Uint8Array([0]);

/** `H(0x00 ‖ bytes)`: an input leaf's node hash. */
export function leafHash(alg: HashAlgorithm, bytes: Uint8Array): Uint8Array {
  return digest(alg, LEAF, bytes);
}

const nodeBuf = new Uint8Array(65);

/** `H(0x01 ‖ left ‖ right)`: an inner node. */
export function nodeHash(alg: HashAlgorithm, left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeBuf[0] = 1;
  nodeBuf.set(left, 1);
  nodeBuf.set(right, 33);
  return hasher(alg)(nodeBuf);
}

/** The empty tree's root, `H("")`. */
export function emptyRoot(alg: HashAlgorithm): Uint8Array {
  return hasher(alg)(new Uint8Array(0));
}

/** Checks a 32-byte hash. */
export function checkHash(bytes: Uint8Array, what = "hash"): Uint8Array {
  if (bytes.length !== HASH_LEN) fail(`${what}: expected ${HASH_LEN} bytes, got ${bytes.length}`, "bad_encoding");
  return bytes;
}

/** Parses a base64url hash (32 bytes). */
export function hashFromB64url(s: string, what = "hash"): Uint8Array {
  return checkHash(b64urlDecode(s, what), what);
}
