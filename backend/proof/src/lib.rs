//! # ancora-proof
//!
//! The one piece of code that makes and checks every Ancora proof. It agrees with Chainweb
//! byte for byte, and it is pure: no I/O, no async runtime, no database. The server, the
//! `ancora` command line and the tests all call the same functions.
//!
//! * [`hash`] — the two Merkle hash algorithms (SHA-512/256, Keccak-256) and 32-byte hashes.
//! * [`merkle`] — Chainweb merkle-log trees, inclusion proofs, the binary proof object.
//! * [`event`] — Ancora's canonical event leaf and content digests.
//! * [`chainweb`] — typed leaves, block headers (JSON and binary), payload trees.
//! * [`spv`] — Chainweb `/pact/spv` proofs: decode, run, verify against a header; build them.
//! * [`tlog`] — Ancora's signed transparency log: checkpoints, inclusion and consistency proofs.
//! * [`bundle`] — the proof bundle (versions 1 and 2) and `verify_bundle`.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod chainweb;
pub mod event;
pub mod hash;
pub mod merkle;
pub mod spv;
pub mod tlog;

pub use hash::{Hash, HashAlgorithm};
pub use merkle::{Leaf, MerkleProof, MerkleTree, ProofStep, Side};

/// Everything that can go wrong when decoding or checking proof material. Every decoder in
/// this crate returns one of these for input it cannot accept; none panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A byte string had the wrong length.
    #[error("{what}: expected {expected} bytes, got {actual}")]
    BadLength {
        /// What was being decoded.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// Input ended early.
    #[error("input is truncated")]
    Truncated,
    /// A proof step's side byte was not 0 or 1.
    #[error("bad side byte {0:#04x} in proof step (must be 0x00 or 0x01)")]
    BadSide(u8),
    /// An algorithm name this crate does not know.
    #[error("unknown hash algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// Bad base64, hex or text encoding.
    #[error("bad encoding: {0}")]
    BadEncoding(String),
    /// A leaf index past the end of the tree.
    #[error("leaf index {index} out of range for a tree of {len} leaves")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The number of leaves.
        len: usize,
    },
    /// A typed leaf carried another tag than the one expected.
    #[error("wrong leaf tag: expected {expected:#06x}, got {actual:#06x}")]
    WrongTag {
        /// The tag required.
        expected: u16,
        /// The tag found.
        actual: u16,
    },
    /// A proof was meant for another chain.
    #[error("proof targets chain {actual}, expected chain {expected}")]
    WrongChain {
        /// The chain required.
        expected: u32,
        /// The chain in the proof.
        actual: u32,
    },
    /// JSON that does not have the required shape.
    #[error("bad JSON: {0}")]
    BadJson(String),
    /// Any other malformed field, with a message saying which and why.
    #[error("{0}")]
    Invalid(String),
    /// A block header's claimed hash is not the hash of its fields: forged or corrupted.
    #[error(
        "block header claims hash {claimed} but its fields hash to {computed}: the header is forged or corrupted"
    )]
    HeaderHashMismatch {
        /// The hash the header carries.
        claimed: crate::Hash,
        /// The Merkle root recomputed from its fields.
        computed: crate::Hash,
    },
    /// A proof (or one link of a proof chain) leads to another root than the trusted one.
    #[error("proof leads to {root}, which is not {what} ({expected})")]
    RootMismatch {
        /// What the root should have been, in words ("the block hash of the header", …).
        what: &'static str,
        /// The root the proof leads to.
        root: crate::Hash,
        /// The trusted value.
        expected: crate::Hash,
    },
    /// A block header belongs to another chain than the proof it should check.
    #[error("the block header is on chain {header}, but the proof targets chain {proof}")]
    HeaderChainMismatch {
        /// The header's chain.
        header: u32,
        /// The chain named in the proof.
        proof: u32,
    },
    /// A signed note (or checkpoint body) that does not follow C2SP signed-note / tlog-checkpoint.
    #[error("malformed signed note: {0}")]
    MalformedNote(String),
    /// A signed note carries no signature by any key the verifier was given.
    #[error(
        "no signature by a known key: the note is signed by {signers}, the verifier knows {known}"
    )]
    UnknownKey {
        /// The key names (and hashes) that signed the note.
        signers: String,
        /// The key names (and hashes) the verifier was given.
        known: String,
    },
    /// A signature by a known key does not verify: the note was altered or forged.
    #[error("bad signature by {0}: the note was altered or is not signed by this key")]
    BadSignature(String),
    /// A checkpoint names another log than the one expected.
    #[error("checkpoint is for log {actual:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin required.
        expected: String,
        /// The origin in the checkpoint.
        actual: String,
    },
    /// A consistency or inclusion proof of the transparency log does not hold.
    #[error("log proof does not hold: {0}")]
    LogProof(String),
}
