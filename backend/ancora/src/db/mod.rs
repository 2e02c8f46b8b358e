//! The database: one pool, transactions scoped to a tenant (row-level security) or to the
//! system, and the migrations. All SQL lives in this folder, one file per aggregate, as checked
//! `sqlx::query!` macros; callers own the transaction.

pub mod anchors;
pub mod api_keys;
pub mod archive;
pub mod audit;
pub mod batches;
pub mod billing;
pub mod chainweb;
pub mod events;
pub mod health;
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
pub mod webhooks;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::domain::TenantId;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A transaction.
pub type Tx = Transaction<'static, Postgres>;

/// How long a caller waits for a pooled connection by default (`ANCORA_DB_ACQUIRE_TIMEOUT_MS`).
/// While the database is away every request fails after this long (answered 503 with
/// `Retry-After`, see [`is_unavailable`]) instead of hanging; each attempt connects afresh, so
/// service resumes as soon as the database is back.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// The database handle every part of the service shares.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    /// Connects a pool.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        Self::connect_with(url.parse()?, max_connections).await
    }

    /// Connects a pool with parsed options.
    pub async fn connect_with(
        opts: PgConnectOptions,
        max_connections: u32,
    ) -> anyhow::Result<Self> {
        Self::connect_tuned(opts, max_connections, ACQUIRE_TIMEOUT).await
    }

    /// Connects a pool with parsed options and an acquire timeout.
    pub async fn connect_tuned(
        opts: PgConnectOptions,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            // No connection goes back to the pool inside a transaction (see
            // [`idle_outside_transaction`]).
            .after_release(|conn, _| idle_outside_transaction(conn))
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
    /// `BEGIN` and the settings go as one message ([`begin_tenant_sql`]): one round trip.
    pub async fn tenant_tx(&self, tenant: TenantId) -> sqlx::Result<Tx> {
        self.pool.begin_with(begin_tenant_sql(tenant, "")).await
    }

    /// Begins an ingest transaction of one tenant: [`Db::tenant_tx`] plus the tenant's ingest
    /// lock ([`events::lock_for_ingest`]), in the same round trip. The tenant's signature
    /// policy comes back with the insert ([`events::insert_fresh`], [`events::insert_new`]).
    pub async fn ingest_tx(&self, tenant: TenantId) -> sqlx::Result<Tx> {
        let (class, key) = events::ingest_lock_key(tenant);
        let lock = format!(", pg_advisory_xact_lock_shared({class}, {key})");
        self.pool.begin_with(begin_tenant_sql(tenant, &lock)).await
    }

    /// Begins a transaction with no tenant set, as `ancora_app`: it can read and write the
    /// system tables (jobs, anchors, the log) but no tenant's rows.
    pub async fn system_tx(&self) -> sqlx::Result<Tx> {
        self.pool
            .begin_with("BEGIN; SELECT set_config('role', 'ancora_app', true)")
            .await
    }
}

/// The text that begins a tenant's transaction: `BEGIN`, then the role and the tenant (and
/// `extra` select items, integers only) in one simple-query message, which Postgres runs in
/// order and answers once. That saves the round trip a separate `BEGIN` costs every
/// transaction (a fifth of an ingest's or a proof read's). Nothing from a request goes into
/// this text: a tenant id prints as a UUID (hex digits and dashes). Should the `SELECT` fail,
/// the connection is left in an aborted transaction and the pool's release check closes it.
fn begin_tenant_sql(tenant: TenantId, extra: &str) -> String {
    format!(
        "BEGIN; SELECT set_config('role', 'ancora_app', true), \
         set_config('ancora.tenant_id', '{tenant}', true){extra}"
    )
}

/// The pool's release check: true when the connection is outside any transaction block, so it
/// may be reused; false (the pool then closes it, and the server rolls back) when it is inside
/// one. sqlx 0.8 counts a transaction only once `BEGIN` has answered, so a task cancelled while
/// `BEGIN` is in flight releases a connection that is in a transaction without knowing it
/// (upstream issue transact-rs/sqlx#4393); the next user would then run inside that stray
/// transaction. The check relies on a documented Postgres rule: `statement_timestamp()` equals
/// `transaction_timestamp()` exactly in the first statement of a transaction, which this query
/// is unless a transaction block is open. It goes over the simple query protocol on purpose
/// (a query without arguments, not a checked macro): there the statement is one message, so the two
/// timestamps are equal outside a transaction block; the extended protocol stamps Parse/Bind
/// and Execute apart, and would now and then see a transaction where there is none. In an aborted transaction the
/// query fails, and the pool closes the connection too.
fn idle_outside_transaction(
    conn: &mut sqlx::PgConnection,
) -> futures_util::future::BoxFuture<'_, sqlx::Result<bool>> {
    Box::pin(async move {
        use sqlx::Row as _;
        let row = sqlx::Executor::fetch_one(
            conn,
            "SELECT statement_timestamp() <> transaction_timestamp()",
        )
        .await?;
        let inside: bool = row.try_get(0)?;
        if inside {
            tracing::warn!("a connection was released inside a transaction; closing it");
        }
        Ok(!inside)
    })
}

/// True when `e` means the database cannot be reached or cannot serve right now: no pooled
/// connection within [`ACQUIRE_TIMEOUT`], a connection lost or refused, or the server shutting
/// down, starting or out of connections. Such a request is answered 503 with `Retry-After`.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300"),
        _ => false,
    }
}

/// True when Postgres refused text it cannot store: a NUL character (22021, 22P05). The
/// request's input is at fault (400), not the service.
pub fn is_unstorable_text(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c == "22021" || c == "22P05"),
        _ => false,
    }
}

/// The first `sqlx::Error` in `e`'s chain of causes, if any.
pub fn sqlx_cause(e: &anyhow::Error) -> Option<&sqlx::Error> {
    e.chain().find_map(|c| c.downcast_ref::<sqlx::Error>())
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
