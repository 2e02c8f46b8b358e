//! The archive's SQL: retention policies, tenants' wrapped data keys, event contents (their
//! encryption, hot copies and restored copies), what the archiver copied, dropped and expired,
//! and the rows it copies (as `row_to_json` of each table, the segment format of
//! [`crate::services::archive::layout`]). Tenant functions run in the caller's tenant
//! transaction; the anchor and checkpoint ones in a system transaction.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// A stored retention policy (the service's `retention::Policy` reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionRow {
    /// Seconds contents stay hot.
    pub hot_secs: i64,
    /// Seconds contents are kept.
    pub keep_secs: i64,
    /// Legal hold.
    pub legal_hold: bool,
}

/// The tenant's retention policy, if one was set.
pub async fn retention(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Option<RetentionRow>> {
    sqlx::query_as!(
        RetentionRow,
        "SELECT hot_secs, keep_secs, legal_hold FROM tenant_retention WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(conn)
    .await
}

/// [`retention`], locking the row (and, when there is none, the tenant row) for a change.
pub async fn retention_for_update(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Option<RetentionRow>> {
    sqlx::query!("SELECT id FROM tenants WHERE id = $1 FOR UPDATE", tenant.0)
        .fetch_optional(&mut *conn)
        .await?;
    sqlx::query_as!(
        RetentionRow,
        "SELECT hot_secs, keep_secs, legal_hold FROM tenant_retention WHERE tenant_id = $1 FOR UPDATE",
        tenant.0
    )
    .fetch_optional(conn)
    .await
}

/// Stores the tenant's policy.
pub async fn set_retention(
    conn: &mut PgConnection,
    tenant: TenantId,
    p: &RetentionRow,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO tenant_retention (tenant_id, hot_secs, keep_secs, legal_hold) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id) DO UPDATE SET hot_secs = EXCLUDED.hot_secs, \
           keep_secs = EXCLUDED.keep_secs, legal_hold = EXCLUDED.legal_hold, updated_at = now()",
        tenant.0,
        p.hot_secs,
        p.keep_secs,
        p.legal_hold
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A tenant's stored data key.
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// The wrapped key; `None` once shredded.
    pub wrapped_key: Option<Vec<u8>>,
    /// The id of the master key that wrapped it.
    pub master_key_id: Vec<u8>,
    /// When it was shredded.
    pub shredded_at: Option<OffsetDateTime>,
}

/// The tenant's data key row, if any.
pub async fn tenant_key(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Option<StoredKey>> {
    sqlx::query_as!(
        StoredKey,
        "SELECT wrapped_key, master_key_id, shredded_at FROM tenant_keys WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(conn)
    .await
}

/// Stores a new data key unless the tenant has one (then nothing changes); returns the row
/// that is stored now.
pub async fn insert_tenant_key(
    conn: &mut PgConnection,
    tenant: TenantId,
    wrapped: &[u8],
    master_key_id: &[u8],
) -> sqlx::Result<StoredKey> {
    sqlx::query!(
        "INSERT INTO tenant_keys (tenant_id, wrapped_key, master_key_id) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO NOTHING",
        tenant.0,
        wrapped,
        master_key_id
    )
    .execute(&mut *conn)
    .await?;
    let row = tenant_key(conn, tenant).await?;
    row.ok_or(sqlx::Error::RowNotFound)
}

/// Destroys the tenant's data key (keeps the row as the record of when). Returns false when
/// there was no key to destroy.
pub async fn shred_key(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO tenant_keys (tenant_id, wrapped_key, master_key_id, shredded_at) \
         VALUES ($1, NULL, '\\x0000000000000000', now()) \
         ON CONFLICT (tenant_id) DO UPDATE SET wrapped_key = NULL, shredded_at = now() \
         WHERE tenant_keys.shredded_at IS NULL",
        tenant.0
    )
    .execute(conn)
    .await?;
    Ok(n.rows_affected() > 0)
}

/// Deletes every hot content row of the tenant (after a shred: ciphertext nobody can read).
pub async fn delete_all_contents(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<u64> {
    let n = sqlx::query!("DELETE FROM event_contents WHERE tenant_id = $1", tenant.0)
        .execute(conn)
        .await?;
    Ok(n.rows_affected())
}

/// Up to `limit` plaintext content rows (written before encryption at rest).
pub async fn plaintext_contents(
    conn: &mut PgConnection,
    tenant: TenantId,
    limit: i64,
) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
    let rows = sqlx::query!(
        "SELECT event_id, content FROM event_contents \
         WHERE tenant_id = $1 AND NOT encrypted ORDER BY event_id LIMIT $2 FOR UPDATE",
        tenant.0,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.event_id, r.content)).collect())
}

/// Replaces plaintext rows by their ciphertexts.
pub async fn store_encrypted(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[String],
    sealed: &[Vec<u8>],
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE event_contents c SET content = u.content, encrypted = true \
         FROM UNNEST($2::text[], $3::bytea[]) AS u(id, content) \
         WHERE c.tenant_id = $1 AND c.event_id = u.id AND NOT c.encrypted",
        tenant.0,
        ids,
        sealed
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One event's hot content: `(bytes, encrypted)`.
pub async fn hot_content(
    conn: &mut PgConnection,
    tenant: TenantId,
    event_id: &str,
) -> sqlx::Result<Option<(Vec<u8>, bool)>> {
    let row = sqlx::query!(
        "SELECT content, encrypted FROM event_contents WHERE tenant_id = $1 AND event_id = $2",
        tenant.0,
        event_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.content, r.encrypted)))
}

/// Keeps a content fetched from the archive hot until `until`.
pub async fn restore_content(
    conn: &mut PgConnection,
    tenant: TenantId,
    event_id: &str,
    sealed: &[u8],
    until: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO event_contents (tenant_id, event_id, content, encrypted, restored_until) \
         VALUES ($1, $2, $3, true, $4) \
         ON CONFLICT (tenant_id, event_id) DO UPDATE SET restored_until = EXCLUDED.restored_until",
        tenant.0,
        event_id,
        sealed,
        until
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops restored copies whose time is up; returns how many.
pub async fn drop_restored(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<u64> {
    let n = sqlx::query!(
        "DELETE FROM event_contents WHERE tenant_id = $1 AND restored_until < now()",
        tenant.0
    )
    .execute(conn)
    .await?;
    Ok(n.rows_affected())
}

/// Where an event's content is: its batch and what the archiver did with it.
#[derive(Clone, Debug)]
pub struct ContentLocation {
    /// The batch, if the event is batched.
    pub batch_id: Option<Uuid>,
    /// When the batch closed.
    pub batch_created_at: Option<OffsetDateTime>,
    /// The archived segment's key prefix.
    pub archive_key: Option<String>,
    /// SHA-256 of the archived contents object.
    pub contents_sha256: Option<Vec<u8>>,
    /// When the hot copies were dropped.
    pub hot_dropped_at: Option<OffsetDateTime>,
    /// The tombstone: when the contents expired.
    pub contents_expired_at: Option<OffsetDateTime>,
}

/// Where one event's content is, or `None` when there is no such event.
pub async fn content_location(
    conn: &mut PgConnection,
    tenant: TenantId,
    event_id: &str,
) -> sqlx::Result<Option<ContentLocation>> {
    sqlx::query_as!(
        ContentLocation,
        r#"SELECT b.id AS "batch_id?", b.created_at AS "batch_created_at?",
                  b.archive_key AS "archive_key?", b.contents_sha256 AS "contents_sha256?",
                  b.hot_dropped_at AS "hot_dropped_at?",
                  b.contents_expired_at AS "contents_expired_at?"
           FROM events e
           LEFT JOIN batches b ON b.tenant_id = e.tenant_id AND b.id = ancora_batch_of(e.tenant_id, e.seq)
           WHERE e.tenant_id = $1 AND e.id = $2"#,
        tenant.0,
        event_id
    )
    .fetch_optional(conn)
    .await
}

/// A proved batch not archived yet.
#[derive(Clone, Debug)]
pub struct Unarchived {
    /// The batch.
    pub id: Uuid,
    /// When it closed.
    pub created_at: OffsetDateTime,
    /// Its trust points (bundle JSON).
    pub trust_point: Option<serde_json::Value>,
}

/// Up to `limit` proved batches of the tenant that are not archived, oldest first.
pub async fn unarchived_batches(
    conn: &mut PgConnection,
    tenant: TenantId,
    limit: i64,
) -> sqlx::Result<Vec<Unarchived>> {
    sqlx::query_as!(
        Unarchived,
        r#"SELECT id, created_at, trust_point AS "trust_point?" FROM batches
           WHERE tenant_id = $1 AND state = 'proved' AND archived_at IS NULL
           ORDER BY created_at, id LIMIT $2"#,
        tenant.0,
        limit
    )
    .fetch_all(conn)
    .await
}

/// A batch's catalog segment: its row, its events' rows and its proofs' rows (none for a
/// batch that stores its tree: its row and its events give every bundle), each as
/// `row_to_json` gives it. `None` when the batch is not there or is archived already: a
/// second pass that listed it before the first marked it then writes nothing (its segment
/// would carry the first pass's archive fields, and differ from the copy on record).
pub async fn segment_rows(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
) -> sqlx::Result<Option<(serde_json::Value, serde_json::Value, serde_json::Value)>> {
    let row = sqlx::query!(
        r#"SELECT row_to_json(b) AS "batch!",
                  (SELECT COALESCE(json_agg(e ORDER BY e.seq), '[]'::json) FROM events e
                   WHERE e.tenant_id = b.tenant_id AND e.seq BETWEEN b.first_seq AND b.last_seq) AS "events!",
                  (SELECT COALESCE(json_agg(p ORDER BY e.seq), '[]'::json) FROM events e
                   JOIN proofs p ON p.tenant_id = e.tenant_id AND p.event_id = e.id
                   WHERE e.tenant_id = b.tenant_id AND e.seq BETWEEN b.first_seq AND b.last_seq) AS "proofs!"
           FROM batches b WHERE b.tenant_id = $1 AND b.id = $2 AND b.archived_at IS NULL"#,
        tenant.0,
        batch
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.batch, r.events, r.proofs)))
}

/// The contents of a batch's events, `(event id, bytes, encrypted)`, in event order.
pub async fn batch_contents(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
) -> sqlx::Result<Vec<(String, Vec<u8>, bool)>> {
    let rows = sqlx::query!(
        "SELECT c.event_id, c.content, c.encrypted FROM batches b \
         JOIN events e ON e.tenant_id = b.tenant_id AND e.seq BETWEEN b.first_seq AND b.last_seq \
         JOIN event_contents c ON c.tenant_id = e.tenant_id AND c.event_id = e.id \
         WHERE b.tenant_id = $1 AND b.id = $2 ORDER BY e.seq",
        tenant.0,
        batch
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.event_id, r.content, r.encrypted))
        .collect())
}

/// Records a batch's verified archive copy, unless one is on record already (the first
/// copy recorded stays the one on record). True when this one was recorded.
pub async fn mark_archived(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
    key: &str,
    segment_sha256: &[u8],
    contents_sha256: Option<&[u8]>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE batches SET archived_at = now(), archive_key = $3, archive_sha256 = $4, \
           contents_sha256 = $5 WHERE tenant_id = $1 AND id = $2 AND archived_at IS NULL",
        tenant.0,
        batch,
        key,
        segment_sha256,
        contents_sha256
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Archived batches of the tenant whose hot contents are still there and older than
/// `hot_secs` (by the batch's close), at most `limit`.
pub async fn batches_to_cool(
    conn: &mut PgConnection,
    tenant: TenantId,
    hot_secs: i64,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT id FROM batches WHERE tenant_id = $1 AND archived_at IS NOT NULL \
           AND hot_dropped_at IS NULL AND created_at <= now() - make_interval(secs => $2::bigint) \
         ORDER BY created_at LIMIT $3",
        tenant.0,
        hot_secs,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Drops a batch's hot contents (its archived copy is verified) and records when; returns
/// how many rows went.
pub async fn drop_hot(conn: &mut PgConnection, tenant: TenantId, batch: Uuid) -> sqlx::Result<u64> {
    let n = sqlx::query!(
        "DELETE FROM event_contents c USING batches b, events e \
         WHERE b.tenant_id = $1 AND b.id = $2 AND b.archived_at IS NOT NULL \
           AND e.tenant_id = b.tenant_id AND e.seq BETWEEN b.first_seq AND b.last_seq \
           AND c.tenant_id = e.tenant_id AND c.event_id = e.id",
        tenant.0,
        batch
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query!(
        "UPDATE batches SET hot_dropped_at = now() WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        batch
    )
    .execute(conn)
    .await?;
    Ok(n)
}

/// An archived batch whose contents are due to expire.
#[derive(Clone, Debug)]
pub struct Expiring {
    /// The batch.
    pub id: Uuid,
    /// Its segment's key prefix.
    pub archive_key: Option<String>,
    /// Whether it archived a contents object.
    pub has_contents: bool,
}

/// Archived batches whose contents are older than `keep_secs` and not expired, at most
/// `limit`.
pub async fn batches_to_expire(
    conn: &mut PgConnection,
    tenant: TenantId,
    keep_secs: i64,
    limit: i64,
) -> sqlx::Result<Vec<Expiring>> {
    sqlx::query_as!(
        Expiring,
        r#"SELECT id, archive_key, contents_sha256 IS NOT NULL AS "has_contents!" FROM batches
           WHERE tenant_id = $1 AND archived_at IS NOT NULL AND contents_expired_at IS NULL
             AND created_at <= now() - make_interval(secs => $2::bigint)
           ORDER BY created_at LIMIT $3"#,
        tenant.0,
        keep_secs,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Leaves the tombstone of an expiry: the contents are gone (hot copies too), the batch's
/// digests, roots and proofs stay.
pub async fn mark_expired(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
) -> sqlx::Result<()> {
    drop_hot(&mut *conn, tenant, batch).await?;
    sqlx::query!(
        "UPDATE batches SET contents_expired_at = now() WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        batch
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every tenant id.
pub async fn tenant_ids(conn: &mut PgConnection) -> sqlx::Result<Vec<TenantId>> {
    let ids = sqlx::query_scalar!("SELECT id FROM tenants ORDER BY id")
        .fetch_all(conn)
        .await?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// The tenant's row, key row and retention row, as `row_to_json` gives them.
pub async fn tenant_rows(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar!(
        r#"SELECT json_build_object(
                  'tenant', row_to_json(t),
                  'key', (SELECT row_to_json(k) FROM tenant_keys k WHERE k.tenant_id = t.id),
                  'retention', (SELECT row_to_json(r) FROM tenant_retention r WHERE r.tenant_id = t.id)
              ) AS "rows!"
           FROM tenants t WHERE t.id = $1"#,
        tenant.0
    )
    .fetch_optional(conn)
    .await
}

/// A final anchor not archived yet: its row, its batch roots (anchor queue rows) and its log
/// leaf, as `row_to_json` gives them.
#[derive(Clone, Debug)]
pub struct AnchorRows {
    /// The anchor.
    pub id: Uuid,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// `{anchor, queue, leaf}`.
    pub rows: serde_json::Value,
}

/// Up to `limit` final anchors not archived yet, oldest first.
pub async fn unarchived_anchors(
    conn: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<AnchorRows>> {
    sqlx::query_as!(
        AnchorRows,
        r#"SELECT a.id, a.created_at, json_build_object(
                  'anchor', row_to_json(a),
                  'queue', (SELECT COALESCE(json_agg(q ORDER BY q.anchor_index), '[]'::json) FROM anchor_queue q WHERE q.anchor_id = a.id),
                  'leaf', (SELECT row_to_json(l) FROM tlog_leaves l WHERE l.anchor_id = a.id)
              ) AS "rows!"
           FROM anchors a WHERE a.state = 'final' AND a.archived_at IS NULL
           ORDER BY a.created_at, a.id LIMIT $1"#,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Records an anchor's verified archive copy.
pub async fn mark_anchor_archived(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("UPDATE anchors SET archived_at = now() WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` checkpoints not archived yet, `(size, row)`, smallest first.
pub async fn unarchived_checkpoints(
    conn: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<(i64, serde_json::Value)>> {
    let rows = sqlx::query!(
        r#"SELECT c.size, row_to_json(c) AS "row!"
           FROM tlog_checkpoints c WHERE c.archived_at IS NULL ORDER BY c.size LIMIT $1"#,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.size, r.row)).collect())
}

/// Records a checkpoint's verified archive copy.
pub async fn mark_checkpoint_archived(conn: &mut PgConnection, size: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE tlog_checkpoints SET archived_at = now() WHERE size = $1",
        size
    )
    .execute(conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rebuilding the catalog from the archive: rows put back as `json_populate_record` reads the
// `row_to_json` the archiver wrote.
// ---------------------------------------------------------------------------------------------

/// True when the database holds no tenant and no anchor: a rebuild's only target.
pub async fn is_empty(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT NOT EXISTS (SELECT 1 FROM tenants) AND NOT EXISTS (SELECT 1 FROM anchors) AS "e!""#
    )
    .fetch_one(conn)
    .await
}

/// Puts back an archived checkpoint.
pub async fn restore_checkpoint(
    conn: &mut PgConnection,
    row: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO tlog_checkpoints SELECT * FROM jsonb_populate_record(NULL::tlog_checkpoints, $1)",
        row
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("UPDATE tlog_checkpoints SET archived_at = now() WHERE archived_at IS NULL")
        .execute(conn)
        .await?;
    Ok(())
}

/// Puts back an archived anchor and its batch roots (the anchor queue rows).
pub async fn restore_anchor(
    conn: &mut PgConnection,
    anchor: &serde_json::Value,
    queue: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO anchors SELECT * FROM jsonb_populate_record(NULL::anchors, $1)",
        anchor
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO anchor_queue SELECT * FROM jsonb_populate_recordset(NULL::anchor_queue, $1)",
        queue
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("UPDATE anchors SET archived_at = now() WHERE archived_at IS NULL")
        .execute(conn)
        .await?;
    Ok(())
}

/// Puts back a tenant's rows (`{tenant, key, retention}`, the last two may be null).
pub async fn restore_tenant(conn: &mut PgConnection, rows: &serde_json::Value) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO tenants SELECT * FROM jsonb_populate_record(NULL::tenants, $1)",
        &rows["tenant"]
    )
    .execute(&mut *conn)
    .await?;
    if !rows["key"].is_null() {
        sqlx::query!(
            "INSERT INTO tenant_keys SELECT * FROM jsonb_populate_record(NULL::tenant_keys, $1)",
            &rows["key"]
        )
        .execute(&mut *conn)
        .await?;
    }
    if !rows["retention"].is_null() {
        sqlx::query!(
            "INSERT INTO tenant_retention SELECT * FROM jsonb_populate_record(NULL::tenant_retention, $1)",
            &rows["retention"]
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Puts back a batch segment (its batch, events and proofs) and records it as archived at
/// `key`, its hot contents absent; returns the batch id.
pub async fn restore_segment(
    conn: &mut PgConnection,
    batch: &serde_json::Value,
    events: &serde_json::Value,
    proofs: &serde_json::Value,
    key: &str,
    segment_sha256: &[u8],
    contents_sha256: Option<&[u8]>,
) -> sqlx::Result<Uuid> {
    sqlx::query!(
        "INSERT INTO events OVERRIDING SYSTEM VALUE \
         SELECT * FROM jsonb_populate_recordset(NULL::events, $1)",
        events
    )
    .execute(&mut *conn)
    .await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO batches SELECT * FROM jsonb_populate_record(NULL::batches, $1) RETURNING id",
        batch
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO proofs SELECT * FROM jsonb_populate_recordset(NULL::proofs, $1)",
        proofs
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE batches SET archived_at = now(), archive_key = $2, archive_sha256 = $3, \
           contents_sha256 = $4, hot_dropped_at = now(), \
           contents_expired_at = CASE WHEN $4::bytea IS NULL THEN contents_expired_at END \
         WHERE id = $1",
        id,
        key,
        segment_sha256,
        contents_sha256
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// After a tenant's segments are back: its batching cursor after its last restored batch.
pub async fn restore_cursor(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO batch_cursors (tenant_id, last_seq) \
         SELECT $1, COALESCE((SELECT max(b.last_seq) FROM batches b WHERE b.tenant_id = $1), 0) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_seq = EXCLUDED.last_seq",
        tenant.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant's highest restored event `seq` and audit row number (`audit-<n>` event ids), so
/// that the sequences continue after them.
pub async fn restored_maxima(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"SELECT COALESCE(max(seq), 0) AS "seq!",
                  COALESCE(max(CASE WHEN submitter = 'audit' AND id ~ '^audit-[0-9]{1,18}$'
                                    THEN substr(id, 7)::bigint END), 0) AS "audit!"
           FROM events WHERE tenant_id = $1"#,
        tenant.0
    )
    .fetch_one(conn)
    .await?;
    Ok((row.seq, row.audit))
}

/// After a rebuild: the events' sequence and the audit log's continue after what was restored
/// (new events and audit rows never reuse a restored id). Runs as the connecting role (the
/// sequences' owner).
pub async fn restore_sequences(
    pool: &sqlx::PgPool,
    max_seq: i64,
    max_audit: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"SELECT setval(pg_get_serial_sequence('events', 'seq'), GREATEST($1::bigint, 1)) AS "a!",
                  setval(pg_get_serial_sequence('audit_log', 'id'), GREATEST($2::bigint, 1)) AS "b!""#,
        max_seq,
        max_audit
    )
    .fetch_one(pool)
    .await?;
    Ok(())
}
