//! The new-format `PayloadProof` (`Chainweb.SPV.PayloadProof`, the `/pact/spv2` response):
//! `{"rootType", "object", "subject", "algorithm"}`, SHA-512/256 or Keccak-256. Such a proof
//! stops at a payload hash or a block-events hash, not at a block hash, so its root must be
//! linked to a trusted header by other means.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::chainweb::header::prefix;
use crate::hash::{Hash, HashAlgorithm, b64url_decode, b64url_encode};
use crate::merkle::MerkleProof;
use crate::spv::{Subject, SubjectJson};

/// What the root of a payload proof is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RootType {
    /// A block hash.
    #[serde(rename = "block")]
    Block,
    /// A block payload hash.
    #[serde(rename = "blockPayload")]
    BlockPayload,
    /// A block-events hash.
    #[serde(rename = "blockEvents")]
    BlockEvents,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadProofJson {
    root_type: RootType,
    object: String,
    subject: SubjectJson,
    algorithm: HashAlgorithm,
}

/// A new-format payload proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadProof {
    /// What the root is.
    pub root_type: RootType,
    /// The Merkle proof object.
    pub object: MerkleProof,
    /// The subject.
    pub subject: Subject,
    /// The Merkle hash algorithm.
    pub algorithm: HashAlgorithm,
}

impl PayloadProof {
    /// Parses the JSON proof. Errors name the field that is wrong.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::BadJson(format!("payload proof: {e}")))?;
        Self::from_json_value(&value)
    }

    /// Parses the JSON proof from a value.
    pub fn from_json_value(value: &serde_json::Value) -> Result<Self, Error> {
        let w = PayloadProofJson::deserialize(value)
            .map_err(|e| Error::BadJson(format!("payload proof: {e}")))?;
        let object = b64url_decode(&w.object).map_err(|e| prefix("payload proof object", e))?;
        Ok(PayloadProof {
            root_type: w.root_type,
            object: MerkleProof::decode(&object)?,
            subject: Subject::from_wire(w.subject)?,
            algorithm: w.algorithm,
        })
    }

    /// The JSON proof as a value.
    pub fn to_json_value(&self) -> serde_json::Value {
        let w = PayloadProofJson {
            root_type: self.root_type,
            object: b64url_encode(&self.object.encode()),
            subject: self.subject.to_wire(),
            algorithm: self.algorithm,
        };
        serde_json::to_value(w).unwrap_or(serde_json::Value::Null)
    }

    /// Runs the proof with its algorithm; the root is still to be trusted.
    pub fn run(&self) -> Hash {
        self.object.run(self.algorithm, self.subject.leaf())
    }
}
