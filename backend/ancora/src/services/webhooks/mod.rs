//! Webhooks: a tenant registers endpoints (an `https://` URL and the event types it wants) and
//! Ancora POSTs a signed JSON delivery to each when those events happen:
//!
//! * `event.proved` — a batch's events got their proofs (one delivery per batch, listing them);
//! * `batch.proved` — the same moment, about the batch: its metadata and its events;
//! * `batch.final` — the batch's anchor is final on the deployment's backend: with `tlog` at
//!   once with `batch.proved` (the signed log is the trust point), with `chainweb` when the
//!   Chainweb trust point is added after the confirmation depth;
//! * `anchor.failed` — a Chainweb anchor holding the tenant's batches failed for good.
//!
//! A delivery body is `{id, type, createdAt, tenantId, data}`; `id` (also the `Ancora-Event-Id`
//! header) stays the same across retries, so a receiver dedupes on it. Deliveries are made in
//! the transaction that proves (or fails) — one indexed lookup when the tenant has no endpoint —
//! and sent later by the `webhook_delivery` job on runners of their own ([`send`]), so a slow or
//! failing receiver never slows ingest or proving.
//!
//! The secret is generated here, shown once (the registration's answer) and never listed or
//! logged. URLs are checked against private addresses when registered and at every send
//! ([`guard`]); registration also sends a signed `webhook.ping`, refusing a URL that redirects.

pub mod guard;
pub mod send;

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{self, audit, jobs, webhooks as store};
use crate::domain::TenantId;
use crate::services::Services;
use crate::services::batch_metadata;

pub use guard::UrlRefused;
pub use store::{DeliveryRow, Endpoint};

/// The event types an endpoint may want.
pub const EVENT_TYPES: [&str; 4] = [
    "event.proved",
    "batch.proved",
    "batch.final",
    "anchor.failed",
];

/// The most endpoints one tenant may register.
pub const MAX_ENDPOINTS: usize = 20;

/// Why a webhook request is refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL may not receive webhooks.
    #[error(transparent)]
    Url(#[from] UrlRefused),
    /// Anything else wrong with the request.
    #[error("{0}")]
    Invalid(String),
    /// No such endpoint in the tenant.
    #[error("{0}")]
    NotFound(String),
    /// Storage.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for WebhookError {
    fn from(e: sqlx::Error) -> Self {
        WebhookError::Internal(e.into())
    }
}

/// A registered endpoint and its secret, answered once.
#[derive(Debug)]
pub struct Created {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The signing secret (`whsec_…`): shown once, never again.
    pub secret: SecretString,
}

/// Checks the event types: at least one, each known; duplicates dropped, order kept.
pub fn event_types(raw: &[String]) -> Result<Vec<String>, WebhookError> {
    if raw.is_empty() {
        return Err(WebhookError::Invalid(format!(
            "events must name at least one of: {}",
            EVENT_TYPES.join(", ")
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for e in raw {
        if !EVENT_TYPES.contains(&e.as_str()) {
            return Err(WebhookError::Invalid(format!(
                "unknown event type {e:?}; the types are: {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

fn new_secret() -> SecretString {
    let bytes: [u8; 32] = rand::random();
    SecretString::from(format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Registers an endpoint for the tenant: checks the URL (form, resolved addresses, and a
/// signed `webhook.ping` that must not be answered with a redirect) and the event types,
/// stores it with a new secret, writes `webhook.created` to the audit log.
pub async fn register(
    svc: &Services,
    tenant: TenantId,
    actor: &str,
    url: &str,
    events: &[String],
) -> Result<Created, WebhookError> {
    let events = event_types(events)?;
    let cfg = &svc.settings.webhooks;
    let checked = guard::check(url, cfg.allow_loopback).await?;
    let id = Uuid::now_v7();
    let secret = new_secret();
    let ping_id = Uuid::now_v7();
    let ping = serde_json::to_vec(&json!({
        "id": ping_id,
        "type": "webhook.ping",
        "createdAt": rfc3339(OffsetDateTime::now_utc()),
        "tenantId": tenant,
        "data": { "webhookId": id },
    }))
    .map_err(anyhow::Error::from)?;
    if let send::Outcome::Failed {
        status: Some(s),
        error,
    } = send::post(
        cfg,
        &checked,
        secret.expose_secret(),
        ping_id,
        "webhook.ping",
        ping,
    )
    .await
        && (300..400).contains(&s)
    {
        return Err(WebhookError::Invalid(format!(
            "url answers {s}: {error}; register the final URL"
        )));
    }
    let url = checked.url.to_string();
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let existing = store::endpoints(&mut tx, tenant).await?;
    if existing.len() >= MAX_ENDPOINTS {
        return Err(WebhookError::Invalid(format!(
            "a tenant may register at most {MAX_ENDPOINTS} webhooks; delete one first"
        )));
    }
    let created_at = store::insert_endpoint(
        &mut tx,
        tenant,
        id,
        &url,
        &events,
        secret.expose_secret(),
        actor,
    )
    .await?;
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: Some(tenant),
            actor,
            action: "webhook.created",
            subject: Some(&id.to_string()),
            details: json!({ "url": url, "events": events }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Created {
        endpoint: Endpoint {
            id,
            url,
            events,
            created_by: actor.to_owned(),
            created_at,
        },
        secret,
    })
}

/// The tenant's endpoints, oldest first (no secrets).
pub async fn list(svc: &Services, tenant: TenantId) -> Result<Vec<Endpoint>, WebhookError> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let found = store::endpoints(&mut tx, tenant).await?;
    tx.commit().await?;
    Ok(found)
}

/// Deletes one of the tenant's endpoints (its pending deliveries are dropped with it);
/// `NotFound` for an id the tenant does not have.
pub async fn delete(
    svc: &Services,
    tenant: TenantId,
    actor: &str,
    id: Uuid,
) -> Result<(), WebhookError> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    if !store::delete_endpoint(&mut tx, tenant, id).await? {
        return Err(WebhookError::NotFound(format!("no webhook {id}")));
    }
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: Some(tenant),
            actor,
            action: "webhook.deleted",
            subject: Some(&id.to_string()),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's most recent deliveries with their outcome, newest first.
pub async fn recent_deliveries(
    svc: &Services,
    tenant: TenantId,
    limit: i64,
) -> Result<Vec<DeliveryRow>, WebhookError> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let found = store::recent_deliveries(&mut tx, tenant, limit).await?;
    tx.commit().await?;
    Ok(found)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Makes one delivery of `event_type` about `subject` to every endpoint of the tenant that
/// wants it, with `data` as the body's `data`, and enqueues their sending (caller's
/// transaction, acting for the tenant).
async fn emit(
    conn: &mut PgConnection,
    tenant: TenantId,
    event_type: &str,
    subject: &str,
    data: &serde_json::Value,
) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    for endpoint in store::subscribers(conn, tenant, event_type).await? {
        let id = Uuid::now_v7();
        let payload = json!({
            "id": id,
            "type": event_type,
            "createdAt": rfc3339(now),
            "tenantId": tenant,
            "data": data,
        });
        if store::insert_delivery(
            conn, tenant, id, endpoint, event_type, subject, &payload, now,
        )
        .await?
        {
            jobs::enqueue_webhook_delivery(conn, tenant, id, now).await?;
        }
    }
    Ok(())
}

/// A batch was just proved (the prover's transaction, as the tenant): `event.proved` and
/// `batch.proved` listing its `events`, and `batch.final` too when the anchor is final already
/// (`tlog`). One lookup and nothing more when no endpoint of the tenant wants any of them.
pub async fn batch_proved(
    conn: &mut PgConnection,
    svc: &Services,
    tenant: TenantId,
    batch: Uuid,
    events: &[String],
    anchor_final: bool,
) -> anyhow::Result<()> {
    let wanted = store::wanted_types(conn, tenant).await?;
    if wanted.is_empty() {
        return Ok(());
    }
    let subject = batch.to_string();
    if wanted.iter().any(|w| w == "event.proved") {
        let data = json!({ "batchId": batch, "count": events.len(), "events": events });
        emit(conn, tenant, "event.proved", &subject, &data).await?;
    }
    let metadata = batch_metadata::for_batch(conn, &svc.settings, tenant, batch)
        .await?
        .map(|(m, _)| m);
    let data = json!({ "batch": metadata, "count": events.len(), "events": events });
    if wanted.iter().any(|w| w == "batch.proved") {
        emit(conn, tenant, "batch.proved", &subject, &data).await?;
    }
    if anchor_final && wanted.iter().any(|w| w == "batch.final") {
        emit(conn, tenant, "batch.final", &subject, &data).await?;
    }
    Ok(())
}

/// A proved batch's anchor became final on Chainweb (the prover adding the Chainweb trust
/// point, as the tenant): `batch.final`.
pub async fn batch_final(
    conn: &mut PgConnection,
    svc: &Services,
    tenant: TenantId,
    batch: Uuid,
) -> anyhow::Result<()> {
    let wanted = store::wanted_types(conn, tenant).await?;
    if !wanted.iter().any(|w| w == "batch.final") {
        return Ok(());
    }
    let events: Vec<String> = db::batches::events_in_order(conn, tenant, batch)
        .await?
        .into_iter()
        .map(|e| e.id)
        .collect();
    let metadata = batch_metadata::for_batch(conn, &svc.settings, tenant, batch)
        .await?
        .map(|(m, _)| m);
    let data = json!({ "batch": metadata, "count": events.len(), "events": events });
    emit(conn, tenant, "batch.final", &batch.to_string(), &data).await
}

/// A Chainweb anchor failed for good (its confirming job's system transaction): one
/// `anchor.failed` per tenant with batches in it, listing them. The transaction acts for each
/// tenant in turn, then for none again.
pub async fn anchor_failed(
    conn: &mut PgConnection,
    anchor: Uuid,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let mut by_tenant: std::collections::BTreeMap<Uuid, Vec<Uuid>> =
        std::collections::BTreeMap::new();
    for (batch, tenant) in db::anchors::anchor_batches(conn, anchor).await? {
        by_tenant.entry(tenant).or_default().push(batch);
    }
    for (tenant, batches) in by_tenant {
        let tenant = TenantId(tenant);
        store::act_for(conn, Some(tenant)).await?;
        let data = json!({ "anchorId": anchor, "error": error, "batches": batches });
        emit(conn, tenant, "anchor.failed", &anchor.to_string(), &data).await?;
    }
    store::act_for(conn, None).await?;
    Ok(())
}
