/**
 * `verifyBundle`: every step of a proof bundle checked on its own, with a verdict per step,
 * named and ordered exactly as the Rust core's `verify_bundle` names and orders them:
 *
 * "event leaf", "event→batch", "batch→anchor", then per trust point in bundle order —
 * tlog: "checkpoint signature", "anchor→log"; chainweb: "anchor→transaction output",
 * "transaction output→block", "trusted block header".
 *
 * Statuses: "ok", "failed", "skipped" (the step's input is unreadable) and, in version 2 only,
 * "unchecked": the trust step of a point when the verifier gave no log keys at all
 * ("checkpoint signature") or no Chainweb headers or nodes at all ("trusted block header").
 * Given but none matching is "failed".
 *
 * Verdict: version 1 — "verified" when every step is ok; version 2 — "verified" when no step
 * failed or was skipped and at least one trust point had all its steps ok.
 */
import { AncoraError, asAncoraError, fail } from "./errors.js";
import { b64urlEncode, bytesEqual, utf8Decode } from "./encoding.js";
import { BlockHeader, computeHeaderHash, headerFromInput, headerFromJson, versionCode } from "./chainweb.js";
import { HashAlgorithm, leafHash } from "./hash.js";
import { J, fromJs, parseJson } from "./json.js";
import { Leaf, MerkleProof, decodeProof, rootFromHash, runProof } from "./merkle.js";
import { commandResult, decodeSpvResponse, resultData, runSpvProof, TransactionOutputProof, verifyAgainstHeader } from "./spv.js";
import { NoteVerifier, TLOG_ALG, noteTextUnverified, openNote, parseCheckpointBody, parseVerifierKey, verifyInclusion, Checkpoint } from "./tlog.js";
import { encodeEventLeaf } from "./event.js";
import { Bundle, ChainwebTrustPoint, TlogTrustPoint, readBundle } from "./bundle-parse.js";

/** The step names, as they appear in reports. */
export const STEPS = {
  EVENT_LEAF: "event leaf",
  EVENT_TO_BATCH: "event→batch",
  BATCH_TO_ANCHOR: "batch→anchor",
  CHECKPOINT: "checkpoint signature",
  ANCHOR_TO_LOG: "anchor→log",
  ANCHOR_TO_OUTPUT: "anchor→transaction output",
  OUTPUT_TO_BLOCK: "transaction output→block",
  TRUSTED_HEADER: "trusted block header",
} as const;

export type StepStatus = "ok" | "failed" | "skipped" | "unchecked";

/** The verdict of one step. */
export interface StepVerdict {
  step: string;
  status: StepStatus;
  /** What was checked, or why it failed, in a sentence. */
  detail: string;
  /** The value the verifier computed (base64url), when the step compares one. */
  computed?: string;
  /** The value it must match. */
  expected?: string;
}

/** One trust point judged on its own steps. */
export interface TrustPointVerdict {
  type: "tlog" | "chainweb";
  /** "verified": all its steps ok; "failed": one failed or was skipped; "unchecked": its trust
   * step had nothing to check against and nothing failed. */
  status: "verified" | "failed" | "unchecked";
  /** Its steps' names, in report order. */
  steps: string[];
  /** Why it is not verified (the first failed or unchecked step's detail), or what holds. */
  detail: string;
}

/** What {@link verifyBundle} resolves with. */
export interface VerificationReport {
  /** "verified" only when the rules of the bundle's version say so; otherwise "failed". */
  verdict: "verified" | "failed";
  /** Every step, in proof order (empty when the bundle cannot be read at all). */
  steps: StepVerdict[];
  /** Each trust point of the bundle, in bundle order, with its own verdict. */
  trustPoints: TrustPointVerdict[];
  /** The bundle's format version, when it could be read. */
  bundleVersion?: 1 | 2;
  /** Why the bundle could not be read at all (then `steps` is empty). */
  error?: AncoraError;
}

/** What the verifier trusts. */
export interface VerifyOptions {
  /** Verifier keys of transparency logs, `<origin>+<hash>+<base64 key>` (GET /v1/log/key). */
  logKeys?: string[] | string;
  /** Chainweb block headers you fetched yourself from a node you trust: the node's JSON object
   * encoding (object or text) or the base64url binary encoding. */
  chainwebHeaders?: unknown[];
  /** Chainweb node base URLs to fetch the bundle's block header from; a fetched header is
   * trusted only when its recomputed hash is the one asked for. */
  chainwebNodes?: string[];
  /** The fetch to use for `chainwebNodes` (default: the global fetch). */
  fetch?: typeof fetch;
  /** Timeout of each node request, in milliseconds (default 10 000). */
  timeoutMs?: number;
}

interface Trust {
  logKeys: NoteVerifier[];
  headers: BlockHeader[];
  nodes: string[];
  /** Why node fetches failed, per trust point block hash. */
  nodeErrors: Map<string, string[]>;
}

function step(name: string, status: StepStatus, detail: string, computed?: Uint8Array | string, expected?: Uint8Array | string): StepVerdict {
  const v: StepVerdict = { step: name, status, detail };
  if (computed !== undefined) v.computed = typeof computed === "string" ? computed : b64urlEncode(computed);
  if (expected !== undefined) v.expected = typeof expected === "string" ? expected : b64urlEncode(expected);
  return v;
}

function message(e: unknown): string {
  return asAncoraError(e).message;
}

function checkEventLeaf(b: Bundle): StepVerdict {
  const name = STEPS.EVENT_LEAF;
  const leaf = b.event.leaf;
  const expected = leafHash("SHA512t_256", leaf);
  let bytes: Uint8Array;
  try {
    bytes = encodeEventLeaf(b.event);
  } catch (e) {
    return step(name, "failed", `the event fields cannot be encoded: ${message(e)}`);
  }
  if (bytesEqual(bytes, leaf)) {
    return step(name, "ok", "the event fields encode (event leaf v1) to exactly the bundle's leaf bytes", expected, expected);
  }
  return step(
    name,
    "failed",
    "the event fields encode to other bytes than the bundle's leaf: the event or its leaf was altered",
    leafHash("SHA512t_256", bytes),
    expected,
  );
}

function decodeOr(name: string, bytes: Uint8Array): MerkleProof | StepVerdict {
  try {
    return decodeProof(bytes);
  } catch (e) {
    return step(name, "failed", `the proof object does not decode: ${message(e)}`);
  }
}

function runStep(name: string, alg: HashAlgorithm, proofBytes: Uint8Array, subject: Leaf, root: Uint8Array, what: string, index: bigint): StepVerdict {
  const proof = decodeOr(name, proofBytes);
  if (!("steps" in proof)) return proof;
  if (proof.position !== index) {
    return step(name, "failed", `the proof object is for leaf ${proof.position}, the bundle says leaf ${index}`);
  }
  const computed = runProof(alg, proof, subject);
  if (bytesEqual(computed, root)) return step(name, "ok", `${proof.steps.length} ${alg} steps lead to ${what}`, computed, root);
  return step(name, "failed", `the proof leads to another root than ${what}`, computed, root);
}

function checkCheckpoint(t: TlogTrustPoint, trust: Trust, version: 1 | 2): Checkpoint | StepVerdict {
  const failed = (msg: string) => step(STEPS.CHECKPOINT, "failed", msg);
  if (trust.logKeys.length === 0) {
    return step(
      STEPS.CHECKPOINT,
      version === 2 ? "unchecked" : "failed",
      `no log key given: pass logKeys, the verifier key of log ${t.origin} (GET /v1/log/key of the log you trust)`,
    );
  }
  let cp: Checkpoint;
  try {
    cp = parseCheckpointBody(openNote(t.checkpoint, trust.logKeys));
  } catch (e) {
    return failed(message(e));
  }
  if (cp.origin !== t.origin) {
    return failed(`the checkpoint is for log ${JSON.stringify(cp.origin)}, the bundle names log ${JSON.stringify(t.origin)}`);
  }
  if (cp.size !== t.logSize) return failed(`the checkpoint has size ${cp.size}, the bundle's proof is for size ${t.logSize}`);
  return cp;
}

function checkTlog(t: TlogTrustPoint, anchorRoot: Uint8Array, trust: Trust, version: 1 | 2): StepVerdict[] {
  const out: StepVerdict[] = [];
  const signed = checkCheckpoint(t, trust, version);
  let root: Uint8Array | undefined;
  let source: string;
  if ("root" in signed) {
    root = signed.root;
    source = "the signed checkpoint's root";
    out.push(step(STEPS.CHECKPOINT, "ok", `checkpoint of log ${signed.origin} at size ${signed.size} signed by a trusted key`));
  } else {
    try {
      root = parseCheckpointBody(noteTextUnverified(t.checkpoint)).root;
    } catch {
      root = undefined;
    }
    source = "the root the checkpoint claims (its signature is not verified)";
    out.push(signed);
  }
  const name = STEPS.ANCHOR_TO_LOG;
  if (!root) {
    out.push(step(name, "skipped", "the checkpoint cannot be read, so there is no log root to check against"));
    return out;
  }
  const proof = decodeOr(name, t.proof);
  if (!("steps" in proof)) {
    out.push(proof);
    return out;
  }
  if (proof.position !== t.leafIndex) {
    out.push(step(name, "failed", `the proof object is for leaf ${proof.position}, the bundle says leaf ${t.leafIndex}`));
    return out;
  }
  const computed = rootFromHash(TLOG_ALG, proof, anchorRoot);
  try {
    verifyInclusion(t.leafIndex, t.logSize, anchorRoot, proof, root);
    out.push(
      step(
        name,
        "ok",
        `the anchor root is leaf ${t.leafIndex} of the log at size ${t.logSize}: the proof leads to ${source}`,
        computed,
        root,
      ),
    );
  } catch (e) {
    out.push(step(name, "failed", message(e), computed, root));
  }
  return out;
}

function checkOutput(p: TransactionOutputProof, c: ChainwebTrustPoint, anchorRoot: Uint8Array, version: 1 | 2): StepVerdict {
  const name = STEPS.ANCHOR_TO_OUTPUT;
  if (c.anchorRootLocation !== "result.data") {
    const field = version === 2 ? "anchorRootLocation" : "anchor_root_location";
    return step(name, "failed", `${field} ${JSON.stringify(c.anchorRootLocation)} is not understood (version ${version} knows "result.data")`);
  }
  let output;
  try {
    output = commandResult(p);
  } catch (e) {
    return step(name, "failed", `the proof's subject is not a transaction output: ${message(e)}`);
  }
  if (output.status !== "success") {
    return step(name, "failed", `the anchoring transaction did not succeed (result.status is ${JSON.stringify(output.status ?? "missing")})`);
  }
  const data = resultData(output);
  const expected = b64urlEncode(anchorRoot);
  if (typeof data !== "string") return step(name, "failed", "the transaction output has no string result.data", undefined, expected);
  if (data === expected) return step(name, "ok", "the transaction output's result.data is the anchor root", data, expected);
  return step(name, "failed", "the transaction output's result.data is not the anchor root", data, expected);
}

function checkOutputToBlock(p: TransactionOutputProof, h: BlockHeader, c: ChainwebTrustPoint): StepVerdict {
  const name = STEPS.OUTPUT_TO_BLOCK;
  let code: number;
  try {
    code = versionCode(c.network);
  } catch (e) {
    return step(name, "failed", message(e));
  }
  if (code !== h.version) return step(name, "failed", `the block header is not from network ${c.network}`);
  if (h.height !== c.blockHeight) return step(name, "failed", `the block header has height ${h.height}, the bundle says ${c.blockHeight}`);
  let ok;
  try {
    ok = verifyAgainstHeader(p, c.chainId, h);
  } catch (e) {
    return step(name, "failed", message(e), runSpvProof(p), c.blockHash);
  }
  if (!bytesEqual(ok.headerHash, c.blockHash)) {
    return step(
      name,
      "failed",
      `the block header hashes to ${b64urlEncode(ok.headerHash)}, the bundle says block ${b64urlEncode(c.blockHash)}`,
      ok.headerHash,
      c.blockHash,
    );
  }
  return step(
    name,
    "ok",
    `${p.object.steps.length} steps lead from the transaction output to block ${b64urlEncode(ok.headerHash)} at height ${ok.headerHeight} on chain ${ok.chain}`,
    ok.root,
    c.blockHash,
  );
}

function checkTrustedHeader(c: ChainwebTrustPoint, trust: Trust, version: 1 | 2): StepVerdict {
  const name = STEPS.TRUSTED_HEADER;
  const where = `chain ${c.chainId} at height ${c.blockHeight}`;
  if (trust.headers.length === 0 && trust.nodes.length === 0) {
    return step(
      name,
      version === 2 ? "unchecked" : "failed",
      `no trusted Chainweb header given: pass chainwebHeaders (the header of ${where} fetched from a node you trust) or chainwebNodes`,
    );
  }
  let seen: Uint8Array | undefined;
  for (const h of trust.headers) {
    if (h.chainId !== c.chainId || h.height !== c.blockHeight) continue;
    const hash = computeHeaderHash(h);
    if (bytesEqual(hash, c.blockHash)) return step(name, "ok", `the block is the trusted header of ${where}`, hash, c.blockHash);
    seen = hash;
  }
  if (seen) {
    return step(name, "failed", `the trusted header of ${where} is another block: the bundle's block is not on the chain you trust`, seen, c.blockHash);
  }
  const errors = trust.nodeErrors.get(b64urlEncode(c.blockHash)) ?? [];
  const nodes = errors.length ? `; the nodes said: ${errors.join("; ")}` : "";
  return step(name, "failed", `none of the trusted headers is of ${where}${nodes}`);
}

function checkChainweb(c: ChainwebTrustPoint, anchorRoot: Uint8Array, trust: Trust, version: 1 | 2): StepVerdict[] {
  let proof: TransactionOutputProof | undefined;
  let proofError = "";
  try {
    proof = decodeSpvResponse(c.spvProof);
  } catch (e) {
    proofError = message(e);
  }
  const out: StepVerdict[] = [];
  out.push(proof ? checkOutput(proof, c, anchorRoot, version) : step(STEPS.ANCHOR_TO_OUTPUT, "failed", `the SPV proof does not decode: ${proofError}`));
  let header: BlockHeader | undefined;
  let headerError = "";
  try {
    header = headerFromJson(c.header);
  } catch (e) {
    headerError = message(e);
  }
  if (!proof) out.push(step(STEPS.OUTPUT_TO_BLOCK, "skipped", "the SPV proof does not decode"));
  else if (!header) out.push(step(STEPS.OUTPUT_TO_BLOCK, "failed", `the bundle's block header does not parse: ${headerError}`));
  else out.push(checkOutputToBlock(proof, header, c));
  out.push(checkTrustedHeader(c, trust, version));
  return out;
}

/** Verifies a parsed bundle against `trust` (synchronous: node headers already fetched). */
function verifyParsed(b: Bundle, trust: Trust): VerificationReport {
  const steps: StepVerdict[] = [checkEventLeaf(b)];
  steps.push(
    runStep(STEPS.EVENT_TO_BATCH, b.batch.algorithm, b.batch.proof, b.event.leaf, b.batch.root, "the batch root", b.batch.leafIndex),
  );
  steps.push(
    runStep(STEPS.BATCH_TO_ANCHOR, b.anchor.algorithm, b.anchor.proof, { tree: b.batch.root }, b.anchor.root, "the anchor root", b.anchor.leafIndex),
  );
  const perPoint: StepVerdict[][] = b.trustPoints.map((t) =>
    t.type === "tlog" ? checkTlog(t, b.anchor.root, trust, b.version) : checkChainweb(t, b.anchor.root, trust, b.version),
  );
  for (const p of perPoint) steps.push(...p);
  const trustPoints = perPoint.map((own, i) => pointVerdict(b.trustPoints[i]!.type, own));
  let verified: boolean;
  if (b.version === 1) verified = steps.every((s) => s.status === "ok");
  else {
    verified =
      steps.every((s) => s.status !== "failed" && s.status !== "skipped") &&
      trustPoints.some((t) => t.status === "verified");
  }
  return { verdict: verified ? "verified" : "failed", steps, trustPoints, bundleVersion: b.version };
}

function pointVerdict(type: "tlog" | "chainweb", own: StepVerdict[]): TrustPointVerdict {
  const bad = own.find((s) => s.status === "failed" || s.status === "skipped");
  const unchecked = own.find((s) => s.status === "unchecked");
  const steps = own.map((s) => s.step);
  if (bad) return { type, status: "failed", steps, detail: `${bad.step} ${bad.status}: ${bad.detail}` };
  if (unchecked) return { type, status: "unchecked", steps, detail: `${unchecked.step} not checked: ${unchecked.detail}` };
  const what = type === "tlog" ? "transparency log's signed checkpoint" : "Chainweb block";
  return { type, status: "verified", steps, detail: `every step holds: the anchor root is bound to this ${what}` };
}

function parseInput(bundle: unknown): Bundle {
  let value: J;
  if (typeof bundle === "string") value = parseJson(bundle, "the bundle is not JSON");
  else if (bundle instanceof Uint8Array) value = parseJson(utf8Decode(bundle, "the bundle"), "the bundle is not JSON");
  else value = fromJs(bundle, "the bundle");
  return readBundle(value);
}

function buildTrust(opts: VerifyOptions): Trust {
  const keys = opts.logKeys === undefined ? [] : typeof opts.logKeys === "string" ? [opts.logKeys] : opts.logKeys;
  if (!Array.isArray(keys)) fail("logKeys must be an array of verifier key texts", "bad_trust");
  const logKeys = keys.map((k, i) => {
    if (typeof k !== "string") return fail(`logKeys[${i}] must be a verifier key text`, "bad_trust");
    try {
      return parseVerifierKey(k);
    } catch (e) {
      return fail(`logKeys[${i}]: ${message(e)}`, "bad_trust");
    }
  });
  const hs = opts.chainwebHeaders ?? [];
  if (!Array.isArray(hs)) fail("chainwebHeaders must be an array of block headers", "bad_trust");
  const headers = hs.map((h, i) => {
    try {
      return headerFromInput(h);
    } catch (e) {
      return fail(`chainwebHeaders[${i}]: ${message(e)}`, "bad_trust");
    }
  });
  const nodes = opts.chainwebNodes ?? [];
  if (!Array.isArray(nodes) || nodes.some((n) => typeof n !== "string")) fail("chainwebNodes must be an array of URLs", "bad_trust");
  return { logKeys, headers, nodes, nodeErrors: new Map() };
}

/** Fetches the block header of a chainweb trust point from each node; keeps those whose
 * recomputed hash is the block hash asked for. */
async function fetchHeaders(c: ChainwebTrustPoint, trust: Trust, opts: VerifyOptions): Promise<void> {
  const f = opts.fetch ?? globalThis.fetch;
  const hash = b64urlEncode(c.blockHash);
  const errors: string[] = [];
  await Promise.all(
    trust.nodes.map(async (node) => {
      const url = `${node.replace(/\/+$/, "")}/chainweb/0.0/${encodeURIComponent(c.network)}/chain/${c.chainId}/header/${hash}`;
      try {
        const resp = await f(url, {
          headers: { accept: "application/json;blockheader-encoding=object" },
          signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
        });
        if (!resp.ok) throw new AncoraError("http_error", `HTTP ${resp.status}`);
        const h = headerFromInput(await resp.text());
        const got = computeHeaderHash(h);
        if (!bytesEqual(got, c.blockHash)) throw new AncoraError("bad_input", `its header hashes to ${b64urlEncode(got)}`);
        trust.headers.push(h);
      } catch (e) {
        errors.push(`${node}: ${message(e)}`);
      }
    }),
  );
  if (errors.length) trust.nodeErrors.set(hash, errors);
}

/**
 * Verifies a proof bundle (a JSON string, its UTF-8 bytes, or a parsed object) step by step.
 * Resolves with a report for every bundle, whatever its content: a bundle that cannot be read
 * at all gets verdict "failed", no steps and `error`. Rejects only when `options` are unusable
 * (a malformed log key or trusted header: an AncoraError with code "bad_trust").
 */
export async function verifyBundle(bundle: unknown, options: VerifyOptions = {}): Promise<VerificationReport> {
  const trust = buildTrust(options ?? {});
  let b: Bundle;
  try {
    b = parseInput(bundle);
  } catch (e) {
    return { verdict: "failed", steps: [], trustPoints: [], error: asAncoraError(e) };
  }
  if (trust.nodes.length > 0) {
    await Promise.all(b.trustPoints.filter((t): t is ChainwebTrustPoint => t.type === "chainweb").map((c) => fetchHeaders(c, trust, options)));
  }
  try {
    return verifyParsed(b, trust);
  } catch (e) {
    // Unreachable by design: every step catches its own faults. Never let one escape.
    return { verdict: "failed", steps: [], trustPoints: [], bundleVersion: b.version, error: asAncoraError(e) };
  }
}
