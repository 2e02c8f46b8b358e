//! Storing: the events inserted (or, for ids stored before, compared) in the caller's
//! transaction, their inline contents kept, one receipt per event.

use std::collections::{HashMap, HashSet};

use ancora_proof::event::EventLeaf;
use time::OffsetDateTime;
use uuid::Uuid;

use super::IngestError;
use super::input::Prepared;
use super::receipts::{Receipt, receipt_from_stored, status_url};
use crate::db::{self, Tx};
use crate::services::Services;
use crate::services::archive::ArchiveError;
use crate::services::authorization::Auth;

/// What [`store`] did.
pub(super) struct Stored {
    /// One receipt per event, in input order.
    pub(super) receipts: Vec<Receipt>,
    /// When the insert already counted usage and read the batch job: the job's run time
    /// (`Some(None)`: no job).
    pub(super) job_seen: Option<Option<OffsetDateTime>>,
    /// How many events were new.
    pub(super) inserted: usize,
    /// The receipt time of the new events.
    pub(super) received_at: OffsetDateTime,
}

/// Inserts what is new and compares what exists (an id stored before must carry the same
/// digest, else 409 and the transaction is dropped).
///
/// The insert comes first and skips ids already stored, so the common case (all new) costs
/// one statement; only the ids it skipped are read back and compared.
pub(super) async fn store(
    tx: &mut Tx,
    svc: &Services,
    auth: &Auth,
    events: &[Prepared],
    signers: &[Option<Uuid>],
    fresh: bool,
) -> Result<Option<Stored>, IngestError> {
    let now = now_micros();
    let received_micros = unix_micros(now);
    let mut rows = db::events::NewEvents::with_capacity(events.len());
    let mut leaves = Vec::with_capacity(events.len());
    for (e, signer) in events.iter().zip(signers) {
        let submitter = match &e.signature {
            Some((key, _)) => format!("{}/{key}", auth.prefix),
            None => auth.prefix.clone(),
        };
        let leaf = EventLeaf {
            tenant_id: auth.tenant.bytes(),
            event_id: e.id.clone(),
            digest: e.digest,
            submitter,
            received_at_micros: received_micros,
        };
        let leaf_hash = leaf
            .leaf_hash()
            .map_err(|err| IngestError::Invalid(format!("event {:?}: {err}", e.id)))?;
        rows.ids.push(leaf.event_id);
        rows.digest_algs
            .push(e.digest.algorithm.prefix().to_owned());
        rows.digests.push(e.digest.bytes.to_vec());
        rows.metadata.push(e.metadata.clone().unwrap_or_default());
        rows.submitters.push(leaf.submitter);
        rows.signatures.push(
            e.signature
                .as_ref()
                .map(|(_, s)| s.to_bytes().to_vec())
                .unwrap_or_default(),
        );
        rows.signer_key_ids.push(signer.unwrap_or(Uuid::nil()));
        rows.leaf_hashes.push(leaf_hash.as_bytes().to_vec());
        leaves.push(leaf_hash);
    }
    let mut job_seen = None;
    let inserted = if fresh {
        let fresh = db::events::insert_fresh(
            tx,
            auth.tenant,
            &rows,
            now,
            received_micros,
            now.date(),
            db::usage::EVENTS_INGESTED,
        )
        .await?;
        match fresh {
            Some(f) => {
                super::signatures::check_required(events, f.requires_signatures)?;
                job_seen = Some(f.job_run_at);
                // Every id was new; the rows are not needed any more.
                std::mem::take(&mut rows.ids)
            }
            // An id is stored already; this transaction is aborted.
            None => return Ok(None),
        }
    } else {
        let (inserted, required) =
            db::events::insert_new(tx, auth.tenant, &rows, now, received_micros).await?;
        super::signatures::check_required(events, required)?;
        inserted
    };
    let mut stored: HashMap<String, db::events::StoredEvent> = HashMap::new();
    if inserted.len() < events.len() {
        // Ids stored before (a retry, or a concurrent request): same digest or nothing.
        let new: HashSet<&str> = inserted.iter().map(String::as_str).collect();
        let index: HashMap<&str, usize> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        let existing: Vec<String> = events
            .iter()
            .filter(|e| !new.contains(e.id.as_str()))
            .map(|e| e.id.clone())
            .collect();
        for s in db::events::find_many(tx, auth.tenant, &existing).await? {
            if let Some(&i) = index.get(s.id.as_str()) {
                check_same_digest(&events[i], &s)?;
            }
            stored.insert(s.id.clone(), s);
        }
        if stored.len() != existing.len() {
            return Err(anyhow::anyhow!("an event id was neither inserted nor found").into());
        }
    }
    let (content_ids, contents): (Vec<String>, Vec<Vec<u8>>) = events
        .iter()
        .filter(|e| !stored.contains_key(&e.id))
        .filter_map(|e| e.content.clone().map(|c| (e.id.clone(), c)))
        .unzip();
    if !content_ids.is_empty() {
        let sealed = svc
            .archive
            .seal(tx, auth.tenant, &content_ids, &contents)
            .await
            .map_err(|e| match e {
                ArchiveError::Shredded => IngestError::Conflict(
                    "this tenant's data key was destroyed (shredded): contents can no longer be stored; submit digests".into(),
                ),
                e => IngestError::Internal(svc.archive.count(&svc.metrics, e).into()),
            })?;
        db::events::insert_contents(tx, auth.tenant, &content_ids, &sealed).await?;
    }
    let mut receipts = Vec::with_capacity(events.len());
    for (e, leaf_hash) in events.iter().zip(leaves) {
        let receipt = match stored.get(&e.id) {
            Some(s) => receipt_from_stored(svc, s)?,
            None => Receipt {
                id: e.id.clone(),
                digest: e.digest.to_string(),
                leaf_hash,
                received_at: now,
                received_at_micros: received_micros,
                status_url: status_url(svc, &e.id),
            },
        };
        receipts.push(receipt);
    }
    Ok(Some(Stored {
        receipts,
        job_seen,
        inserted: inserted.len(),
        received_at: now,
    }))
}

pub(super) fn check_same_digest(
    e: &Prepared,
    s: &db::events::StoredEvent,
) -> Result<(), IngestError> {
    if s.digest_alg == e.digest.algorithm.prefix() && s.digest == e.digest.bytes {
        return Ok(());
    }
    Err(IngestError::Conflict(format!(
        "event id {:?} already exists with a different digest; nothing in this request was stored",
        e.id
    )))
}

/// Now, truncated to microseconds (what `timestamptz` and the leaf keep).
pub(super) fn now_micros() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let micros = now.nanosecond() / 1000 * 1000;
    now.replace_nanosecond(micros).unwrap_or(now)
}

pub(super) fn unix_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}
