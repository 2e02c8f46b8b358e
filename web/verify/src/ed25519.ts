/**
 * Ed25519 verification with exactly the acceptance rules of ed25519-dalek's `verify_strict`,
 * which the Rust core uses: `S` must be canonical (`S < L`), neither `R` nor the public key may
 * be of small order, and the check is the cofactorless `R == [S]B − [k]A` compared as encoded
 * bytes (so a non-canonical `R` fails). Points decode as curve25519-dalek decodes them.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concat } from "./encoding.js";

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

/** A public key decoded once, for verifying many signatures with it. After a few uses it
 * gets a wNAF table (about 60 ms once), which makes each later verification ~3× cheaper. */
export class PublicKey {
  private uses = 0;
  private constructor(readonly bytes: Uint8Array, readonly point: P) {}

  /** `undefined` when the bytes are not a curve point. */
  static decode(bytes: Uint8Array): PublicKey | undefined {
    const p = decodePoint(bytes);
    return p ? new PublicKey(bytes, p) : undefined;
  }

  /** The point, with a precomputed table once the key has been used enough to pay for it. */
  forUse(): P {
    if (++this.uses === 4) this.point.precompute(6, true);
    return this.point;
  }
}

/** `verify_strict(public, message, signature)`. Never throws. */
export function verifyStrict(publicKey: Uint8Array | PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const key = publicKey instanceof PublicKey ? publicKey : PublicKey.decode(publicKey);
  const rBytes = signature.subarray(0, 32);
  const R = decodePoint(rBytes);
  if (!key || !R) return false;
  const s = le2n(signature.subarray(32));
  if (s >= L) return false;
  const A = key.point;
  if (R.isSmallOrder() || A.isSmallOrder()) return false;
  // dalek compares encodings: a non-canonical R can never equal the canonical encoding of
  // the recomputed point. For a canonical R, comparing the points is the same and cheaper.
  if (!isCanonical(rBytes)) return false;
  const k = le2n(sha512(concat(rBytes, key.bytes, message))) % L;
  const expected = Point.BASE.multiplyUnsafe(s).subtract(key.forUse().multiplyUnsafe(k));
  return expected.equals(R);
}

const P_FIELD = Point.CURVE().p;

/** True when 32 bytes are the canonical encoding of the point they decode to: y < p, and not
 * x = 0 with the sign bit set. Call only on bytes that decode. */
function isCanonical(b: Uint8Array): boolean {
  const y = le2n(b) & ((1n << 255n) - 1n);
  if (y >= P_FIELD) return false;
  if ((b[31]! & 0x80) !== 0) {
    // x = 0 exactly when y = ±1.
    if (y === 1n || y === P_FIELD - 1n) return false;
  }
  return true;
}

/** Signs with a 32-byte seed (RFC 8032, deterministic, as ed25519-dalek signs). */
export function sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, seed);
}

/** The public key of a 32-byte seed. */
export function publicKeyOf(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}
