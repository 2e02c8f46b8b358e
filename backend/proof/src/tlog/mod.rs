//! Ancora's own append-only transparency log, the default trust point.
//!
//! The log is an RFC 6962 Merkle tree hashed with SHA-512/256 and Chainweb's prefixes (the
//! [`merkle`](crate::merkle) module), whose leaves are anchor roots entering as
//! [`Leaf::Tree`](crate::Leaf::Tree). One nested proof therefore runs
//! event → batch root → anchor root → log root.
//!
//! The service stores the log as the hashes of its *complete* subtrees, addressed by
//! `(level, index)`: node `(l, i)` covers leaves `[i·2^l, (i+1)·2^l)`, level 0 being the leaf
//! hashes (like transparency-dev/tessera's tiles). Everything here is pure and reads those
//! hashes through a fetch function `node(level, index)`, so the same code runs over Postgres
//! in the service and over [`MemoryLog`] in tests:
//!
//! * [`append`] — the complete nodes one append creates, for the caller to store.
//! * [`root`], [`inclusion_proof`], [`consistency_proof`] — read-only computations.
//! * [`verify_inclusion`], [`verify_consistency`] — checks needing no storage at all.
//!
//! Signed checkpoints (C2SP tlog-checkpoint in a C2SP signed note) are in [`checkpoint`] and
//! [`note`].
//!
//! The fetch function's error type `E` must absorb this crate's [`Error`] (`E: From<Error>`),
//! which `anyhow::Error` and [`Error`] itself both do: a size that makes no sense is reported
//! as an [`Error`] converted into `E`, a storage failure as whatever the fetcher returns.

pub mod checkpoint;
mod memory;
pub mod note;

pub use checkpoint::{Checkpoint, open_checkpoint, open_checkpoint_for_origin, sign_checkpoint};
pub use memory::MemoryLog;
pub use note::{LogSigner, NoteVerifier, parse_verifier_key};

use crate::Error;
use crate::hash::{Hash, HashAlgorithm};
use crate::merkle::{MerkleProof, ProofStep, Side, empty_root, node_hash};

/// The log's hash algorithm.
pub const TLOG_ALG: HashAlgorithm = HashAlgorithm::Sha512_256;

/// Largest log size this module accepts (2^62 leaves), so that no index arithmetic overflows.
pub const MAX_LOG_SIZE: u64 = 1 << 62;

/// One complete node: `(level, index, hash)`.
pub type Node = (u8, u64, Hash);

fn check_size(size: u64) -> Result<(), Error> {
    if size > MAX_LOG_SIZE {
        return Err(Error::LogProof(format!(
            "log size {size} exceeds the maximum {MAX_LOG_SIZE}"
        )));
    }
    Ok(())
}

/// Largest power of two strictly below `n` (`n ≥ 2`).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The RFC 6962 `MTH(D[start:end])` of a range whose start is a multiple of the smallest power
/// of two at least its length (every range the RFC recursions produce is). Complete subtrees
/// are fetched; the rest is hashed.
fn range_hash<E: From<Error>>(
    start: u64,
    end: u64,
    node: &impl Fn(u8, u64) -> Result<Hash, E>,
) -> Result<Hash, E> {
    let len = end - start;
    if len == 0 {
        return Ok(empty_root(TLOG_ALG));
    }
    if len.is_power_of_two() && start.is_multiple_of(len) {
        let level = len.trailing_zeros() as u8;
        return node(level, start >> level);
    }
    let k = split_point(len);
    let left = range_hash(start, start + k, node)?;
    let right = range_hash(start + k, end, node)?;
    Ok(node_hash(TLOG_ALG, &left, &right))
}

/// The root of the log's first `size` leaves; `H("")` for size 0.
pub fn root<E: From<Error>>(
    size: u64,
    node: impl Fn(u8, u64) -> Result<Hash, E>,
) -> Result<Hash, E> {
    check_size(size)?;
    range_hash(0, size, &node)
}

/// Appends a leaf hash (an anchor root) to a log of `size` leaves and returns the complete
/// nodes the append creates, leaf first: `(0, size, leaf_hash)`, then each parent that the
/// new leaf completes. The caller stores all of them; nothing else changes.
pub fn append<E: From<Error>>(
    size: u64,
    leaf_hash: Hash,
    node: impl Fn(u8, u64) -> Result<Hash, E>,
) -> Result<Vec<Node>, E> {
    if size >= MAX_LOG_SIZE {
        return Err(Error::LogProof(format!("the log is full ({MAX_LOG_SIZE} leaves)")).into());
    }
    let mut out = Vec::with_capacity(1 + size.trailing_ones() as usize);
    let (mut level, mut index, mut hash) = (0u8, size, leaf_hash);
    out.push((level, index, hash));
    while index & 1 == 1 {
        let left = node(level, index - 1)?;
        hash = node_hash(TLOG_ALG, &left, &hash);
        level += 1;
        index >>= 1;
        out.push((level, index, hash));
    }
    Ok(out)
}

/// The inclusion proof of leaf `index` in the log of `size` leaves (RFC 6962 `PATH`), as a
/// self-describing [`MerkleProof`] whose position is `index`, so it chains after an anchor
/// proof with [`MerkleProof::then`]. Fails when `index ≥ size`.
pub fn inclusion_proof<E: From<Error>>(
    index: u64,
    size: u64,
    node: impl Fn(u8, u64) -> Result<Hash, E>,
) -> Result<MerkleProof, E> {
    check_size(size)?;
    if index >= size {
        return Err(Error::IndexOutOfRange {
            index: usize::try_from(index).unwrap_or(usize::MAX),
            len: usize::try_from(size).unwrap_or(usize::MAX),
        }
        .into());
    }
    // Walk from the root down, collecting siblings, then reverse to leaf-to-root order.
    let mut steps = Vec::with_capacity(64);
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let k = split_point(end - start);
        let mid = start + k;
        if index < mid {
            steps.push(ProofStep {
                side: Side::Right,
                sibling: range_hash(mid, end, &node)?,
            });
            end = mid;
        } else {
            steps.push(ProofStep {
                side: Side::Left,
                sibling: range_hash(start, mid, &node)?,
            });
            start = mid;
        }
    }
    steps.reverse();
    Ok(MerkleProof {
        position: index,
        steps,
    })
}

/// The sides an inclusion proof of leaf `index` in a log of `size` leaves must have, leaf to
/// root. `None` when `index ≥ size`.
fn inclusion_sides(index: u64, size: u64) -> Option<Vec<Side>> {
    if index >= size || size > MAX_LOG_SIZE {
        return None;
    }
    let mut sides = Vec::with_capacity(64);
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let mid = start + split_point(end - start);
        if index < mid {
            sides.push(Side::Right);
            end = mid;
        } else {
            sides.push(Side::Left);
            start = mid;
        }
    }
    sides.reverse();
    Some(sides)
}

/// Checks that `proof` proves the leaf with node hash `leaf_hash` at `index` in the log of
/// `size` leaves whose root is `root`. Unlike [`MerkleProof::verify`], this also checks that
/// the proof's shape (step count and sides) is the one of that index in that size, so a proof
/// for another position does not pass. Returns [`Error::LogProof`] saying what differs.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: Hash,
    proof: &MerkleProof,
    root: &Hash,
) -> Result<(), Error> {
    let sides = inclusion_sides(index, size).ok_or_else(|| {
        Error::LogProof(format!(
            "leaf index {index} is not inside a log of {size} leaves"
        ))
    })?;
    if proof.steps.len() != sides.len() {
        return Err(Error::LogProof(format!(
            "an inclusion proof of leaf {index} in a log of {size} leaves has {} steps, this one has {}",
            sides.len(),
            proof.steps.len()
        )));
    }
    if proof
        .steps
        .iter()
        .zip(&sides)
        .any(|(s, side)| s.side != *side)
    {
        return Err(Error::LogProof(format!(
            "the proof's step sides are not those of leaf {index} in a log of {size} leaves"
        )));
    }
    let computed = proof.root_from_hash(TLOG_ALG, leaf_hash);
    if computed != *root {
        return Err(Error::RootMismatch {
            what: "the log root",
            root: computed,
            expected: *root,
        });
    }
    Ok(())
}

/// The consistency proof between the log's first `m` leaves and its first `n` (RFC 6962
/// §2.1.2 `PROOF(m, D[n])`): proof hashes only. Empty when `m == n` or `m == 0`; fails when
/// `m > n`.
pub fn consistency_proof<E: From<Error>>(
    m: u64,
    n: u64,
    node: impl Fn(u8, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    check_size(n)?;
    if m > n {
        return Err(Error::LogProof(format!(
            "no consistency proof from size {m} to the smaller size {n}"
        ))
        .into());
    }
    let mut proof = Vec::with_capacity(64);
    if m == 0 || m == n {
        return Ok(proof);
    }
    // SUBPROOF(m, D[start:end], b), unrolled: `m` is relative to `start`.
    let (mut m, mut start, mut end, mut whole) = (m, 0u64, n, true);
    let mut outer = Vec::with_capacity(64);
    loop {
        let len = end - start;
        if m == len {
            if !whole {
                proof.push(range_hash(start, end, &node)?);
            }
            break;
        }
        let k = split_point(len);
        if m <= k {
            outer.push(range_hash(start + k, end, &node)?);
            end = start + k;
        } else {
            outer.push(range_hash(start, start + k, &node)?);
            m -= k;
            start += k;
            whole = false;
        }
    }
    // The recursion appends the outer hashes after the inner ones.
    proof.extend(outer.into_iter().rev());
    Ok(proof)
}

/// Checks a consistency proof from the log of `m` leaves with root `old_root` to the log of `n`
/// leaves with root `new_root` (RFC 9162 §2.1.4.2). With `m == n` the proof must be empty and
/// the roots equal; with `m == 0` the proof must be empty and `old_root` the empty root.
pub fn verify_consistency(
    m: u64,
    n: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Error> {
    let fail = |msg: String| Err(Error::LogProof(msg));
    if n > MAX_LOG_SIZE {
        return fail(format!("log size {n} exceeds the maximum {MAX_LOG_SIZE}"));
    }
    if m > n {
        return fail(format!("the new size {n} is smaller than the old size {m}"));
    }
    if m == n || m == 0 {
        if !proof.is_empty() {
            return fail(format!(
                "a consistency proof from size {m} to {n} must be empty, this one has {} hashes",
                proof.len()
            ));
        }
        if m == 0 && *old_root != empty_root(TLOG_ALG) {
            return fail("the old root of an empty log must be the empty root".into());
        }
        if m == n && old_root != new_root {
            return fail(format!(
                "both checkpoints have size {n} but different roots: the log forked"
            ));
        }
        return Ok(());
    }
    if proof.is_empty() || proof.len() > 128 {
        return fail(format!(
            "a consistency proof from size {m} to {n} cannot have {} hashes",
            proof.len()
        ));
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (m - 1, n - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if snode == 0 {
            return fail("the consistency proof is too long".into());
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(TLOG_ALG, c, &fr);
            sr = node_hash(TLOG_ALG, c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(TLOG_ALG, &sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return fail("the consistency proof is too short".into());
    }
    if fr != *old_root {
        return Err(Error::RootMismatch {
            what: "the old checkpoint's root",
            root: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(Error::RootMismatch {
            what: "the new checkpoint's root",
            root: sr,
            expected: *new_root,
        });
    }
    Ok(())
}
