/**
 * Byte encodings, as strict as the Rust core's: base64url without padding (padding tolerated,
 * as `b64url_decode` does), standard base64 with canonical padding (C2SP notes), hex, UTF-8.
 * Non-zero trailing bits, stray characters and impossible lengths are errors, so one byte
 * string has one text form and a verifier never accepts two spellings of one hash.
 */
import { fail } from "./errors.js";

const URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function table(alphabet: string): Int16Array {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}
const URL_TABLE = table(URL_ALPHABET);
const STD_TABLE = table(STD_ALPHABET);

/** Decodes unpadded base64 data over `t`; errors name `what`. */
function decodeData(s: string, t: Int16Array, what: string): Uint8Array {
  const n = s.length;
  if (n % 4 === 1) fail(`${what}: invalid length ${n}`, "bad_encoding");
  const out = new Uint8Array(Math.floor((n * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? t[c]! : -1;
    if (v < 0) fail(`${what}: invalid character at offset ${i}`, "bad_encoding");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (acc !== 0) fail(`${what}: non-zero trailing bits in the last symbol`, "bad_encoding");
  return out;
}

function encodeWith(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + alphabet[(v >> 6) & 63]! + alphabet[v & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const v = bytes[i]! << 16;
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + (pad ? "==" : "");
  } else if (rest === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + alphabet[(v >> 6) & 63]! + (pad ? "=" : "");
  }
  return out;
}

/** Base64url without padding. */
export function b64urlEncode(bytes: Uint8Array): string {
  return encodeWith(bytes, URL_ALPHABET, false);
}

/** Base64url, padding tolerated (trailing `=` are dropped first, as the Rust core does). */
export function b64urlDecode(s: string, what = "base64url"): Uint8Array {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  return decodeData(end === s.length ? s : s.slice(0, end), URL_TABLE, what);
}

/** Standard base64 with padding. */
export function b64Encode(bytes: Uint8Array): string {
  return encodeWith(bytes, STD_ALPHABET, true);
}

/** Standard base64 with canonical padding required (the `STANDARD` engine of Rust's base64). */
export function b64Decode(s: string, what = "base64"): Uint8Array {
  if (s.length % 4 !== 0) fail(`${what}: invalid padding`, "bad_encoding");
  let pad = 0;
  while (pad < s.length && s.charCodeAt(s.length - 1 - pad) === 61) pad++;
  const data = s.slice(0, s.length - pad);
  const want = data.length % 4 === 2 ? 2 : data.length % 4 === 3 ? 1 : 0;
  if (pad !== want) fail(`${what}: invalid padding`, "bad_encoding");
  return decodeData(data, STD_TABLE, what);
}

const HEX = "0123456789abcdef";

/** Lowercase hex. */
export function hexEncode(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]! >> 4]! + HEX[bytes[i]! & 15]!;
  return s;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Hex, either case, even length. */
export function hexDecode(s: string, what = "hex"): Uint8Array {
  if (s.length % 2 !== 0) fail(`${what}: odd number of digits`, "bad_encoding");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexVal(s.charCodeAt(2 * i));
    const lo = hexVal(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) fail(`${what}: invalid character`, "bad_encoding");
    out[i] = (hi << 4) | lo;
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Length in UTF-8 bytes, without allocating for ASCII. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Decodes UTF-8; invalid sequences are an error (never replaced). */
export function utf8Decode(bytes: Uint8Array, what = "text"): string {
  try {
    return decoder.decode(bytes);
  } catch {
    return fail(`${what} is not valid UTF-8`, "bad_encoding");
  }
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Concatenation. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Little-endian bytes of an unsigned integer of `width` bytes. */
export function le(value: bigint | number, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let v = BigInt(value);
  for (let i = 0; i < width; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Big-endian bytes of an unsigned integer of `width` bytes (two's complement for negatives). */
export function be(value: bigint | number, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let v = BigInt.asUintN(width * 8, BigInt(value));
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Reads a little-endian unsigned integer. */
export function readLE(bytes: Uint8Array, at: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
  return v;
}

/** Reads a big-endian unsigned integer. */
export function readBE(bytes: Uint8Array, at: number, width: number): bigint {
  let v = 0n;
  for (let i = 0; i < width; i++) v = (v << 8n) | BigInt(bytes[at + i]!);
  return v;
}

/** Rust's `char::is_whitespace` (Unicode White_Space), which differs from JavaScript's trim. */
export function isRustWhitespace(c: number): boolean {
  return (
    (c >= 9 && c <= 13) || c === 32 || c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

/** Rust's `str::trim`. */
export function rustTrim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isRustWhitespace(s.charCodeAt(a))) a++;
  while (b > a && isRustWhitespace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
