/**
 * Reading proof bundles, version 1 (snake_case, one `trust_point`) and version 2 (camelCase,
 * `trustPoints`), with the Rust core's strictness: every object refuses unknown fields, every
 * required field must be there with its type, hashes are 32 bytes of base64url, proof objects
 * and leaves base64url. A bundle that does not read is refused as a whole (no step runs),
 * exactly where the Rust parser refuses it.
 */
import { fail } from "./errors.js";
import { b64urlDecode } from "./encoding.js";
import { HashAlgorithm, hashFromB64url } from "./hash.js";
import { J, JObject, isObject, kind } from "./json.js";
import { ContentDigest, parseDigest, parseUuid } from "./event.js";

export interface EventSection {
  tenantId: Uint8Array;
  eventId: string;
  digest: ContentDigest;
  submitter: string;
  receivedAtMicros: bigint;
  leaf: Uint8Array;
}

export interface TreeStep {
  algorithm: HashAlgorithm;
  /** batch_id / anchor_id, informational. */
  id?: string;
  leafIndex: bigint;
  proof: Uint8Array;
  root: Uint8Array;
}

export interface TlogTrustPoint {
  type: "tlog";
  origin: string;
  leafIndex: bigint;
  logSize: bigint;
  proof: Uint8Array;
  checkpoint: string;
}

export interface ChainwebTrustPoint {
  type: "chainweb";
  network: string;
  chainId: number;
  blockHeight: bigint;
  blockHash: Uint8Array;
  spvProof: string;
  header: J;
  anchorRootLocation: string;
  requestKey?: string;
  headerSource?: { node: string; fetchedAt: string };
}

export type TrustPoint = TlogTrustPoint | ChainwebTrustPoint;

export interface Bundle {
  version: 1 | 2;
  event: EventSection;
  batch: TreeStep;
  anchor: TreeStep;
  trustPoints: TrustPoint[];
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

type Reader<T> = (v: J, what: string) => T;

const u64: Reader<bigint> = (v, what) => {
  if (typeof v !== "bigint") return fail(`${what}: invalid type: ${kind(v)}, expected u64`);
  if (v < 0n || v > U64_MAX) return fail(`${what}: invalid value: integer \`${v}\`, expected u64`);
  return v;
};
const u32: Reader<number> = (v, what) => {
  if (typeof v !== "bigint") return fail(`${what}: invalid type: ${kind(v)}, expected u32`);
  if (v < 0n || v > 0xffffffffn) return fail(`${what}: invalid value: integer \`${v}\`, expected u32`);
  return Number(v);
};
const i64: Reader<bigint> = (v, what) => {
  if (typeof v !== "bigint") return fail(`${what}: invalid type: ${kind(v)}, expected i64`);
  if (v < I64_MIN || v > I64_MAX) return fail(`${what}: invalid value: integer \`${v}\`, expected i64`);
  return v;
};
const string: Reader<string> = (v, what) => {
  if (typeof v !== "string") return fail(`${what}: invalid type: ${kind(v)}, expected a string`);
  return v;
};
const hash: Reader<Uint8Array> = (v, what) => hashFromB64url(string(v, what), what);
const bytes: Reader<Uint8Array> = (v, what) => b64urlDecode(string(v, what), what);
const algorithm: Reader<HashAlgorithm> = (v, what) => {
  const s = string(v, what);
  if (s !== "SHA512t_256" && s !== "Keccak_256") return fail(`${what}: unknown variant \`${s}\`, expected \`SHA512t_256\` or \`Keccak_256\``);
  return s;
};
const digest: Reader<ContentDigest> = (v, what) => {
  try {
    return parseDigest(string(v, what));
  } catch (e) {
    return fail(`${what}: ${(e as Error).message}`);
  }
};
const uuid: Reader<Uint8Array> = (v, what) => {
  try {
    return parseUuid(string(v, what));
  } catch (e) {
    return fail(`${what}: ${(e as Error).message}`);
  }
};
const any: Reader<J> = (v) => v;
/** Version 2's `tenantId`: hyphenated lowercase, 8-4-4-4-12, nothing else. */
const uuidLower: Reader<Uint8Array> = (v, what) => {
  const s = string(v, what);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s)) {
    return fail(`${what}: tenantId must be a UUID, hyphenated and lowercase (8-4-4-4-12 hex digits)`);
  }
  return parseUuid(s);
};
/** Version 2's `header`: the node's object encoding, so a JSON object. */
const jsonObject: Reader<J> = (v, what) => {
  if (!isObject(v)) return fail(`${what}: header must be a JSON object (the node's object encoding of the block header)`);
  return v;
};

/** Reads a struct that refuses unknown fields. `spec` maps each field to its reader;
 * `optional` fields may be missing or null. */
function struct<T extends Record<string, unknown>>(
  v: J | undefined,
  what: string,
  spec: { [K in keyof T]: Reader<T[K]> },
  optional: string[] = [],
): T {
  if (!isObject(v)) return fail(`${what}: invalid type: ${kind(v)}, expected a struct`);
  const names = Object.keys(spec);
  for (const k of v.keys()) {
    if (!names.includes(k)) fail(`${what}: unknown field \`${k}\`, expected one of ${names.map((n) => `\`${n}\``).join(", ")}`);
  }
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const x = v.get(name);
    if (optional.includes(name)) {
      if (x === undefined || x === null) continue;
    } else if (x === undefined) {
      fail(`${what}: missing field \`${name}\``);
    }
    out[name] = (spec as Record<string, Reader<unknown>>)[name]!(x as J, `${what}: field \`${name}\``);
  }
  return out as T;
}

/** Field names per version. */
const NAMES = {
  1: {
    tenantId: "tenant_id", eventId: "event_id", receivedAtMicros: "received_at_micros", batchId: "batch_id",
    anchorId: "anchor_id", leafIndex: "leaf_index", logSize: "log_size", chainId: "chain_id",
    blockHeight: "block_height", blockHash: "block_hash", spvProof: "spv_proof",
    anchorRootLocation: "anchor_root_location", requestKey: "request_key", trust: "trust_point",
  },
  2: {
    tenantId: "tenantId", eventId: "eventId", receivedAtMicros: "receivedAtMicros", batchId: "batchId",
    anchorId: "anchorId", leafIndex: "leafIndex", logSize: "logSize", chainId: "chainId",
    blockHeight: "blockHeight", blockHash: "blockHash", spvProof: "spvProof",
    anchorRootLocation: "anchorRootLocation", requestKey: "requestKey", trust: "trustPoints",
  },
} as const;

function section(map: JObject, name: string): J {
  const v = map.get(name);
  if (v === undefined) return fail(`missing field "${name}"`);
  return v;
}

function readEvent(v: J, version: 1 | 2): EventSection {
  const n = NAMES[version];
  const e = struct<Record<string, unknown>>(v, "event", {
    [n.tenantId]: version === 2 ? uuidLower : uuid,
    [n.eventId]: string,
    digest,
    submitter: string,
    [n.receivedAtMicros]: i64,
    leaf: bytes,
  });
  return {
    tenantId: e[n.tenantId] as Uint8Array,
    eventId: e[n.eventId] as string,
    digest: e.digest as ContentDigest,
    submitter: e.submitter as string,
    receivedAtMicros: e[n.receivedAtMicros] as bigint,
    leaf: e.leaf as Uint8Array,
  };
}

function readStep(v: J, version: 1 | 2, name: "batch" | "anchor"): TreeStep {
  const n = NAMES[version];
  const idField = name === "batch" ? n.batchId : n.anchorId;
  const s = struct<Record<string, unknown>>(
    v,
    name,
    { algorithm, [idField]: string, [n.leafIndex]: u64, proof: bytes, root: hash },
    name === "batch" ? [idField] : [],
  );
  const out: TreeStep = {
    algorithm: s.algorithm as HashAlgorithm,
    leafIndex: s[n.leafIndex] as bigint,
    proof: s.proof as Uint8Array,
    root: s.root as Uint8Array,
  };
  if (s[idField] !== undefined) out.id = s[idField] as string;
  return out;
}

function readTrustPoint(v: J, version: 1 | 2, what: string): TrustPoint {
  const n = NAMES[version];
  if (!isObject(v)) return fail(`${what}: invalid type: ${kind(v)}, expected internally tagged enum TrustPoint`);
  const type = v.get("type");
  if (type === undefined) return fail(`${what}: missing field \`type\``);
  const rest: JObject = new Map([...v].filter(([k]) => k !== "type"));
  if (type === "tlog") {
    const t = struct<Record<string, unknown>>(rest, what, {
      origin: string,
      [n.leafIndex]: u64,
      [n.logSize]: u64,
      proof: bytes,
      checkpoint: string,
    });
    return {
      type,
      origin: t.origin as string,
      leafIndex: t[n.leafIndex] as bigint,
      logSize: t[n.logSize] as bigint,
      proof: t.proof as Uint8Array,
      checkpoint: t.checkpoint as string,
    };
  }
  if (type === "chainweb") {
    const spec: Record<string, Reader<unknown>> = {
      network: string,
      [n.chainId]: u32,
      [n.blockHeight]: u64,
      [n.blockHash]: hash,
      [n.spvProof]: string,
      header: version === 2 ? jsonObject : any,
      [n.anchorRootLocation]: string,
      [n.requestKey]: string,
    };
    const optional: string[] = [n.requestKey];
    if (version === 2) {
      spec.headerSource = (x, w) => struct<{ node: string; fetchedAt: string }>(x, w, { node: string, fetchedAt: string });
      optional.push("headerSource");
    }
    const c = struct<Record<string, unknown>>(rest, what, spec as never, optional);
    const out: ChainwebTrustPoint = {
      type,
      network: c.network as string,
      chainId: c[n.chainId] as number,
      blockHeight: c[n.blockHeight] as bigint,
      blockHash: c[n.blockHash] as Uint8Array,
      spvProof: c[n.spvProof] as string,
      header: c.header as J,
      anchorRootLocation: c[n.anchorRootLocation] as string,
    };
    if (c[n.requestKey] !== undefined) out.requestKey = c[n.requestKey] as string;
    if (c.headerSource !== undefined) out.headerSource = c.headerSource as { node: string; fetchedAt: string };
    return out;
  }
  return fail(`${what}: unknown variant ${typeof type === "string" ? `\`${type}\`` : kind(type)}, expected \`tlog\` or \`chainweb\``);
}

/** Reads a bundle from a JSON value; throws an AncoraError saying what is wrong. */
export function readBundle(value: J): Bundle {
  if (!isObject(value)) return fail('the bundle must be a JSON object with a "version" field');
  const ver = value.get("version");
  if (ver === undefined) return fail('no "version" field: this is not an Ancora proof bundle');
  if (ver !== 1n && ver !== 2n) {
    const shown = typeof ver === "bigint" ? ver.toString() : typeof ver === "string" ? JSON.stringify(ver) : kind(ver);
    return fail(`bundle version ${shown} is not supported: this verifier reads versions 1 and 2`);
  }
  const version = ver === 1n ? 1 : 2;
  const trustName = NAMES[version].trust;
  const sections = ["event", "batch", "anchor", trustName];
  for (const k of value.keys()) {
    if (k !== "version" && !sections.includes(k)) fail(`unknown field ${JSON.stringify(k)} in a version-${version} bundle`);
  }
  const event = readEvent(section(value, "event"), version);
  const batch = readStep(section(value, "batch"), version, "batch");
  const anchor = readStep(section(value, "anchor"), version, "anchor");
  let trustPoints: TrustPoint[];
  const t = section(value, trustName);
  if (version === 1) {
    trustPoints = [readTrustPoint(t, 1, "trust_point")];
  } else {
    if (!Array.isArray(t)) return fail(`trustPoints: invalid type: ${kind(t)}, expected a sequence`);
    if (t.length < 1 || t.length > 2) fail(`trustPoints: a bundle carries 1 or 2 trust points, this one has ${t.length}`);
    trustPoints = t.map((x, i) => readTrustPoint(x, 2, `trustPoints[${i}]`));
    if (trustPoints.length === 2) {
      if (trustPoints[0]!.type === trustPoints[1]!.type) fail(`trustPoints: at most one trust point of each type (two of type ${trustPoints[0]!.type})`);
      if (trustPoints[0]!.type !== "tlog") fail("trustPoints: the tlog trust point comes before the chainweb one");
    }
  }
  return { version, event, batch, anchor, trustPoints };
}
