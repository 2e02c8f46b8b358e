//! Chainweb's typed Merkle leaves: the 2-byte tag table of `Chainweb.MerkleUniverse`.
//!
//! An input leaf's bytes are `u16 big-endian tag ‖ encoded value`; Chainweb checks and strips
//! the tag when it reads a proof subject (`fromMerkleNodeTagged`). Nested roots (block hash,
//! payload hash, transactions/outputs/events hashes) are tree leaves and carry no tag: their
//! tags below only name them.

use std::fmt;

use crate::Error;
use crate::hash::{Hash, HashAlgorithm};
use crate::merkle::LEAF_TAG;

/// A Chainweb Merkle-universe tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Tag {
    /// `ChainId`, u32 LE.
    ChainId,
    /// `BlockHeight`, u64 LE.
    BlockHeight,
    /// `BlockWeight`, 256-bit LE.
    BlockWeight,
    /// `BlockPayloadHash` (a tree leaf, never tagged in a tree).
    BlockPayloadHash,
    /// `ForkState` (JSON `featureFlags`), u64 LE.
    ForkState,
    /// `BlockCreationTime`, microseconds as u64 LE.
    BlockCreationTime,
    /// `ChainwebVersion` code, u32 LE.
    ChainwebVersion,
    /// `PowHash` (not in the header log).
    PowHash,
    /// `BlockHash` (a tree leaf: parents and adjacent parents).
    BlockHash,
    /// `HashTarget`, 256-bit LE.
    HashTarget,
    /// `Transaction`: the raw bytes of the signed Pact command JSON.
    Transaction,
    /// `TransactionOutput`: the raw bytes of the CommandResult JSON.
    TransactionOutput,
    /// `BlockTransactionsHash` (a tree leaf).
    BlockTransactionsHash,
    /// `BlockOutputsHash` (a tree leaf).
    BlockOutputsHash,
    /// `MinerData`: raw JSON bytes.
    MinerData,
    /// `CoinbaseOutput`: raw JSON bytes.
    CoinbaseOutput,
    /// `EpochStartTime`, microseconds as u64 LE.
    EpochStartTime,
    /// `Nonce`, u64 LE.
    Nonce,
    /// `OutputEvents` (event proofs).
    OutputEvents,
    /// `BlockEventsHash` (a tree leaf).
    BlockEventsHash,
    /// `RequestKey` (event proofs).
    RequestKey,
    /// `PactEvent` (event proofs).
    PactEvent,
}

/// Every tag, in code order.
pub const ALL_TAGS: [Tag; 22] = [
    Tag::ChainId,
    Tag::BlockHeight,
    Tag::BlockWeight,
    Tag::BlockPayloadHash,
    Tag::ForkState,
    Tag::BlockCreationTime,
    Tag::ChainwebVersion,
    Tag::PowHash,
    Tag::BlockHash,
    Tag::HashTarget,
    Tag::Transaction,
    Tag::TransactionOutput,
    Tag::BlockTransactionsHash,
    Tag::BlockOutputsHash,
    Tag::MinerData,
    Tag::CoinbaseOutput,
    Tag::EpochStartTime,
    Tag::Nonce,
    Tag::OutputEvents,
    Tag::BlockEventsHash,
    Tag::RequestKey,
    Tag::PactEvent,
];

impl Tag {
    /// The 2-byte code.
    pub const fn code(self) -> u16 {
        match self {
            Tag::ChainId => 0x0002,
            Tag::BlockHeight => 0x0003,
            Tag::BlockWeight => 0x0004,
            Tag::BlockPayloadHash => 0x0005,
            Tag::ForkState => 0x0006,
            Tag::BlockCreationTime => 0x0007,
            Tag::ChainwebVersion => 0x0008,
            Tag::PowHash => 0x0009,
            Tag::BlockHash => 0x0010,
            Tag::HashTarget => 0x0011,
            Tag::Transaction => 0x0013,
            Tag::TransactionOutput => 0x0014,
            Tag::BlockTransactionsHash => 0x0015,
            Tag::BlockOutputsHash => 0x0016,
            Tag::MinerData => 0x0017,
            Tag::CoinbaseOutput => 0x0018,
            Tag::EpochStartTime => 0x0019,
            Tag::Nonce => 0x0020,
            Tag::OutputEvents => 0x0030,
            Tag::BlockEventsHash => 0x0031,
            Tag::RequestKey => 0x0032,
            Tag::PactEvent => 0x0034,
        }
    }

    /// The tag with this code, if Chainweb defines one.
    pub fn from_code(code: u16) -> Option<Tag> {
        ALL_TAGS.into_iter().find(|t| t.code() == code)
    }

    /// The big-endian bytes that prefix a tagged leaf.
    pub const fn prefix(self) -> [u8; 2] {
        self.code().to_be_bytes()
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:#06x})", self, self.code())
    }
}

/// The input-leaf bytes `tag ‖ value`.
pub fn tagged(tag: Tag, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + value.len());
    out.extend_from_slice(&tag.prefix());
    out.extend_from_slice(value);
    out
}

/// The leaf hash `H(0x00 ‖ tag ‖ value)` without building the tagged bytes.
pub fn tagged_leaf_hash(alg: HashAlgorithm, tag: Tag, value: &[u8]) -> Hash {
    alg.digest(&[&[LEAF_TAG], &tag.prefix(), value])
}

/// The tag code at the start of a leaf; [`Error::Invalid`] when there are fewer than 2 bytes.
pub fn tag_of(leaf: &[u8]) -> Result<u16, Error> {
    leaf.first_chunk::<2>()
        .map(|b| u16::from_be_bytes(*b))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "a tagged leaf needs at least 2 bytes, got {}",
                leaf.len()
            ))
        })
}

/// Checks that `leaf` starts with `expected` and returns the value after the tag.
/// [`Error::WrongTag`] on another tag, [`Error::Invalid`] on fewer than 2 bytes.
pub fn untag(expected: Tag, leaf: &[u8]) -> Result<&[u8], Error> {
    let actual = tag_of(leaf)?;
    if actual != expected.code() {
        return Err(Error::WrongTag {
            expected: expected.code(),
            actual,
        });
    }
    Ok(&leaf[2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_round_trips_through_its_code() {
        for t in ALL_TAGS {
            assert_eq!(Tag::from_code(t.code()), Some(t));
        }
        assert_eq!(Tag::from_code(0x0001), None);
    }

    #[test]
    fn a_tagged_leaf_strips_back_to_its_value() {
        let leaf = tagged(Tag::TransactionOutput, b"{}");
        assert_eq!(leaf, b"\x00\x14{}");
        assert_eq!(untag(Tag::TransactionOutput, &leaf), Ok(&b"{}"[..]));
        assert_eq!(
            untag(Tag::Transaction, &leaf),
            Err(Error::WrongTag {
                expected: 0x0013,
                actual: 0x0014
            })
        );
        assert!(matches!(
            untag(Tag::Transaction, &[0]),
            Err(Error::Invalid(_))
        ));
        assert_eq!(
            tagged_leaf_hash(HashAlgorithm::Sha512_256, Tag::TransactionOutput, b"{}"),
            crate::merkle::leaf_hash(HashAlgorithm::Sha512_256, &leaf)
        );
    }
}
