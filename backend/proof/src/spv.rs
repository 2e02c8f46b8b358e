//! Chainweb SPV proofs: the legacy `/pact/spv` transaction-output proof (decode, run,
//! verify against a block header, build) and the new-format `PayloadProof` of `/pact/spv2`.
//!
//! A `/pact/spv` response is a JSON string holding `base64url(JSON proof)`, where the JSON
//! proof is `{"chain", "object", "subject": {"input"|"tree"}, "algorithm": "SHA512t_256"}`
//! and `object` is the binary Merkle proof object of [`crate::merkle`]. Running the proof
//! gives the hash of a block on the target chain. That root proves something only once it
//! is matched against a block header the verifier trusts: [`verify_against_header`] does
//! that match and recomputes the header's hash from its fields, but whether the header is
//! on the canonical chain (and deep enough) is the caller's judgement.

mod build;
mod payload_proof;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::chainweb::header::prefix;
use crate::chainweb::{BlockHeader, Tag, untag};
use crate::hash::{Hash, HashAlgorithm, b64url_decode, b64url_encode};
use crate::merkle::{Leaf, MerkleProof};

pub use build::{HeaderLink, build_output_proof, header_link_proof};
pub use payload_proof::{PayloadProof, RootType};

/// What a proof proves: an input leaf's bytes (tag included) or a nested tree's root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The bytes of an input leaf, `u16 BE tag ‖ value`.
    Input(Vec<u8>),
    /// The root of a nested tree.
    Tree(Hash),
}

impl Subject {
    /// The subject as a Merkle leaf.
    pub fn leaf(&self) -> Leaf<'_> {
        match self {
            Subject::Input(bytes) => Leaf::Input(bytes),
            Subject::Tree(h) => Leaf::Tree(*h),
        }
    }

    /// The value of an input subject after checking and stripping its tag.
    pub fn untag(&self, tag: Tag) -> Result<&[u8], Error> {
        match self {
            Subject::Input(bytes) => untag(tag, bytes),
            Subject::Tree(_) => Err(Error::Invalid(format!(
                "the proof subject is a tree root, but a {tag} input leaf is required"
            ))),
        }
    }

    fn from_wire(w: SubjectJson) -> Result<Self, Error> {
        match w {
            SubjectJson::Input(s) => Ok(Subject::Input(
                b64url_decode(&s).map_err(|e| prefix("proof subject", e))?,
            )),
            SubjectJson::Tree(s) => Ok(Subject::Tree(
                Hash::from_b64url(&s).map_err(|e| prefix("proof subject tree root", e))?,
            )),
        }
    }

    fn to_wire(&self) -> SubjectJson {
        match self {
            Subject::Input(bytes) => SubjectJson::Input(b64url_encode(bytes)),
            Subject::Tree(h) => SubjectJson::Tree(h.to_b64url()),
        }
    }
}

/// `{"input": b64url}` or `{"tree": b64url}`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum SubjectJson {
    Input(String),
    Tree(String),
}

/// A chain id on the wire: a JSON number in real output, a decimal string tolerated.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ChainJson {
    Number(u32),
    Text(String),
}

impl ChainJson {
    fn value(&self) -> Result<u32, Error> {
        match self {
            ChainJson::Number(n) => Ok(*n),
            ChainJson::Text(s) => s
                .parse()
                .ok()
                .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| Error::Invalid(format!("SPV proof: chain {s:?} is not a chain id"))),
        }
    }
}

/// The JSON proof, fields in Chainweb's order so that re-encoding is byte-identical.
#[derive(Serialize, Deserialize)]
struct ProofJson {
    chain: ChainJson,
    object: String,
    subject: SubjectJson,
    algorithm: String,
}

/// A legacy `/pact/spv` transaction-output proof (`TransactionOutputProof`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionOutputProof {
    /// The target chain: the chain whose block hash the proof leads to.
    pub chain: u32,
    /// The Merkle proof object.
    pub object: MerkleProof,
    /// The subject, normally a `TransactionOutput` (0x0014) input leaf.
    pub subject: Subject,
    /// Always SHA-512/256 for this format.
    pub algorithm: HashAlgorithm,
}

impl TransactionOutputProof {
    /// Decodes a `/pact/spv` response: the base64url string, bare or as the JSON string the
    /// HTTP body holds (surrounding whitespace ignored). The decoded JSON proof itself
    /// (text starting with `{`) is accepted too.
    pub fn decode_response(text: &str) -> Result<Self, Error> {
        let t = text.trim();
        if t.starts_with('{') {
            return Self::from_json(t);
        }
        let inner: std::borrow::Cow<'_, str> = if t.starts_with('"') {
            serde_json::from_str::<String>(t)
                .map_err(|e| {
                    Error::BadJson(format!("SPV response is not a valid JSON string: {e}"))
                })?
                .into()
        } else {
            t.into()
        };
        let bytes = b64url_decode(inner.trim()).map_err(|e| prefix("SPV response", e))?;
        let json = std::str::from_utf8(&bytes).map_err(|_| {
            Error::BadEncoding("SPV response: the decoded proof is not UTF-8 text".to_owned())
        })?;
        Self::from_json(json)
    }

    /// Parses the JSON proof (the decoded form of a response). Requires
    /// `algorithm == "SHA512t_256"`, as Chainweb's `parseProof` does.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let w: ProofJson =
            serde_json::from_str(json).map_err(|e| Error::BadJson(format!("SPV proof: {e}")))?;
        let algorithm = HashAlgorithm::from_name(&w.algorithm)?;
        if algorithm != HashAlgorithm::Sha512_256 {
            return Err(Error::Invalid(format!(
                "SPV proof: a /pact/spv proof must use SHA512t_256, this one says {algorithm}"
            )));
        }
        let object = b64url_decode(&w.object).map_err(|e| prefix("SPV proof object", e))?;
        Ok(TransactionOutputProof {
            chain: w.chain.value()?,
            object: MerkleProof::decode(&object)?,
            subject: Subject::from_wire(w.subject)?,
            algorithm,
        })
    }

    /// The JSON proof, compact, in Chainweb's field order.
    pub fn to_json(&self) -> String {
        let w = ProofJson {
            chain: ChainJson::Number(self.chain),
            object: b64url_encode(&self.object.encode()),
            subject: self.subject.to_wire(),
            algorithm: self.algorithm.name().to_owned(),
        };
        serde_json::to_string(&w).unwrap_or_default()
    }

    /// The `/pact/spv` response string: `base64url(JSON proof)` (the HTTP body is this
    /// string as a JSON string).
    pub fn encode_response(&self) -> String {
        b64url_encode(self.to_json().as_bytes())
    }

    /// Runs the proof; the result is the block hash it claims, still to be trusted.
    pub fn run(&self) -> Hash {
        self.object.run(self.algorithm, self.subject.leaf())
    }

    /// The transaction output: the subject with its 0x0014 tag checked and stripped,
    /// parsed as a CommandResult.
    pub fn command_result(&self) -> Result<CommandResult, Error> {
        CommandResult::parse(self.subject.untag(Tag::TransactionOutput)?)
    }
}

/// A Pact CommandResult (the JSON of a transaction output), with typed accessors for the
/// fields a verifier reads. The whole JSON stays available.
///
/// [`parse`](Self::parse) checks the bytes are one JSON object and reads `reqKey` and
/// `result.status` in a single pass that builds no tree (a verifier checking thousands of
/// proofs a second pays for nothing more); the [`serde_json::Value`] behind
/// [`json`](Self::json) and [`data`](Self::data) is built on first use.
#[derive(Clone, Debug)]
pub struct CommandResult {
    bytes: Vec<u8>,
    req_key: Option<String>,
    status: Option<String>,
    value: std::sync::OnceLock<serde_json::Value>,
}

impl PartialEq for CommandResult {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl CommandResult {
    /// Parses CommandResult JSON bytes; anything but a JSON object is [`Error::BadJson`].
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let peek: peek::Top = serde_json::from_slice(bytes).map_err(|e| {
            if e.is_data() {
                Error::BadJson(
                    "transaction output: expected a JSON object (a CommandResult)".to_owned(),
                )
            } else {
                Error::BadJson(format!("transaction output: {e}"))
            }
        })?;
        Ok(CommandResult {
            bytes: bytes.to_vec(),
            req_key: peek.req_key,
            status: peek.status,
            value: std::sync::OnceLock::new(),
        })
    }

    /// The whole JSON (built on first use).
    pub fn json(&self) -> &serde_json::Value {
        self.value.get_or_init(|| {
            // `parse` checked the bytes are a JSON object; `Null` is unreachable.
            serde_json::from_slice(&self.bytes).unwrap_or(serde_json::Value::Null)
        })
    }

    /// The whole JSON, owned.
    pub fn into_json(self) -> serde_json::Value {
        let CommandResult { bytes, value, .. } = self;
        value
            .into_inner()
            .unwrap_or_else(|| serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    /// The exact bytes of the transaction output.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `reqKey`, the request key of the transaction (base64url).
    pub fn req_key(&self) -> Option<&str> {
        self.req_key.as_deref()
    }

    /// `reqKey` parsed as a 32-byte hash.
    pub fn request_key(&self) -> Option<Hash> {
        Hash::from_b64url(self.req_key()?).ok()
    }

    /// `result.status`: `"success"` or `"failure"`.
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// True when `result.status` is `"success"`.
    pub fn is_success(&self) -> bool {
        self.status() == Some("success")
    }

    /// `result.data`, the value the transaction returned.
    pub fn data(&self) -> Option<&serde_json::Value> {
        self.json().get("result")?.get("data")
    }
}

/// The one-pass reader behind [`CommandResult::parse`]: a JSON object's `reqKey` (when a
/// string) and `result.status` (when `result` is an object and `status` a string); every
/// other value is skipped without being built. Like `serde_json::Value`, a repeated key's
/// last value wins and a value of an unexpected type reads as absent.
mod peek {
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// The top-level object.
    pub(super) struct Top {
        pub req_key: Option<String>,
        pub status: Option<String>,
    }

    enum Field {
        ReqKey,
        Result,
        Status,
        Other,
    }

    impl<'de> Deserialize<'de> for Field {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Field;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_str<E>(self, s: &str) -> Result<Field, E> {
                    Ok(match s {
                        "reqKey" => Field::ReqKey,
                        "result" => Field::Result,
                        "status" => Field::Status,
                        _ => Field::Other,
                    })
                }
            }
            d.deserialize_str(V)
        }
    }

    /// A string, or `None` for any other value (skipped).
    struct MaybeStr(Option<String>);

    /// `result.status` when `result` is an object, else `None` (skipped).
    struct MaybeStatus(Option<String>);

    macro_rules! skip_other_values {
        ($t:ident) => {
            fn visit_bool<E>(self, _: bool) -> Result<$t, E> {
                Ok($t(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<$t, E> {
                Ok($t(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<$t, E> {
                Ok($t(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<$t, E> {
                Ok($t(None))
            }
            fn visit_unit<E>(self) -> Result<$t, E> {
                Ok($t(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$t, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok($t(None))
            }
        };
    }

    impl<'de> Deserialize<'de> for MaybeStr {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = MaybeStr;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E>(self, s: &str) -> Result<MaybeStr, E> {
                    Ok(MaybeStr(Some(s.to_owned())))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeStr, A::Error> {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(MaybeStr(None))
                }
                skip_other_values!(MaybeStr);
            }
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for MaybeStatus {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = MaybeStatus;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E>(self, _: &str) -> Result<MaybeStatus, E> {
                    Ok(MaybeStatus(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeStatus, A::Error> {
                    let mut status = None;
                    while let Some(k) = map.next_key::<Field>()? {
                        match k {
                            Field::Status => status = map.next_value::<MaybeStr>()?.0,
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    Ok(MaybeStatus(status))
                }
                skip_other_values!(MaybeStatus);
            }
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for Top {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Top;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object (a CommandResult)")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
                    let mut top = Top {
                        req_key: None,
                        status: None,
                    };
                    while let Some(k) = map.next_key::<Field>()? {
                        match k {
                            Field::ReqKey => top.req_key = map.next_value::<MaybeStr>()?.0,
                            Field::Result => top.status = map.next_value::<MaybeStatus>()?.0,
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    Ok(top)
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// What a verified SPV proof established.
#[derive(Clone, Debug, PartialEq)]
pub struct SpvVerification {
    /// The target chain.
    pub chain: u32,
    /// The root the proof leads to; equals [`header_hash`](Self::header_hash).
    pub root: Hash,
    /// The height of the header the proof was checked against.
    pub header_height: u64,
    /// The hash of that header, recomputed from its fields.
    pub header_hash: Hash,
    /// The proven transaction output.
    pub output: CommandResult,
}

impl SpvVerification {
    /// The proven CommandResult JSON.
    pub fn subject_json(&self) -> &serde_json::Value {
        self.output.json()
    }
}

/// Verifies a transaction-output proof against a block header the caller trusts:
///
/// 1. the algorithm is SHA-512/256 and `proof.chain == expected_chain`
///    ([`Error::WrongChain`]);
/// 2. the header is on that chain ([`Error::HeaderChainMismatch`]);
/// 3. the header's hash, recomputed from its fields, matches the hash it claims
///    ([`Error::HeaderHashMismatch`]), so a header with altered fields is rejected;
/// 4. the proof's root equals that hash ([`Error::RootMismatch`]);
/// 5. the subject is a `TransactionOutput` (0x0014) leaf ([`Error::WrongTag`]) holding a
///    CommandResult JSON object ([`Error::BadJson`]).
///
/// It does not require `result.status == "success"`: read
/// [`CommandResult::is_success`] for that.
pub fn verify_against_header(
    proof: &TransactionOutputProof,
    expected_chain: u32,
    header: &BlockHeader,
) -> Result<SpvVerification, Error> {
    if proof.algorithm != HashAlgorithm::Sha512_256 {
        return Err(Error::Invalid(format!(
            "a /pact/spv proof must use SHA512t_256, this one uses {}",
            proof.algorithm
        )));
    }
    if proof.chain != expected_chain {
        return Err(Error::WrongChain {
            expected: expected_chain,
            actual: proof.chain,
        });
    }
    if header.chain_id != proof.chain {
        return Err(Error::HeaderChainMismatch {
            header: header.chain_id,
            proof: proof.chain,
        });
    }
    let header_hash = header.verified_hash()?;
    let root = proof.run();
    if root != header_hash {
        return Err(Error::RootMismatch {
            what: "the hash of the given block header",
            root,
            expected: header_hash,
        });
    }
    Ok(SpvVerification {
        chain: proof.chain,
        root,
        header_height: header.height,
        header_hash,
        output: proof.command_result()?,
    })
}

/// Verifies `/pact/spv` response text against a block header given as JSON (the node's
/// object encoding, or a JSON string holding the base64url binary header). The expected
/// chain defaults to the header's chain. This is the `ancora` command line's entry point.
pub fn verify_spv_text(
    proof_text: &str,
    header_json: &str,
    expected_chain: Option<u32>,
) -> Result<SpvVerification, Error> {
    let proof = TransactionOutputProof::decode_response(proof_text)?;
    let header = BlockHeader::from_json(header_json)?;
    verify_against_header(&proof, expected_chain.unwrap_or(header.chain_id), &header)
}

/// The hash recomputed from a header's fields and the hash it claims (if any), from the
/// same JSON forms [`verify_spv_text`] accepts.
pub fn header_hash_from_json(json: &str) -> Result<(Hash, Option<Hash>), Error> {
    let header = BlockHeader::from_json(json)?;
    Ok((header.compute_hash(), header.hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_results_read_like_json_values_whatever_the_field_types() {
        let ok = CommandResult::parse(
            br#"{"reqKey":"a\u0062","result":{"data":[1,{"x":null}],"status":"success"},"x":1}"#,
        )
        .expect("an object");
        assert_eq!(ok.req_key(), Some("ab"));
        assert!(ok.is_success());
        assert_eq!(ok.data(), Some(&serde_json::json!([1, { "x": null }])));

        let odd = CommandResult::parse(br#"{"reqKey":5,"result":"success","status":"success"}"#)
            .expect("an object");
        assert_eq!((odd.req_key(), odd.status()), (None, None));
        let twice = CommandResult::parse(
            br#"{"result":{"status":"failure"},"result":{"status":"success"}}"#,
        )
        .expect("an object");
        assert_eq!(twice.status(), twice.json()["result"]["status"].as_str());

        for bad in [&b"[1]"[..], b"\"x\"", b"{\"a\":}", b"{} x", b""] {
            assert!(
                matches!(CommandResult::parse(bad), Err(Error::BadJson(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
