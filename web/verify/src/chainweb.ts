/**
 * Chainweb block headers (the node's JSON object encoding and the binary encoding), their
 * block hash as the root of the header's Merkle log, version codes, typed leaves and payload
 * trees — as `ancora_proof::chainweb` does, byte for byte.
 *
 * The block hash is the SHA-512/256 Merkle root over 11 header leaves (tagged inputs, with
 * the parent and the payload hash as untagged tree leaves) followed by the adjacent parents'
 * hashes sorted by chain id. A header proves nothing by itself: whether it is on the
 * canonical chain is for the verifier to judge, by fetching it from a node it trusts.
 */
import { fail } from "./errors.js";
import { b64urlDecode, b64urlEncode, concat, le, readLE } from "./encoding.js";
import { checkHash, digest, leafHash, nodeHash } from "./hash.js";
import { J, JObject, fromJs, isObject, kind, parseJson } from "./json.js";
import { MerkleTree, rootOf } from "./merkle.js";

const ALG = "SHA512t_256";

/** Chainweb Merkle-universe tags (`Chainweb.MerkleUniverse`). */
export const Tag = {
  ChainId: 0x0002,
  BlockHeight: 0x0003,
  BlockWeight: 0x0004,
  BlockPayloadHash: 0x0005,
  ForkState: 0x0006,
  BlockCreationTime: 0x0007,
  ChainwebVersion: 0x0008,
  PowHash: 0x0009,
  BlockHash: 0x0010,
  HashTarget: 0x0011,
  Transaction: 0x0013,
  TransactionOutput: 0x0014,
  BlockTransactionsHash: 0x0015,
  BlockOutputsHash: 0x0016,
  MinerData: 0x0017,
  CoinbaseOutput: 0x0018,
  EpochStartTime: 0x0019,
  Nonce: 0x0020,
  OutputEvents: 0x0030,
  BlockEventsHash: 0x0031,
  RequestKey: 0x0032,
  PactEvent: 0x0034,
} as const;

/** The input-leaf bytes `u16 BE tag ‖ value`. */
export function tagged(tag: number, value: Uint8Array): Uint8Array {
  return concat(new Uint8Array([tag >> 8, tag & 0xff]), value);
}

const tagBuf = new Uint8Array(3);

/** `H(0x00 ‖ tag ‖ value)`. */
export function taggedLeafHash(tag: number, value: Uint8Array): Uint8Array {
  tagBuf[0] = 0;
  tagBuf[1] = tag >> 8;
  tagBuf[2] = tag & 0xff;
  return digest(ALG, tagBuf, value);
}

/** Checks that `leaf` starts with `tag` and returns the value after it. */
export function untag(tag: number, leaf: Uint8Array): Uint8Array {
  if (leaf.length < 2) fail(`a tagged leaf needs at least 2 bytes, got ${leaf.length}`);
  const actual = (leaf[0]! << 8) | leaf[1]!;
  if (actual !== tag) fail(`wrong leaf tag: expected ${hex4(tag)}, got ${hex4(actual)}`);
  return leaf.subarray(2);
}

function hex4(t: number): string {
  return "0x" + t.toString(16).padStart(4, "0");
}

// ---- versions ----

const VERSION_NAMES: [string, number][] = [
  ["mainnet01", 0x5],
  ["testnet04", 0x7],
  ["development", 0x1],
  ["recap-development", 0x1],
];

/** The code of a version name (`"mainnet01"` → 5) or of a hex code (`"0x8000000e"`). */
export function versionCode(name: string): number {
  const known = VERSION_NAMES.find(([n]) => n === name);
  if (known) return known[1];
  const h = name.startsWith("0x") || name.startsWith("0X") ? name.slice(2) : undefined;
  if (h !== undefined && h.length > 0 && h.length <= 8 && /^[0-9a-fA-F]+$/.test(h)) return parseInt(h, 16);
  return fail(
    `unknown chainweb version ${JSON.stringify(name)} (expected mainnet01, testnet04, development or a hex code like 0x8000000e)`,
  );
}

/** The name of a version code, or `"0x%08x"`. */
export function versionName(code: number): string {
  const known = VERSION_NAMES.find(([, c]) => c === code);
  return known ? known[0] : "0x" + code.toString(16).padStart(8, "0");
}

// ---- headers ----

/** A Chainweb block header, decoded. */
export interface BlockHeader {
  forkState: bigint;
  creationTime: bigint;
  parent: Uint8Array;
  /** Adjacent parents, sorted by chain id. */
  adjacents: [number, Uint8Array][];
  target: Uint8Array;
  payloadHash: Uint8Array;
  chainId: number;
  weight: Uint8Array;
  height: bigint;
  version: number;
  epochStart: bigint;
  nonce: bigint;
  /** The hash the header claims, when its source gave one. */
  hash?: Uint8Array;
}

export const LEAF_PARENT = 2;
export const LEAF_PAYLOAD_HASH = 4;
export const LEAF_FIRST_ADJACENT = 11;

/** The node hashes of the header log's leaves, in Merkle order. */
export function headerLeafHashes(h: BlockHeader): Uint8Array[] {
  return [
    taggedLeafHash(Tag.ForkState, le(h.forkState, 8)),
    taggedLeafHash(Tag.BlockCreationTime, le(h.creationTime, 8)),
    h.parent,
    taggedLeafHash(Tag.HashTarget, h.target),
    h.payloadHash,
    taggedLeafHash(Tag.ChainId, le(h.chainId, 4)),
    taggedLeafHash(Tag.BlockWeight, h.weight),
    taggedLeafHash(Tag.BlockHeight, le(h.height, 8)),
    taggedLeafHash(Tag.ChainwebVersion, le(h.version, 4)),
    taggedLeafHash(Tag.EpochStartTime, le(h.epochStart, 8)),
    taggedLeafHash(Tag.Nonce, le(h.nonce, 8)),
    ...h.adjacents.map(([, hash]) => hash),
  ];
}

/** The block hash recomputed from the fields (the claimed hash is ignored). */
export function computeHeaderHash(h: BlockHeader): Uint8Array {
  return rootOf(ALG, headerLeafHashes(h));
}

/** The header's Merkle log, for building proofs through it. */
export function headerTree(h: BlockHeader): MerkleTree {
  return MerkleTree.fromLeafHashes(ALG, headerLeafHashes(h));
}

/** The recomputed hash; when the header claims one, it must match. */
export function verifiedHeaderHash(h: BlockHeader): Uint8Array {
  const computed = computeHeaderHash(h);
  if (h.hash !== undefined && !eq(h.hash, computed)) {
    fail(
      `block header claims hash ${b64urlEncode(h.hash)} but its fields hash to ${b64urlEncode(computed)}: the header is forged or corrupted`,
    );
  }
  return computed;
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The genesis parent hash: the root over `"CHAINWEB_GENESIS"`, `u32le(version)`, `u32le(chain)`. */
export function genesisParentHash(version: number, chain: number): Uint8Array {
  return rootOf(ALG, [
    leafHash(ALG, new TextEncoder().encode("CHAINWEB_GENESIS")),
    leafHash(ALG, le(version, 4)),
    leafHash(ALG, le(chain, 4)),
  ]);
}

const BINARY_BASE_LEN = 8 + 8 + 32 + 2 + 32 + 32 + 4 + 32 + 8 + 4 + 8 + 8 + 32;

/** The binary encoding (318 bytes with 3 adjacents); the trailing hash is the claimed one or
 * the recomputed one. */
export function encodeHeader(h: BlockHeader): Uint8Array {
  const count = Math.min(h.adjacents.length, 0xffff);
  const parts: Uint8Array[] = [le(h.forkState, 8), le(h.creationTime, 8), h.parent, le(count, 2)];
  for (const [cid, hash] of h.adjacents.slice(0, count)) parts.push(le(cid, 4), hash);
  parts.push(h.target, h.payloadHash, le(h.chainId, 4), h.weight, le(h.height, 8), le(h.version, 4));
  parts.push(le(h.epochStart, 8), le(h.nonce, 8), h.hash ?? computeHeaderHash(h));
  return concat(...parts);
}

/** Decodes the binary encoding: exactly `210 + 36 × adjacents` bytes, adjacents strictly
 * increasing by chain id. The trailing hash becomes the claimed hash (not checked here). */
export function decodeHeader(bytes: Uint8Array): BlockHeader {
  if (bytes.length < 50) {
    fail(`binary block header (too short for the adjacent count): expected ${BINARY_BASE_LEN} bytes, got ${bytes.length}`, "bad_encoding");
  }
  const count = bytes[48]! | (bytes[49]! << 8);
  const expected = BINARY_BASE_LEN + 36 * count;
  if (bytes.length !== expected) fail(`binary block header: expected ${expected} bytes, got ${bytes.length}`, "bad_encoding");
  let at = 0;
  const take = (n: number) => {
    const v = bytes.subarray(at, at + n);
    at += n;
    return v;
  };
  const u = (n: number) => readLE(take(n), 0, n);
  const forkState = u(8);
  const creationTime = u(8);
  const parent = take(32);
  take(2);
  const adjacents: [number, Uint8Array][] = [];
  for (let i = 0; i < count; i++) {
    const cid = Number(u(4));
    const hash = take(32);
    if (adjacents.length > 0 && adjacents[adjacents.length - 1]![0] >= cid) {
      fail(`binary block header: adjacent chain ids must be strictly increasing, ${cid} is out of order`);
    }
    adjacents.push([cid, hash]);
  }
  return {
    forkState,
    creationTime,
    parent,
    adjacents,
    target: take(32),
    payloadHash: take(32),
    chainId: Number(u(4)),
    weight: take(32),
    height: u(8),
    version: Number(u(4)),
    epochStart: u(8),
    nonce: u(8),
    hash: take(32),
  };
}

// ---- JSON ----

const U64_MAX = (1n << 64n) - 1n;

/** Reads an unsigned integer of `bits` bits from a JSON value, or throws naming `what`. */
export function uint(v: J | undefined, bits: 32 | 64, what: string): bigint {
  if (typeof v !== "bigint") return fail(`${what}: expected an unsigned integer, got ${kind(v)}`);
  const max = bits === 64 ? U64_MAX : 0xffffffffn;
  if (v < 0n || v > max) return fail(`${what}: ${v} is out of range for u${bits}`);
  return v;
}

/** Reads a string from a JSON value. */
export function str(v: J | undefined, what: string): string {
  if (typeof v !== "string") return fail(`${what}: expected a string, got ${kind(v)}`);
  return v;
}

function bytes32(v: J | undefined, what: string): Uint8Array {
  return checkHash(b64urlDecode(str(v, what), what), what);
}

/** A JSON object key that must be a u32 written as a canonical JSON integer. */
function chainKey(k: string, what: string): number {
  // serde_json reads a map key as a number only in its canonical form ("-0" is a float).
  if (!/^(0|[1-9][0-9]*)$/.test(k) || BigInt(k) > 0xffffffffn) return fail(`${what}: key ${JSON.stringify(k)} is not a chain id`);
  return Number(k);
}

/** Parses the node's JSON object encoding, or a JSON string holding the base64url binary
 * encoding. Errors name the field. */
export function headerFromJson(value: J): BlockHeader {
  if (typeof value === "string") return decodeHeader(b64urlDecode(value.trim(), "binary block header"));
  if (!isObject(value)) return fail("block header: expected a JSON object or a base64url string");
  const o: JObject = value;
  const field = (name: string) => {
    const v = o.get(name);
    if (v === undefined) fail(`block header: missing field \`${name}\``);
    return v;
  };
  const what = (name: string) => `block header: field \`${name}\``;
  const hv = o.get("hash");
  const hash = hv === undefined || hv === null ? undefined : bytes32(hv, what("hash"));
  const nonceV = field("nonce");
  let nonce: bigint;
  if (typeof nonceV === "string") {
    if (!/^[0-9]+$/.test(nonceV) || BigInt(nonceV) > U64_MAX) {
      return fail(`block header: nonce ${JSON.stringify(nonceV)} is not a decimal 64-bit unsigned integer`);
    }
    nonce = BigInt(nonceV);
  } else nonce = uint(nonceV, 64, what("nonce"));
  const versionText = str(field("chainwebVersion"), what("chainwebVersion"));
  const adjV = field("adjacents");
  if (!isObject(adjV)) return fail(`${what("adjacents")}: expected a map, got ${kind(adjV)}`);
  const adj = new Map<number, Uint8Array>();
  for (const [k, h] of adjV) adj.set(chainKey(k, what("adjacents")), bytes32(h, what("adjacents")));
  const adjacents = [...adj.entries()].sort((a, b) => a[0] - b[0]);
  const h: BlockHeader = {
    forkState: uint(field("featureFlags"), 64, what("featureFlags")),
    creationTime: uint(field("creationTime"), 64, what("creationTime")),
    parent: bytes32(field("parent"), what("parent")),
    adjacents,
    target: bytes32(field("target"), what("target")),
    payloadHash: bytes32(field("payloadHash"), what("payloadHash")),
    chainId: Number(uint(field("chainId"), 32, what("chainId"))),
    weight: bytes32(field("weight"), what("weight")),
    height: uint(field("height"), 64, what("height")),
    version: 0,
    epochStart: uint(field("epochStart"), 64, what("epochStart")),
    nonce,
  };
  try {
    h.version = versionCode(versionText);
  } catch (e) {
    return fail(`block header: field \`chainwebVersion\`: ${(e as Error).message}`);
  }
  if (hash !== undefined) h.hash = hash;
  return h;
}

/** A header given by a caller: a JSON object, JSON text, or a base64url binary header. */
export function headerFromInput(input: unknown): BlockHeader {
  if (typeof input === "string") {
    const t = input.trim();
    if (t.startsWith("{") || t.startsWith('"')) return headerFromJson(parseJson(t, "block header"));
    return decodeHeader(b64urlDecode(t, "binary block header"));
  }
  if (input instanceof Uint8Array) return decodeHeader(input);
  return headerFromJson(fromJs(input, "block header"));
}

/** The node's JSON object encoding (plain JavaScript), `hash` only when claimed. */
export function headerToJson(h: BlockHeader): Record<string, unknown> {
  const num = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());
  const o: Record<string, unknown> = {
    creationTime: num(h.creationTime),
    parent: b64urlEncode(h.parent),
    height: num(h.height),
  };
  if (h.hash) o.hash = b64urlEncode(h.hash);
  o.chainId = h.chainId;
  o.weight = b64urlEncode(h.weight);
  o.featureFlags = num(h.forkState);
  o.epochStart = num(h.epochStart);
  o.adjacents = Object.fromEntries(h.adjacents.map(([c, x]) => [String(c), b64urlEncode(x)]));
  o.payloadHash = b64urlEncode(h.payloadHash);
  o.chainwebVersion = versionName(h.version);
  o.target = b64urlEncode(h.target);
  o.nonce = h.nonce.toString();
  return o;
}

// ---- payloads ----

/** A block payload with its outputs, as raw bytes. */
export interface Payload {
  minerData: Uint8Array;
  coinbase: Uint8Array;
  /** `[signed command JSON, CommandResult JSON]` per transaction, in block order. */
  transactions: [Uint8Array, Uint8Array][];
}

export const PAYLOAD_LEAF_OUTPUTS = 1;

/** The transactions tree: `[MinerData] ++ [Transaction …]`. */
export function transactionsTree(p: Payload): MerkleTree {
  return MerkleTree.fromLeafHashes(ALG, [
    taggedLeafHash(Tag.MinerData, p.minerData),
    ...p.transactions.map(([tx]) => taggedLeafHash(Tag.Transaction, tx)),
  ]);
}

/** The outputs tree: `[CoinbaseOutput] ++ [TransactionOutput …]`. */
export function outputsTree(p: Payload): MerkleTree {
  return MerkleTree.fromLeafHashes(ALG, [
    taggedLeafHash(Tag.CoinbaseOutput, p.coinbase),
    ...p.transactions.map(([, out]) => taggedLeafHash(Tag.TransactionOutput, out)),
  ]);
}

/** The three roots of a payload. */
export function payloadHashes(p: Payload): { transactionsHash: Uint8Array; outputsHash: Uint8Array; payloadHash: Uint8Array } {
  const transactionsHash = transactionsTree(p).root();
  const outputsHash = outputsTree(p).root();
  return { transactionsHash, outputsHash, payloadHash: nodeHash(ALG, transactionsHash, outputsHash) };
}

/** The two-leaf payload tree. */
export function payloadTree(transactionsHash: Uint8Array, outputsHash: Uint8Array): MerkleTree {
  return MerkleTree.fromLeafHashes(ALG, [transactionsHash, outputsHash]);
}

/** Parses the node's `PayloadWithOutputs` JSON (base64url strings). */
export function payloadFromJson(input: unknown): Payload {
  const v = typeof input === "string" ? parseJson(input, "payload") : fromJs(input, "payload");
  if (!isObject(v)) return fail("payload: expected a JSON object (PayloadWithOutputs)");
  const b = (x: J | undefined, what: string) => b64urlDecode(str(x, `payload ${what}`), `payload ${what}`);
  const txs = v.get("transactions");
  if (!Array.isArray(txs)) return fail("payload: field `transactions` must be an array");
  return {
    minerData: b(v.get("minerData"), "minerData"),
    coinbase: b(v.get("coinbase"), "coinbase"),
    transactions: txs.map((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) return fail(`payload transaction ${i}: expected [tx, output]`);
      return [b(pair[0], `transaction ${i}`), b(pair[1], `output ${i}`)] as [Uint8Array, Uint8Array];
    }),
  };
}
