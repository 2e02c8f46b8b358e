/**
 * Ancora's transparency log as a verifier sees it: C2SP signed notes with Ed25519 keys, the
 * verifier key text, tlog-checkpoint bodies and RFC 6962 inclusion proofs whose shape is
 * checked — as `ancora_proof::tlog` does.
 *
 * A note is text ending in a newline, a blank line, then one line per signature:
 * `— <key name> <base64(key hash ‖ signature)>` (an em dash). The key hash is the first 4 bytes
 * of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`. A verifier key is
 * `<name>+<key hash, 8 hex>+<base64(0x01 ‖ public key)>`.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { fail } from "./errors.js";
import { b64Decode, b64urlEncode, bytesEqual, concat, isRustWhitespace, rustTrim, utf8, utf8Length } from "./encoding.js";
import { checkHash } from "./hash.js";
import { MerkleProof, rootFromHash } from "./merkle.js";
import { PublicKey, verifyStrict } from "./ed25519.js";

export const TLOG_ALG = "SHA512t_256";
export const MAX_NOTE_LEN = 1 << 20;
export const MAX_SIGNATURES = 100;
const SIG_PREFIX = "\u2014 ";
const MAX_LOG_SIZE = 1n << 62n;

/** A key that checks note signatures. */
export interface NoteVerifier {
  name: string;
  hash: number;
  publicKey: PublicKey;
}

function malformed(msg: string): never {
  return fail(`malformed signed note: ${msg}`);
}

function checkName(name: string): void {
  let bad = name.length === 0;
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c === 43 || isRustWhitespace(c)) bad = true;
  }
  if (bad) malformed(`key name ${JSON.stringify(name)} must be non-empty, without spaces or '+'`);
}

/** The 4-byte key hash of an Ed25519 key. */
export function keyHash(name: string, publicKey: Uint8Array): number {
  const d = sha256(concat(utf8(name), new Uint8Array([10, 1]), publicKey));
  return ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
}

function hash8(h: number): string {
  return h.toString(16).padStart(8, "0");
}

/** The label `name+hash`. */
export function label(v: NoteVerifier): string {
  return `${v.name}+${hash8(v.hash)}`;
}

function parseHashHex(s: string): number {
  if (!/^[0-9a-fA-F]{8}$/.test(s)) malformed("key hash must be 8 hex characters");
  return parseInt(s, 16);
}

/** Keys parsed recently, by text: a verifier checks many bundles against one log key. */
const parsed = new Map<string, NoteVerifier>();

/** Parses a verifier key text (surrounding white space tolerated); remembers the last few. */
export function parseVerifierKey(text: string): NoteVerifier {
  const hit = parsed.get(text);
  if (hit) return hit;
  const v = parseVerifierKeyUncached(text);
  if (parsed.size >= 16) parsed.delete(parsed.keys().next().value!);
  parsed.set(text, v);
  return v;
}

function parseVerifierKeyUncached(text: string): NoteVerifier {
  const t = rustTrim(text);
  const a = t.indexOf("+");
  const b = a < 0 ? -1 : t.indexOf("+", a + 1);
  if (a < 0 || b < 0) malformed("verifier key must look like <name>+<8 hex>+<base64 key>");
  const name = t.slice(0, a);
  checkName(name);
  const hash = parseHashHex(t.slice(a + 1, b));
  let raw: Uint8Array;
  try {
    raw = b64Decode(t.slice(b + 1), "verifier key");
  } catch (e) {
    return malformed(`verifier key: ${(e as Error).message}`);
  }
  if (raw.length === 0) malformed("verifier key: empty key");
  if (raw[0] !== 1) malformed(`verifier key: unsupported algorithm 0x${raw[0]!.toString(16).padStart(2, "0")} (only Ed25519, 0x01)`);
  const publicKey = raw.subarray(1);
  if (publicKey.length !== 32) malformed("verifier key: an Ed25519 key is 32 bytes");
  if (keyHash(name, publicKey) !== hash) malformed("verifier key: the key hash does not match the name and key");
  const key = PublicKey.decode(publicKey.slice());
  if (!key) return malformed("verifier key: not a valid Ed25519 public key");
  return { name, hash, publicKey: key };
}

function checkText(text: string): void {
  if (text.length === 0 || !text.endsWith("\n")) malformed("note text must be non-empty and end with a newline");
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 10) || c === 0x7f) malformed("note text must not contain control characters other than newline");
  }
  if (text.includes("\n\n") || text.startsWith("\n")) malformed("note text must not contain a blank line");
}

/** The text of a note without checking signatures (never trust it). */
export function noteTextUnverified(note: string): string {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) malformed("no blank line between the text and the signatures");
  const text = note.slice(0, split + 1);
  checkText(text);
  return text;
}

function parseSignatureLine(line: string): { name: string; hash: number; sig: Uint8Array } {
  const bad = () => malformed(`bad signature line ${JSON.stringify(line)}`);
  if (!line.startsWith(SIG_PREFIX)) bad();
  const rest = line.slice(SIG_PREFIX.length);
  const sp = rest.lastIndexOf(" ");
  if (sp < 0) bad();
  const name = rest.slice(0, sp);
  try {
    checkName(name);
  } catch {
    bad();
  }
  let raw: Uint8Array;
  try {
    raw = b64Decode(rest.slice(sp + 1));
  } catch {
    return bad();
  }
  if (raw.length < 5) bad();
  const hash = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
  return { name, hash, sig: raw.subarray(4) };
}

/**
 * Opens a signed note: checks its shape, then each signature by one of `verifiers` (others
 * are ignored). Throws when malformed, when a known key's signature does not verify, or when
 * no known key signed. Returns the signed text.
 */
export function openNote(note: string, verifiers: NoteVerifier[]): string {
  if (utf8Length(note) > MAX_NOTE_LEN) malformed(`note is longer than ${MAX_NOTE_LEN} bytes`);
  const split = note.lastIndexOf("\n\n");
  if (split < 0) malformed("no blank line between the text and the signatures");
  const text = note.slice(0, split + 1);
  const sigs = note.slice(split + 2);
  checkText(text);
  if (sigs.length === 0 || !sigs.endsWith("\n")) malformed("the signature lines must end with a newline");
  const lines = sigs.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) malformed(`more than ${MAX_SIGNATURES} signature lines`);
  const verified: string[] = [];
  const signers: string[] = [];
  const msg = utf8(text);
  for (const line of lines) {
    const { name, hash, sig } = parseSignatureLine(line);
    signers.push(`${name}+${hash8(hash)}`);
    const v = verifiers.find((k) => k.name === name && k.hash === hash);
    if (!v || verified.includes(label(v))) continue;
    if (!verifyStrict(v.publicKey, msg, sig)) {
      fail(`bad signature by ${label(v)}: the note was altered or is not signed by this key`);
    }
    verified.push(label(v));
  }
  if (verified.length === 0) {
    const known = verifiers.map(label);
    fail(
      `no signature by a known key: the note is signed by ${signers.join(", ")}, the verifier knows ${known.length ? known.join(", ") : "no key"}`,
    );
  }
  return text;
}

/** What a checkpoint commits to. */
export interface Checkpoint {
  origin: string;
  size: bigint;
  root: Uint8Array;
}

/** Parses a checkpoint body: origin, decimal size without leading zeros, standard-base64 root;
 * extension lines are ignored. */
export function parseCheckpointBody(text: string): Checkpoint {
  const bad = (m: string) => malformed(`checkpoint: ${m}`);
  const lines = text.split("\n");
  const origin = lines[0];
  if (!origin) bad("no origin line");
  const size = lines[1];
  if (size === undefined) bad("no size line");
  const root = lines[2];
  if (root === undefined) bad("no root hash line");
  if (!/^[0-9]+$/.test(size!) || (size!.length > 1 && size!.startsWith("0"))) {
    bad("the size must be a decimal number without leading zeros");
  }
  const n = BigInt(size!);
  if (n >= 1n << 64n) bad("the size does not fit 64 bits");
  let raw: Uint8Array;
  try {
    raw = b64Decode(root!);
  } catch {
    return bad("the root hash must be standard base64");
  }
  if (raw.length !== 32) bad("the root hash must be 32 bytes");
  return { origin: origin!, size: n, root: raw };
}

function splitPoint(n: bigint): bigint {
  return 1n << BigInt((n - 1n).toString(2).length - 1);
}

function inclusionSides(index: bigint, size: bigint): ("left" | "right")[] | undefined {
  if (index >= size || size > MAX_LOG_SIZE || index < 0n) return undefined;
  const sides: ("left" | "right")[] = [];
  let start = 0n;
  let end = size;
  while (end - start > 1n) {
    const mid = start + splitPoint(end - start);
    if (index < mid) {
      sides.push("right");
      end = mid;
    } else {
      sides.push("left");
      start = mid;
    }
  }
  return sides.reverse();
}

/**
 * Checks that `proof` proves `leafHash` at `index` in the log of `size` leaves whose root is
 * `root`, including the proof's shape (step count and sides). Throws saying what differs.
 */
export function verifyInclusion(index: bigint, size: bigint, leafHash: Uint8Array, proof: MerkleProof, root: Uint8Array): void {
  const sides = inclusionSides(index, size);
  if (!sides) fail(`log proof does not hold: leaf index ${index} is not inside a log of ${size} leaves`);
  if (proof.steps.length !== sides.length) {
    fail(
      `log proof does not hold: an inclusion proof of leaf ${index} in a log of ${size} leaves has ${sides.length} steps, this one has ${proof.steps.length}`,
    );
  }
  if (proof.steps.some((s, i) => s.side !== sides[i])) {
    fail(`log proof does not hold: the proof's step sides are not those of leaf ${index} in a log of ${size} leaves`);
  }
  const computed = rootFromHash(TLOG_ALG, proof, checkHash(leafHash));
  if (!bytesEqual(computed, root)) {
    fail(`proof leads to ${b64urlEncode(computed)}, which is not the log root (${b64urlEncode(root)})`);
  }
}
