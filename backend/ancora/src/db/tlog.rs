//! The transparency log's storage: leaves, complete-subtree nodes, signed checkpoints and the
//! embedded signing key. The log's arithmetic is in `ancora_proof::tlog`; this file only
//! reads and writes rows. Appends are serialized with [`lock_for_append`].

use std::collections::HashMap;

use ancora_proof::Hash;
use sqlx::PgConnection;
use uuid::Uuid;

/// Serializes appends to the log until the caller's transaction ends.
pub async fn lock_for_append(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock(7236001) AS l")
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

/// Number of leaves in the log.
pub async fn size(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT COALESCE(max(idx) + 1, 0) AS "n!" FROM tlog_leaves"#)
        .fetch_one(&mut *conn)
        .await
}

/// The stored nodes among `keys` (`(level, index)`); missing ones are simply absent.
pub async fn nodes(
    conn: &mut PgConnection,
    keys: &[(u8, u64)],
) -> anyhow::Result<HashMap<(u8, u64), Hash>> {
    let levels: Vec<i16> = keys.iter().map(|k| i16::from(k.0)).collect();
    let idxs: Vec<i64> = keys
        .iter()
        .map(|k| i64::try_from(k.1))
        .collect::<Result<_, _>>()?;
    let rows = sqlx::query!(
        "SELECT n.level, n.idx, n.hash FROM tlog_nodes n \
         JOIN UNNEST($1::smallint[], $2::bigint[]) AS k(level, idx) \
           ON n.level = k.level AND n.idx = k.idx",
        &levels,
        &idxs
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(
            (u8::try_from(r.level)?, u64::try_from(r.idx)?),
            Hash::from_slice(&r.hash)?,
        );
    }
    Ok(out)
}

/// Stores a leaf (an anchor root at `idx`) and the complete nodes its append created.
pub async fn append(
    conn: &mut PgConnection,
    idx: i64,
    anchor: Uuid,
    leaf_hash: &Hash,
    new_nodes: &[(u8, u64, Hash)],
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO tlog_leaves (idx, anchor_id, leaf_hash) VALUES ($1, $2, $3)",
        idx,
        anchor,
        &leaf_hash.0[..]
    )
    .execute(&mut *conn)
    .await?;
    let levels: Vec<i16> = new_nodes.iter().map(|n| i16::from(n.0)).collect();
    let idxs: Vec<i64> = new_nodes
        .iter()
        .map(|n| i64::try_from(n.1))
        .collect::<Result<_, _>>()?;
    let hashes: Vec<Vec<u8>> = new_nodes.iter().map(|n| n.2.0.to_vec()).collect();
    sqlx::query!(
        "INSERT INTO tlog_nodes (level, idx, hash) \
         SELECT * FROM UNNEST($1::smallint[], $2::bigint[], $3::bytea[])",
        &levels,
        &idxs,
        &hashes
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A stored signed checkpoint.
#[derive(Clone, Debug)]
pub struct StoredCheckpoint {
    /// Log size.
    pub size: i64,
    /// Root at that size.
    pub root: Vec<u8>,
    /// The signed note, verbatim.
    pub note: String,
}

/// Stores a signed checkpoint.
pub async fn insert_checkpoint(
    conn: &mut PgConnection,
    size: i64,
    root: &Hash,
    note: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO tlog_checkpoints (size, root, note) VALUES ($1, $2, $3)",
        size,
        &root.0[..],
        note
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The largest checkpoint, if any.
pub async fn latest_checkpoint(conn: &mut PgConnection) -> sqlx::Result<Option<StoredCheckpoint>> {
    sqlx::query_as!(
        StoredCheckpoint,
        "SELECT size, root, note FROM tlog_checkpoints ORDER BY size DESC LIMIT 1"
    )
    .fetch_optional(&mut *conn)
    .await
}

/// The checkpoints larger than `size`, smallest first, at most `limit` (the log monitor reads
/// them in order).
pub async fn checkpoints_after(
    conn: &mut PgConnection,
    size: i64,
    limit: i64,
) -> sqlx::Result<Vec<StoredCheckpoint>> {
    sqlx::query_as!(
        StoredCheckpoint,
        "SELECT size, root, note FROM tlog_checkpoints WHERE size > $1 ORDER BY size LIMIT $2",
        size,
        limit
    )
    .fetch_all(&mut *conn)
    .await
}

/// The checkpoint at `size`, if one was signed.
pub async fn checkpoint_at(
    conn: &mut PgConnection,
    size: i64,
) -> sqlx::Result<Option<StoredCheckpoint>> {
    sqlx::query_as!(
        StoredCheckpoint,
        "SELECT size, root, note FROM tlog_checkpoints WHERE size = $1",
        size
    )
    .fetch_optional(&mut *conn)
    .await
}

/// The embedded signing key: `(origin, 32-byte seed)`, created once with `fresh` if absent.
/// The seed never leaves this call except into a `LogSigner`.
pub async fn signer_seed(
    conn: &mut PgConnection,
    origin: &str,
    fresh: [u8; 32],
) -> sqlx::Result<(String, Vec<u8>)> {
    let existing = sqlx::query!("SELECT origin, secret_key FROM tlog_signer WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = existing {
        return Ok((row.origin, row.secret_key));
    }
    sqlx::query!(
        "INSERT INTO tlog_signer (id, origin, secret_key) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO NOTHING",
        origin,
        &fresh[..]
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!("SELECT origin, secret_key FROM tlog_signer WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Ok((row.origin, row.secret_key))
}
