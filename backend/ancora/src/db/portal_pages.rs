//! Read models of the portal's pages: dashboard, catalog, batch, audit log, members, keys.
//! Every query runs in the tenant's transaction and names the tenant.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// Dashboard figures.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Events not yet in a batch.
    pub pending: i64,
    /// Events in anchored or proved batches.
    pub anchored: i64,
    /// When the last batch was anchored.
    pub last_anchor: Option<OffsetDateTime>,
    /// p95 of (proved_at − created_at) over the last day's batches, in seconds.
    pub p95_seconds: Option<f64>,
}

/// The dashboard figures (cheap: batch sizes rather than counting events one by one).
pub async fn dashboard(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Dashboard> {
    sqlx::query_as!(
        Dashboard,
        r#"SELECT
             (SELECT count(*) FROM events
                WHERE tenant_id = $1
                  AND seq > (SELECT COALESCE(max(last_seq), 0) FROM batch_cursors WHERE tenant_id = $1))
               AS "pending!",
             (SELECT coalesce(sum(size), 0)::bigint FROM batches
                WHERE tenant_id = $1 AND state IN ('anchored', 'proved')) AS "anchored!",
             (SELECT max(anchored_at) FROM batches WHERE tenant_id = $1) AS "last_anchor",
             (SELECT percentile_cont(0.95) WITHIN GROUP (
                        ORDER BY extract(epoch FROM proved_at - created_at))
                FROM batches
                WHERE tenant_id = $1 AND proved_at > now() - interval '1 day') AS "p95_seconds""#,
        tenant.0
    )
    .fetch_one(conn)
    .await
}

/// Events received per day over the last `days` days, oldest first: `(day, count)`.
pub async fn events_per_day(
    conn: &mut PgConnection,
    tenant: TenantId,
    days: i32,
) -> sqlx::Result<Vec<(time::Date, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT d::date AS "day!", count(e.id) AS "n!"
           FROM generate_series(current_date - ($2::int - 1), current_date, interval '1 day') d
           LEFT JOIN events e ON e.tenant_id = $1
                AND e.received_at >= d AND e.received_at < d + interval '1 day'
           GROUP BY d ORDER BY d"#,
        tenant.0,
        days
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.day, r.n)).collect())
}

/// The backend and chain of the tenant's most recent anchor.
pub async fn last_anchor_target(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Option<(String, i32)>> {
    let row = sqlx::query!(
        "SELECT a.backend, a.target_chain FROM batches b JOIN anchors a ON a.id = b.anchor_id \
         WHERE b.tenant_id = $1 AND b.anchor_id IS NOT NULL \
         ORDER BY b.anchored_at DESC NULLS LAST LIMIT 1",
        tenant.0
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.backend, r.target_chain)))
}

/// One catalog row.
#[derive(Debug, Clone)]
pub struct CatalogRow {
    /// Arrival order (the keyset).
    pub seq: i64,
    /// Event id.
    pub id: String,
    /// Digest algorithm.
    pub digest_alg: String,
    /// Digest.
    pub digest: Vec<u8>,
    /// Received.
    pub received_at: OffsetDateTime,
    /// Batch.
    pub batch_id: Option<Uuid>,
    /// `pending`, `batched`, `anchored`.
    pub status: String,
    /// The batch's chain.
    pub chain: Option<i32>,
}

/// Catalog filters.
#[derive(Debug, Clone, Default)]
pub struct CatalogFilter {
    /// Received at or after.
    pub from: Option<OffsetDateTime>,
    /// Received before.
    pub to: Option<OffsetDateTime>,
    /// `pending`, `batched` or `anchored`.
    pub status: Option<String>,
    /// Target chain.
    pub chain: Option<i32>,
    /// Keyset: rows with seq below this.
    pub before: Option<i64>,
}

/// A page of the catalog, newest first.
///
/// Every filter is optional (`$n IS NULL OR …`), so the one prepared statement serves them
/// all; its generic plan cannot use the filters as index bounds and reads a deep keyset page
/// or a date range by walking the whole tenant backwards (250 ms at 1 000 000 events, against
/// well under a millisecond planned for the actual values). The transaction is therefore told
/// to plan this statement for its parameters every time (`SET LOCAL`, so the pooled
/// connection is unchanged after the transaction).
pub async fn catalog_page(
    conn: &mut PgConnection,
    tenant: TenantId,
    f: &CatalogFilter,
    limit: i64,
) -> sqlx::Result<Vec<CatalogRow>> {
    sqlx::query!("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(&mut *conn)
        .await?;
    sqlx::query_as!(
        CatalogRow,
        r#"SELECT e.seq, e.id, e.digest_alg, e.digest, e.received_at, b.id AS "batch_id?",
                  CASE WHEN b.state IN ('anchored', 'proved') THEN 'anchored'
                       WHEN b.id IS NOT NULL THEN 'batched'
                       ELSE 'pending' END AS "status!",
                  b.target_chain AS "chain?"
           FROM events e
           LEFT JOIN LATERAL (SELECT x.id, x.state, x.target_chain, x.first_seq FROM batches x
                              WHERE x.tenant_id = e.tenant_id AND x.last_seq >= e.seq
                              ORDER BY x.last_seq LIMIT 1) b ON b.first_seq <= e.seq
           WHERE e.tenant_id = $1
             AND ($2::timestamptz IS NULL OR e.received_at >= $2)
             AND ($3::timestamptz IS NULL OR e.received_at < $3)
             AND ($4::bigint IS NULL OR e.seq < $4)
             AND ($5::text IS NULL
                  OR ($5 = 'pending'
                      AND e.seq > (SELECT COALESCE(max(last_seq), 0) FROM batch_cursors WHERE tenant_id = $1))
                  OR ($5 = 'batched' AND b.state = 'closed')
                  OR ($5 = 'anchored' AND b.state IN ('anchored', 'proved')))
             AND ($6::int IS NULL OR b.target_chain = $6)
           ORDER BY e.seq DESC
           LIMIT $7"#,
        tenant.0,
        f.from,
        f.to,
        f.before,
        f.status,
        f.chain,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Events of a batch in tree order, from leaf index `after` (exclusive), at most `limit`.
pub async fn batch_events(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
    after: i32,
    limit: i64,
) -> sqlx::Result<Vec<(i32, String, Vec<u8>)>> {
    let rows = sqlx::query!(
        r#"SELECT leaf_index AS "leaf_index!", id, digest
           FROM (SELECT (row_number() OVER (ORDER BY e.seq) - 1)::integer AS leaf_index,
                        e.id, e.digest
                 FROM batches b
                 JOIN events e ON e.tenant_id = b.tenant_id
                              AND e.seq BETWEEN b.first_seq AND b.last_seq
                 WHERE b.tenant_id = $1 AND b.id = $2) r
           WHERE leaf_index > $3
           ORDER BY leaf_index LIMIT $4"#,
        tenant.0,
        batch,
        after,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.leaf_index, r.id, r.digest))
        .collect())
}

/// Anchor details shown on the batch page.
#[derive(Debug, Clone)]
pub struct AnchorView {
    /// Id.
    pub id: Uuid,
    /// `tlog` or `chainweb`.
    pub backend: String,
    /// Chain.
    pub target_chain: i32,
    /// State.
    pub state: String,
    /// Root.
    pub root: Vec<u8>,
    /// Chainweb request key.
    pub tx_ref: Option<String>,
    /// Block hash.
    pub block_hash: Option<String>,
    /// Block height.
    pub block_height: Option<i64>,
    /// tlog index.
    pub log_index: Option<i64>,
    /// tlog checkpoint size.
    pub checkpoint_size: Option<i64>,
    /// Chainweb network, when recorded.
    pub network: Option<String>,
    /// Why the anchor failed (a Pact or node error), when it did.
    pub error: Option<String>,
}

/// The anchor of one of the tenant's batches, whatever its state (`None` until the anchorer
/// has taken the batch).
pub async fn batch_anchor(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
) -> sqlx::Result<Option<AnchorView>> {
    sqlx::query_as!(
        AnchorView,
        r#"SELECT a.id, a.backend,
                  -- the Chainweb backend records the chain it really wrote to in details
                  COALESCE((a.details->>'chain')::integer, a.target_chain) AS "target_chain!",
                  a.state, a.root, a.tx_ref, a.block_hash,
                  a.block_height, a.log_index, a.checkpoint_size,
                  a.details->>'network' AS "network?", a.error
           FROM batches b
           -- also through the queue, so an anchor still pending, submitted or failed shows
           LEFT JOIN anchor_queue q ON q.batch_id = b.id
           JOIN anchors a ON a.id = COALESCE(b.anchor_id, q.anchor_id)
           WHERE b.tenant_id = $1 AND b.id = $2"#,
        tenant.0,
        batch
    )
    .fetch_optional(conn)
    .await
}

/// One audit-log row.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// Id (the keyset).
    pub id: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: Option<String>,
    /// Details.
    pub details: serde_json::Value,
    /// When.
    pub at: OffsetDateTime,
    /// Where its audit event (`audit-<id>`) stands: `pending`, `batched`, `anchored` or
    /// `proved`; `None` for rows written before audit entries were anchored.
    pub proof: Option<String>,
}

/// The tenant's audit log, newest first, below id `before`, with the proof status of each
/// row's audit event.
pub async fn audit_page(
    conn: &mut PgConnection,
    tenant: TenantId,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as!(
        AuditRow,
        r#"SELECT a.id, a.actor, a.action, a.subject, a.details, a.at,
                  CASE WHEN p.event_id IS NOT NULL OR b.tree IS NOT NULL THEN 'proved'
                       WHEN b.state IN ('anchored', 'proved') THEN 'anchored'
                       WHEN b.id IS NOT NULL THEN 'batched'
                       WHEN e.id IS NOT NULL THEN 'pending' END AS "proof?"
           FROM audit_log a
           LEFT JOIN events e ON e.tenant_id = a.tenant_id AND e.id = 'audit-' || a.id
           LEFT JOIN batches b ON b.tenant_id = e.tenant_id
                              AND b.id = ancora_batch_of(e.tenant_id, e.seq)
           LEFT JOIN proofs p ON p.tenant_id = e.tenant_id AND p.event_id = e.id
           WHERE a.tenant_id = $1 AND ($2::bigint IS NULL OR a.id < $2)
           ORDER BY a.id DESC LIMIT $3"#,
        tenant.0,
        before,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Members: `(email, role, since)`.
pub async fn members(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Vec<(String, String, OffsetDateTime)>> {
    let rows = sqlx::query!(
        "SELECT u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 ORDER BY lower(u.email)",
        tenant.0
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.email, r.role, r.created_at))
        .collect())
}

/// One API key as listed.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Visible prefix.
    pub prefix: String,
    /// Role.
    pub role: String,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last use.
    pub last_used_at: Option<OffsetDateTime>,
    /// Revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

/// The tenant's API keys, newest first.
pub async fn api_keys(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Vec<KeyRow>> {
    sqlx::query_as!(
        KeyRow,
        "SELECT id, name, prefix, role, created_at, last_used_at, revoked_at FROM api_keys \
         WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 500",
        tenant.0
    )
    .fetch_all(conn)
    .await
}

/// Revokes one of the tenant's keys; returns its prefix, or `None` when there is no such
/// active key in this tenant.
pub async fn revoke_api_key(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "UPDATE api_keys SET revoked_at = now() \
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING prefix",
        tenant.0,
        id
    )
    .fetch_optional(conn)
    .await
}

/// One event of a range report, with its proof parts once proved.
#[derive(Debug, Clone)]
pub struct RangeRow {
    /// Event id.
    pub id: String,
    /// Digest algorithm.
    pub digest_alg: String,
    /// Digest.
    pub digest: Vec<u8>,
    /// Receipt time (µs).
    pub received_at_micros: i64,
    /// Submitter bound into the leaf.
    pub submitter: String,
    /// The stored leaf hash.
    pub leaf_hash: Vec<u8>,
    /// True once proved (the fields below are then set).
    pub proved: bool,
    /// A whole bundle stored before compact proofs.
    pub bundle: Option<serde_json::Value>,
    /// Leaf index in the batch tree.
    pub leaf_index: Option<i32>,
    /// Binary proof object up to the batch root.
    pub batch_proof: Option<Vec<u8>>,
    /// The batch.
    pub batch_id: Option<Uuid>,
    /// The batch root.
    pub batch_root: Option<Vec<u8>>,
    /// The batch's stored tree, on the first row of each batch in the range.
    pub batch_tree: Option<Vec<u8>>,
    /// The anchor.
    pub anchor_id: Option<Uuid>,
    /// The batch root's leaf index in the anchor tree.
    pub anchor_index: Option<i32>,
    /// Binary proof object up to the anchor root.
    pub anchor_proof: Option<Vec<u8>>,
    /// The anchor root.
    pub anchor_root: Option<Vec<u8>>,
    /// The trust point.
    pub trust_point: Option<serde_json::Value>,
}

impl RangeRow {
    /// The proof parts, once proved.
    pub fn proof_parts(self) -> Option<crate::db::proofs::ProofParts> {
        if !self.proved {
            return None;
        }
        Some(crate::db::proofs::ProofParts {
            event_id: self.id,
            digest_alg: self.digest_alg,
            digest: self.digest,
            submitter: self.submitter,
            received_at_micros: self.received_at_micros,
            leaf_hash: self.leaf_hash,
            bundle: self.bundle,
            leaf_index: self.leaf_index,
            batch_proof: self.batch_proof,
            batch_id: self.batch_id?,
            batch_root: self.batch_root?,
            batch_tree: self.batch_tree,
            anchor_id: self.anchor_id,
            anchor_index: self.anchor_index,
            anchor_proof: self.anchor_proof,
            anchor_root: self.anchor_root,
            trust_point: self.trust_point,
        })
    }
}

/// Events received in `[from, to)` (or of one batch), in arrival order, with their proof
/// parts; a stream, so a range of any size is read row by row. A batch's tree comes once, on
/// its first row in the range (its rows are consecutive: a batch is a range of `seq`).
pub fn range_rows<'c>(
    conn: &'c mut PgConnection,
    tenant: TenantId,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    batch: Option<Uuid>,
) -> futures_util::stream::BoxStream<'c, sqlx::Result<RangeRow>> {
    use futures_util::StreamExt as _;
    sqlx::query_as!(
        RangeRow,
        r#"SELECT e.id, e.digest_alg, e.digest, e.received_at_micros, e.submitter, e.leaf_hash,
                  (b.tree IS NOT NULL OR p.event_id IS NOT NULL) AS "proved!",
                  p.bundle AS "bundle?", p.leaf_index AS "leaf_index?",
                  p.batch_proof AS "batch_proof?",
                  b.id AS "batch_id?", b.root AS "batch_root?",
                  CASE WHEN b.id IS DISTINCT FROM lag(b.id) OVER (ORDER BY e.seq) THEN b.tree END
                      AS "batch_tree?",
                  b.anchor_id AS "anchor_id?",
                  b.anchor_index AS "anchor_index?", b.anchor_proof AS "anchor_proof?",
                  b.anchor_root AS "anchor_root?", b.trust_point AS "trust_point?"
           FROM events e
           -- the batch holding the event (by its seq), once proved; an event of a batch that
           -- stores its tree is proved with it, and has no row of its own
           LEFT JOIN LATERAL (
               SELECT b.* FROM batches b
               WHERE b.tenant_id = e.tenant_id AND b.last_seq >= e.seq
               ORDER BY b.last_seq LIMIT 1) b
             ON b.first_seq <= e.seq AND b.state = 'proved'
           -- batches proved before they kept their tree alone: the event's proof row
           LEFT JOIN proofs p ON b.tree IS NULL
                             AND p.tenant_id = e.tenant_id AND p.event_id = e.id
                             AND p.batch_id = b.id
           WHERE e.tenant_id = $1
             AND ($2::timestamptz IS NULL OR e.received_at >= $2)
             AND ($3::timestamptz IS NULL OR e.received_at < $3)
             AND ($4::uuid IS NULL
                  OR e.seq BETWEEN (SELECT first_seq FROM batches WHERE tenant_id = $1 AND id = $4)
                               AND (SELECT last_seq FROM batches WHERE tenant_id = $1 AND id = $4))
           ORDER BY e.seq"#,
        tenant.0,
        from,
        to,
        batch
    )
    .fetch(conn)
    .boxed()
}
