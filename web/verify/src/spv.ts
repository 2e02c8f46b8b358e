/**
 * Chainweb SPV proofs: the legacy `/pact/spv` transaction-output proof (decode, run, verify
 * against a block header) and the new-format `PayloadProof` of `/pact/spv2`, as
 * `ancora_proof::spv` reads them.
 *
 * A `/pact/spv` response is a JSON string holding `base64url(JSON proof)`, where the JSON
 * proof is `{"chain", "object", "subject": {"input"|"tree"}, "algorithm": "SHA512t_256"}`.
 * Running it gives the hash of a block on the target chain; that proves something only once
 * matched against a block header the verifier trusts.
 */
import { AncoraError, asAncoraError, fail } from "./errors.js";
import { b64urlDecode, b64urlEncode, bytesEqual, rustTrim, utf8Decode } from "./encoding.js";
import { BlockHeader, Tag, headerFromInput, untag, verifiedHeaderHash } from "./chainweb.js";
import { HashAlgorithm, algorithmFromName, hashFromB64url } from "./hash.js";
import { J, JObject, fromJs, isObject, kind, parseJson, repeatedTopLevelKeys } from "./json.js";
import { Leaf, MerkleProof, decodeProof, runProof } from "./merkle.js";

/** What a proof proves: an input leaf's bytes (tag included) or a nested tree's root. */
export type Subject = { input: Uint8Array } | { tree: Uint8Array };

function subjectLeaf(s: Subject): Leaf {
  return "input" in s ? s.input : { tree: s.tree };
}

function subjectFromJson(v: J | undefined, what: string): Subject {
  if (!isObject(v) || v.size !== 1) return fail(`${what}: subject must be {"input": …} or {"tree": …}`);
  const [[k, x]] = [...v.entries()] as [[string, J]];
  if (typeof x !== "string") return fail(`${what}: subject ${k}: expected a string, got ${kind(x)}`);
  if (k === "input") return { input: b64urlDecode(x, "proof subject") };
  if (k === "tree") return { tree: hashFromB64url(x, "proof subject tree root") };
  return fail(`${what}: unknown subject variant ${JSON.stringify(k)}, expected input or tree`);
}

/** A legacy `/pact/spv` transaction-output proof. */
export interface TransactionOutputProof {
  chain: number;
  object: MerkleProof;
  subject: Subject;
  algorithm: HashAlgorithm;
}

/** `chain`: a JSON integer in real output; a decimal string tolerated. */
function chainValue(v: J | undefined): number {
  if (typeof v === "bigint") {
    if (v < 0n || v > 0xffffffffn) return fail(`SPV proof: chain ${v} is out of range for u32`);
    return Number(v);
  }
  if (typeof v === "string") {
    if (!/^[0-9]+$/.test(v) || BigInt(v) > 0xffffffffn) return fail(`SPV proof: chain ${JSON.stringify(v)} is not a chain id`);
    return Number(v);
  }
  return fail(`SPV proof: chain must be an integer or a decimal string, got ${kind(v)}`);
}

/** Parses the JSON proof (the decoded form of a response); the algorithm must be SHA512t_256. */
export function spvProofFromJson(text: string): TransactionOutputProof {
  const v = parseJson(text, "SPV proof");
  let chain: J | undefined, object: J | undefined, subject: J | undefined, algorithm: J | undefined;
  if (isObject(v)) {
    const rep = repeatedTopLevelKeys(text).filter((k) => ["chain", "object", "subject", "algorithm"].includes(k));
    if (rep.length > 0) fail(`SPV proof: duplicate field \`${rep[0]}\``);
    for (const k of ["chain", "object", "subject", "algorithm"]) if (!v.has(k)) fail(`SPV proof: missing field \`${k}\``);
    [chain, object, subject, algorithm] = [v.get("chain"), v.get("object"), v.get("subject"), v.get("algorithm")];
  } else if (Array.isArray(v) && v.length === 4) {
    // serde reads a struct from a sequence of its fields too.
    [chain, object, subject, algorithm] = v;
  } else return fail(`SPV proof: expected a JSON object, got ${kind(v)}`);
  if (typeof chain !== "bigint" && typeof chain !== "string") fail(`SPV proof: chain must be an integer or a decimal string, got ${kind(chain)}`);
  if (typeof object !== "string") return fail(`SPV proof: object must be a string, got ${kind(object)}`);
  const subj = subjectFromJson(subject, "SPV proof");
  if (typeof algorithm !== "string") return fail(`SPV proof: algorithm must be a string, got ${kind(algorithm)}`);
  const alg = algorithmFromName(algorithm);
  if (alg !== "SHA512t_256") fail(`SPV proof: a /pact/spv proof must use SHA512t_256, this one says ${alg}`);
  const objectBytes = b64urlDecode(object, "SPV proof object");
  return { chain: chainValue(chain), object: decodeProof(objectBytes), subject: subj, algorithm: alg };
}

/** Decodes a `/pact/spv` response: the base64url string, bare or as the JSON string the HTTP
 * body holds; the decoded JSON proof itself (text starting with `{`) is accepted too. */
export function decodeSpvResponse(text: string): TransactionOutputProof {
  const t = rustTrim(text);
  if (t.startsWith("{")) return spvProofFromJson(t);
  let inner = t;
  if (t.startsWith('"')) {
    const s = parseJson(t, "SPV response is not a valid JSON string");
    if (typeof s !== "string") fail("SPV response is not a valid JSON string");
    inner = s;
  }
  const bytes = b64urlDecode(rustTrim(inner), "SPV response");
  return spvProofFromJson(utf8Decode(bytes, "SPV response: the decoded proof"));
}

/** Runs the proof: the block hash it claims, still to be trusted. */
export function runSpvProof(p: TransactionOutputProof): Uint8Array {
  return runProof(p.algorithm, p.object, subjectLeaf(p.subject));
}

/** A Pact CommandResult read from a transaction output. */
export interface CommandResult {
  /** The exact JSON text. */
  text: string;
  json: JObject;
  reqKey?: string;
  status?: string;
}

/** The transaction output: the subject's 0x0014 tag checked and stripped, read as JSON. */
export function commandResult(p: TransactionOutputProof): CommandResult {
  if (!("input" in p.subject)) fail("the proof subject is a tree root, but a TransactionOutput (0x0014) input leaf is required");
  const bytes = untag(Tag.TransactionOutput, p.subject.input);
  const text = utf8Decode(bytes, "transaction output");
  const json = parseJson(text, "transaction output");
  if (!isObject(json)) return fail("transaction output: expected a JSON object (a CommandResult)");
  const rk = json.get("reqKey");
  const result = json.get("result");
  const status = isObject(result) ? result.get("status") : undefined;
  const out: CommandResult = { text, json };
  if (typeof rk === "string") out.reqKey = rk;
  if (typeof status === "string") out.status = status;
  return out;
}

/** `result.data` of a CommandResult. */
export function resultData(r: CommandResult): J | undefined {
  const result = r.json.get("result");
  return isObject(result) ? result.get("data") : undefined;
}

/** What a verified SPV proof established. */
export interface SpvVerification {
  chain: number;
  /** The root the proof leads to: the header's hash. */
  root: Uint8Array;
  headerHeight: bigint;
  headerHash: Uint8Array;
  output: CommandResult;
}

/**
 * Verifies a transaction-output proof against a header the caller trusts: the proof targets
 * `expectedChain`, the header is on that chain, its hash recomputed from its fields matches
 * the hash it claims, the proof's root is that hash, and the subject is a transaction output
 * holding a JSON object. `result.status` is not required to be "success".
 */
export function verifyAgainstHeader(p: TransactionOutputProof, expectedChain: number, h: BlockHeader): SpvVerification {
  if (p.chain !== expectedChain) fail(`proof targets chain ${p.chain}, expected chain ${expectedChain}`);
  if (h.chainId !== p.chain) fail(`the block header is on chain ${h.chainId}, but the proof targets chain ${p.chain}`);
  const headerHash = verifiedHeaderHash(h);
  const root = runSpvProof(p);
  if (!bytesEqual(root, headerHash)) {
    fail(`proof leads to ${b64urlEncode(root)}, which is not the hash of the given block header (${b64urlEncode(headerHash)})`);
  }
  return { chain: p.chain, root, headerHeight: h.height, headerHash, output: commandResult(p) };
}

/** The result of {@link verifySpv}. */
export type SpvResult =
  | {
      ok: true;
      /** The proven transaction output (a Pact CommandResult), as JSON. */
      subject: unknown;
      /** Its exact JSON text. */
      subjectText: string;
      /** The target chain. */
      chain: number;
      /** The block hash (base64url) the proof leads to, equal to the header's recomputed hash. */
      blockHash: string;
      /** The header's height. */
      height: number;
    }
  | { ok: false; error: AncoraError };

/**
 * Checks a `/pact/spv` proof string against a block header you trust (the node's JSON
 * object encoding, its JSON text, or a base64url binary header): the proof's chain is the
 * header's, the header's hash is recomputed from its fields (and must match any hash it
 * claims), and the proof leads to it. Never throws.
 */
export function verifySpv(proof: unknown, header: unknown): SpvResult {
  try {
    const p = typeof proof === "string" ? decodeSpvResponse(proof) : spvProofFromJson(JSON.stringify(proof) ?? "");
    const h = headerFromInput(header);
    const v = verifyAgainstHeader(p, h.chainId, h);
    return {
      ok: true,
      subject: JSON.parse(v.output.text),
      subjectText: v.output.text,
      chain: v.chain,
      blockHash: b64urlEncode(v.headerHash),
      height: Number(v.headerHeight),
    };
  } catch (e) {
    return { ok: false, error: asAncoraError(e) };
  }
}

// ---- new-format payload proofs (/pact/spv2) ----

/** What a payload proof's root is. */
export type RootType = "block" | "blockPayload" | "blockEvents";

/** A decoded new-format payload proof. */
export interface PayloadProof {
  rootType: RootType;
  object: MerkleProof;
  subject: Subject;
  algorithm: HashAlgorithm;
}

/** Parses a `/pact/spv2` payload proof (JSON text or object). */
export function payloadProofFromJson(input: unknown): PayloadProof {
  const v = typeof input === "string" ? parseJson(input, "payload proof") : fromJs(input, "payload proof");
  if (!isObject(v)) return fail("payload proof: expected a JSON object");
  const get = (k: string) => {
    const x = v.get(k);
    if (x === undefined) fail(`payload proof: missing field \`${k}\``);
    return x;
  };
  const rootType = get("rootType");
  if (rootType !== "block" && rootType !== "blockPayload" && rootType !== "blockEvents") {
    return fail(`payload proof: unknown rootType ${JSON.stringify(rootType)}`);
  }
  const object = get("object");
  if (typeof object !== "string") return fail("payload proof: object must be a string");
  const subject = subjectFromJson(get("subject"), "payload proof");
  const alg = get("algorithm");
  if (typeof alg !== "string") return fail("payload proof: algorithm must be a string");
  return {
    rootType,
    object: decodeProof(b64urlDecode(object, "payload proof object")),
    subject,
    algorithm: algorithmFromName(alg),
  };
}

/** Runs a payload proof with its algorithm; the root is still to be linked to a trusted header. */
export function runPayloadProof(p: PayloadProof): Uint8Array {
  return runProof(p.algorithm, p.object, subjectLeaf(p.subject));
}
