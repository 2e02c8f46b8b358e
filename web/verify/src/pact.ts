/**
 * Pact command hashing and signatures, for checking what a Chainweb anchoring transaction
 * signed: the command hash is `base64url(BLAKE2b-256(UTF-8 bytes of the exact cmd string))`
 * (it is also the request key) and each signer signs the 32 raw hash bytes with Ed25519.
 */
import { blake2b } from "@noble/hashes/blake2.js";
import { b64urlDecode, b64urlEncode, hexDecode, utf8 } from "./encoding.js";
import { verifyStrict } from "./ed25519.js";

/** The hash (and request key) of a Pact command's `cmd` string, base64url. */
export function pactCommandHash(cmd: string): string {
  return b64urlEncode(blake2b(utf8(cmd), { dkLen: 32 }));
}

/** True when `sigHex` is a valid Ed25519 signature by `publicKeyHex` over the command hash
 * `hash` (base64url). Never throws. */
export function verifyPactSignature(hash: string, sigHex: string, publicKeyHex: string): boolean {
  try {
    return verifyStrict(hexDecode(publicKeyHex), b64urlDecode(hash), hexDecode(sigHex));
  } catch {
    return false;
  }
}
