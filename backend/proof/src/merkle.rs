//! Merkle trees, inclusion proofs and the binary proof object, exactly as Chainweb's
//! `merkle-log` (0.2.0) defines them.
//!
//! * An input leaf hashes as `H(0x00 ‖ bytes)`; an inner node as `H(0x01 ‖ left ‖ right)`.
//! * A tree leaf ([`Leaf::Tree`]) is the root of a nested tree and enters the tree as is.
//! * The empty tree's root is `H("")`.
//! * The shape is RFC 6962's: with `k` the largest power of two below `n`,
//!   `MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n]))`. Built level by level, an odd last node
//!   is carried up unchanged, which gives the same tree.
//!
//! A proof is self-describing (a side byte per step), so running it needs neither the tree
//! size nor the leaf index. Its binary object is `u32 BE step count ‖ u64 BE subject position
//! ‖ (side u8 ‖ 32-byte sibling)*`, steps ordered leaf to root.

use crate::Error;
use crate::hash::{HASH_LEN, Hash, HashAlgorithm};

/// Domain-separation prefix of an input leaf.
pub const LEAF_TAG: u8 = 0x00;
/// Domain-separation prefix of an inner node.
pub const NODE_TAG: u8 = 0x01;

/// One leaf of a Merkle log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf<'a> {
    /// Bytes hashed as `H(0x00 ‖ bytes)`.
    Input(&'a [u8]),
    /// A nested tree's root, taken as is.
    Tree(Hash),
}

impl Leaf<'_> {
    /// The leaf's node hash in the tree.
    pub fn hash(&self, alg: HashAlgorithm) -> Hash {
        match self {
            Leaf::Input(bytes) => leaf_hash(alg, bytes),
            Leaf::Tree(h) => *h,
        }
    }
}

/// `H(0x00 ‖ bytes)`.
pub fn leaf_hash(alg: HashAlgorithm, bytes: &[u8]) -> Hash {
    alg.digest(&[&[LEAF_TAG], bytes])
}

/// `H(0x01 ‖ left ‖ right)`.
pub fn node_hash(alg: HashAlgorithm, left: &Hash, right: &Hash) -> Hash {
    // One contiguous 65-byte input: a single `update` instead of three small ones.
    let mut buf = [0u8; 1 + 2 * HASH_LEN];
    buf[0] = NODE_TAG;
    buf[1..=HASH_LEN].copy_from_slice(&left.0);
    buf[1 + HASH_LEN..].copy_from_slice(&right.0);
    alg.digest(&[&buf])
}

/// The root of the empty tree, `H("")`.
pub fn empty_root(alg: HashAlgorithm) -> Hash {
    alg.digest(&[])
}

/// A built Merkle tree, kept level by level so that any leaf's proof can be read off it.
///
/// Memory is about `2n` hashes (64 bytes per leaf).
#[derive(Clone, Debug)]
pub struct MerkleTree {
    alg: HashAlgorithm,
    /// `levels[0]` are the leaf hashes; the last level holds the root alone.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Builds a tree over `leaves`.
    pub fn build(alg: HashAlgorithm, leaves: &[Leaf<'_>]) -> Self {
        Self::from_leaf_hashes(alg, leaves.iter().map(|l| l.hash(alg)).collect())
    }

    /// Builds a tree over leaf hashes that are already computed (`H(0x00‖bytes)` for an input
    /// leaf, the nested root for a tree leaf).
    pub fn from_leaf_hashes(alg: HashAlgorithm, leaf_hashes: Vec<Hash>) -> Self {
        let mut levels = vec![leaf_hashes];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let prev = levels.last().map(Vec::as_slice).unwrap_or_default();
            let mut next = Vec::with_capacity(prev.len().div_ceil(2));
            for pair in prev.chunks(2) {
                match pair {
                    [l, r] => next.push(node_hash(alg, l, r)),
                    [odd] => next.push(*odd),
                    _ => {}
                }
            }
            levels.push(next);
        }
        MerkleTree { alg, levels }
    }

    /// The algorithm the tree was built with.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.alg
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// True when the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root; `H("")` for the empty tree.
    pub fn root(&self) -> Hash {
        match self.levels.last().map(Vec::as_slice) {
            Some([root]) => *root,
            _ => empty_root(self.alg),
        }
    }

    /// The node hash of leaf `index`.
    pub fn leaf(&self, index: usize) -> Option<Hash> {
        self.levels[0].get(index).copied()
    }

    /// The inclusion proof of leaf `index`, or [`Error::IndexOutOfRange`].
    pub fn proof(&self, index: usize) -> Result<MerkleProof, Error> {
        let n = self.len();
        if index >= n {
            return Err(Error::IndexOutOfRange { index, len: n });
        }
        let mut steps = Vec::with_capacity(usize::BITS as usize - n.leading_zeros() as usize);
        self.proof_steps_into(index, &mut steps);
        Ok(MerkleProof {
            position: index as u64,
            steps,
        })
    }

    /// Every node of the tree, level by level from the leaves up to the root, 32 bytes each:
    /// what [`MerkleTree::from_node_bytes`] reads back without hashing.
    pub fn node_bytes(&self) -> Vec<u8> {
        let nodes: usize = self.levels.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(nodes * HASH_LEN);
        for h in self.levels.iter().flatten() {
            out.extend_from_slice(&h.0);
        }
        out
    }

    /// Reads a tree back from [`MerkleTree::node_bytes`], without hashing; [`Error::BadLength`]
    /// unless the bytes are exactly the nodes of a tree of some number of leaves (at least
    /// one). The nodes are not checked against each other: a proof read off damaged bytes
    /// leads to another root, which its verification refuses.
    pub fn from_node_bytes(alg: HashAlgorithm, bytes: &[u8]) -> Result<Self, Error> {
        let bad = |expected| Error::BadLength {
            what: "stored Merkle tree",
            expected,
            actual: bytes.len(),
        };
        if bytes.is_empty() || !bytes.len().is_multiple_of(HASH_LEN) {
            return Err(bad(HASH_LEN));
        }
        let count = bytes.len() / HASH_LEN;
        // The node count grows with the leaf count: the least leaf count reaching it.
        let total = |leaves: usize| level_sizes(leaves).iter().sum::<usize>();
        let (mut lo, mut hi) = (1usize, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if total(mid) < count {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if total(lo) != count {
            return Err(bad(total(lo) * HASH_LEN));
        }
        let mut nodes = bytes.chunks_exact(HASH_LEN).map(Hash::from_slice);
        let levels = level_sizes(lo)
            .into_iter()
            .map(|n| nodes.by_ref().take(n).collect())
            .collect::<Result<_, _>>()?;
        Ok(MerkleTree { alg, levels })
    }

    /// Appends the proof steps of leaf `index` (which must be in range) to `out`, so callers
    /// producing millions of proofs can reuse one buffer.
    pub fn proof_steps_into(&self, index: usize, out: &mut Vec<ProofStep>) {
        let mut i = index;
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            let sibling = i ^ 1;
            if let Some(h) = level.get(sibling) {
                let side = if sibling < i { Side::Left } else { Side::Right };
                out.push(ProofStep { side, sibling: *h });
            }
            i /= 2;
        }
    }
}

/// The level sizes of a tree of `leaves` leaves (the leaves first, the root last; none for
/// the empty tree).
fn level_sizes(leaves: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut n = leaves;
    while n > 0 {
        sizes.push(n);
        if n == 1 {
            break;
        }
        n = n.div_ceil(2);
    }
    sizes
}

/// Which side of the running hash the sibling stands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Side byte 0x00: `cur = H(0x01 ‖ sibling ‖ cur)`.
    Left,
    /// Side byte 0x01: `cur = H(0x01 ‖ cur ‖ sibling)`.
    Right,
}

impl Side {
    /// The side byte of the binary proof object.
    pub fn byte(self) -> u8 {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }

    /// Parses a side byte; anything but 0 or 1 is [`Error::BadSide`].
    pub fn from_byte(b: u8) -> Result<Self, Error> {
        match b {
            0 => Ok(Side::Left),
            1 => Ok(Side::Right),
            other => Err(Error::BadSide(other)),
        }
    }
}

/// One step of a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProofStep {
    /// Where the sibling stands.
    pub side: Side,
    /// The sibling hash.
    pub sibling: Hash,
}

/// An inclusion proof: steps from a subject to a root, possibly across nested trees.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MerkleProof {
    /// The subject's leaf index in the first (innermost) tree. Informational only: running a
    /// proof never reads it.
    pub position: u64,
    /// Steps ordered from the leaf to the root.
    pub steps: Vec<ProofStep>,
}

/// Size of the proof object's header (step count and position).
pub const PROOF_HEADER_LEN: usize = 12;
/// Size of one encoded step.
pub const STEP_LEN: usize = 1 + HASH_LEN;

impl MerkleProof {
    /// Runs the proof from a leaf's node hash and returns the root it leads to.
    pub fn root_from_hash(&self, alg: HashAlgorithm, leaf: Hash) -> Hash {
        self.steps.iter().fold(leaf, |cur, step| match step.side {
            Side::Left => node_hash(alg, &step.sibling, &cur),
            Side::Right => node_hash(alg, &cur, &step.sibling),
        })
    }

    /// Runs the proof for `subject` and returns the root it leads to. The caller must compare
    /// that root with one it trusts.
    pub fn run(&self, alg: HashAlgorithm, subject: Leaf<'_>) -> Hash {
        self.root_from_hash(alg, subject.hash(alg))
    }

    /// True when the proof leads from `subject` to `root`.
    pub fn verify(&self, alg: HashAlgorithm, subject: Leaf<'_>, root: &Hash) -> bool {
        self.run(alg, subject) == *root
    }

    /// Chains this proof (into some tree) with `outer`, a proof of this tree's root as a
    /// tree leaf of the next tree, as `merkleProof_` does. The position stays the inner one.
    pub fn then(mut self, outer: &MerkleProof) -> MerkleProof {
        self.steps.extend_from_slice(&outer.steps);
        self
    }

    /// The binary proof object.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PROOF_HEADER_LEN + self.steps.len() * STEP_LEN);
        out.extend_from_slice(&(self.steps.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
        for s in &self.steps {
            out.push(s.side.byte());
            out.extend_from_slice(&s.sibling.0);
        }
        out
    }

    /// Decodes a binary proof object. Rejects anything shorter than the header, any length
    /// other than `12 + steps × 33`, and any side byte other than 0 or 1.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let (header, body) =
            bytes
                .split_first_chunk::<PROOF_HEADER_LEN>()
                .ok_or(Error::BadLength {
                    what: "proof object",
                    expected: PROOF_HEADER_LEN,
                    actual: bytes.len(),
                })?;
        let (count, position) = header.split_at(4);
        let count = u32::from_be_bytes(count.try_into().map_err(|_| Error::Truncated)?) as usize;
        let position = u64::from_be_bytes(position.try_into().map_err(|_| Error::Truncated)?);
        let expected = count.checked_mul(STEP_LEN).ok_or(Error::Truncated)?;
        if body.len() != expected {
            return Err(Error::BadLength {
                what: "proof object",
                expected: PROOF_HEADER_LEN.saturating_add(expected),
                actual: bytes.len(),
            });
        }
        let steps = body
            .chunks_exact(STEP_LEN)
            .map(|c| {
                Ok(ProofStep {
                    side: Side::from_byte(c[0])?,
                    sibling: Hash::from_slice(&c[1..])?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(MerkleProof { position, steps })
    }
}

/// The root of `leaves` without keeping the tree: a stack of `(height, hash)` pairs, as
/// `merkle-log`'s `merkleTree` does. Uses `O(log n)` memory.
pub fn root_of(alg: HashAlgorithm, leaves: impl IntoIterator<Item = Hash>) -> Hash {
    let mut stack: Vec<(u32, Hash)> = Vec::new();
    for leaf in leaves {
        let mut cur = (0u32, leaf);
        while let Some(&(h, top)) = stack.last() {
            if h != cur.0 {
                break;
            }
            stack.pop();
            cur = (h + 1, node_hash(alg, &top, &cur.1));
        }
        stack.push(cur);
    }
    let mut acc: Option<Hash> = None;
    while let Some((_, h)) = stack.pop() {
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(alg, &h, &right),
        });
    }
    acc.unwrap_or_else(|| empty_root(alg))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: HashAlgorithm = HashAlgorithm::Sha512_256;

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("leaf-{i}").into_bytes()).collect()
    }

    #[test]
    fn a_stored_tree_gives_every_leaf_the_proof_the_built_tree_gives() {
        for n in 1..70 {
            let data = leaves(n);
            let ls: Vec<Leaf<'_>> = data.iter().map(|d| Leaf::Input(d)).collect();
            let tree = MerkleTree::build(A, &ls);
            let stored = MerkleTree::from_node_bytes(A, &tree.node_bytes()).expect("a whole tree");
            assert_eq!(stored.len(), n);
            assert_eq!(stored.root(), tree.root(), "n = {n}");
            for i in 0..n {
                assert_eq!(
                    stored.proof(i).expect("in range"),
                    tree.proof(i).expect("in range"),
                    "n = {n}, i = {i}"
                );
            }
            assert!(matches!(
                stored.proof(n),
                Err(Error::IndexOutOfRange { .. })
            ));
        }
    }

    #[test]
    fn bytes_that_are_not_a_whole_tree_are_refused() {
        let data = leaves(5);
        let ls: Vec<Leaf<'_>> = data.iter().map(|d| Leaf::Input(d)).collect();
        let bytes = MerkleTree::build(A, &ls).node_bytes();
        // 5 leaves: levels of 5, 3, 2 and 1 nodes.
        assert_eq!(bytes.len(), 11 * HASH_LEN);
        for bad in [
            Vec::new(),
            bytes[..bytes.len() - 1].to_vec(),
            bytes[..bytes.len() - HASH_LEN].to_vec(),
            // 13 nodes: 6 leaves make 12, 7 make 14
            [bytes.as_slice(), &[0u8; 2 * HASH_LEN]].concat(),
        ] {
            assert!(
                matches!(
                    MerkleTree::from_node_bytes(A, &bad),
                    Err(Error::BadLength { .. })
                ),
                "{} bytes",
                bad.len()
            );
        }
    }

    #[test]
    fn a_damaged_stored_node_on_the_path_leads_to_another_root() {
        let data = leaves(4);
        let ls: Vec<Leaf<'_>> = data.iter().map(|d| Leaf::Input(d)).collect();
        let tree = MerkleTree::build(A, &ls);
        let mut bytes = tree.node_bytes();
        bytes[HASH_LEN - 1] ^= 1; // leaf 0, the sibling of leaf 1
        let stored = MerkleTree::from_node_bytes(A, &bytes).expect("still the right length");
        let p = stored.proof(1).expect("in range");
        assert!(!p.verify(A, ls[1], &tree.root()));
    }

    #[test]
    fn the_stack_root_and_the_level_tree_agree() {
        for n in 0..70 {
            let data = leaves(n);
            let ls: Vec<Leaf<'_>> = data.iter().map(|d| Leaf::Input(d)).collect();
            let tree = MerkleTree::build(A, &ls);
            let stack = root_of(A, ls.iter().map(|l| l.hash(A)));
            assert_eq!(tree.root(), stack, "n = {n}");
            for (i, l) in ls.iter().enumerate() {
                let p = tree.proof(i).expect("in range");
                assert!(p.verify(A, *l, &tree.root()), "n = {n}, i = {i}");
                assert_eq!(MerkleProof::decode(&p.encode()).expect("decodes"), p);
            }
        }
    }

    #[test]
    fn a_nested_proof_runs_through_both_trees() {
        let inner_data = leaves(5);
        let inner_leaves: Vec<Leaf<'_>> = inner_data.iter().map(|d| Leaf::Input(d)).collect();
        let inner = MerkleTree::build(A, &inner_leaves);
        let outer_data = leaves(3);
        let mut outer_leaves: Vec<Leaf<'_>> = outer_data.iter().map(|d| Leaf::Input(d)).collect();
        outer_leaves.insert(2, Leaf::Tree(inner.root()));
        let outer = MerkleTree::build(A, &outer_leaves);
        let p = inner
            .proof(3)
            .expect("in range")
            .then(&outer.proof(2).expect("in range"));
        assert_eq!(p.position, 3);
        assert!(p.verify(A, inner_leaves[3], &outer.root()));
    }

    #[test]
    fn the_decoder_rejects_bad_lengths_and_side_bytes() {
        assert!(MerkleProof::decode(&[0; 11]).is_err());
        let mut one = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        one.extend_from_slice(&[0; 32]);
        assert!(matches!(MerkleProof::decode(&one), Err(Error::BadSide(2))));
        one[12] = 1;
        assert!(MerkleProof::decode(&one).is_ok());
        assert!(MerkleProof::decode(&one[..one.len() - 1]).is_err());
        let huge = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(MerkleProof::decode(&huge).is_err());
    }

    #[test]
    fn the_empty_tree_has_the_hash_of_nothing_as_root() {
        assert_eq!(MerkleTree::build(A, &[]).root(), A.digest(&[b""]));
        assert!(MerkleTree::build(A, &[]).proof(0).is_err());
    }
}
