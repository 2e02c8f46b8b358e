//! Confirming a Chainweb anchor (run by the `chainweb_anchor` job): one job per chainweb anchor, re-enqueued after each step until the
//! anchor is final or failed. Each run reads the anchor, makes **at most one kind of network
//! exchange**, then commits what it learnt together with the next run of itself, in one
//! transaction that starts by taking the job (so a run whose lease expired changes nothing).
//! No transaction is open during a network call.
//!
//! | state (details)        | this run                                                        |
//! |------------------------|-----------------------------------------------------------------|
//! | `pending`              | build and sign a command, store it and its request key → `submitted` (no network) |
//! | `submitted`, not sent  | `/send` the stored command → sent                              |
//! | `submitted`, sent      | `/poll` every request key at the confirmation depth → `confirmed`; else note where it is mined, send it again when it stays out of sight, or resubmit when provably gone |
//! | `confirmed`            | `/pact/spv` on the same chain, header by hash, verify, check depth and canonicity → `final` (finalize) |
//!
//! Failures: a 5xx, a timeout or a garbage answer (after the node client's retries and
//! fail-over) fails the run, and the job queue retries it with its backoff. A command that
//! expired unmined (its TTL is past the chain's latest block time) or that vanished after
//! being seen mined (a reorg) is replaced by a fresh one (new creation time and nonce, so a
//! new request key); every key ever sent is polled, so whichever lands is used. On the
//! contract path the anchor id makes a second write fail on chain. A Pact failure at the
//! confirmation depth (gas, a failed `enforce`) or a node rejecting the command (HTTP 4xx)
//! makes the anchor `failed`, with the error text in `anchors.error`.

use std::time::{SystemTime, UNIX_EPOCH};

use ancora_chainweb::{ChainId, Error as NodeError, NodeClient, RequestKey};
use ancora_proof::Hash;
use ancora_proof::bundle::HeaderSource;
use ancora_proof::spv::verify_against_header;
use anyhow::Context as _;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::chainweb::{self as store, ChainwebRow};
use crate::db::jobs::{self, Job};
use crate::services::Services;
use crate::services::anchoring::chainweb::{ChainwebAnchor, Details, Seen};

/// Seconds a fresh command's creation time is set back, for nodes whose clock lags ours.
const CLOCK_SLACK_SECS: u64 = 15;

/// What a run decided, to be committed.
enum Change {
    /// Store the row and run again at the given time.
    Next(ChainwebRow, OffsetDateTime),
    /// Store the row (proof and header in details) and finalize the anchor.
    Final(ChainwebRow),
    /// Store the row, failed once more, and build a fresh command at the given time.
    Retry(ChainwebRow, OffsetDateTime),
    /// Store the row as failed; no further run.
    Failed(ChainwebRow),
    /// Nothing left to do (final, failed or gone).
    Done,
}

/// Runs one step of a chainweb anchor.
pub async fn run(svc: &Services, job: &Job) -> anyhow::Result<()> {
    let anchor: Uuid = job
        .payload
        .get("anchor_id")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| s.parse().ok())
        .context("a chainweb anchor job needs an anchor id")?;
    let backend = ChainwebAnchor::from_config(&svc.settings.chainweb);
    let row = {
        let mut tx = svc.db.system_tx().await?;
        let row = store::get(&mut tx, anchor).await?;
        tx.commit().await?;
        row
    };
    let change = match row {
        None => Change::Done,
        Some(row) => step(&backend, row).await?,
    };
    commit(svc, job, anchor, change).await
}

/// Decides the next state of `row`, making the network calls its state needs.
async fn step(backend: &ChainwebAnchor, row: ChainwebRow) -> anyhow::Result<Change> {
    let details = Details::from_json(&row.details)?;
    match row.state.as_str() {
        "pending" => build(backend, row, details, "first submission"),
        "submitted" if !details.sent => send(backend, row, details).await,
        "submitted" => poll(backend, row, details).await,
        "confirmed" => prove(backend, row, details).await,
        _ => Ok(Change::Done),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn later(backend: &ChainwebAnchor) -> OffsetDateTime {
    OffsetDateTime::now_utc() + backend.config().poll_interval
}

fn root_of(row: &ChainwebRow) -> anyhow::Result<Hash> {
    Ok(Hash::from_slice(&row.root)?)
}

/// Builds and signs a fresh command (the next attempt) and stores it unsent: no network.
fn build(
    backend: &ChainwebAnchor,
    mut row: ChainwebRow,
    mut d: Details,
    reason: &str,
) -> anyhow::Result<Change> {
    let key = backend.config().signing_key()?;
    let attempt = if d.command.is_some() {
        d.attempt + 1
    } else {
        d.attempt
    };
    // A resubmission after expiry must be valid by the chain's clock, whatever ours says.
    let created = now_secs()
        .saturating_sub(CLOCK_SLACK_SECS)
        .max(d.chain_time);
    let ttl = d.ttl.unwrap_or(backend.config().ttl);
    let cmd = backend.build_command_with_ttl(
        &key,
        row.id,
        d.chain,
        &root_of(&row)?,
        attempt,
        created,
        ttl,
    )?;
    let request_key = cmd.request_key().to_string();
    tracing::info!(anchor_id = %row.id, chain = d.chain, attempt, request_key = %request_key, reason, "chainweb anchor command built");
    d.attempt = attempt;
    d.expires_at = created.saturating_add(ttl);
    d.command = Some(cmd);
    d.sent = false;
    d.seen = None;
    d.unseen_polls = 0;
    d.submissions.push(request_key.clone());
    row.state = "submitted".into();
    row.tx_ref = Some(request_key);
    row.block_hash = None;
    row.block_height = None;
    row.details = d.to_json();
    Ok(Change::Next(row, OffsetDateTime::now_utc()))
}

/// Writes failed Chainweb anchors again (`anchor`, or every failed one): back to `pending`
/// with the failure count reset, their job enqueued; returns their ids.
pub async fn reanchor(db: &crate::db::Db, anchor: Option<Uuid>) -> anyhow::Result<Vec<Uuid>> {
    let mut tx = db.system_tx().await?;
    let ids = store::reset_failed(&mut tx, anchor).await?;
    for id in &ids {
        jobs::enqueue_chainweb_job(&mut tx, *id).await?;
    }
    tx.commit().await?;
    for id in &ids {
        tracing::info!(anchor_id = %id, "failed chainweb anchor queued to be written again");
    }
    Ok(ids)
}

/// Polls in a row that find the sent command nowhere (not mined, never seen mined) after
/// which the same command is sent again. A node can lose a command it accepted: a restart
/// empties its mempool, and a reorg can orphan the block that held it before any poll saw it
/// there. Without sending it again the anchor would wait for the command's TTL (10 minutes by
/// default, up to a day); sending the same signed command is harmless (same request key:
/// a node that has it keeps one copy, one that mined it refuses it as already on chain). With
/// the default 10 s poll interval, that is after a minute, two Chainweb blocks.
pub const RESEND_AFTER_POLLS: u32 = 6;

/// Failed writes after which an anchor waits for the operator (`ancora admin reanchor`).
pub const MAX_FAILURES: u32 = 5;

/// A write failed (a Pact failure at the confirmation depth, or a node rejecting the command):
/// retried with a fresh command after a backoff (2 s doubling, at most 5 min), up to
/// [`MAX_FAILURES`] times; then the anchor is `failed` and flagged for the operator. The fast
/// path's proofs stay valid meanwhile.
fn failed(mut row: ChainwebRow, d: &Details, error: String) -> Change {
    let mut d = d.clone();
    d.failures += 1;
    row.error = Some(error);
    if d.failures < MAX_FAILURES {
        // The failed command is done with (mined as a failure, or refused): poll only the
        // fresh ones from now on.
        if let Some(failed_key) = &row.tx_ref {
            d.submissions.retain(|k| k != failed_key);
        }
        let delay = std::time::Duration::from_secs(2u64 << (d.failures - 1).min(8))
            .min(std::time::Duration::from_secs(300));
        row.state = "pending".into();
        row.details = d.to_json();
        return Change::Retry(row, OffsetDateTime::now_utc() + delay);
    }
    row.state = "failed".into();
    row.details = d.to_json();
    Change::Failed(row)
}

/// `/send`s the stored command.
async fn send(
    backend: &ChainwebAnchor,
    mut row: ChainwebRow,
    mut d: Details,
) -> anyhow::Result<Change> {
    let Some(cmd) = d.command.clone() else {
        return build(backend, row, d, "no command stored");
    };
    let client = backend.config().client()?;
    match client.send(ChainId(d.chain), &[cmd]).await {
        Ok(_) => {}
        Err(NodeError::Rejected { body, .. }) if body.contains("already exists") => {}
        Err(NodeError::Rejected { body, .. }) if body.contains("time-to-live") => {
            // Expired before any node took it; if an earlier send did land, polling finds it.
            let keys = request_keys(&d)?;
            if client.poll(ChainId(d.chain), &keys, None).await?.is_empty() {
                return build(backend, row, d, "expired before it was accepted");
            }
        }
        Err(NodeError::Rejected { status, body, .. }) => {
            return Ok(failed(
                row,
                &d,
                format!(
                    "the Chainweb node rejected the anchoring transaction (HTTP {status}): {body}"
                ),
            ));
        }
        Err(e) => return Err(e).context("sending the anchoring transaction"),
    }
    d.sent = true;
    d.unseen_polls = 0;
    row.details = d.to_json();
    Ok(Change::Next(row, later(backend)))
}

fn request_keys(d: &Details) -> anyhow::Result<Vec<RequestKey>> {
    d.submissions
        .iter()
        .map(|k| RequestKey::parse(k).map_err(anyhow::Error::from))
        .collect()
}

/// `/poll`s every request key of the anchor.
async fn poll(
    backend: &ChainwebAnchor,
    mut row: ChainwebRow,
    mut d: Details,
) -> anyhow::Result<Change> {
    let cfg = backend.config();
    let client = cfg.client()?;
    let chain = ChainId(d.chain);
    let keys = request_keys(&d)?;
    let root = root_of(&row)?.to_b64url();
    let current = row.tx_ref.clone().unwrap_or_default();

    let deep = client.poll(chain, &keys, Some(cfg.confirmations)).await?;
    if let Some((key, result)) = deep.iter().find(|(_, r)| r.is_success()) {
        if result.data().and_then(|v| v.as_str()) != Some(root.as_str()) {
            return Ok(failed(
                row,
                &d,
                format!("transaction {key} succeeded but its result is not the anchor root"),
            ));
        }
        let meta = result
            .meta_data
            .clone()
            .with_context(|| format!("the poll result of {key} has no block (metaData)"))?;
        row.state = "confirmed".into();
        row.tx_ref = Some(key.to_string());
        row.block_hash = Some(meta.block_hash.to_b64url());
        row.block_height = Some(i64::try_from(meta.block_height)?);
        d.result = Some(result.raw.clone());
        d.seen = None;
        row.details = d.to_json();
        return Ok(Change::Next(row, OffsetDateTime::now_utc()));
    }
    if let Some(result) = deep
        .iter()
        .find(|(k, _)| k.to_string() == current)
        .map(|(_, r)| r)
    {
        let message = result.result.error_message().unwrap_or_default();
        return Ok(failed(
            row,
            &d,
            format!("the anchoring transaction failed: {message}"),
        ));
    }

    let shallow = client.poll(chain, &keys, None).await?;
    if let Some(meta) = shallow.values().find_map(|r| r.meta_data.clone()) {
        d.seen = Some(Seen {
            block_hash: meta.block_hash.to_b64url(),
            block_height: meta.block_height,
        });
        d.unseen_polls = 0;
        row.details = d.to_json();
        return Ok(Change::Next(row, later(backend)));
    }
    if d.seen.is_some() {
        return build(
            backend,
            row,
            d,
            "orphaned by a reorg before the confirmation depth",
        );
    }
    let chain_time = chain_time(client, chain).await?;
    d.chain_time = d.chain_time.max(chain_time);
    if d.chain_time > d.expires_at {
        return build(backend, row, d, "expired (TTL) without being mined");
    }
    d.unseen_polls += 1;
    if d.unseen_polls >= RESEND_AFTER_POLLS {
        tracing::info!(anchor_id = %row.id, request_key = %current, polls = d.unseen_polls, "chainweb anchor command not mined and out of sight; sending it again");
        d.sent = false;
        d.unseen_polls = 0;
    }
    row.details = d.to_json();
    Ok(Change::Next(row, later(backend)))
}

/// The creation time of the chain's latest block, Unix seconds.
async fn chain_time(client: &NodeClient, chain: ChainId) -> anyhow::Result<u64> {
    let cut = client.cut().await?;
    let head = cut
        .hashes
        .get(&chain.0)
        .with_context(|| format!("the node's cut has no chain {chain}"))?;
    let header = client.header(chain, &head.hash).await?;
    Ok(header.creation_time / 1_000_000)
}

/// Fetches and verifies the SPV proof of a confirmed anchor.
async fn prove(
    backend: &ChainwebAnchor,
    mut row: ChainwebRow,
    mut d: Details,
) -> anyhow::Result<Change> {
    let cfg = backend.config();
    let client = cfg.client()?;
    let chain = ChainId(d.chain);
    let key = RequestKey::parse(row.tx_ref.as_deref().unwrap_or_default())?;
    let block = Hash::from_b64url(row.block_hash.as_deref().unwrap_or_default())
        .context("a confirmed anchor without a block hash")?;
    let back_to_polling = |mut row: ChainwebRow, mut d: Details, seen: Option<Seen>| {
        d.seen = seen;
        d.sent = true;
        row.state = "submitted".into();
        row.block_hash = None;
        row.block_height = None;
        row.details = d.to_json();
        Change::Next(row, OffsetDateTime::now_utc())
    };
    let orphaned = Some(Seen {
        block_hash: block.to_b64url(),
        block_height: u64::try_from(row.block_height.unwrap_or(0))?,
    });
    let spv = match client.spv(chain, key, chain).await {
        Ok(spv) => spv,
        // The node no longer knows the transaction: it was orphaned after all.
        Err(NodeError::Rejected { .. }) => return Ok(back_to_polling(row, d, orphaned)),
        Err(e) => return Err(e).context("fetching the SPV proof"),
    };
    if spv.proof.run() != block {
        // Mined again in another block: confirm that one.
        return Ok(back_to_polling(row, d, None));
    }
    let header = client.header(chain, &block).await?;
    let verified = verify_against_header(&spv.proof, chain.0, &header)
        .context("the node's SPV proof does not verify against the block header")?;
    let root = root_of(&row)?.to_b64url();
    anyhow::ensure!(
        verified.output.is_success()
            && verified.output.data().and_then(|v| v.as_str()) == Some(root.as_str())
            && verified.output.req_key() == Some(key.to_string().as_str()),
        "the proven transaction output is not the anchoring transaction's"
    );
    // Still canonical and deep enough now?
    let cut = client.cut().await?;
    let head = cut.hashes.get(&chain.0).map(|e| e.height).unwrap_or(0);
    let canonical = client
        .headers(chain, header.height, header.height)
        .await?
        .iter()
        .any(|h| h.hash == Some(block));
    if !canonical {
        return Ok(back_to_polling(row, d, orphaned));
    }
    if head < header.height.saturating_add(u64::from(cfg.confirmations)) {
        return Ok(Change::Next(row, later(backend)));
    }
    d.spv_proof = Some(spv.text);
    d.header = Some(header.to_json_value());
    d.header_source = Some(HeaderSource {
        node: cfg.nodes.join(", "),
        fetched_at: OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    });
    row.block_height = Some(i64::try_from(header.height)?);
    row.details = d.to_json();
    Ok(Change::Final(row))
}

/// Commits a run's outcome with the job taken, in one transaction.
async fn commit(svc: &Services, job: &Job, anchor: Uuid, change: Change) -> anyhow::Result<()> {
    let mut tx = svc.db.system_tx().await?;
    if !jobs::take(&mut tx, job).await? {
        return Ok(());
    }
    let (mut finalized, mut retried, mut flagged) = (None, false, false);
    match change {
        Change::Done => {}
        Change::Next(row, at) => {
            lock_unchanged(&mut tx, &row).await?;
            store::save(&mut tx, &row).await?;
            jobs::enqueue_chainweb_job_at(&mut tx, anchor, at).await?;
        }
        Change::Retry(row, at) => {
            lock_unchanged(&mut tx, &row).await?;
            store::save(&mut tx, &row).await?;
            jobs::enqueue_chainweb_job_at(&mut tx, anchor, at).await?;
            retried = true;
            tracing::warn!(anchor_id = %anchor, error = row.error.as_deref().unwrap_or(""), "chainweb anchor write failed; retrying with a fresh command");
        }
        Change::Failed(row) => {
            lock_unchanged(&mut tx, &row).await?;
            store::save(&mut tx, &row).await?;
            crate::services::webhooks::anchor_failed(&mut tx, anchor, row.error.as_deref()).await?;
            flagged = true;
            tracing::error!(anchor_id = %anchor, error = row.error.as_deref().unwrap_or(""), "chainweb anchor failed repeatedly: flagged for the operator (ancora admin reanchor)");
        }
        Change::Final(row) => {
            lock_unchanged(&mut tx, &row).await?;
            store::save(&mut tx, &row).await?;
            finalized = Some(super::tick::finalize(&mut tx, anchor).await?);
        }
    }
    tx.commit().await?;
    if retried {
        svc.metrics.anchor_retries.inc();
    }
    if flagged {
        svc.metrics.anchors_failed.inc();
    }
    if let Some(f) = finalized {
        super::tick::observe_final(svc, f.as_ref());
        tracing::info!(anchor_id = %anchor, "chainweb anchor final");
    }
    Ok(())
}

/// Locks the anchor and checks nobody else moved it on meanwhile (only this job writes it,
/// and the job is taken; this is the belt to those braces).
async fn lock_unchanged(conn: &mut PgConnection, row: &ChainwebRow) -> anyhow::Result<()> {
    let stored = store::lock(conn, row.id)
        .await?
        .with_context(|| format!("anchor {} vanished", row.id))?;
    anyhow::ensure!(
        !matches!(stored.state.as_str(), "final" | "failed"),
        "anchor {} is already {}",
        row.id,
        stored.state
    );
    Ok(())
}
