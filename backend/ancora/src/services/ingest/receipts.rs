//! Receipts: what Ancora answers for each event, fresh or replayed (a stored receipt, or a
//! stored idempotent response).

use ancora_proof::Hash;
use ancora_proof::event::{ContentDigest, DigestAlgorithm};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::IngestError;
use crate::db;
use crate::services::Services;

/// What Ancora answers for one event: enough to find it and to check its proof later.
///
/// Its JSON is camelCase like every `/v1` body (`leafHash`, `receivedAt`, `receivedAtMicros`,
/// `statusUrl`); the snake_case names of answers stored before 2026-12 are still read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The event id.
    pub id: String,
    /// The digest bound into the leaf.
    pub digest: String,
    /// The leaf's node hash in the batch tree, base64url (as in proof bundles).
    #[serde(alias = "leaf_hash")]
    #[schema(value_type = String)]
    pub leaf_hash: Hash,
    /// When Ancora received it (RFC 3339, microseconds).
    #[serde(with = "time::serde::rfc3339", alias = "received_at")]
    pub received_at: OffsetDateTime,
    /// The same instant, microseconds since the Unix epoch, as bound into the leaf.
    #[serde(alias = "received_at_micros")]
    pub received_at_micros: i64,
    /// Where to follow the event's status and fetch its proof.
    #[serde(alias = "status_url")]
    pub status_url: String,
}

pub(super) fn receipt_from_stored(
    svc: &Services,
    s: &db::events::StoredEvent,
) -> Result<Receipt, IngestError> {
    let algorithm = match s.digest_alg.as_str() {
        "sha512_256" => DigestAlgorithm::Sha512_256,
        _ => DigestAlgorithm::Sha256,
    };
    let bytes = <[u8; 32]>::try_from(s.digest.as_slice())
        .map_err(|_| anyhow::anyhow!("stored digest of {:?} is not 32 bytes", s.id))?;
    let received_at =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(s.received_at_micros) * 1000)
            .map_err(|e| anyhow::anyhow!("stored receipt time of {:?}: {e}", s.id))?;
    Ok(Receipt {
        id: s.id.clone(),
        digest: ContentDigest { algorithm, bytes }.to_string(),
        leaf_hash: Hash::from_slice(&s.leaf_hash)
            .map_err(|e| anyhow::anyhow!("stored leaf hash of {:?}: {e}", s.id))?,
        received_at,
        received_at_micros: s.received_at_micros,
        status_url: status_url(svc, &s.id),
    })
}

/// `<public url>/v1/events/<percent-encoded id>`.
pub fn status_url(svc: &Services, id: &str) -> String {
    format!(
        "{}/v1/events/{}",
        svc.settings.public_url.trim_end_matches('/'),
        encode_path_segment(id)
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_path_segment("a b/c"), "a%20b%2Fc");
    }
}
