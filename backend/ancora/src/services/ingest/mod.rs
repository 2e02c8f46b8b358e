//! Event ingestion: validate, verify signatures, store durably, answer with receipts.
//!
//! [`ingest_events`] is the one way events enter Ancora (split by job: [`input`] parsing,
//! [`signatures`], [`store`] and [`receipts`]); `POST /v1/events` and the seed
//! endpoints both call it. Everything happens in one tenant transaction: the events, their
//! inline contents, the usage counter, the tenant's batch job and the answer stored on the
//! request's `Idempotency-Key` commit together or not at all, and receipts are returned only after the commit.
//!
//! ## Submitter signatures
//!
//! An event may carry `signature` (base64 or base64url of a 64-byte Ed25519 signature) and
//! `key` (the name of a submitter key the tenant registered). The signed message is the
//! UTF-8 text
//!
//! ```text
//! ancora-event-v1\n<event id>\n<digest>
//! ```
//!
//! with no trailing newline, where `<digest>` is the canonical digest text,
//! `sha256:<64 lowercase hex>` or `sha512_256:<64 lowercase hex>` (for an event sent with
//! `content`, the SHA-256 of the content). The first line separates Ancora event signatures
//! from anything else the device key might sign; event ids cannot hold control characters, so
//! the message splits one way only. A signed event must carry its own `id`.

mod fill;
mod input;
mod receipts;
mod signatures;
mod store;

use std::time::Duration;

use crate::db;
use crate::services::Services;
use crate::services::admission::AdmissionError;
use crate::services::authorization::{Action, Auth, Denied, authorize_key};
use crate::services::billing::{BillingError, Metric, QuotaExceeded};

pub use fill::BatchFill;
pub use input::{
    EventInput, MAX_EVENTS_PER_REQUEST, MAX_ID_BYTES, MAX_METADATA_BYTES, decode_base64,
};
pub use receipts::{Receipt, encode_path_segment, status_url};
pub use signatures::{SIGNATURE_CONTEXT, signed_message};

/// Why events were not accepted. Nothing of the request was stored in any case.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An event or the request is invalid (the message names `events[i]` and the field).
    #[error("{0}")]
    Invalid(String),
    /// Too many events in one request.
    #[error("{0}")]
    TooLarge(String),
    /// A malformed request option (the `Idempotency-Key`).
    #[error("{0}")]
    BadRequest(String),
    /// An id stored before with another digest.
    #[error("{0}")]
    Conflict(String),
    /// The caller's role may not submit.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The tenant's proofs lag: retry later.
    #[error(transparent)]
    Overloaded(#[from] AdmissionError),
    /// The request would cross the tenant's monthly quota of events.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// Anything else (the database): an internal error.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for IngestError {
    fn from(e: sqlx::Error) -> Self {
        IngestError::Internal(e.into())
    }
}

/// Knobs of one ingestion.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// The request's claim on its `Idempotency-Key` ([`crate::services::idempotency`]): the
    /// receipts are stored on it as the `202` answer in the transaction that stores the events.
    pub idempotency: Option<crate::services::idempotency::Claim>,
    /// When the tenant's batch job should run; `None` is the configured batch window
    /// (`Some(Duration::ZERO)` asks for a batch right away).
    pub batch_after: Option<Duration>,
}

/// Ingests `events` for `auth`'s tenant and answers one receipt per event, in input order,
/// after the commit.
///
/// All or nothing: any invalid event (422, naming `events[i]` and the field), a signature
/// that does not verify or is missing while the tenant requires one (422), an id stored with
/// another digest (409), or a database error leaves nothing stored. An id stored with the
/// same digest gets its first receipt. 403 when the key's role may not submit; 422 for an
/// empty list, 413 for more than [`MAX_EVENTS_PER_REQUEST`].
pub async fn ingest_events(
    svc: &Services,
    auth: &Auth,
    events: Vec<EventInput>,
    options: IngestOptions,
) -> Result<Vec<Receipt>, IngestError> {
    authorize_key(auth, Action::SubmitEvents)?;
    input::check_count(events.len())?;
    match svc
        .admission
        .admit(auth.tenant, svc.settings.max_proof_lag)
        .await
    {
        Ok(true) => svc.metrics.ingest_held.inc(),
        Ok(false) => 0,
        Err(refused) => {
            svc.metrics.ingest_refused.inc();
            return Err(refused.into());
        }
    };
    let prepared = input::prepare_all(events)?;
    // First as if every id were new (a plain insert); when one is not, over again with the
    // insert that skips stored ids and compares them.
    let mut fresh = true;
    let (mut tx, stored) = loop {
        let mut tx = svc.db.ingest_tx(auth.tenant).await?;
        // Refused whole when the events would cross the month's quota (a replay never gets
        // here: it is answered before, whatever the quota). Ids stored before count here too.
        match svc
            .billing
            .check(auth.tenant, Metric::Events, prepared.len() as u64)
            .await
        {
            Ok(()) => {}
            Err(BillingError::Quota(q)) => return Err(q.into()),
            Err(e) => return Err(IngestError::Internal(e.into_internal())),
        }
        let signers = signatures::check_signatures(&mut tx, auth.tenant, &prepared).await?;
        match store::store(&mut tx, svc, auth, &prepared, &signers, fresh).await? {
            Some(stored) => break (tx, stored),
            None => fresh = false,
        }
    };
    if let Some(claim) = &options.idempotency {
        let body = serde_json::json!({ "receipts": stored.receipts });
        claim.finish_in(&mut tx, 202, &body).await?;
    }
    // Last, right before COMMIT: count usage and make sure the batch job exists (see
    // `db::events::count_and_enqueue_batch`); the common path did both in its insert.
    let mut woke = false;
    if stored.inserted > 0 {
        let config = &svc.settings.batching;
        // A full batch waits already: no reason to wait for the window.
        let full = svc.batch_fill.add(
            auth.tenant,
            stored.inserted as u64,
            u64::from(config.max_events),
        );
        let after = match options.batch_after.unwrap_or(config.window) {
            _ if full => Duration::ZERO,
            after => after,
        };
        let after = time::Duration::try_from(after).unwrap_or(time::Duration::ZERO);
        let run_at = stored.received_at + after;
        woke = match stored.job_seen {
            Some(existing) => {
                crate::db::jobs::ensure_batch_job(&mut tx, auth.tenant, existing, run_at).await?
            }
            None => {
                db::events::count_and_enqueue_batch(
                    &mut tx,
                    auth.tenant,
                    stored.received_at.date(),
                    db::usage::EVENTS_INGESTED,
                    i64::try_from(stored.inserted).unwrap_or(i64::MAX),
                    run_at,
                )
                .await?
            }
        };
    }
    tx.commit().await?;
    svc.metrics.events_ingested.inc_by(stored.inserted as u64);
    svc.billing
        .record(auth.tenant, Metric::Events, stored.inserted as u64);
    if woke {
        svc.wake.notify_waiters();
    }
    Ok(stored.receipts)
}
