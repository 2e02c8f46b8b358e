//! Chainweb block headers: the fields, the node's JSON object encoding, the binary encoding,
//! and the block hash as the root of the header's Merkle log.
//!
//! The block hash is the SHA-512/256 Merkle root over 11 header leaves (tagged inputs, with
//! the parent and the payload hash as untagged tree leaves) followed by the adjacent parents'
//! hashes sorted by chain id (`Chainweb.BlockHeader.Internal`, `HasMerkleLog BlockHeader`).
//! A header is only as trustworthy as its source: [`BlockHeader::check_hash`] proves that the
//! fields and the claimed hash agree, not that the block is on the canonical chain.

use std::collections::BTreeMap;

use crate::Error;
use crate::chainweb::tags::{Tag, tagged_leaf_hash};
use crate::hash::{HASH_LEN, Hash, HashAlgorithm, b64url_decode, b64url_encode};
use crate::merkle::{MerkleTree, leaf_hash, root_of};

/// The hash algorithm of block headers and payloads.
pub const HEADER_ALG: HashAlgorithm = HashAlgorithm::Sha512_256;
/// Leaf index of the parent hash in the header log.
pub const LEAF_PARENT: usize = 2;
/// Leaf index of the payload hash in the header log.
pub const LEAF_PAYLOAD_HASH: usize = 4;
/// Leaf index of the first adjacent parent (adjacents sorted by chain id follow).
pub const LEAF_FIRST_ADJACENT: usize = 11;
/// Length of a binary header without adjacents: 2 bytes of count plus every fixed field.
pub const BINARY_BASE_LEN: usize = 8 + 8 + 32 + 2 + 32 + 32 + 4 + 32 + 8 + 4 + 8 + 8 + 32;
/// Length of one binary adjacent entry (u32 chain id, 32-byte hash).
pub const BINARY_ADJACENT_LEN: usize = 4 + HASH_LEN;

/// A Chainweb block header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// `featureFlags` in JSON, `ForkState` in the Merkle log.
    pub fork_state: u64,
    /// Creation time, microseconds since the Unix epoch.
    pub creation_time: u64,
    /// The parent block's hash (the genesis parent hash for a genesis block).
    pub parent: Hash,
    /// The adjacent parents: chain id → block hash on that chain.
    pub adjacents: BTreeMap<u32, Hash>,
    /// The PoW target, 256-bit little-endian.
    pub target: [u8; 32],
    /// The root of the block payload.
    pub payload_hash: Hash,
    /// The chain this block belongs to.
    pub chain_id: u32,
    /// The accumulated weight, 256-bit little-endian.
    pub weight: [u8; 32],
    /// The block height.
    pub height: u64,
    /// The chainweb version code (see [`crate::chainweb::version`]).
    pub version: u32,
    /// Start of the difficulty epoch, microseconds since the Unix epoch.
    pub epoch_start: u64,
    /// The PoW nonce.
    pub nonce: u64,
    /// The hash the header claims for itself, when its source gave one.
    pub hash: Option<Hash>,
}

impl BlockHeader {
    /// The node hashes of the header log's leaves, in Merkle order.
    pub fn leaf_hashes(&self) -> Vec<Hash> {
        let a = HEADER_ALG;
        let mut v = Vec::with_capacity(LEAF_FIRST_ADJACENT + self.adjacents.len());
        v.push(tagged_leaf_hash(
            a,
            Tag::ForkState,
            &self.fork_state.to_le_bytes(),
        ));
        v.push(tagged_leaf_hash(
            a,
            Tag::BlockCreationTime,
            &self.creation_time.to_le_bytes(),
        ));
        v.push(self.parent);
        v.push(tagged_leaf_hash(a, Tag::HashTarget, &self.target));
        v.push(self.payload_hash);
        v.push(tagged_leaf_hash(
            a,
            Tag::ChainId,
            &self.chain_id.to_le_bytes(),
        ));
        v.push(tagged_leaf_hash(a, Tag::BlockWeight, &self.weight));
        v.push(tagged_leaf_hash(
            a,
            Tag::BlockHeight,
            &self.height.to_le_bytes(),
        ));
        v.push(tagged_leaf_hash(
            a,
            Tag::ChainwebVersion,
            &self.version.to_le_bytes(),
        ));
        v.push(tagged_leaf_hash(
            a,
            Tag::EpochStartTime,
            &self.epoch_start.to_le_bytes(),
        ));
        v.push(tagged_leaf_hash(a, Tag::Nonce, &self.nonce.to_le_bytes()));
        v.extend(self.adjacents.values().copied());
        v
    }

    /// The header's Merkle log, for building proofs through it.
    pub fn merkle_tree(&self) -> MerkleTree {
        MerkleTree::from_leaf_hashes(HEADER_ALG, self.leaf_hashes())
    }

    /// The block hash recomputed from the fields. Ignores the claimed hash.
    pub fn compute_hash(&self) -> Hash {
        root_of(HEADER_ALG, self.leaf_hashes())
    }

    /// The recomputed hash, after checking it against the claimed one:
    /// [`Error::HeaderHashMismatch`] when they differ, [`Error::Invalid`] when the header
    /// claims no hash at all.
    pub fn check_hash(&self) -> Result<Hash, Error> {
        if self.hash.is_none() {
            return Err(Error::Invalid(
                "the block header carries no hash to check".to_owned(),
            ));
        }
        self.verified_hash()
    }

    /// The recomputed hash; when the header claims a hash, it must match
    /// ([`Error::HeaderHashMismatch`]). A header without a claimed hash is taken as is.
    pub fn verified_hash(&self) -> Result<Hash, Error> {
        let computed = self.compute_hash();
        match self.hash {
            Some(claimed) if claimed != computed => {
                Err(Error::HeaderHashMismatch { claimed, computed })
            }
            _ => Ok(computed),
        }
    }

    /// The leaf index of the adjacent parent on `chain`, if the header has one.
    pub fn adjacent_leaf_index(&self, chain: u32) -> Option<usize> {
        self.adjacents
            .keys()
            .position(|c| *c == chain)
            .map(|i| LEAF_FIRST_ADJACENT + i)
    }

    /// The length of the binary encoding of a header with `adjacents` adjacent parents.
    pub fn binary_len(adjacents: usize) -> usize {
        BINARY_BASE_LEN + adjacents * BINARY_ADJACENT_LEN
    }

    /// The binary encoding (`encodeBlockHeader`): 318 bytes with 3 adjacents. The trailing
    /// hash is the claimed one, or the recomputed one when the header claims none. A header
    /// can hold at most 65 535 adjacents in this encoding; any beyond are left out (no
    /// Chainweb graph comes near).
    pub fn encode(&self) -> Vec<u8> {
        let count = self.adjacents.len().min(usize::from(u16::MAX));
        let mut out = Vec::with_capacity(Self::binary_len(count));
        out.extend_from_slice(&self.fork_state.to_le_bytes());
        out.extend_from_slice(&self.creation_time.to_le_bytes());
        out.extend_from_slice(&self.parent.0);
        out.extend_from_slice(&(count as u16).to_le_bytes());
        for (cid, h) in self.adjacents.iter().take(count) {
            out.extend_from_slice(&cid.to_le_bytes());
            out.extend_from_slice(&h.0);
        }
        out.extend_from_slice(&self.target);
        out.extend_from_slice(&self.payload_hash.0);
        out.extend_from_slice(&self.chain_id.to_le_bytes());
        out.extend_from_slice(&self.weight);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.epoch_start.to_le_bytes());
        out.extend_from_slice(&self.nonce.to_le_bytes());
        let hash = self.hash.unwrap_or_else(|| self.compute_hash());
        out.extend_from_slice(&hash.0);
        out
    }

    /// The binary encoding as base64url, the node's default header encoding.
    pub fn to_b64url(&self) -> String {
        b64url_encode(&self.encode())
    }

    /// Decodes the binary encoding. The length must be exactly `210 + 36 × adjacents`, and
    /// the adjacents must be sorted by chain id without repeats (as Chainweb writes them).
    /// The trailing hash becomes the claimed [`hash`](Self::hash); it is not checked here.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        const COUNT_AT: usize = 48;
        let count = match bytes.get(COUNT_AT..COUNT_AT + 2) {
            Some(&[lo, hi]) => usize::from(u16::from_le_bytes([lo, hi])),
            _ => {
                return Err(Error::BadLength {
                    what: "binary block header (too short for the adjacent count)",
                    expected: Self::binary_len(0),
                    actual: bytes.len(),
                });
            }
        };
        let expected = Self::binary_len(count);
        if bytes.len() != expected {
            return Err(Error::BadLength {
                what: "binary block header",
                expected,
                actual: bytes.len(),
            });
        }
        let mut r = Reader(bytes);
        let fork_state = r.u64()?;
        let creation_time = r.u64()?;
        let parent = r.hash()?;
        r.take(2)?;
        let mut adjacents = BTreeMap::new();
        for _ in 0..count {
            let cid = r.u32()?;
            let h = r.hash()?;
            if adjacents
                .last_key_value()
                .is_some_and(|(last, _)| *last >= cid)
            {
                return Err(Error::Invalid(format!(
                    "binary block header: adjacent chain ids must be strictly increasing, {cid} is out of order"
                )));
            }
            adjacents.insert(cid, h);
        }
        Ok(BlockHeader {
            fork_state,
            creation_time,
            parent,
            adjacents,
            target: r.array()?,
            payload_hash: r.hash()?,
            chain_id: r.u32()?,
            weight: r.array()?,
            height: r.u64()?,
            version: r.u32()?,
            epoch_start: r.u64()?,
            nonce: r.u64()?,
            hash: Some(r.hash()?),
        })
    }

    /// Decodes a base64url binary header.
    pub fn from_b64url(s: &str) -> Result<Self, Error> {
        let bytes = b64url_decode(s.trim()).map_err(|e| prefix("binary block header", e))?;
        Self::decode(&bytes)
    }
}

/// The parent hash of a genesis block (`genesisParentBlockHash`): the Merkle root over the
/// untagged inputs `"CHAINWEB_GENESIS"`, `u32le(version)`, `u32le(chain)`.
pub fn genesis_parent_hash(version: u32, chain: u32) -> Hash {
    let a = HEADER_ALG;
    root_of(
        a,
        [
            leaf_hash(a, b"CHAINWEB_GENESIS"),
            leaf_hash(a, &version.to_le_bytes()),
            leaf_hash(a, &chain.to_le_bytes()),
        ],
    )
}

/// Prefixes the message of an encoding, JSON or validation error with what was being read.
pub(crate) fn prefix(what: &str, e: Error) -> Error {
    match e {
        Error::BadEncoding(m) => Error::BadEncoding(format!("{what}: {m}")),
        Error::BadJson(m) => Error::BadJson(format!("{what}: {m}")),
        Error::Invalid(m) => Error::Invalid(format!("{what}: {m}")),
        other => other,
    }
}

/// A cursor over bytes whose total length was checked up front; every read still fails
/// cleanly rather than panicking.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.take(N)?.try_into().map_err(|_| Error::Truncated)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_le_bytes)
    }

    fn hash(&mut self) -> Result<Hash, Error> {
        self.array().map(Hash)
    }
}
