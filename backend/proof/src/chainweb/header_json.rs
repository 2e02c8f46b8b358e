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

/// The wire shape, in the node's field order (for writing; reading goes field by field so
/// that errors name the field).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeaderJson {
    creation_time: u64,
    parent: Hash,
    height: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
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

    /// Parses a header from a JSON value (see [`from_json`](Self::from_json)). An error
    /// names the field at fault.
    pub fn from_json_value(value: &serde_json::Value) -> Result<Self, Error> {
        let obj = match value {
            serde_json::Value::String(s) => return Self::from_b64url(s),
            serde_json::Value::Object(obj) => obj,
            _ => {
                return Err(Error::BadJson(
                    "block header: expected a JSON object or a base64url string".to_owned(),
                ));
            }
        };
        let f = |name| Field {
            what: "block header",
            obj,
            name,
        };
        let hash = f("hash").get_opt()?;
        let nonce: Nonce = f("nonce").get()?;
        let version: String = f("chainwebVersion").get()?;
        Ok(BlockHeader {
            fork_state: f("featureFlags").get()?,
            creation_time: f("creationTime").get()?,
            parent: f("parent").get()?,
            adjacents: f("adjacents").get()?,
            target: f("target").get::<Bytes32>()?.0,
            payload_hash: f("payloadHash").get()?,
            chain_id: f("chainId").get()?,
            weight: f("weight").get::<Bytes32>()?.0,
            height: f("height").get()?,
            version: version::code_from_name(&version)
                .map_err(|e| prefix("block header: field `chainwebVersion`", e))?,
            epoch_start: f("epochStart").get()?,
            nonce: nonce.value()?,
            hash,
        })
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
        let value = serde_json::Value::deserialize(d)?;
        BlockHeader::from_json_value(&value).map_err(serde::de::Error::custom)
    }
}

/// One field of a JSON object, read with an error that names the object and the field.
pub(crate) struct Field<'a> {
    /// The object, in words (`"block header"`).
    pub what: &'static str,
    /// The object.
    pub obj: &'a serde_json::Map<String, serde_json::Value>,
    /// The field's name.
    pub name: &'static str,
}

impl Field<'_> {
    /// The field, deserialized; [`Error::BadJson`] naming it when missing or malformed.
    pub fn get<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        let v = self.obj.get(self.name).ok_or_else(|| {
            Error::BadJson(format!("{}: missing field `{}`", self.what, self.name))
        })?;
        T::deserialize(v)
            .map_err(|e| Error::BadJson(format!("{}: field `{}`: {e}", self.what, self.name)))
    }

    /// The field when present and not null.
    pub fn get_opt<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        match self.obj.get(self.name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(_) => self.get().map(Some),
        }
    }
}

/// A 256-bit value in base64url (target, weight).
struct Bytes32([u8; 32]);

impl<'de> Deserialize<'de> for Bytes32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bytes32::deserialize(d).map(Bytes32)
    }
}
