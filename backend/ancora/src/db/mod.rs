//! The database: one pool, transactions scoped to a tenant (row-level security) or to the
//! system, and the migrations. All SQL lives in this folder, one file per aggregate, as checked
//! `sqlx::query!` macros; callers own the transaction.

pub mod anchors;
pub mod api_keys;
pub mod audit;
pub mod batches;
pub mod chainweb;
pub mod events;
pub mod idempotency;
pub mod jobs;
pub mod monitor;
pub mod portal;
pub mod portal_pages;
pub mod proofs;
pub mod spv;
pub mod submitter_keys;
pub mod tenants;
pub mod tlog;
pub mod usage;
pub mod users;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::domain::TenantId;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A transaction.
pub type Tx = Transaction<'static, Postgres>;

/// The database handle every part of the service shares.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    /// Connects a pool.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let opts: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // No JIT: every statement here is a short OLTP one, and on tables whose statistics
            // are stale (autovacuum off, a fresh bulk load) the planner's estimates cross the
            // JIT threshold and compiling took longer than running (156 ms of JIT for a 0.1 ms
            // sweeper query, measured).
            .connect_with(opts.application_name("ancora").options([("jit", "off")]))
            .await?;
        Ok(Db { pool })
    }

    /// Wraps an existing pool (tests get one from `#[sqlx::test]`).
    pub fn from_pool(pool: PgPool) -> Self {
        Db { pool }
    }

    /// The underlying pool, for LISTEN connections and health checks.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations (as the connecting role, not `ancora_app`).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// True when every embedded migration is applied.
    pub async fn migrations_applied(&self) -> anyhow::Result<bool> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.contains(&m.version)))
    }

    /// Begins a transaction confined to one tenant: the role becomes `ancora_app` and
    /// `ancora.tenant_id` is set, so row-level security admits that tenant's rows only.
    pub async fn tenant_tx(&self, tenant: TenantId) -> sqlx::Result<Tx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "SELECT set_config('role', 'ancora_app', true) AS r, \
                    set_config('ancora.tenant_id', $1, true) AS t",
            tenant.to_string()
        )
        .fetch_one(&mut *tx)
        .await?;
        Ok(tx)
    }

    /// Begins an ingest transaction of one tenant: [`Db::tenant_tx`], plus the tenant's ingest
    /// lock ([`events::lock_for_ingest`]) and its signature policy, in the same round trip.
    /// Returns the transaction and whether the tenant requires signed events (`None`: no such
    /// tenant).
    pub async fn ingest_tx(&self, tenant: TenantId) -> sqlx::Result<(Tx, Option<bool>)> {
        let mut tx = self.pool.begin().await?;
        let (class, key) = events::ingest_lock_key(tenant);
        let row = sqlx::query!(
            r#"SELECT set_config('role', 'ancora_app', true) AS r,
                      set_config('ancora.tenant_id', $1, true) AS t,
                      pg_advisory_xact_lock_shared($2, $3) AS l,
                      (SELECT require_signatures FROM tenants WHERE id = $4) AS "required?""#,
            tenant.to_string(),
            class,
            key,
            tenant.0
        )
        .fetch_one(&mut *tx)
        .await?;
        Ok((tx, row.required))
    }

    /// Begins a transaction with no tenant set, as `ancora_app`: it can read and write the
    /// system tables (jobs, anchors, the log) but no tenant's rows.
    pub async fn system_tx(&self) -> sqlx::Result<Tx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!("SELECT set_config('role', 'ancora_app', true) AS r")
            .fetch_one(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// True when `e` is a unique-constraint violation on `constraint` (for mapping to 409).
pub fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint)
        }
        _ => false,
    }
}
