//! Chainweb's data structures as far as proofs need them: the typed leaves of its Merkle
//! universe ([`tags`]), block headers in JSON and binary form with their block hash
//! ([`BlockHeader`]), version codes ([`version`]) and block payload trees ([`Payload`]).
//!
//! Everything here agrees byte for byte with chainweb-node (see `shared/spec/chainweb.md`
//! §1.5–1.6); the tests recompute real mainnet genesis headers and payloads.

pub mod header;
pub(crate) mod header_json;
pub mod payload;
pub mod tags;
pub mod version;

pub use header::{BlockHeader, HEADER_ALG, genesis_parent_hash};
pub use payload::{Payload, PayloadHashes, payload_hash, payload_tree};
pub use tags::{Tag, tagged, tagged_leaf_hash, untag};
