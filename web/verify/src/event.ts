/**
 * Ancora's event leaf, version 1: the canonical bytes that stand for one event in a batch tree
 * (`ancora_proof::event`). Big-endian integers, UTF-8 strings with a u16 length:
 *
 * `0xA7E1 ‖ 0x01 ‖ tenant (16) ‖ u16 len ‖ event id ‖ digest alg (1 = SHA-256, 2 = SHA-512/256)
 *  ‖ digest (32) ‖ u16 len ‖ submitter ‖ i64 received µs`
 */
import { fail } from "./errors.js";
import { be, concat, hexDecode, hexEncode, utf8 } from "./encoding.js";

export const MAX_ID_LEN = 256;

/** A content digest, `sha256:<hex>` or `sha512_256:<hex>`. */
export interface ContentDigest {
  algorithm: "sha256" | "sha512_256";
  bytes: Uint8Array;
}

/** Parses `"sha256:<64 hex>"` or `"sha512_256:<64 hex>"` (hex in either case). */
export function parseDigest(s: string): ContentDigest {
  const i = s.indexOf(":");
  if (i < 0) fail('digest must look like "sha256:<64 hex characters>"');
  const alg = s.slice(0, i);
  if (alg !== "sha256" && alg !== "sha512_256") fail(`unknown digest algorithm ${JSON.stringify(alg)} (use sha256 or sha512_256)`);
  const bytes = hexDecode(s.slice(i + 1), "digest hex");
  if (bytes.length !== 32) fail(`digest: expected 32 bytes, got ${bytes.length}`);
  return { algorithm: alg, bytes };
}

/** The canonical text, lowercase hex. */
export function digestText(d: ContentDigest): string {
  return `${d.algorithm}:${hexEncode(d.bytes)}`;
}

/** One event as bound into a batch tree. */
export interface EventLeaf {
  tenantId: Uint8Array;
  eventId: string;
  digest: ContentDigest;
  submitter: string;
  receivedAtMicros: bigint;
}

/** The version-1 encoding; fails when the event id is empty or longer than 256 bytes, or the
 * submitter is longer than that. */
export function encodeEventLeaf(e: EventLeaf): Uint8Array {
  const id = utf8(e.eventId);
  const sub = utf8(e.submitter);
  if (id.length === 0 || id.length > MAX_ID_LEN) fail(`event id must be 1 to ${MAX_ID_LEN} bytes, got ${id.length}`);
  if (sub.length > MAX_ID_LEN) fail(`submitter must be at most ${MAX_ID_LEN} bytes`);
  return concat(
    new Uint8Array([0xa7, 0xe1, 0x01]),
    e.tenantId,
    be(id.length, 2),
    id,
    new Uint8Array([e.digest.algorithm === "sha256" ? 1 : 2]),
    e.digest.bytes,
    be(sub.length, 2),
    sub,
    be(e.receivedAtMicros, 8),
  );
}

/** Parses a tenant UUID: hyphens are dropped, then 32 hex digits (as the Rust core reads it). */
export function parseUuid(s: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = hexDecode(s.replaceAll("-", ""));
  } catch {
    return fail("tenant id must be a UUID");
  }
  if (raw.length !== 16) fail("tenant id must be a UUID (16 bytes)");
  return raw;
}

/** Hyphenated lowercase UUID text. */
export function uuidText(b: Uint8Array): string {
  const h = hexEncode(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
