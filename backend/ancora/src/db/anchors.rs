//! The anchor queue (closed batch roots waiting for an anchor) and anchors. These are system
//! tables holding hashes and references only: a tenant transaction can read them, the anchorer
//! writes them with no tenant set.
//!
//! `anchor_queue.batch_id` is the primary key and `anchor_id` is set once, in the transaction
//! that creates the anchor, under `FOR UPDATE SKIP LOCKED`: no batch root is anchored twice.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// Queues a closed batch's root for anchoring on `chain` (in the batcher's transaction), with
/// the Chainweb transaction ttl its client asked for, if any.
pub async fn queue_batch(
    conn: &mut PgConnection,
    batch: Uuid,
    tenant: TenantId,
    chain: i32,
    root: &[u8],
    chain_ttl_secs: Option<i32>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO anchor_queue (batch_id, tenant_id, target_chain, root, chain_ttl_secs) \
         VALUES ($1, $2, $3, $4, $5)",
        batch,
        tenant.0,
        chain,
        root,
        chain_ttl_secs
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A batch root waiting for an anchor.
#[derive(Clone, Debug)]
pub struct Waiting {
    /// The batch.
    pub batch_id: Uuid,
    /// Its tenant (the prove job runs as that tenant).
    pub tenant_id: Uuid,
    /// The batch root.
    pub root: Vec<u8>,
}

/// Locks up to `limit` waiting roots of `chain`, oldest first, skipping locked ones.
pub async fn lock_waiting(
    conn: &mut PgConnection,
    chain: i32,
    limit: i64,
) -> sqlx::Result<Vec<Waiting>> {
    sqlx::query_as!(
        Waiting,
        "SELECT batch_id, tenant_id, root FROM anchor_queue \
         WHERE target_chain = $1 AND anchor_id IS NULL \
         ORDER BY enqueued_at, batch_id LIMIT $2 \
         FOR UPDATE SKIP LOCKED",
        chain,
        limit
    )
    .fetch_all(&mut *conn)
    .await
}

/// True when roots of `chain` still wait.
pub async fn any_waiting(conn: &mut PgConnection, chain: i32) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM anchor_queue WHERE target_chain = $1 AND anchor_id IS NULL) AS "e!""#,
        chain
    )
    .fetch_one(&mut *conn)
    .await
}

/// A new anchor, in state `pending` until its backend says otherwise.
pub async fn insert_anchor(
    conn: &mut PgConnection,
    id: Uuid,
    backend: &str,
    chain: i32,
    root: &[u8],
    size: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO anchors (id, backend, target_chain, state, root, size) \
         VALUES ($1, $2, $3, 'pending', $4, $5)",
        id,
        backend,
        chain,
        root,
        size
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Binds the queued batches to `anchor`, batch `i` at leaf `i`. Only rows still waiting are
/// touched; the count bound is the caller's check that none was taken meanwhile.
pub async fn bind_batches(
    conn: &mut PgConnection,
    anchor: Uuid,
    batches: &[Uuid],
) -> sqlx::Result<u64> {
    let n = sqlx::query!(
        "UPDATE anchor_queue q SET anchor_id = $1, anchor_index = (u.ord - 1)::integer \
         FROM UNNEST($2::uuid[]) WITH ORDINALITY AS u(batch_id, ord) \
         WHERE q.batch_id = u.batch_id AND q.anchor_id IS NULL",
        anchor,
        batches
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n)
}

/// The shortest Chainweb transaction ttl asked for among the batches bound to `anchor`.
pub async fn requested_chain_ttl(
    conn: &mut PgConnection,
    anchor: Uuid,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        "SELECT min(chain_ttl_secs) FROM anchor_queue WHERE anchor_id = $1",
        anchor
    )
    .fetch_one(&mut *conn)
    .await
}

/// An anchor just marked final: what its latency metric is labelled with and measures.
#[derive(Clone, Debug, PartialEq)]
pub struct Finalized {
    /// `tlog` or `chainweb`.
    pub backend: String,
    /// Its target chain.
    pub chain: i32,
    /// Seconds from its oldest batch root's closing to now.
    pub latency_secs: f64,
}

/// Marks an anchor final; returns what it measured, or `None` when there is no such anchor.
pub async fn mark_final(conn: &mut PgConnection, anchor: Uuid) -> sqlx::Result<Option<Finalized>> {
    let row = sqlx::query!(
        r#"UPDATE anchors SET state = 'final', finalized_at = now() WHERE id = $1
           RETURNING backend, target_chain,
                     COALESCE((SELECT extract(epoch FROM clock_timestamp() - min(q.enqueued_at))
                               FROM anchor_queue q WHERE q.anchor_id = $1), 0)::float8
                         AS "latency!""#,
        anchor
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Finalized {
        backend: r.backend,
        chain: r.target_chain,
        latency_secs: r.latency.max(0.0),
    }))
}

/// Records where a tlog anchor sits in the log.
pub async fn set_log_position(
    conn: &mut PgConnection,
    anchor: Uuid,
    log_index: i64,
    checkpoint_size: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE anchors SET log_index = $2, checkpoint_size = $3 WHERE id = $1",
        anchor,
        log_index,
        checkpoint_size
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A stored anchor.
#[derive(Clone, Debug)]
pub struct Anchor {
    /// Its id.
    pub id: Uuid,
    /// `tlog` or `chainweb`.
    pub backend: String,
    /// Target chain.
    pub target_chain: i32,
    /// `pending`, `submitted`, `confirmed`, `final` or `failed`.
    pub state: String,
    /// The anchor tree root.
    pub root: Vec<u8>,
    /// Number of batch roots.
    pub size: i32,
    /// When it became final.
    pub finalized_at: Option<OffsetDateTime>,
    /// tlog: the root's leaf index.
    pub log_index: Option<i64>,
    /// tlog: the checkpoint size that first covered it.
    pub checkpoint_size: Option<i64>,
    /// chainweb: the block hash.
    pub block_hash: Option<String>,
}

/// One anchor, or `None`.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Anchor>> {
    sqlx::query_as!(
        Anchor,
        "SELECT id, backend, target_chain, state, root, size, finalized_at, log_index, \
                checkpoint_size, block_hash \
         FROM anchors WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Where a batch sits: its anchor and leaf index, once bound.
pub async fn batch_position(
    conn: &mut PgConnection,
    batch: Uuid,
) -> sqlx::Result<Option<(Uuid, i32)>> {
    let row = sqlx::query!(
        "SELECT anchor_id, anchor_index FROM anchor_queue WHERE batch_id = $1",
        batch
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(|r| r.anchor_id.zip(r.anchor_index)))
}

/// The batch roots of an anchor in tree order.
pub async fn anchor_leaves(conn: &mut PgConnection, anchor: Uuid) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar!(
        "SELECT root FROM anchor_queue WHERE anchor_id = $1 ORDER BY anchor_index",
        anchor
    )
    .fetch_all(&mut *conn)
    .await
}

/// The batches of an anchor with their tenants (for enqueueing prove jobs).
pub async fn anchor_batches(
    conn: &mut PgConnection,
    anchor: Uuid,
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        "SELECT batch_id, tenant_id FROM anchor_queue WHERE anchor_id = $1 ORDER BY anchor_index",
        anchor
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.batch_id, r.tenant_id))
        .collect())
}

/// Batch roots that appear in more than one anchor (always empty; the crash test asks).
pub async fn roots_anchored_twice(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM (
               SELECT root FROM anchor_queue WHERE anchor_id IS NOT NULL
               GROUP BY root HAVING count(DISTINCT anchor_id) > 1) d"#
    )
    .fetch_one(&mut *conn)
    .await
}
