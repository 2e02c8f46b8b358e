//! Billing's SQL: a tenant's plan and Stripe customer (`tenant_billing`), its usage per
//! metric over a period (`usage_counters`), the meter-report cursor (`billing_meter_cursors`)
//! and the Stripe webhook events already handled (`stripe_webhook_events`). Tenant queries run
//! in a tenant transaction and are scoped by tenant; the two lookups that start from a Stripe
//! customer go through SECURITY DEFINER functions.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::TenantId;

/// A tenant's billing row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantBilling {
    /// The plan's name.
    pub plan: String,
    /// The Stripe customer, once created or linked.
    pub stripe_customer: Option<String>,
    /// The Stripe subscription, while there is one.
    pub stripe_subscription: Option<String>,
    /// Since when the last invoice is unpaid.
    pub payment_failed_at: Option<OffsetDateTime>,
}

/// The tenant's billing row, if it has one.
pub async fn find(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Option<TenantBilling>> {
    sqlx::query_as!(
        TenantBilling,
        "SELECT plan, stripe_customer, stripe_subscription, payment_failed_at \
         FROM tenant_billing WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(conn)
    .await
}

/// Puts the tenant on `plan`; links `customer` when given (keeps the one it has otherwise).
pub async fn set_plan(
    conn: &mut PgConnection,
    tenant: TenantId,
    plan: &str,
    customer: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO tenant_billing (tenant_id, plan, stripe_customer) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET plan = EXCLUDED.plan, \
             stripe_customer = COALESCE(EXCLUDED.stripe_customer, tenant_billing.stripe_customer), \
             updated_at = now()",
        tenant.0,
        plan,
        customer
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Links `customer` to the tenant, keeping its plan (`default_plan` when it has no row).
pub async fn set_customer(
    conn: &mut PgConnection,
    tenant: TenantId,
    customer: &str,
    default_plan: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO tenant_billing (tenant_id, plan, stripe_customer) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET stripe_customer = EXCLUDED.stripe_customer, \
             updated_at = now()",
        tenant.0,
        default_plan,
        customer
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the tenant's subscription and the plan its price maps to (`subscription` `None`:
/// the subscription ended).
pub async fn set_subscription(
    conn: &mut PgConnection,
    tenant: TenantId,
    plan: &str,
    subscription: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE tenant_billing SET plan = $2, stripe_subscription = $3, updated_at = now() \
         WHERE tenant_id = $1",
        tenant.0,
        plan,
        subscription
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// `failed`: marks the tenant's payment failed now (keeps an earlier mark, so the grace
/// period runs from the first failure); otherwise clears the mark.
pub async fn set_payment_failed(
    conn: &mut PgConnection,
    tenant: TenantId,
    failed: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE tenant_billing SET \
             payment_failed_at = CASE WHEN $2 THEN COALESCE(payment_failed_at, now()) END, \
             updated_at = now() \
         WHERE tenant_id = $1",
        tenant.0,
        failed
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant linked to a Stripe customer, if any (any transaction: the lookup is a SECURITY
/// DEFINER function that answers this and nothing else).
pub async fn tenant_of_customer(
    conn: &mut PgConnection,
    customer: &str,
) -> sqlx::Result<Option<TenantId>> {
    let id = sqlx::query_scalar!(
        "SELECT ancora_tenant_of_stripe_customer($1) AS tenant",
        customer
    )
    .fetch_one(conn)
    .await?;
    Ok(id.map(TenantId))
}

/// Every tenant with a Stripe customer, and the customer.
pub async fn billed_tenants(conn: &mut PgConnection) -> sqlx::Result<Vec<(TenantId, String)>> {
    let rows = sqlx::query!(
        r#"SELECT tenant_id AS "tenant_id!", stripe_customer AS "stripe_customer!"
           FROM ancora_stripe_billed_tenants()"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (TenantId(r.tenant_id), r.stripe_customer))
        .collect())
}

/// The tenant's usage per metric over the days `[from, to)`.
pub async fn usage_between(
    conn: &mut PgConnection,
    tenant: TenantId,
    from: Date,
    to: Date,
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT metric, sum(count)::bigint AS "n!" FROM usage_counters
           WHERE tenant_id = $1 AND day >= $2 AND day < $3
           GROUP BY metric"#,
        tenant.0,
        from,
        to
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.metric, r.n)).collect())
}

/// The tenant's usage of `metric`, all time.
pub async fn usage_total(
    conn: &mut PgConnection,
    tenant: TenantId,
    metric: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(count), 0)::bigint AS "n!" FROM usage_counters
           WHERE tenant_id = $1 AND metric = $2"#,
        tenant.0,
        metric
    )
    .fetch_one(conn)
    .await
}

/// Starts the meter-report cursors of `metrics` at the tenant's usage so far (a customer
/// linked today is not billed for last year); cursors that exist are kept.
pub async fn init_cursors(
    conn: &mut PgConnection,
    tenant: TenantId,
    metrics: &[String],
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO billing_meter_cursors (tenant_id, metric, reported) \
         SELECT $1, m.metric, \
                COALESCE((SELECT sum(count) FROM usage_counters u \
                          WHERE u.tenant_id = $1 AND u.metric = m.metric), 0) \
         FROM UNNEST($2::text[]) AS m(metric) \
         ON CONFLICT (tenant_id, metric) DO NOTHING",
        tenant.0,
        metrics
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A meter-report cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Usage reported so far (all time).
    pub reported: i64,
    /// A report written but not known to be sent: identifier, value, the total it reports.
    pub pending: Option<(String, i64, i64)>,
}

/// The cursor of `metric`, locked until the transaction ends (`None`: not started).
pub async fn lock_cursor(
    conn: &mut PgConnection,
    tenant: TenantId,
    metric: &str,
) -> sqlx::Result<Option<Cursor>> {
    let row = sqlx::query!(
        "SELECT reported, pending_identifier, pending_value, pending_through \
         FROM billing_meter_cursors WHERE tenant_id = $1 AND metric = $2 FOR UPDATE",
        tenant.0,
        metric
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Cursor {
        reported: r.reported,
        pending: match (r.pending_identifier, r.pending_value, r.pending_through) {
            (Some(i), Some(v), Some(t)) => Some((i, v, t)),
            _ => None,
        },
    }))
}

/// Writes a pending report on the cursor.
pub async fn set_pending(
    conn: &mut PgConnection,
    tenant: TenantId,
    metric: &str,
    identifier: &str,
    value: i64,
    through: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE billing_meter_cursors SET pending_identifier = $3, pending_value = $4, \
             pending_through = $5, updated_at = now() \
         WHERE tenant_id = $1 AND metric = $2",
        tenant.0,
        metric,
        identifier,
        value,
        through
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Settles the pending report `identifier`: the cursor moves to its total. Returns false when
/// that report is not pending any more.
pub async fn settle(
    conn: &mut PgConnection,
    tenant: TenantId,
    metric: &str,
    identifier: &str,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "UPDATE billing_meter_cursors SET reported = pending_through, pending_identifier = NULL, \
             pending_value = NULL, pending_through = NULL, updated_at = now() \
         WHERE tenant_id = $1 AND metric = $2 AND pending_identifier = $3",
        tenant.0,
        metric,
        identifier
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Records a Stripe event id as handled; false when it was already (a replay). Concurrent
/// deliveries of one id wait for each other on the primary key.
pub async fn record_webhook_event(
    conn: &mut PgConnection,
    id: &str,
    kind: &str,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO stripe_webhook_events (id, type) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        id,
        kind
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Whether a tenant with this id exists.
pub async fn tenant_exists(conn: &mut PgConnection, tenant: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1) AS "e!""#,
        tenant
    )
    .fetch_one(conn)
    .await
}
