// merkleRoot / inclusionProof (for devices that pre-aggregate) agree with the proof runner,
// the Rust core's shapes, and Chainweb's encoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AncoraError, inclusionProof, merkleRoot } from "../src/index.js";
import { digest } from "../src/hash.js";
import { decodeProof, rootOf, runProof, encodeProof, MerkleTree } from "../src/merkle.js";
import { leafHash } from "../src/hash.js";
import { utf8 } from "../src/encoding.js";

const A = "SHA512t_256" as const;
const leaves = (n: number) => Array.from({ length: n }, (_, i) => utf8(`leaf-${i}`));

test("the stack root, the level tree and every inclusion proof agree for 0..70 leaves", () => {
  for (let n = 0; n < 70; n++) {
    const ls = leaves(n);
    const root = merkleRoot(ls) as Uint8Array;
    assert.deepEqual(root, rootOf(A, ls.map((l) => leafHash(A, l))), `n = ${n}`);
    for (let i = 0; i < n; i++) {
      const bytes = inclusionProof(ls, i) as Uint8Array;
      const p = decodeProof(bytes);
      assert.equal(p.position, BigInt(i));
      assert.deepEqual(runProof(A, p, ls[i]!), root, `n = ${n}, i = ${i}`);
      assert.deepEqual(encodeProof(p), bytes);
    }
  }
  assert.deepEqual(merkleRoot([]), digest(A, new Uint8Array(0)));
});

test("nested roots enter as tree leaves, and a nested proof runs through both trees", () => {
  const inner = leaves(5);
  const innerRoot = merkleRoot(inner) as Uint8Array;
  const outer = [...leaves(2), { tree: innerRoot }, ...leaves(1)];
  const outerRoot = merkleRoot(outer) as Uint8Array;
  const p1 = decodeProof(inclusionProof(inner, 3) as Uint8Array);
  const p2 = decodeProof(inclusionProof(outer, 2) as Uint8Array);
  const chained = { position: p1.position, steps: [...p1.steps, ...p2.steps] };
  assert.deepEqual(runProof(A, chained, inner[3]!), outerRoot);
  assert.deepEqual(MerkleTree.build(A, outer).root(), outerRoot);
});

test("bad input comes back as an AncoraError, never thrown", () => {
  for (const bad of [null, "x", [1], [{ tree: new Uint8Array(31) }], [{}]]) {
    assert.ok(merkleRoot(bad as never) instanceof AncoraError);
  }
  const e = inclusionProof(leaves(3), 3);
  assert.ok(e instanceof AncoraError && e.code === "index_out_of_range");
  assert.ok(inclusionProof(leaves(3), -1) instanceof AncoraError);
  assert.ok(inclusionProof([], 0) instanceof AncoraError);
});

test("the decoder rejects bad lengths and side bytes, as merkle-log does", () => {
  assert.throws(() => decodeProof(new Uint8Array(11)));
  const one = new Uint8Array(45);
  one.set([0, 0, 0, 1], 0);
  one[12] = 2;
  assert.throws(() => decodeProof(one), /side byte/);
  one[12] = 1;
  assert.equal(decodeProof(one).steps.length, 1);
  assert.throws(() => decodeProof(one.subarray(0, 44)));
  assert.throws(() => decodeProof(new Uint8Array([255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0])));
});
