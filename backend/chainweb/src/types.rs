//! What a Chainweb node answers, as typed values: request keys, chain ids, CommandResults
//! and cuts. Parsers return a message saying which field is wrong; none panics, whatever
//! the node sent.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ancora_proof::Hash;
use ancora_proof::hash::{b64url_decode, b64url_encode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// A request key: the 32-byte BLAKE2b-256 hash of a command, base64url on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestKey(pub [u8; 32]);

impl RequestKey {
    /// The raw bytes (what signatures are made over).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses base64url without padding; [`Error::RequestKey`] for anything that is not
    /// exactly 32 bytes.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.contains('=') {
            return Err(Error::RequestKey(s.to_owned()));
        }
        let bytes = b64url_decode(s).map_err(|_| Error::RequestKey(s.to_owned()))?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(RequestKey)
            .map_err(|_| Error::RequestKey(s.to_owned()))
    }
}

impl fmt::Display for RequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64url_encode(&self.0))
    }
}

impl fmt::Debug for RequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestKey({self})")
    }
}

impl FromStr for RequestKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl Serialize for RequestKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for RequestKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        RequestKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A Chainweb chain id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChainId(pub u32);

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for ChainId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::ChainId(s.to_owned()));
        }
        s.parse()
            .map(ChainId)
            .map_err(|_| Error::ChainId(s.to_owned()))
    }
}

/// The outcome of a Pact transaction: `result.status` with its `data` or `error`.
#[derive(Clone, Debug, PartialEq)]
pub enum PactOutcome {
    /// `{"status": "success", "data": …}`.
    Success(Value),
    /// `{"status": "failure", "error": …}` (a gas error, a failed `enforce`, …).
    Failure(Value),
}

impl PactOutcome {
    /// The error's `message` field (or the whole error as text) for a failure.
    pub fn error_message(&self) -> Option<String> {
        match self {
            PactOutcome::Success(_) => None,
            PactOutcome::Failure(e) => Some(
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.to_string()),
            ),
        }
    }
}

/// Where a transaction was mined, from a CommandResult's `metaData`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockMeta {
    /// The block's hash.
    pub block_hash: Hash,
    /// The block's height.
    pub block_height: u64,
    /// The block's creation time, µs since the Unix epoch.
    pub block_time: u64,
    /// The parent's hash, when given.
    pub prev_block_hash: Option<Hash>,
}

/// A Pact CommandResult as `/poll` and `/listen` return it.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandResult {
    /// The request key.
    pub req_key: RequestKey,
    /// The transaction id, when the node gives one.
    pub tx_id: Option<u64>,
    /// Success with data, or failure with an error.
    pub result: PactOutcome,
    /// Gas used.
    pub gas: u64,
    /// The logs hash.
    pub logs: Option<String>,
    /// The defpact continuation, if any.
    pub continuation: Option<Value>,
    /// The block the transaction is in (absent from stored outputs).
    pub meta_data: Option<BlockMeta>,
    /// Events emitted, as the node wrote them.
    pub events: Vec<Value>,
    /// The whole JSON.
    pub raw: Value,
}

impl CommandResult {
    /// Parses a CommandResult; the error names the field at fault.
    pub fn from_json_value(v: &Value) -> Result<Self, String> {
        let obj = v
            .as_object()
            .ok_or("a CommandResult must be a JSON object")?;
        let req_key = obj
            .get("reqKey")
            .and_then(Value::as_str)
            .ok_or("missing string field `reqKey`")?;
        let req_key = RequestKey::parse(req_key).map_err(|e| format!("field `reqKey`: {e}"))?;
        let result = obj
            .get("result")
            .and_then(Value::as_object)
            .ok_or("missing object field `result`")?;
        let result = match result.get("status").and_then(Value::as_str) {
            Some("success") => {
                PactOutcome::Success(result.get("data").cloned().unwrap_or_default())
            }
            Some("failure") => {
                PactOutcome::Failure(result.get("error").cloned().unwrap_or_default())
            }
            _ => return Err("field `result.status` must be \"success\" or \"failure\"".to_owned()),
        };
        let gas = match obj.get("gas") {
            None | Some(Value::Null) => 0,
            Some(g) => g
                .as_u64()
                .ok_or("field `gas` must be a non-negative integer")?,
        };
        let tx_id = match obj.get("txId") {
            None | Some(Value::Null) => None,
            Some(t) => Some(
                t.as_u64()
                    .ok_or("field `txId` must be a non-negative integer")?,
            ),
        };
        let logs = match obj.get("logs") {
            None | Some(Value::Null) => None,
            Some(l) => Some(
                l.as_str()
                    .ok_or("field `logs` must be a string")?
                    .to_owned(),
            ),
        };
        let events = match obj.get("events") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err("field `events` must be an array".to_owned()),
        };
        let meta_data = match obj.get("metaData") {
            None | Some(Value::Null) => None,
            Some(m) => Some(block_meta(m).map_err(|e| format!("field `metaData`: {e}"))?),
        };
        Ok(CommandResult {
            req_key,
            tx_id,
            result,
            gas,
            logs,
            continuation: obj.get("continuation").filter(|c| !c.is_null()).cloned(),
            meta_data,
            events,
            raw: v.clone(),
        })
    }

    /// True for `result.status == "success"`.
    pub fn is_success(&self) -> bool {
        matches!(self.result, PactOutcome::Success(_))
    }

    /// The success data, if any.
    pub fn data(&self) -> Option<&Value> {
        match &self.result {
            PactOutcome::Success(d) => Some(d),
            PactOutcome::Failure(_) => None,
        }
    }
}

fn block_meta(m: &Value) -> Result<BlockMeta, String> {
    let hash = |name: &str| -> Result<Option<Hash>, String> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Hash::from_b64url(s)
                .map(Some)
                .map_err(|e| format!("`{name}`: {e}")),
            Some(_) => Err(format!("`{name}` must be a base64url string")),
        }
    };
    let num = |name: &str| -> Result<u64, String> {
        m.get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("`{name}` must be a non-negative integer"))
    };
    Ok(BlockMeta {
        block_hash: hash("blockHash")?.ok_or("missing `blockHash`")?,
        block_height: num("blockHeight")?,
        block_time: num("blockTime")?,
        prev_block_hash: hash("prevBlockHash")?,
    })
}

/// One chain's entry in a cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutEntry {
    /// The chain's height in the cut.
    pub height: u64,
    /// The block hash at that height.
    pub hash: Hash,
}

/// A cut: the current head of every chain (`GET /chainweb/0.0/{net}/cut`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    /// Head per chain.
    pub hashes: BTreeMap<u32, CutEntry>,
    /// The cut's height (sum of the chain heights).
    pub height: u64,
    /// The cut's weight, base64url.
    pub weight: String,
    /// The network (`"mainnet01"`).
    pub instance: String,
    /// The cut's id.
    pub id: String,
    /// Where the cut came from, if the node says.
    #[serde(default)]
    pub origin: Option<Value>,
}
