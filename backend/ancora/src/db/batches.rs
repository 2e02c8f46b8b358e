//! Batches and the events they close over. Every function runs in the caller's tenant
//! transaction ([`Db::tenant_tx`](crate::db::Db::tenant_tx)) and names the tenant explicitly,
//! so the scoping is visible here and enforced again by row-level security.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// A pending event as the batcher needs it: arrival order, id and stored leaf hash.
#[derive(Clone, Debug)]
pub struct PendingEvent {
    /// Global arrival order.
    pub seq: i64,
    /// The event id.
    pub id: String,
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

/// A pending event just bound to a batch: its leaf position, arrival order and leaf hash.
#[derive(Clone, Debug)]
pub struct BoundEvent {
    /// Its leaf index in the batch (arrival order among the batch's events).
    pub leaf_index: i32,
    /// Global arrival order.
    pub seq: i64,
    /// The event leaf's node hash, computed at ingest.
    pub leaf_hash: Vec<u8>,
}

/// Binds up to `limit` of the tenant's pending events, oldest first, to `batch` (leaf `i` the
/// `i`-th oldest) and returns them in any order; rows another batcher holds are skipped. One
/// statement: the pending events are found through `events_pending`, locked, and updated by
/// their tuple id, so each is visited once. The batch row itself is the caller's to insert
/// (in the same transaction) once it has the root.
pub async fn bind_pending(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<BoundEvent>> {
    sqlx::query_as!(
        BoundEvent,
        r#"WITH picked AS (
               SELECT ctid, seq FROM events
               WHERE tenant_id = $1 AND batch_id IS NULL
               ORDER BY seq LIMIT $3
               FOR UPDATE SKIP LOCKED)
           UPDATE events e SET batch_id = $2, leaf_index = p.idx
           FROM (SELECT ctid, (row_number() OVER (ORDER BY seq) - 1)::integer AS idx
                 FROM picked) p
           WHERE e.ctid = p.ctid AND e.tenant_id = $1
           RETURNING e.leaf_index AS "leaf_index!", e.seq, e.leaf_hash"#,
        tenant.0,
        batch,
        limit
    )
    .fetch_all(&mut *conn)
    .await
}

/// Inserts a closed batch whose events are already bound to it ([`bind_pending`]).
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

/// Locks the named events of the tenant that are still pending, in arrival order (the seed
/// API closes a batch over exactly the events of one request).
pub async fn lock_pending_ids(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[String],
) -> sqlx::Result<Vec<PendingEvent>> {
    sqlx::query_as!(
        PendingEvent,
        "SELECT seq, id, leaf_hash FROM events \
         WHERE tenant_id = $1 AND batch_id IS NULL AND id = ANY($2) \
         ORDER BY seq \
         FOR UPDATE",
        tenant.0,
        ids
    )
    .fetch_all(&mut *conn)
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

/// Inserts a closed batch and binds its events to it, leaf `i` being `event_ids[i]`.
pub async fn insert_closed(
    conn: &mut PgConnection,
    batch: &NewBatch<'_>,
    event_ids: &[String],
) -> sqlx::Result<()> {
    insert_batch(conn, batch).await?;
    sqlx::query!(
        "UPDATE events e SET batch_id = $2, leaf_index = (u.ord - 1)::integer \
         FROM UNNEST($3::text[]) WITH ORDINALITY AS u(id, ord) \
         WHERE e.tenant_id = $1 AND e.id = u.id",
        batch.tenant.0,
        batch.id,
        event_ids
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How many events are still pending (counting at most `cap`), and when the oldest arrived.
pub async fn pending_summary(
    conn: &mut PgConnection,
    tenant: TenantId,
    cap: i64,
) -> sqlx::Result<(i64, Option<OffsetDateTime>)> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "n!", min(received_at) AS oldest
           FROM (SELECT received_at FROM events
                 WHERE tenant_id = $1 AND batch_id IS NULL
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
    /// Its position in the batch tree.
    pub leaf_index: Option<i32>,
    /// Receipt time (for the time-to-proof metric).
    pub received_at: OffsetDateTime,
}

/// The batch's events in tree order.
pub async fn events_in_order(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
) -> sqlx::Result<Vec<ProvableEvent>> {
    sqlx::query_as!(
        ProvableEvent,
        "SELECT id, digest_alg, digest, submitter, received_at_micros, leaf_hash, leaf_index, received_at \
         FROM events WHERE tenant_id = $1 AND batch_id = $2 ORDER BY leaf_index",
        tenant.0,
        batch
    )
    .fetch_all(&mut *conn)
    .await
}

/// Records that the batch is anchored in `anchor` at `index` and that all its proofs are
/// stored.
pub async fn mark_proved(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
    anchor: Uuid,
    index: i32,
    anchored_at: Option<OffsetDateTime>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE batches SET state = 'proved', anchor_id = $3, anchor_index = $4, \
                            anchored_at = COALESCE($5, now()), proved_at = now() \
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        batch,
        anchor,
        index,
        anchored_at
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
        r#"SELECT batch_id AS "batch_id!" FROM events
           WHERE tenant_id = $1 AND id = ANY($2) AND batch_id IS NOT NULL
           GROUP BY batch_id ORDER BY min(seq)"#,
        tenant.0,
        ids
    )
    .fetch_all(&mut *conn)
    .await
}
