//! Usage counters, per tenant, per UTC day, per metric (billing reads them). Each counter is
//! 16 rows (shards, picked by the writing connection's backend pid) so that concurrent
//! ingests of one tenant never wait for each other on it; a reader sums the shards.

use sqlx::PgConnection;
use time::Date;

use crate::domain::TenantId;

/// Metric: events accepted (new events only; a replayed event is not counted twice).
pub const EVENTS_INGESTED: &str = "events_ingested";

/// Metric: proof bundles read through the API.
pub const PROOF_READS: &str = "proof_reads";

/// Metric: verification reports downloaded.
pub const REPORTS: &str = "reports";

/// Metric: `POST /v1/spv` requests.
pub const SPV_REQUESTS: &str = "spv_requests";

/// Adds `n` to the tenant's counter of `metric` on `day`.
pub async fn add(
    conn: &mut PgConnection,
    tenant: TenantId,
    day: Date,
    metric: &str,
    n: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO usage_counters (tenant_id, day, metric, shard, count) \
         VALUES ($1, $2, $3, pg_backend_pid() % 16, $4) \
         ON CONFLICT (tenant_id, day, metric, shard) DO UPDATE SET count = usage_counters.count + $4",
        tenant.0,
        day,
        metric,
        n
    )
    .execute(conn)
    .await?;
    Ok(())
}
