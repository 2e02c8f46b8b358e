//! Webhook endpoints and deliveries (tenant rows, row-level security). Every function runs in
//! the caller's tenant transaction and names the tenant. The endpoint's secret is read only by
//! [`delivery`] (to sign) and never by a listing.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// An endpoint as listed (no secret).
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// The event types it wants.
    pub events: Vec<String>,
    /// Who registered it (`api_key:…`, `user:…`).
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// Stores a new endpoint.
pub async fn insert_endpoint(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    url: &str,
    events: &[String],
    secret: &str,
    created_by: &str,
) -> sqlx::Result<OffsetDateTime> {
    sqlx::query_scalar!(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at",
        id,
        tenant.0,
        url,
        events,
        secret,
        created_by
    )
    .fetch_one(&mut *conn)
    .await
}

/// The tenant's endpoints, oldest first.
pub async fn endpoints(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Vec<Endpoint>> {
    sqlx::query_as!(
        Endpoint,
        "SELECT id, url, events, created_by, created_at FROM webhook_endpoints \
         WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant.0
    )
    .fetch_all(&mut *conn)
    .await
}

/// Deletes one endpoint (and its deliveries); false when the tenant has none with that id.
pub async fn delete_endpoint(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// The ids of the tenant's endpoints that want `event_type`.
pub async fn subscribers(
    conn: &mut PgConnection,
    tenant: TenantId,
    event_type: &str,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT id FROM webhook_endpoints WHERE tenant_id = $1 AND $2 = ANY(events) ORDER BY id",
        tenant.0,
        event_type
    )
    .fetch_all(&mut *conn)
    .await
}

/// Every event type any endpoint of the tenant wants (empty: the tenant has no endpoint, the
/// common case, answered by one indexed lookup).
pub async fn wanted_types(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT unnest(events) AS "t!" FROM webhook_endpoints WHERE tenant_id = $1"#,
        tenant.0
    )
    .fetch_all(&mut *conn)
    .await
}

/// Stores a new delivery unless that endpoint already has one of that type about that subject;
/// returns whether it is new.
#[allow(clippy::too_many_arguments)]
pub async fn insert_delivery(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    endpoint: Uuid,
    event_type: &str,
    subject: &str,
    payload: &serde_json::Value,
    created_at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO webhook_deliveries \
             (id, tenant_id, endpoint_id, event_type, subject, payload, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (endpoint_id, event_type, subject) DO NOTHING",
        id,
        tenant.0,
        endpoint,
        event_type,
        subject,
        payload,
        created_at
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A delivery with what sending it needs (the endpoint's URL and secret).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Its id (the event id receivers dedupe on).
    pub id: Uuid,
    /// `event.proved`, …
    pub event_type: String,
    /// The JSON body sent.
    pub payload: serde_json::Value,
    /// `pending`, `delivered`, `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// When it was made (retries stop a day after).
    pub created_at: OffsetDateTime,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's signing secret.
    pub secret: String,
}

/// One delivery of the tenant, with its endpoint's URL and secret; `None` when gone (its
/// endpoint was deleted).
pub async fn delivery(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as!(
        Delivery,
        "SELECT d.id, d.event_type, d.payload, d.state, d.attempts, d.created_at, e.url, e.secret \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.tenant_id = $1 AND d.id = $2",
        tenant.0,
        id
    )
    .fetch_optional(&mut *conn)
    .await
}

/// The outcome of one attempt.
#[derive(Clone, Debug)]
pub struct Attempt<'a> {
    /// `pending` (to retry at `next_attempt_at`), `delivered` or `failed`.
    pub state: &'a str,
    /// The HTTP status answered, if any.
    pub status: Option<i32>,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
    /// When to try again, for `pending`.
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// Records an attempt on a delivery.
pub async fn record_attempt(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    a: &Attempt<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, last_status = $4, \
                last_error = $5, last_attempt_at = now(), next_attempt_at = $6, \
                delivered_at = CASE WHEN $3 = 'delivered' THEN now() END \
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id,
        a.state,
        a.status,
        a.error,
        a.next_attempt_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A delivery as listed (portal, API).
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    /// Its id.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The endpoint's URL.
    pub url: String,
    /// Event type.
    pub event_type: String,
    /// Batch or anchor id.
    pub subject: String,
    /// `pending`, `delivered`, `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// Last HTTP status.
    pub last_status: Option<i32>,
    /// Last error.
    pub last_error: Option<String>,
    /// Made at.
    pub created_at: OffsetDateTime,
    /// Last attempt at.
    pub last_attempt_at: Option<OffsetDateTime>,
    /// Next attempt at (pending).
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// The tenant's most recent deliveries, newest first.
pub async fn recent_deliveries(
    conn: &mut PgConnection,
    tenant: TenantId,
    limit: i64,
) -> sqlx::Result<Vec<DeliveryRow>> {
    sqlx::query_as!(
        DeliveryRow,
        "SELECT d.id, d.endpoint_id, e.url, d.event_type, d.subject, d.state, d.attempts, \
                d.last_status, d.last_error, d.created_at, d.last_attempt_at, d.next_attempt_at \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.tenant_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
        tenant.0,
        limit
    )
    .fetch_all(&mut *conn)
    .await
}

/// Makes the caller's transaction act for `tenant` from here on (row-level security): for a
/// system job that notifies several tenants (an anchor failing). `None` returns it to no
/// tenant.
pub async fn act_for(conn: &mut PgConnection, tenant: Option<TenantId>) -> sqlx::Result<()> {
    let value = tenant.map(|t| t.to_string()).unwrap_or_default();
    sqlx::query!(
        "SELECT set_config('ancora.tenant_id', $1, true) AS t",
        value
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(())
}
