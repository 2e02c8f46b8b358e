//! The node's JSON object encoding of block headers (`blockheader-encoding=object`):
//! `nonce` a decimal string, times in microseconds, hashes, `target` and `weight` base64url,
//! `adjacents` an object keyed by chain id, `chainwebVersion` a name (or a hex code such as
//! `"0x8000000e"` for versions without one), `featureFlags` the fork state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::chainweb::header::{BlockHeader, prefix};
use crate::chainweb::version;
use crate::hash::{Hash, b64url_decode, b64url_encode};

/// The wire shape, in the node's field order.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderJson {
    creation_time: u64,
    parent: Hash,
    height: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<Hash>,
    chain_id: u32,
    #[serde(with = "bytes32")]
    weight: [u8; 32],
    feature_flags: u64,
    epoch_start: u64,
    adjacents: BTreeMap<u32, Hash>,
    payload_hash: Hash,
    chainweb_version: String,
    #[serde(with = "bytes32")]
    target: [u8; 32],
    nonce: Nonce,
}

/// The nonce: a decimal string on the wire; a bare number is tolerated.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Nonce {
    Text(String),
    Number(u64),
}

impl Nonce {
    fn value(&self) -> Result<u64, Error> {
        match self {
            Nonce::Number(n) => Ok(*n),
            Nonce::Text(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().map_err(|_| bad_nonce(s))
            }
            Nonce::Text(s) => Err(bad_nonce(s)),
        }
    }
}

fn bad_nonce(s: &str) -> Error {
    Error::Invalid(format!(
        "block header: nonce {s:?} is not a decimal 64-bit unsigned integer"
    ))
}

mod bytes32 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64url_encode(b))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = b64url_decode(&s).map_err(serde::de::Error::custom)?;
        <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
            serde::de::Error::custom(format!("expected 32 bytes, got {}", bytes.len()))
        })
    }
}

impl HeaderJson {
    fn from_header(h: &BlockHeader) -> Self {
        HeaderJson {
            creation_time: h.creation_time,
            parent: h.parent,
            height: h.height,
            hash: h.hash,
            chain_id: h.chain_id,
            weight: h.weight,
            feature_flags: h.fork_state,
            epoch_start: h.epoch_start,
            adjacents: h.adjacents.clone(),
            payload_hash: h.payload_hash,
            chainweb_version: version::name_of_code(h.version),
            target: h.target,
            nonce: Nonce::Text(h.nonce.to_string()),
        }
    }

    fn into_header(self) -> Result<BlockHeader, Error> {
        Ok(BlockHeader {
            fork_state: self.feature_flags,
            creation_time: self.creation_time,
            parent: self.parent,
            adjacents: self.adjacents,
            target: self.target,
            payload_hash: self.payload_hash,
            chain_id: self.chain_id,
            weight: self.weight,
            height: self.height,
            version: version::code_from_name(&self.chainweb_version)
                .map_err(|e| prefix("block header", e))?,
            epoch_start: self.epoch_start,
            nonce: self.nonce.value()?,
            hash: self.hash,
        })
    }
}

impl BlockHeader {
    /// Parses a header from JSON text: the node's object encoding, or a JSON string holding
    /// the base64url binary encoding (the node's default). Errors are [`Error::BadJson`]
    /// with the field and position, or the binary decoder's errors.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::BadJson(format!("block header: {e}")))?;
        Self::from_json_value(&value)
    }

    /// Parses a header from a JSON value (see [`from_json`](Self::from_json)).
    pub fn from_json_value(value: &serde_json::Value) -> Result<Self, Error> {
        if let serde_json::Value::String(s) = value {
            return Self::from_b64url(s);
        }
        HeaderJson::deserialize(value)
            .map_err(|e| Error::BadJson(format!("block header: {e}")))?
            .into_header()
    }

    /// The node's JSON object encoding; `hash` is written only when the header claims one.
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(HeaderJson::from_header(self)).unwrap_or(serde_json::Value::Null)
    }

    /// The node's JSON object encoding as compact text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&HeaderJson::from_header(self)).unwrap_or_default()
    }
}

impl Serialize for BlockHeader {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        HeaderJson::from_header(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for BlockHeader {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HeaderJson::deserialize(d)?
            .into_header()
            .map_err(serde::de::Error::custom)
    }
}
