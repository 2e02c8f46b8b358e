//! Batches and the events they close over. Every function runs in the caller's tenant
//! transaction ([`Db::tenant_tx`](crate::db::Db::tenant_tx)) and names the tenant explicitly,
//! so the scoping is visible here and enforced again by row-level security.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// A pending event as the batcher needs it: arrival order, receipt time and stored leaf hash.
#[derive(Clone, Debug)]
pub struct PendingEvent {
    /// The tenant's arrival order.
    pub seq: i64,
    /// Receipt time (the batch window runs from the oldest pending event's).
    pub received_at: OffsetDateTime,
    /// The event leaf's node hash, computed at ingest.
    pub leaf_hash: Vec<u8>,
}

/// The tenant's explicit chain assignment, if any; `None` when the tenant does not exist.
pub async fn tenant_chain(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Option<Option<i32>>> {
    let row = sqlx::query!("SELECT chain_id FROM tenants WHERE id = $1", tenant.0)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.chain_id))
}

/// Locks the tenant's batch cursor (creating it at 0) and returns it: the `seq` its last batch
/// ends at. Batchers of one tenant queue here, so batches never overlap.
pub async fn lock_cursor(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO batch_cursors (tenant_id, last_seq) VALUES ($1, 0) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_seq = batch_cursors.last_seq \
         RETURNING last_seq",
        tenant.0
    )
    .fetch_one(&mut *conn)
    .await
}

/// Moves the tenant's batch cursor (locked by [`lock_cursor`]) to `last_seq`.
pub async fn set_cursor(
    conn: &mut PgConnection,
    tenant: TenantId,
    last_seq: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE batch_cursors SET last_seq = $2 WHERE tenant_id = $1",
        tenant.0,
        last_seq
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` of the tenant's events with `after < seq <= upto`, in `seq` order.
pub async fn pending_range(
    conn: &mut PgConnection,
    tenant: TenantId,
    after: i64,
    upto: i64,
    limit: i64,
) -> sqlx::Result<Vec<PendingEvent>> {
    sqlx::query_as!(
        PendingEvent,
        "SELECT seq, received_at, leaf_hash FROM events \
         WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 \
         ORDER BY seq LIMIT $4",
        tenant.0,
        after,
        upto,
        limit
    )
    .fetch_all(&mut *conn)
    .await
}

/// A `seq` up to which every event of the tenant is settled: committed (and visible to any
/// later snapshot) or rolled back for good. Batches are `seq` ranges, so a batch must not end
/// past an event that is still being inserted with a smaller `seq` than one already visible
/// (sequence values are taken in one order and committed in another).
///
/// Every transaction that inserts events holds the tenant's ingest lock (a shared advisory
/// lock, [`crate::db::events::lock_for_ingest`]) from before it takes a `seq` until it ends.
/// So: read the largest visible `seq` `H`, then list the transactions holding the lock, then
/// wait until they have ended. Any event with `seq < H` not visible at the first read belonged
/// to a transaction that took its `seq` before `H` was taken and was still open, so it is on
/// the list (or ended between the two reads). Nobody waits for the batcher: ingests never
/// block on it, and it waits at most for the ingests in flight (each bounded by the request
/// timeout); `timeout` bounds the wait (an error: the job is retried).
pub async fn settled_horizon(
    db: &crate::db::Db,
    tenant: TenantId,
    timeout: std::time::Duration,
) -> anyhow::Result<i64> {
    let mut tx = db.tenant_tx(tenant).await?;
    let horizon = sqlx::query_scalar!(
        r#"SELECT COALESCE(max(seq), 0) AS "h!" FROM events WHERE tenant_id = $1"#,
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut conn = db.pool().acquire().await?;
    let start = std::time::Instant::now();
    let mut open = ingest_lock_holders(&mut conn, tenant, None).await?;
    while !open.is_empty() {
        anyhow::ensure!(
            start.elapsed() < timeout,
            "{} ingest transactions of tenant {tenant} are still open after {timeout:?}",
            open.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        open = ingest_lock_holders(&mut conn, tenant, Some(&open)).await?;
    }
    Ok(horizon)
}

/// Inserts a closed batch (its events are the tenant's `first_seq..=last_seq`).
pub async fn insert_batch(conn: &mut PgConnection, batch: &NewBatch<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO batches (id, tenant_id, state, size, root, target_chain, policy, first_seq, last_seq) \
         VALUES ($1, $2, 'closed', $3, $4, $5, $6, $7, $8)",
        batch.id,
        batch.tenant.0,
        batch.size,
        batch.root,
        batch.target_chain,
        batch.policy,
        batch.first_seq,
        batch.last_seq
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The transactions (virtual transaction ids) holding the tenant's ingest lock now, of
/// `among` when given: the transactions inserting its events.
pub async fn ingest_lock_holders(
    conn: &mut PgConnection,
    tenant: TenantId,
    among: Option<&[String]>,
) -> sqlx::Result<Vec<String>> {
    let (class, key) = crate::db::events::ingest_lock_key(tenant);
    sqlx::query_scalar!(
        r#"SELECT COALESCE(array_agg(virtualtransaction), '{}') AS "v!" FROM pg_locks
           WHERE locktype = 'advisory' AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2
             AND ($3::text[] IS NULL OR virtualtransaction = ANY($3))"#,
        class,
        key,
        among
    )
    .fetch_one(&mut *conn)
    .await
}

/// A batch about to be stored.
#[derive(Clone, Debug)]
pub struct NewBatch<'a> {
    /// Its id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant: TenantId,
    /// The tree root.
    pub root: &'a [u8],
    /// Number of events.
    pub size: i32,
    /// The chain its root is anchored for.
    pub target_chain: i32,
    /// `window` or `realtime`.
    pub policy: &'a str,
    /// Smallest and largest event `seq`.
    pub first_seq: i64,
    /// See `first_seq`.
    pub last_seq: i64,
}

/// How many events are still pending (after the tenant's cursor; counting at most `cap`), and
/// when the oldest arrived.
pub async fn pending_summary(
    conn: &mut PgConnection,
    tenant: TenantId,
    cap: i64,
) -> sqlx::Result<(i64, Option<OffsetDateTime>)> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "n!", min(received_at) AS oldest
           FROM (SELECT received_at FROM events
                 WHERE tenant_id = $1
                   AND seq > (SELECT COALESCE(max(last_seq), 0) FROM batch_cursors WHERE tenant_id = $1)
                 ORDER BY seq LIMIT $2) p"#,
        tenant.0,
        cap
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.n, row.oldest))
}

/// A stored batch.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Its id.
    pub id: Uuid,
    /// `closed`, `anchored` or `proved`.
    pub state: String,
    /// Number of events.
    pub size: i32,
    /// Tree root.
    pub root: Vec<u8>,
    /// Target chain.
    pub target_chain: i32,
    /// `window` or `realtime`.
    pub policy: String,
    /// When it closed.
    pub created_at: OffsetDateTime,
    /// The anchor it is in, once proved.
    pub anchor_id: Option<Uuid>,
    /// When its anchor became final (set with the proofs).
    pub anchored_at: Option<OffsetDateTime>,
    /// When every proof was stored.
    pub proved_at: Option<OffsetDateTime>,
}

/// One batch of the tenant, or `None`.
pub async fn get(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<Batch>> {
    sqlx::query_as!(
        Batch,
        "SELECT id, state, size, root, target_chain, policy, created_at, anchor_id, anchored_at, proved_at \
         FROM batches WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id
    )
    .fetch_optional(&mut *conn)
    .await
}

/// A page of the tenant's batches in `(created_at, id)` order, after the keyset `after`,
/// closed in `[from, to)` and in `state` when given.
pub async fn page(
    conn: &mut PgConnection,
    tenant: TenantId,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    state: Option<&str>,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Batch>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as!(
        Batch,
        "SELECT id, state, size, root, target_chain, policy, created_at, anchor_id, anchored_at, proved_at \
         FROM batches \
         WHERE tenant_id = $1 \
           AND ($2::timestamptz IS NULL OR created_at >= $2) \
           AND ($3::timestamptz IS NULL OR created_at < $3) \
           AND ($4::text IS NULL OR state = $4) \
           AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6::uuid)) \
         ORDER BY created_at, id \
         LIMIT $7",
        tenant.0,
        from,
        to,
        state,
        after_at,
        after_id,
        limit
    )
    .fetch_all(&mut *conn)
    .await
}

/// An event as the prover needs it to rebuild its leaf.
#[derive(Clone, Debug)]
pub struct ProvableEvent {
    /// The event id.
    pub id: String,
    /// `sha256` or `sha512_256`.
    pub digest_alg: String,
    /// The content digest.
    pub digest: Vec<u8>,
    /// The submitter bound into the leaf.
    pub submitter: String,
    /// Receipt time bound into the leaf.
    pub received_at_micros: i64,
    /// The stored leaf hash (a consistency check for the rebuilt leaf).
    pub leaf_hash: Vec<u8>,
    /// Receipt time (for the time-to-proof metric).
    pub received_at: OffsetDateTime,
}

/// The batch's events in tree order (its `seq` range).
pub async fn events_in_order(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
) -> sqlx::Result<Vec<ProvableEvent>> {
    sqlx::query_as!(
        ProvableEvent,
        "SELECT e.id, e.digest_alg, e.digest, e.submitter, e.received_at_micros, e.leaf_hash, \
                e.received_at \
         FROM batches b \
         JOIN events e ON e.tenant_id = b.tenant_id AND e.seq BETWEEN b.first_seq AND b.last_seq \
         WHERE b.tenant_id = $1 AND b.id = $2 \
         ORDER BY e.seq",
        tenant.0,
        batch
    )
    .fetch_all(&mut *conn)
    .await
}

/// What every proof of a batch shares, stored once on the batch by the prover.
#[derive(Clone, Debug)]
pub struct SharedProof<'a> {
    /// The anchor the batch root is in.
    pub anchor_id: Uuid,
    /// The batch root's leaf index in the anchor tree.
    pub anchor_index: i32,
    /// The batch root's binary proof object up to the anchor root.
    pub anchor_proof: &'a [u8],
    /// The anchor root.
    pub anchor_root: &'a [u8],
    /// The trust point, as bundle JSON.
    pub trust_point: &'a str,
    /// When the anchor became final.
    pub anchored_at: Option<OffsetDateTime>,
    /// The batch tree's nodes, level by level from the leaves up (`MerkleTree::node_bytes`):
    /// the batch's events' proofs are read off it.
    pub tree: &'a [u8],
}

/// Stores what the batch's proofs share, which proves every event of the batch; `false` when
/// the batch was proved already (by another prover that committed first: this one's update
/// waited for that row lock, then found the batch proved), and nothing was written.
pub async fn mark_proved(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
    shared: &SharedProof<'_>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE batches SET state = 'proved', anchor_id = $3, anchor_index = $4, \
                            anchored_at = COALESCE($5, now()), proved_at = clock_timestamp(), \
                            anchor_proof = $6, anchor_root = $7, trust_point = $8::text::json, \
                            tree = $9 \
         WHERE tenant_id = $1 AND id = $2 AND state <> 'proved'",
        tenant.0,
        batch,
        shared.anchor_id,
        shared.anchor_index,
        shared.anchored_at,
        shared.anchor_proof,
        shared.anchor_root,
        shared.trust_point,
        shared.tree
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a proved batch's trust points (the final path adding its point to the fast
/// path's), a JSON array of trust points.
pub async fn set_trust_points(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
    trust_points: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE batches SET trust_point = $3::text::json \
         WHERE tenant_id = $1 AND id = $2 AND state = 'proved'",
        tenant.0,
        batch,
        trust_points
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The batches holding any of the named events, oldest first (for a request whose events were
/// all stored before, say by a retry).
pub async fn batches_of_events(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[String],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"SELECT b AS "batch_id!" FROM (
               SELECT ancora_batch_of(tenant_id, seq) AS b, seq FROM events
               WHERE tenant_id = $1 AND id = ANY($2)) x
           WHERE b IS NOT NULL
           GROUP BY b ORDER BY min(seq)"#,
        tenant.0,
        ids
    )
    .fetch_all(&mut *conn)
    .await
}

/// Every tenant's proof lag in seconds: how long ago its oldest batch that is not proved yet
/// closed (tenants with none are absent). Runs as the system, through a function that
/// answers only that.
pub async fn proof_lags(db: &crate::db::Db) -> sqlx::Result<Vec<(Uuid, f64)>> {
    let mut tx = db.system_tx().await?;
    let rows = sqlx::query!(
        r#"SELECT tenant_id AS "tenant_id!", lag_seconds AS "lag_seconds!" FROM ancora_proof_lags()"#
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tenant_id, r.lag_seconds))
        .collect())
}

/// What the batch metadata ([`crate::services::batch_metadata`]) is made of: the batch, the
/// submitter of its first event, and the anchor it is in (pending, submitted, final or failed)
/// once the anchorer has taken it.
#[derive(Clone, Debug)]
pub struct MetadataRow {
    /// The batch id.
    pub id: Uuid,
    /// `closed`, `anchored` or `proved`.
    pub state: String,
    /// Tree root.
    pub root: Vec<u8>,
    /// Routed chain.
    pub target_chain: i32,
    /// When its root was anchored (its first trust point).
    pub anchored_at: Option<OffsetDateTime>,
    /// The submitter of its first event.
    pub submitter: Option<String>,
    /// The anchor's backend (`tlog`, `chainweb`).
    pub backend: Option<String>,
    /// The anchor's state.
    pub anchor_state: Option<String>,
    /// The chain a Chainweb anchor writes to.
    pub chain: Option<i32>,
    /// The Chainweb request key.
    pub tx_ref: Option<String>,
    /// The block (base64url) holding it.
    pub block_hash: Option<String>,
    /// Its height.
    pub block_height: Option<i64>,
    /// When the batch was made (the clock of its retention).
    pub created_at: OffsetDateTime,
    /// When its contents were copied to the archive.
    pub archived_at: Option<OffsetDateTime>,
    /// When its contents expired (were deleted at the end of the keep period).
    pub contents_expired_at: Option<OffsetDateTime>,
}

/// [`MetadataRow`]s of the tenant's batches `ids` (those that exist), in no set order.
pub async fn metadata(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[Uuid],
) -> sqlx::Result<Vec<MetadataRow>> {
    sqlx::query_as!(
        MetadataRow,
        r#"SELECT b.id, b.state, b.root, b.target_chain, b.anchored_at,
                  (SELECT e.submitter FROM events e
                    WHERE e.tenant_id = b.tenant_id AND e.seq = b.first_seq) AS "submitter?",
                  a.backend AS "backend?", a.state AS "anchor_state?",
                  (a.details->>'chain')::integer AS "chain?",
                  a.tx_ref AS "tx_ref?", a.block_hash AS "block_hash?",
                  a.block_height AS "block_height?",
                  b.created_at, b.archived_at, b.contents_expired_at
           FROM batches b
           -- also through the queue, so an anchor still pending, submitted or failed counts
           LEFT JOIN anchor_queue q ON q.batch_id = b.id
           LEFT JOIN anchors a ON a.id = COALESCE(b.anchor_id, q.anchor_id)
           WHERE b.tenant_id = $1 AND b.id = ANY($2)"#,
        tenant.0,
        ids
    )
    .fetch_all(&mut *conn)
    .await
}
