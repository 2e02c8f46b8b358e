//! Background workers: a Postgres job queue with leases and one file per job.

pub mod queue;

use crate::db::Db;

/// Jobs waiting to run.
pub async fn queue_depth(db: &Db) -> anyhow::Result<i64> {
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs WHERE locked_until IS NULL"#)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// Runs every worker until `shutdown` triggers. (The job runner and jobs are being written.)
pub async fn run(
    _state: crate::http::AppState,
    shutdown: crate::server::tokio_util_shutdown::Shutdown,
) -> anyhow::Result<()> {
    shutdown.wait().await;
    Ok(())
}
