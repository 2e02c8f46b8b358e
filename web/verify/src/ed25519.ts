/**
 * Ed25519 verification with exactly the acceptance rules of ed25519-dalek's `verify_strict`,
 * which the Rust core uses: `S` must be canonical (`S < L`), neither `R` nor the public key may
 * be of small order, and the check is the cofactorless `R == [S]B − [k]A` compared as encoded
 * bytes (so a non-canonical `R` fails). Points decode as curve25519-dalek decodes them.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { bytesEqual, concat } from "./encoding.js";

const Point = ed25519.Point;
const L = Point.CURVE().n;

function le2n(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

type P = ReturnType<typeof Point.fromBytes>;

/** Decodes a public key; `undefined` when the bytes are not a curve point. */
export function decodePoint(bytes: Uint8Array): P | undefined {
  if (bytes.length !== 32) return undefined;
  try {
    return Point.fromBytes(bytes, true);
  } catch {
    return undefined;
  }
}

/** `verify_strict(public, message, signature)`. Never throws. */
export function verifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const A = decodePoint(publicKey);
  const rBytes = signature.subarray(0, 32);
  const R = decodePoint(rBytes);
  if (!A || !R) return false;
  const s = le2n(signature.subarray(32));
  if (s >= L) return false;
  if (R.isSmallOrder() || A.isSmallOrder()) return false;
  const k = le2n(sha512(concat(rBytes, publicKey, message))) % L;
  const expected = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k));
  return bytesEqual(expected.toBytes(), rBytes);
}

/** Signs with a 32-byte seed (RFC 8032, deterministic, as ed25519-dalek signs). */
export function sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, seed);
}

/** The public key of a 32-byte seed. */
export function publicKeyOf(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}
