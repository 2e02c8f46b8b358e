//! Submitter signatures: the signed message, and every event's signature checked against the
//! tenant's active submitter keys (and its policy), off the async workers.

use std::collections::{HashMap, HashSet};

use ancora_proof::event::ContentDigest;
use ed25519_dalek::{Signature, VerifyingKey};
use uuid::Uuid;

use super::IngestError;
use super::input::Prepared;
use crate::db::{self, Tx};
use crate::domain::TenantId;

/// The first line of every signed message.
pub const SIGNATURE_CONTEXT: &str = "ancora-event-v1";

/// The message a submitter signs for one event (see the module documentation).
pub fn signed_message(event_id: &str, digest: &ContentDigest) -> String {
    format!("{SIGNATURE_CONTEXT}\n{event_id}\n{digest}")
}

/// The tenant's policy: when it requires signed events, every event must carry a signature.
/// The store checks it right after its insert, which reads the policy in the same statement,
/// and before anything else is compared; an error drops the transaction, so nothing stays.
pub(super) fn check_required(events: &[Prepared], required: bool) -> Result<(), IngestError> {
    match events.iter().position(|e| e.signature.is_none()) {
        Some(i) if required => Err(IngestError::Invalid(format!(
            "events[{i}]: this tenant requires every event to be signed (signature and key)"
        ))),
        _ => Ok(()),
    }
}

/// Checks every signature given; returns the signer key id of each event.
pub(super) async fn check_signatures(
    tx: &mut Tx,
    tenant: TenantId,
    events: &[Prepared],
) -> Result<Vec<Option<Uuid>>, IngestError> {
    let names: Vec<String> = events
        .iter()
        .filter_map(|e| e.signature.as_ref().map(|(k, _)| k.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if names.is_empty() {
        return Ok(vec![None; events.len()]);
    }
    let keys = db::submitter_keys::active_by_names(tx, tenant, &names).await?;
    let mut by_name: HashMap<String, (Uuid, VerifyingKey)> = HashMap::new();
    for k in keys {
        let bytes = <[u8; 32]>::try_from(k.public_key.as_slice())
            .map_err(|_| anyhow::anyhow!("submitter key {} is not 32 bytes", k.id))?;
        // A stored key that is not a valid point verifies nothing; treat it as unknown.
        if let Ok(vk) = VerifyingKey::from_bytes(&bytes) {
            by_name.insert(k.name, (k.id, vk));
        }
    }
    let work: Vec<SignatureCheck> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            e.signature.as_ref().map(|(name, sig)| {
                let msg = signed_message(&e.id, &e.digest);
                (i, by_name.get(name).copied(), msg, *sig)
            })
        })
        .collect();
    let names_by_index: HashMap<usize, String> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.signature.as_ref().map(|(n, _)| (i, n.clone())))
        .collect();
    let n = events.len();
    // Ed25519 verification is CPU work (tens of µs each, 10 000 per request at most): keep it
    // off the async workers.
    let verdict = tokio::task::spawn_blocking(move || verify_all(n, work))
        .await
        .map_err(|e| anyhow::anyhow!("signature verification task: {e}"))?;
    verdict.map_err(|(i, unknown)| {
        let name = names_by_index.get(&i).cloned().unwrap_or_default();
        if unknown {
            IngestError::Invalid(format!(
                "events[{i}].key: no active submitter key named {name:?}"
            ))
        } else {
            IngestError::Invalid(format!(
                "events[{i}].signature does not verify with submitter key {name:?} over \
                 \"{SIGNATURE_CONTEXT}\\n<id>\\n<digest>\""
            ))
        }
    })
}

/// One signature to check: event index, its key (if active), the message, the signature.
type SignatureCheck = (usize, Option<(Uuid, VerifyingKey)>, String, Signature);

/// Verifies each signature; `Err((index, key_unknown))` names the first failure.
fn verify_all(n: usize, work: Vec<SignatureCheck>) -> Result<Vec<Option<Uuid>>, (usize, bool)> {
    let mut signers = vec![None; n];
    for (i, key, msg, sig) in work {
        let (id, vk) = key.ok_or((i, true))?;
        vk.verify_strict(msg.as_bytes(), &sig)
            .map_err(|_| (i, false))?;
        signers[i] = Some(id);
    }
    Ok(signers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_message_is_context_id_and_canonical_digest() {
        let d: ContentDigest = format!("sha256:{}", "AB".repeat(32))
            .parse()
            .expect("digest");
        assert_eq!(
            signed_message("inv-1", &d),
            format!("ancora-event-v1\ninv-1\nsha256:{}", "ab".repeat(32))
        );
    }
}
