// Shared by the tests: where the repository and the shared vectors are, loading JSON, and
// the signing side of the transparency log (the verifier only checks; tests must sign).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { b64Encode, concat, utf8 } from "../src/encoding.js";

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root: the nearest folder above the tests holding backend/proof. */
export function repoRoot(): string {
  let d = here;
  for (;;) {
    if (existsSync(join(d, "backend", "proof"))) return d;
    const up = dirname(d);
    if (up === d) throw new Error(`no repository root (a folder with backend/proof) above ${here}`);
    d = up;
  }
}

/** The shared vectors: $ANCORA_SHARED_DIR/vectors, else shared/vectors in the repository root
 * or any folder above it (CI lays shared/ beside the clone), else the Rust core's vendored
 * copies in backend/proof/tests/vectors. */
export function vectorsDir(): string {
  const env = process.env.ANCORA_SHARED_DIR;
  if (env) {
    const d = existsSync(join(env, "vectors")) ? join(env, "vectors") : env;
    if (!existsSync(d)) throw new Error(`ANCORA_SHARED_DIR=${env} has no vectors`);
    return d;
  }
  let d = repoRoot();
  for (;;) {
    const v = join(d, "shared", "vectors");
    if (existsSync(v)) return v;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  const vendored = join(repoRoot(), "backend/proof/tests/vectors");
  if (existsSync(vendored)) return vendored;
  throw new Error("no shared/vectors found: set ANCORA_SHARED_DIR");
}

export function vectorFiles(): string[] {
  return readdirSync(vectorsDir()).filter((f) => f.endsWith(".json")).sort();
}

export function loadVector<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(vectorsDir(), name), "utf8")) as T;
}

export function readText(path: string): string {
  return readFileSync(resolve(path), "utf8");
}

/** A C2SP note signer (the Rust core's LogSigner), for building bundles in tests. */
export class NoteSigner {
  readonly publicKey: Uint8Array;
  readonly hash: number;
  constructor(readonly name: string, readonly seed: Uint8Array) {
    this.publicKey = ed25519.getPublicKey(seed);
    const d = sha256(concat(utf8(name), new Uint8Array([10, 1]), this.publicKey));
    this.hash = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
  }
  verifierKey(): string {
    return `${this.name}+${this.hash.toString(16).padStart(8, "0")}+${b64Encode(concat(new Uint8Array([1]), this.publicKey))}`;
  }
  signNote(text: string): string {
    const sig = ed25519.sign(utf8(text), this.seed);
    const raw = concat(new Uint8Array([this.hash >>> 24, (this.hash >>> 16) & 255, (this.hash >>> 8) & 255, this.hash & 255]), sig);
    return `${text}\n\u2014 ${this.name} ${b64Encode(raw)}\n`;
  }
}

/** A deterministic PRNG (mulberry32) for fuzzing with a fixed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
