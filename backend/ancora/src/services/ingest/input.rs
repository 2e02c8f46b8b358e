//! Input parsing: one submitted event ([`EventInput`]) checked field by field into a
//! [`Prepared`] event, with errors that name `events[i]` and the field.

use std::collections::HashMap;

use ancora_proof::event::ContentDigest;
use base64::Engine as _;
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::IngestError;
use crate::domain::EventId;

/// Most events one request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Largest `metadata` object, serialized, in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest event id, in bytes (as bound into the leaf).
pub const MAX_ID_BYTES: usize = EventId::MAX_BYTES;

/// One event as submitted. Unknown fields are refused: a misspelt `signature` must not turn
/// into an unsigned event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The tenant's id for the event (1–256 bytes, no control characters, no invisible or
    /// direction-changing formatting characters: see [`crate::domain::EventId`]); generated when
    /// absent (a UUID v7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 256)]
    pub id: Option<String>,
    /// `sha256:<hex>` or `sha512_256:<hex>`; exactly one of `digest` and `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(sha256|sha512_256):[0-9a-fA-F]{64}$")]
    pub digest: Option<String>,
    /// The content itself, base64; Ancora keeps its SHA-256 (and the bytes, for a while).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9+/_-]*={0,2}$")]
    pub content: Option<String>,
    /// A JSON object kept with the event (not part of the proof).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Ed25519 signature over [`signed_message`], base64 or base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Name of the registered submitter key that made `signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

pub(super) fn check_count(n: usize) -> Result<(), IngestError> {
    if n == 0 {
        return Err(IngestError::Invalid(
            "events must hold at least one event".into(),
        ));
    }
    if n > MAX_EVENTS_PER_REQUEST {
        return Err(IngestError::TooLarge(format!(
            "a request may carry at most {MAX_EVENTS_PER_REQUEST} events; this one has {n}"
        )));
    }
    Ok(())
}

/// One event, validated.
pub(super) struct Prepared {
    pub(super) id: String,
    pub(super) digest: ContentDigest,
    pub(super) content: Option<Vec<u8>>,
    pub(super) metadata: Option<String>,
    pub(super) signature: Option<(String, Signature)>,
}

pub(super) fn prepare_all(events: Vec<EventInput>) -> Result<Vec<Prepared>, IngestError> {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(events.len());
    let mut out = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        let p = prepare(e).map_err(|m| IngestError::Invalid(format!("events[{i}]{m}")))?;
        if let Some(first) = seen.insert(p.id.clone(), i) {
            return Err(IngestError::Invalid(format!(
                "events[{i}].id repeats the id of events[{first}] in the same request"
            )));
        }
        out.push(p);
    }
    Ok(out)
}

/// Validates one event; the error starts with the field (`.digest: …`).
pub(super) fn prepare(e: EventInput) -> Result<Prepared, String> {
    let signed = match (&e.signature, &e.key) {
        (Some(_), Some(_)) => true,
        (None, None) => false,
        _ => return Err(": signature and key go together; send both or neither".into()),
    };
    let id = match e.id {
        Some(id) => {
            check_id(&id)?;
            id
        }
        None if signed => return Err(".id is required on a signed event".into()),
        None => Uuid::now_v7().to_string(),
    };
    let (digest, content) = match (e.digest, e.content) {
        (Some(d), None) => (
            d.parse::<ContentDigest>()
                .map_err(|err| format!(".digest: {err}"))?,
            None,
        ),
        (None, Some(c)) => {
            let bytes = decode_base64(&c).map_err(|err| format!(".content: {err}"))?;
            (ContentDigest::sha256_of(&bytes), Some(bytes))
        }
        (Some(_), Some(_)) => return Err(": send either digest or content, not both".into()),
        (None, None) => return Err(": one of digest or content is required".into()),
    };
    let metadata = e.metadata.map(check_metadata).transpose()?;
    let signature = match (e.signature, e.key) {
        (Some(sig), Some(key)) => Some((key, parse_signature(&sig)?)),
        _ => None,
    };
    Ok(Prepared {
        id,
        digest,
        content,
        metadata,
        signature,
    })
}

pub(super) fn check_id(id: &str) -> Result<(), String> {
    EventId::check(id).map_err(|e| format!(".id {e}"))
}

pub(super) fn check_metadata(m: serde_json::Value) -> Result<String, String> {
    if !m.is_object() {
        return Err(".metadata must be a JSON object".into());
    }
    if holds_nul(&m) {
        return Err(".metadata must not contain NUL characters (\\u0000)".into());
    }
    let text = m.to_string();
    if text.len() > MAX_METADATA_BYTES {
        return Err(format!(
            ".metadata is {} bytes; at most {MAX_METADATA_BYTES} are kept",
            text.len()
        ));
    }
    Ok(text)
}

/// True when a key or string anywhere in `v` holds U+0000, which Postgres' `jsonb` refuses.
fn holds_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(holds_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

pub(super) fn parse_signature(text: &str) -> Result<Signature, String> {
    let raw = decode_base64(text).map_err(|e| format!(".signature: {e}"))?;
    let bytes = <[u8; 64]>::try_from(raw.as_slice()).map_err(|_| {
        format!(
            ".signature: an Ed25519 signature is 64 bytes, got {}",
            raw.len()
        )
    })?;
    Ok(Signature::from_bytes(&bytes))
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let engine = match (text.contains(['-', '_']), text.ends_with('=')) {
        (true, true) => &URL_SAFE,
        (true, false) => &URL_SAFE_NO_PAD,
        (false, true) => &STANDARD,
        (false, false) => &STANDARD_NO_PAD,
    };
    engine
        .decode(text)
        .map_err(|e| format!("not valid base64 ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_with_both_digest_and_content_is_refused() {
        let e = EventInput {
            digest: Some(format!("sha256:{}", "00".repeat(32))),
            content: Some("aGk=".into()),
            ..Default::default()
        };
        assert!(prepare(e).is_err());
    }

    #[test]
    fn ids_with_control_characters_are_refused() {
        assert!(check_id("a\nb").is_err());
        assert!(check_id("").is_err());
        assert!(check_id(&"x".repeat(257)).is_err());
        assert!(check_id("inv/2026 #1").is_ok());
    }

    #[test]
    fn base64_is_accepted_in_every_common_alphabet() {
        assert_eq!(decode_base64("aGk=").expect("std"), b"hi");
        assert_eq!(decode_base64("aGk").expect("nopad"), b"hi");
        assert_eq!(decode_base64("-_8").expect("url"), vec![0xfb, 0xff]);
        assert!(decode_base64("!!").is_err());
    }
}
