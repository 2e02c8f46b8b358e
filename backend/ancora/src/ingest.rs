//! Event ingestion: validate, verify signatures, store durably, answer with receipts.
//!
//! [`ingest_events`] is the one way events enter Ancora; `POST /v1/events` and the seed
//! endpoints both call it. Everything happens in one tenant transaction: the events, their
//! inline contents, the usage counter, the tenant's batch job and the idempotency record
//! commit together or not at all, and receipts are returned only after the commit.
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

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ancora_proof::Hash;
use ancora_proof::event::{ContentDigest, DigestAlgorithm, EventLeaf};
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{self, Tx};
use crate::http::auth::{Action, Auth, authorize};
use crate::http::{ApiError, AppState};

/// Most events one request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
/// Largest `metadata` object, serialized, in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest event id, in bytes (as bound into the leaf).
pub const MAX_ID_BYTES: usize = 256;
/// The first line of every signed message.
pub const SIGNATURE_CONTEXT: &str = "ancora-event-v1";

/// One event as submitted. Unknown fields are refused: a misspelt `signature` must not turn
/// into an unsigned event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The tenant's id for the event (1–256 bytes, no control characters); generated when
    /// absent (a UUID v7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `sha256:<hex>` or `sha512_256:<hex>`; exactly one of `digest` and `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The content itself, base64; Ancora keeps its SHA-256 (and the bytes, for a while).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A JSON object kept with the event (not part of the proof).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Ed25519 signature over [`signed_message`], base64 or base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Name of the registered submitter key that made `signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// What Ancora answers for one event: enough to find it and to check its proof later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The event id.
    pub id: String,
    /// The digest bound into the leaf.
    pub digest: String,
    /// The leaf's node hash in the batch tree, base64url (as in proof bundles).
    pub leaf_hash: Hash,
    /// When Ancora received it (RFC 3339, microseconds).
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// The same instant, microseconds since the Unix epoch, as bound into the leaf.
    pub received_at_micros: i64,
    /// Where to follow the event's status and fetch its proof.
    pub status_url: String,
}

/// Knobs of one ingestion.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// The request's `Idempotency-Key`: a retry with the same key and the same events gets the
    /// first receipts; the same key with other events is refused (422).
    pub idempotency_key: Option<String>,
    /// When the tenant's batch job should run; `None` is the configured batch window
    /// (`Some(Duration::ZERO)` asks for a batch right away).
    pub batch_after: Option<Duration>,
}

/// The message a submitter signs for one event (see the module documentation).
pub fn signed_message(event_id: &str, digest: &ContentDigest) -> String {
    format!("{SIGNATURE_CONTEXT}\n{event_id}\n{digest}")
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
    state: &AppState,
    auth: &Auth,
    events: Vec<EventInput>,
    options: IngestOptions,
) -> Result<Vec<Receipt>, ApiError> {
    authorize(auth, Action::SubmitEvents)?;
    check_count(events.len())?;
    match state
        .backpressure
        .admit(auth.tenant, state.config.max_proof_lag)
        .await
    {
        Ok(true) => state.metrics.ingest_held.inc(),
        Ok(false) => 0,
        Err(refused) => {
            state.metrics.ingest_refused.inc();
            return Err(refused);
        }
    };
    let request_hash = options
        .idempotency_key
        .as_deref()
        .map(|k| check_idempotency_key(k).map(|()| request_hash(&events)))
        .transpose()?;
    let prepared = prepare_all(events)?;
    // First as if every id were new (a plain insert); when one is not, over again with the
    // insert that skips stored ids and compares them.
    let mut fresh = true;
    let (mut tx, stored) = loop {
        let (mut tx, required) = state.db.ingest_tx(auth.tenant).await?;
        if let (Some(key), Some(hash)) = (&options.idempotency_key, &request_hash) {
            db::idempotency::lock(&mut tx, auth.tenant, key).await?;
            if let Some(stored) = db::idempotency::find(&mut tx, auth.tenant, key).await? {
                return replay(stored, hash);
            }
        }
        let signers = check_signatures(&mut tx, auth, &prepared, required.unwrap_or(false)).await?;
        match store(&mut tx, state, auth, &prepared, &signers, fresh).await? {
            Some(stored) => break (tx, stored),
            None => fresh = false,
        }
    };
    if let (Some(key), Some(hash)) = (&options.idempotency_key, &request_hash) {
        let body = serde_json::json!({ "receipts": stored.receipts });
        db::idempotency::insert(&mut tx, auth.tenant, key, hash, 202, &body).await?;
    }
    // Last, right before COMMIT: count usage and make sure the batch job exists (see
    // `db::events::count_and_enqueue_batch`); the common path did both in its insert.
    let mut woke = false;
    if stored.inserted > 0 {
        let config = &state.config.batching;
        // A full batch waits already: no reason to wait for the window.
        let full = stored.pending >= i64::from(config.max_events);
        let after = match options.batch_after.unwrap_or(config.window) {
            _ if full => Duration::ZERO,
            after => after,
        };
        let after = time::Duration::try_from(after).unwrap_or(time::Duration::ZERO);
        let run_at = stored.received_at + after;
        woke = match stored.job_seen {
            Some(existing) => {
                crate::workers::queue::ensure_batch_job(&mut tx, auth.tenant, existing, run_at)
                    .await?
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
    state.metrics.events_ingested.inc_by(stored.inserted as u64);
    if woke {
        state.wake.notify_waiters();
    }
    Ok(stored.receipts)
}

fn check_count(n: usize) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::Unprocessable(
            "events must hold at least one event".into(),
        ));
    }
    if n > MAX_EVENTS_PER_REQUEST {
        return Err(ApiError::PayloadTooLarge(format!(
            "a request may carry at most {MAX_EVENTS_PER_REQUEST} events; this one has {n}"
        )));
    }
    Ok(())
}

fn check_idempotency_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
        ));
    }
    Ok(())
}

/// SHA-256 of the events' canonical JSON (fields in declaration order, metadata keys sorted),
/// so a retry that only reformats its body is still recognised as the same request.
fn request_hash(events: &[EventInput]) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    h.update(b"POST /v1/events\n");
    h.update(serde_json::to_vec(events).unwrap_or_default());
    h.finalize().to_vec()
}

fn replay(stored: db::idempotency::StoredResponse, hash: &[u8]) -> Result<Vec<Receipt>, ApiError> {
    if stored.request_hash != hash {
        return Err(ApiError::Unprocessable(
            "this Idempotency-Key was already used with a different request body".into(),
        ));
    }
    let body: StoredReceipts = serde_json::from_value(stored.response)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored idempotent response: {e}")))?;
    Ok(body.receipts)
}

#[derive(Deserialize)]
struct StoredReceipts {
    receipts: Vec<Receipt>,
}

/// One event, validated.
struct Prepared {
    id: String,
    digest: ContentDigest,
    content: Option<Vec<u8>>,
    metadata: Option<String>,
    signature: Option<(String, Signature)>,
}

fn prepare_all(events: Vec<EventInput>) -> Result<Vec<Prepared>, ApiError> {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(events.len());
    let mut out = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        let p = prepare(e).map_err(|m| ApiError::Unprocessable(format!("events[{i}]{m}")))?;
        if let Some(first) = seen.insert(p.id.clone(), i) {
            return Err(ApiError::Unprocessable(format!(
                "events[{i}].id repeats the id of events[{first}] in the same request"
            )));
        }
        out.push(p);
    }
    Ok(out)
}

/// Validates one event; the error starts with the field (`.digest: …`).
fn prepare(e: EventInput) -> Result<Prepared, String> {
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

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(format!(
            ".id must be 1 to {MAX_ID_BYTES} bytes, got {}",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(".id must not contain control characters".into());
    }
    Ok(())
}

fn check_metadata(m: serde_json::Value) -> Result<String, String> {
    if !m.is_object() {
        return Err(".metadata must be a JSON object".into());
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

fn parse_signature(text: &str) -> Result<Signature, String> {
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

/// Checks every signature (and the tenant's policy); returns the signer key id of each event.
async fn check_signatures(
    tx: &mut Tx,
    auth: &Auth,
    events: &[Prepared],
    required: bool,
) -> Result<Vec<Option<Uuid>>, ApiError> {
    if let Some(i) = events
        .iter()
        .position(|e| required && e.signature.is_none())
    {
        return Err(ApiError::Unprocessable(format!(
            "events[{i}]: this tenant requires every event to be signed (signature and key)"
        )));
    }
    let names: Vec<String> = events
        .iter()
        .filter_map(|e| e.signature.as_ref().map(|(k, _)| k.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if names.is_empty() {
        return Ok(vec![None; events.len()]);
    }
    let keys = db::submitter_keys::active_by_names(tx, auth.tenant, &names).await?;
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
            ApiError::Unprocessable(format!(
                "events[{i}].key: no active submitter key named {name:?}"
            ))
        } else {
            ApiError::Unprocessable(format!(
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

/// What [`store`] did.
struct Stored {
    /// One receipt per event, in input order.
    receipts: Vec<Receipt>,
    /// When the insert already counted usage and read the batch job: the job's run time
    /// (`Some(None)`: no job).
    job_seen: Option<Option<OffsetDateTime>>,
    /// How many events were new.
    inserted: usize,
    /// The tenant's pending events, this request's new ones included (counted up to the
    /// batch size).
    pending: i64,
    /// The receipt time of the new events.
    received_at: OffsetDateTime,
}

/// Inserts what is new and compares what exists (an id stored before must carry the same
/// digest, else 409 and the transaction is dropped).
///
/// The insert comes first and skips ids already stored, so the common case (all new) costs
/// one statement; only the ids it skipped are read back and compared.
async fn store(
    tx: &mut Tx,
    state: &AppState,
    auth: &Auth,
    events: &[Prepared],
    signers: &[Option<Uuid>],
    fresh: bool,
) -> Result<Option<Stored>, ApiError> {
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
            .map_err(|err| ApiError::Unprocessable(format!("event {:?}: {err}", e.id)))?;
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
    let cap = i64::from(state.config.batching.max_events);
    let mut job_seen = None;
    let inserted = if fresh {
        let fresh = db::events::insert_fresh(
            tx,
            auth.tenant,
            &rows,
            now,
            received_micros,
            cap,
            now.date(),
            db::usage::EVENTS_INGESTED,
        )
        .await?;
        match fresh {
            Some(f) => {
                job_seen = Some(f.job_run_at);
                db::events::Inserted {
                    // Every id was new; the rows are not needed any more.
                    ids: std::mem::take(&mut rows.ids),
                    pending_before: f.pending_before,
                }
            }
            // An id is stored already; this transaction is aborted.
            None => return Ok(None),
        }
    } else {
        db::events::insert_new_counting_pending(tx, auth.tenant, &rows, now, received_micros, cap)
            .await?
    };
    let mut stored: HashMap<String, db::events::StoredEvent> = HashMap::new();
    if inserted.ids.len() < events.len() {
        // Ids stored before (a retry, or a concurrent request): same digest or nothing.
        let new: HashSet<&str> = inserted.ids.iter().map(String::as_str).collect();
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
        db::events::insert_contents(tx, auth.tenant, &content_ids, &contents).await?;
    }
    let mut receipts = Vec::with_capacity(events.len());
    for (e, leaf_hash) in events.iter().zip(leaves) {
        let receipt = match stored.get(&e.id) {
            Some(s) => receipt_from_stored(state, s)?,
            None => Receipt {
                id: e.id.clone(),
                digest: e.digest.to_string(),
                leaf_hash,
                received_at: now,
                received_at_micros: received_micros,
                status_url: status_url(state, &e.id),
            },
        };
        receipts.push(receipt);
    }
    let n = inserted.ids.len();
    Ok(Some(Stored {
        receipts,
        job_seen,
        inserted: n,
        pending: inserted.pending_before + i64::try_from(n).unwrap_or(i64::MAX),
        received_at: now,
    }))
}

fn check_same_digest(e: &Prepared, s: &db::events::StoredEvent) -> Result<(), ApiError> {
    if s.digest_alg == e.digest.algorithm.prefix() && s.digest == e.digest.bytes {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "event id {:?} already exists with a different digest; nothing in this request was stored",
        e.id
    )))
}

fn receipt_from_stored(state: &AppState, s: &db::events::StoredEvent) -> Result<Receipt, ApiError> {
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
        status_url: status_url(state, &s.id),
    })
}

/// `<public url>/v1/events/<percent-encoded id>`.
pub fn status_url(state: &AppState, id: &str) -> String {
    format!(
        "{}/v1/events/{}",
        state.config.public_url.trim_end_matches('/'),
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

/// Now, truncated to microseconds (what `timestamptz` and the leaf keep).
fn now_micros() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let micros = now.nanosecond() / 1000 * 1000;
    now.replace_nanosecond(micros).unwrap_or(now)
}

fn unix_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
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
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_path_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn base64_is_accepted_in_every_common_alphabet() {
        assert_eq!(decode_base64("aGk=").expect("std"), b"hi");
        assert_eq!(decode_base64("aGk").expect("nopad"), b"hi");
        assert_eq!(decode_base64("-_8").expect("url"), vec![0xfb, 0xff]);
        assert!(decode_base64("!!").is_err());
    }
}
