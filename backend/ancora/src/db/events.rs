//! Events: bulk insert (one statement per request), lookups by id and by digest, status.
//!
//! Arrays cannot carry NULL elements through the checked macros, so optional columns travel
//! as sentinels the SQL turns back into NULL: an empty `bytea` (no signature), an empty
//! string (no metadata), the nil UUID (no signer key).

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::TenantId;

/// The stored facts a receipt is made of.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Event id.
    pub id: String,
    /// `sha256` or `sha512_256`.
    pub digest_alg: String,
    /// 32 digest bytes.
    pub digest: Vec<u8>,
    /// Leaf hash bound into the batch tree.
    pub leaf_hash: Vec<u8>,
    /// Receipt time, microseconds since the epoch.
    pub received_at_micros: i64,
}

/// Events of `tenant` with these ids (any order; missing ids are simply absent).
pub async fn find_many(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[String],
) -> sqlx::Result<Vec<StoredEvent>> {
    sqlx::query_as!(
        StoredEvent,
        "SELECT id, digest_alg, digest, leaf_hash, received_at_micros FROM events \
         WHERE tenant_id = $1 AND id = ANY($2)",
        tenant.0,
        ids
    )
    .fetch_all(conn)
    .await
}

/// Columns of new events, one entry per event in every vector.
#[derive(Debug, Default)]
pub struct NewEvents {
    /// Ids.
    pub ids: Vec<String>,
    /// Digest algorithms.
    pub digest_algs: Vec<String>,
    /// Digests.
    pub digests: Vec<Vec<u8>>,
    /// Metadata as JSON text, `""` for none.
    pub metadata: Vec<String>,
    /// Submitters.
    pub submitters: Vec<String>,
    /// Signatures, empty for none.
    pub signatures: Vec<Vec<u8>>,
    /// Signer keys, nil for none.
    pub signer_key_ids: Vec<Uuid>,
    /// Leaf hashes.
    pub leaf_hashes: Vec<Vec<u8>>,
}

impl NewEvents {
    /// Empty columns with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        NewEvents {
            ids: Vec::with_capacity(n),
            digest_algs: Vec::with_capacity(n),
            digests: Vec::with_capacity(n),
            metadata: Vec::with_capacity(n),
            submitters: Vec::with_capacity(n),
            signatures: Vec::with_capacity(n),
            signer_key_ids: Vec::with_capacity(n),
            leaf_hashes: Vec::with_capacity(n),
        }
    }
}

/// The advisory-lock key pair of the tenant's ingest lock: a class of its own and 32 bits of
/// the tenant id (its random tail). Two tenants sharing a key only make a batcher wait for
/// the other's ingests too.
pub fn ingest_lock_key(tenant: TenantId) -> (i32, i32) {
    let b = tenant.bytes();
    (7_236_002, i32::from_be_bytes([b[12], b[13], b[14], b[15]]))
}

/// Takes the tenant's ingest lock (shared, until the transaction ends). Every transaction that
/// inserts events takes it before its first insert, so the batcher can tell when every event
/// up to a `seq` is settled ([`crate::db::batches::settled_horizon`]). Ingests never conflict
/// on it: nobody takes it exclusively.
pub async fn lock_for_ingest(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<()> {
    let (class, key) = ingest_lock_key(tenant);
    sqlx::query!(
        "SELECT pg_advisory_xact_lock_shared($1, $2) AS l",
        class,
        key
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(())
}

/// What [`insert_fresh`] did besides inserting.
#[derive(Debug, Clone, Copy)]
pub struct Fresh {
    /// The tenant's batch job's run time, if the job exists (see
    /// [`crate::db::jobs::ensure_batch_job`]).
    pub job_run_at: Option<OffsetDateTime>,
    /// Whether the tenant requires every event to be signed (read in the same statement).
    pub requires_signatures: bool,
}

/// Inserts events none of which is stored yet (the common case) and, in the same statement,
/// adds them to the tenant's `metric` counter of `day` and reads its batch job's run time: one
/// round trip for what took three. A plain insert: about a third cheaper in Postgres than
/// [`insert_new`]'s `ON CONFLICT` (speculative insertion). It does not count the tenant's
/// pending events: that scan (up to a batch of index entries and their heap tuples) cost
/// about a tenth of the statement; the ingest service counts toward a full batch in memory
/// instead. The caller holds the ingest lock ([`crate::db::Db::ingest_tx`]). `Ok(None)` when
/// an id is stored already (or by a concurrent request): the transaction is then aborted,
/// and the caller starts over with [`insert_new`].
#[allow(clippy::too_many_arguments)]
pub async fn insert_fresh(
    conn: &mut PgConnection,
    tenant: TenantId,
    rows: &NewEvents,
    received_at: OffsetDateTime,
    received_at_micros: i64,
    day: Date,
    metric: &str,
) -> sqlx::Result<Option<Fresh>> {
    let done = sqlx::query!(
        r#"WITH ins AS (
               INSERT INTO events (tenant_id, id, digest_alg, digest, metadata, submitter,
                                   signature, signer_key_id, received_at, received_at_micros,
                                   leaf_hash)
               SELECT $1, u.id, u.alg, u.digest, NULLIF(u.meta, '')::jsonb, u.submitter,
                      NULLIF(u.sig, '\x'::bytea),
                      NULLIF(u.signer, '00000000-0000-0000-0000-000000000000'::uuid),
                      $2, $3, u.leaf
               FROM UNNEST($4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[],
                           $9::bytea[], $10::uuid[], $11::bytea[])
                    AS u(id, alg, digest, meta, submitter, sig, signer, leaf)
               RETURNING 1),
           usage AS (
               INSERT INTO usage_counters (tenant_id, day, metric, shard, count)
               SELECT $1, $12, $13, pg_backend_pid() % 16, count(*) FROM ins
               ON CONFLICT (tenant_id, day, metric, shard)
               DO UPDATE SET count = usage_counters.count + EXCLUDED.count
               RETURNING 1)
           -- Data-modifying WITHs run to completion whether read or not.
           SELECT (SELECT run_at FROM jobs WHERE dedupe_key = $14) AS "job_run_at?",
                  (SELECT require_signatures FROM tenants WHERE id = $1) AS "required?""#,
        tenant.0,
        received_at,
        received_at_micros,
        &rows.ids,
        &rows.digest_algs,
        &rows.digests,
        &rows.metadata,
        &rows.submitters,
        &rows.signatures,
        &rows.signer_key_ids,
        &rows.leaf_hashes,
        day,
        metric,
        format!("batch:{tenant}")
    )
    .fetch_one(conn)
    .await;
    match done {
        Ok(r) => Ok(Some(Fresh {
            job_run_at: r.job_run_at,
            requires_signatures: r.required.unwrap_or(false),
        })),
        Err(e) if crate::db::is_unique_violation(&e, "events_pkey") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Inserts the events that do not exist yet and returns the ids it inserted (an id already
/// stored, say by a concurrent request, is skipped, and the caller compares it) and whether
/// the tenant requires every event to be signed. The caller holds the ingest lock
/// ([`crate::db::Db::ingest_tx`]).
pub async fn insert_new(
    conn: &mut PgConnection,
    tenant: TenantId,
    rows: &NewEvents,
    received_at: OffsetDateTime,
    received_at_micros: i64,
) -> sqlx::Result<(Vec<String>, bool)> {
    let row = sqlx::query!(
        r#"WITH ins AS (
               INSERT INTO events (tenant_id, id, digest_alg, digest, metadata, submitter,
                                   signature, signer_key_id, received_at, received_at_micros,
                                   leaf_hash)
               SELECT $1, u.id, u.alg, u.digest, NULLIF(u.meta, '')::jsonb, u.submitter,
                      NULLIF(u.sig, '\x'::bytea),
                      NULLIF(u.signer, '00000000-0000-0000-0000-000000000000'::uuid),
                      $2, $3, u.leaf
               FROM UNNEST($4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[],
                           $9::bytea[], $10::uuid[], $11::bytea[])
                    AS u(id, alg, digest, meta, submitter, sig, signer, leaf)
               ON CONFLICT (tenant_id, id) DO NOTHING
               RETURNING id)
           SELECT (SELECT array_agg(id) FROM ins) AS ids,
                  (SELECT require_signatures FROM tenants WHERE id = $1) AS "required?""#,
        tenant.0,
        received_at,
        received_at_micros,
        &rows.ids,
        &rows.digest_algs,
        &rows.digests,
        &rows.metadata,
        &rows.submitters,
        &rows.signatures,
        &rows.signer_key_ids,
        &rows.leaf_hashes,
    )
    .fetch_one(conn)
    .await?;
    Ok((row.ids.unwrap_or_default(), row.required.unwrap_or(false)))
}

/// The ingest's last statements before COMMIT: adds `count` to the tenant's `metric` counter of
/// `day`, and makes sure the tenant's batch job exists and runs by `run_at` (NOTIFYing workers
/// only when the job is new or moved earlier). Returns whether it was.
///
/// Neither is a point where the tenant's concurrent ingests queue behind one another's
/// commit: the counter has 16 rows per tenant, day and metric, and a connection always
/// writes the same one (its backend pid picks it, and a connection runs one transaction at
/// a time); an existing job row, the common case, is only read. An ingest that read the job
/// may commit after the batcher took it and counted what is pending; the batcher covers that
/// case by re-enqueuing its job whenever an ingest of the tenant is in flight after its take
/// (see [`crate::services::batching`]). A job that does not exist is inserted; one moved earlier
/// is updated (only when a full batch waits and the job was not due yet), both through the
/// queue's one enqueue statement.
pub async fn count_and_enqueue_batch(
    conn: &mut PgConnection,
    tenant: TenantId,
    day: Date,
    metric: &str,
    count: i64,
    run_at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let key = format!("batch:{tenant}");
    let row = sqlx::query!(
        r#"WITH usage AS (
               INSERT INTO usage_counters (tenant_id, day, metric, shard, count)
               VALUES ($1, $2, $3, pg_backend_pid() % 16, $4)
               ON CONFLICT (tenant_id, day, metric, shard)
               DO UPDATE SET count = usage_counters.count + EXCLUDED.count
               RETURNING 1),
           job AS (SELECT run_at FROM jobs WHERE dedupe_key = $5)
           SELECT (SELECT count(*) FROM usage) AS "counted!",
                  (SELECT run_at FROM job) AS "run_at?""#,
        tenant.0,
        day,
        metric,
        count,
        key
    )
    .fetch_one(&mut *conn)
    .await?;
    crate::db::jobs::ensure_batch_job(conn, tenant, row.run_at, run_at).await
}

/// Keeps inline contents, encrypted with the tenant's data key, for the hot window (the
/// archiver moves them on).
pub async fn insert_contents(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[String],
    contents: &[Vec<u8>],
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO event_contents (tenant_id, event_id, content, encrypted) \
         SELECT $1, u.id, u.content, true FROM UNNEST($2::text[], $3::bytea[]) AS u(id, content)",
        tenant.0,
        ids,
        contents
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An event with where it stands in the proof chain.
#[derive(Debug, Clone)]
pub struct EventStatus {
    /// Event id.
    pub id: String,
    /// `sha256` or `sha512_256`.
    pub digest_alg: String,
    /// Digest bytes.
    pub digest: Vec<u8>,
    /// Leaf hash.
    pub leaf_hash: Vec<u8>,
    /// Submitter bound into the leaf.
    pub submitter: String,
    /// Metadata as submitted.
    pub metadata: Option<serde_json::Value>,
    /// Receipt time.
    pub received_at: OffsetDateTime,
    /// Receipt time in microseconds (the leaf's).
    pub received_at_micros: i64,
    /// Its batch, once batched.
    pub batch_id: Option<Uuid>,
    /// Its leaf index in the batch.
    pub leaf_index: Option<i32>,
    /// `pending`, `batched`, `anchored` or `proved`.
    pub status: String,
}

/// One event of `tenant` with its status and bundle; `None` when `tenant` has no such id.
pub async fn find_status(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: &str,
) -> sqlx::Result<Option<EventStatus>> {
    sqlx::query_as!(
        EventStatus,
        r#"SELECT e.id, e.digest_alg, e.digest, e.leaf_hash, e.submitter, e.metadata,
                  e.received_at, e.received_at_micros, b.id AS "batch_id?",
                  COALESCE(p.leaf_index, ancora_leaf_index(e.tenant_id, e.seq)) AS leaf_index,
                  CASE WHEN p.event_id IS NOT NULL OR b.tree IS NOT NULL THEN 'proved'
                       WHEN b.state IN ('anchored', 'proved') THEN 'anchored'
                       WHEN b.id IS NOT NULL THEN 'batched'
                       ELSE 'pending' END AS "status!"
           FROM events e
           LEFT JOIN batches b ON b.tenant_id = e.tenant_id AND b.id = ancora_batch_of(e.tenant_id, e.seq)
           LEFT JOIN proofs p ON p.tenant_id = e.tenant_id AND p.event_id = e.id
           WHERE e.tenant_id = $1 AND e.id = $2"#,
        tenant.0,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Events of `tenant` whose digest is `digest` (of algorithm `alg`, or any when `None`), in
/// arrival order, at most `limit`.
pub async fn find_by_digest(
    conn: &mut PgConnection,
    tenant: TenantId,
    digest: &[u8],
    alg: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<EventStatus>> {
    sqlx::query_as!(
        EventStatus,
        r#"SELECT e.id, e.digest_alg, e.digest, e.leaf_hash, e.submitter, e.metadata,
                  e.received_at, e.received_at_micros, b.id AS "batch_id?",
                  COALESCE(p.leaf_index, ancora_leaf_index(e.tenant_id, e.seq)) AS leaf_index,
                  CASE WHEN p.event_id IS NOT NULL OR b.tree IS NOT NULL THEN 'proved'
                       WHEN b.state IN ('anchored', 'proved') THEN 'anchored'
                       WHEN b.id IS NOT NULL THEN 'batched'
                       ELSE 'pending' END AS "status!"
           FROM events e
           LEFT JOIN batches b ON b.tenant_id = e.tenant_id AND b.id = ancora_batch_of(e.tenant_id, e.seq)
           LEFT JOIN proofs p ON p.tenant_id = e.tenant_id AND p.event_id = e.id
           WHERE e.tenant_id = $1 AND e.digest = $2
             AND ($3::text IS NULL OR e.digest_alg = $3)
           ORDER BY e.seq
           LIMIT $4"#,
        tenant.0,
        digest,
        alg,
        limit
    )
    .fetch_all(conn)
    .await
}
