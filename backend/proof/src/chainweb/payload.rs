//! Block payloads and their three Merkle trees (`Chainweb.Payload`).
//!
//! * transactions tree: `[MinerData 0x0017] ++ [Transaction 0x0013 …]`, root `transactionsHash`;
//! * outputs tree: `[CoinbaseOutput 0x0018] ++ [TransactionOutput 0x0014 …]`, root `outputsHash`;
//! * payload tree: `[transactionsHash, outputsHash]` as tree leaves, root `payloadHash`, which
//!   the block header holds.
//!
//! Transaction `i` is leaf `i + 1` of its tree, behind the miner data or coinbase leaf.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::chainweb::header::{HEADER_ALG, prefix};
use crate::chainweb::header_json::Field;
use crate::chainweb::tags::{Tag, tagged_leaf_hash};
use crate::hash::{Hash, b64url_decode, b64url_encode};
use crate::merkle::{MerkleTree, node_hash};

/// Leaf index of the outputs hash in the payload tree.
pub const PAYLOAD_LEAF_OUTPUTS: usize = 1;

/// A block payload with its outputs (`PayloadWithOutputs`), as raw bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Payload {
    /// The miner data JSON bytes.
    pub miner_data: Vec<u8>,
    /// The coinbase output JSON bytes.
    pub coinbase: Vec<u8>,
    /// `(signed command JSON, CommandResult JSON)` per transaction, in block order.
    pub transactions: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The three roots of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadHashes {
    /// Root of the transactions tree.
    pub transactions_hash: Hash,
    /// Root of the outputs tree.
    pub outputs_hash: Hash,
    /// Root of the payload tree, the header's `payloadHash`.
    pub payload_hash: Hash,
}

/// The payload hash of a transactions root and an outputs root.
pub fn payload_hash(transactions_hash: Hash, outputs_hash: Hash) -> Hash {
    node_hash(HEADER_ALG, &transactions_hash, &outputs_hash)
}

/// The two-leaf payload tree, for building proofs through it.
pub fn payload_tree(transactions_hash: Hash, outputs_hash: Hash) -> MerkleTree {
    MerkleTree::from_leaf_hashes(HEADER_ALG, vec![transactions_hash, outputs_hash])
}

/// The node's JSON shape (base64url strings; the hashes are optional when reading).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadJson {
    transactions: Vec<(String, String)>,
    miner_data: String,
    coinbase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_hash: Option<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transactions_hash: Option<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs_hash: Option<Hash>,
}

impl Payload {
    /// The transactions tree.
    pub fn transactions_tree(&self) -> MerkleTree {
        let mut leaves = Vec::with_capacity(self.transactions.len() + 1);
        leaves.push(tagged_leaf_hash(
            HEADER_ALG,
            Tag::MinerData,
            &self.miner_data,
        ));
        leaves.extend(
            self.transactions
                .iter()
                .map(|(tx, _)| tagged_leaf_hash(HEADER_ALG, Tag::Transaction, tx)),
        );
        MerkleTree::from_leaf_hashes(HEADER_ALG, leaves)
    }

    /// The outputs tree.
    pub fn outputs_tree(&self) -> MerkleTree {
        let mut leaves = Vec::with_capacity(self.transactions.len() + 1);
        leaves.push(tagged_leaf_hash(
            HEADER_ALG,
            Tag::CoinbaseOutput,
            &self.coinbase,
        ));
        leaves.extend(
            self.transactions
                .iter()
                .map(|(_, out)| tagged_leaf_hash(HEADER_ALG, Tag::TransactionOutput, out)),
        );
        MerkleTree::from_leaf_hashes(HEADER_ALG, leaves)
    }

    /// All three roots.
    pub fn hashes(&self) -> PayloadHashes {
        let transactions_hash = self.transactions_tree().root();
        let outputs_hash = self.outputs_tree().root();
        PayloadHashes {
            transactions_hash,
            outputs_hash,
            payload_hash: payload_hash(transactions_hash, outputs_hash),
        }
    }

    /// Parses the node's `PayloadWithOutputs` JSON: `minerData`, `coinbase` and
    /// `transactions` (`[[tx, output], …]`), all base64url. When the JSON also carries
    /// `payloadHash`, `transactionsHash` or `outputsHash`, each must match the recomputed
    /// root, or this fails with [`Error::Invalid`] naming the field.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::BadJson(format!("payload: {e}")))?;
        Self::from_json_value(&value)
    }

    /// Parses a payload from a JSON value (see [`from_json`](Self::from_json)).
    pub fn from_json_value(value: &serde_json::Value) -> Result<Self, Error> {
        let obj = value.as_object().ok_or_else(|| {
            Error::BadJson("payload: expected a JSON object (PayloadWithOutputs)".to_owned())
        })?;
        let f = |name| Field {
            what: "payload",
            obj,
            name,
        };
        let j = PayloadJson {
            transactions: f("transactions").get()?,
            miner_data: f("minerData").get()?,
            coinbase: f("coinbase").get()?,
            payload_hash: f("payloadHash").get_opt()?,
            transactions_hash: f("transactionsHash").get_opt()?,
            outputs_hash: f("outputsHash").get_opt()?,
        };
        let field = |name: &str, s: &str| b64url_decode(s).map_err(|e| prefix(name, e));
        let mut transactions = Vec::with_capacity(j.transactions.len());
        for (i, (tx, out)) in j.transactions.iter().enumerate() {
            transactions.push((
                field(&format!("payload transaction {i}"), tx)?,
                field(&format!("payload output {i}"), out)?,
            ));
        }
        let payload = Payload {
            miner_data: field("payload minerData", &j.miner_data)?,
            coinbase: field("payload coinbase", &j.coinbase)?,
            transactions,
        };
        let h = payload.hashes();
        for (name, claimed, computed) in [
            ("transactionsHash", j.transactions_hash, h.transactions_hash),
            ("outputsHash", j.outputs_hash, h.outputs_hash),
            ("payloadHash", j.payload_hash, h.payload_hash),
        ] {
            if let Some(claimed) = claimed.filter(|c| *c != computed) {
                return Err(Error::Invalid(format!(
                    "payload claims {name} {claimed} but its contents hash to {computed}"
                )));
            }
        }
        Ok(payload)
    }

    /// The node's `PayloadWithOutputs` JSON, with the three recomputed roots.
    pub fn to_json_value(&self) -> serde_json::Value {
        let h = self.hashes();
        let j = PayloadJson {
            transactions: self
                .transactions
                .iter()
                .map(|(tx, out)| (b64url_encode(tx), b64url_encode(out)))
                .collect(),
            miner_data: b64url_encode(&self.miner_data),
            coinbase: b64url_encode(&self.coinbase),
            payload_hash: Some(h.payload_hash),
            transactions_hash: Some(h.transactions_hash),
            outputs_hash: Some(h.outputs_hash),
        };
        serde_json::to_value(j).unwrap_or(serde_json::Value::Null)
    }
}
