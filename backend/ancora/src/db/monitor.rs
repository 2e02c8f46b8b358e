//! The log monitor's storage: the last checkpoint it found consistent, the alerts it raised
//! (one row per problem, so each is alerted once), and the question it asks about anchors.
//! What counts as a problem is decided in [`crate::services::monitor`].

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// The last checkpoint the monitor found consistent: `(size, root)`; `None` before its first run.
pub async fn state(conn: &mut PgConnection) -> sqlx::Result<Option<(i64, Vec<u8>)>> {
    let row = sqlx::query!("SELECT size, root FROM log_monitor_state WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| (r.size, r.root)))
}

/// Records the last checkpoint found consistent.
pub async fn save_state(conn: &mut PgConnection, size: i64, root: &[u8]) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO log_monitor_state (id, size, root, checked_at) VALUES (1, $1, $2, now()) \
         ON CONFLICT (id) DO UPDATE SET size = EXCLUDED.size, root = EXCLUDED.root, \
                                        checked_at = EXCLUDED.checked_at",
        size,
        root
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores an alert; returns false when the same `(kind, subject)` was raised before.
pub async fn raise_alert(
    conn: &mut PgConnection,
    kind: &str,
    subject: &str,
    detail: &str,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO log_monitor_alerts (kind, subject, detail) VALUES ($1, $2, $3) \
         ON CONFLICT (kind, subject) DO NOTHING",
        kind,
        subject,
        detail
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A raised alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// `fork`, `bad_signature` or `late_anchor`.
    pub kind: String,
    /// What it is about (`checkpoint:<size>`, `anchor:<id>`).
    pub subject: String,
    /// One line for people.
    pub detail: String,
}

/// Every alert raised, oldest first.
pub async fn alerts(conn: &mut PgConnection) -> sqlx::Result<Vec<Alert>> {
    sqlx::query_as!(
        Alert,
        "SELECT kind, subject, detail FROM log_monitor_alerts ORDER BY raised_at, kind, subject"
    )
    .fetch_all(&mut *conn)
    .await
}

/// An anchor that has not reached its trust point.
#[derive(Clone, Debug)]
pub struct LateAnchor {
    /// Its id.
    pub id: Uuid,
    /// `tlog` or `chainweb`.
    pub backend: String,
    /// Its state (anything but `final`).
    pub state: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

/// Anchors made before `made_before` that are still not final and were not alerted yet
/// (`anchor:<id>` under `late_anchor`), oldest first, at most `limit`.
pub async fn late_anchors(
    conn: &mut PgConnection,
    made_before: OffsetDateTime,
    limit: i64,
) -> sqlx::Result<Vec<LateAnchor>> {
    sqlx::query_as!(
        LateAnchor,
        "SELECT a.id, a.backend, a.state, a.created_at FROM anchors a \
         WHERE a.state IN ('pending', 'submitted', 'confirmed', 'failed') \
           AND a.created_at < $1 \
           AND NOT EXISTS (SELECT 1 FROM log_monitor_alerts m \
                           WHERE m.kind = 'late_anchor' AND m.subject = 'anchor:' || a.id::text) \
         ORDER BY a.created_at LIMIT $2",
        made_before,
        limit
    )
    .fetch_all(&mut *conn)
    .await
}
