//! Process start-up and shut-down: choose the database (configured or embedded), migrate, run
//! the API and/or the workers until SIGINT or SIGTERM, then stop cleanly: the listener closes,
//! in-flight requests finish, no new job is claimed, running jobs finish or (after
//! `ANCORA_SHUTDOWN_GRACE_MS`) are abandoned and their leases released; the exit comes within
//! the grace period plus [`SHUTDOWN_BACKSTOP`].

use crate::support::Shutdown;
use secrecy::ExposeSecret as _;
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::config::{Config, DatabaseConfig};
use crate::db::Db;
use crate::embedded_pg::EmbeddedPostgres;
use crate::http;

/// How long past the grace period a shutdown waits for the HTTP server and the workers before
/// abandoning them.
pub const SHUTDOWN_BACKSTOP: std::time::Duration = std::time::Duration::from_secs(5);

/// Which parts of the service this process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// Serve HTTP.
    pub api: bool,
    /// Run background workers.
    pub workers: bool,
}

/// A connected database, and the embedded cluster behind it if there is one (stopped when this
/// is dropped, if this process started it).
#[derive(Debug)]
pub struct Database {
    /// The pool.
    pub db: Db,
    /// The embedded cluster, if used.
    pub embedded: Option<EmbeddedPostgres>,
}

/// Connects to `DATABASE_URL`, or starts (or joins) the embedded cluster.
pub async fn open_database(config: &DatabaseConfig) -> anyhow::Result<Database> {
    match &config.url {
        Some(url) => Ok(Database {
            db: Db::connect(url.expose_secret(), config.pool).await?,
            embedded: None,
        }),
        None => {
            let data_dir = config.data_dir.clone();
            let pg =
                tokio::task::spawn_blocking(move || EmbeddedPostgres::start_or_join(&data_dir))
                    .await??;
            pg.ensure_database().await?;
            let db = Db::connect(&pg.url(), config.pool).await?;
            Ok(Database {
                db,
                embedded: Some(pg),
            })
        }
    }
}

/// Runs the service until a shutdown signal.
pub async fn serve(config: Config, parts: Parts) -> anyhow::Result<()> {
    let database = open_database(&config.database).await?;
    database.db.migrate().await?;
    let state = AppState::new(database.db.clone(), config.clone());
    if parts.api {
        crate::bootstrap::first_start(&state, database.embedded.is_some()).await?;
    }
    let shutdown = Shutdown::new();
    let mut tasks = tokio::task::JoinSet::new();
    if parts.workers {
        let state = state.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move { crate::workers::run(state, shutdown).await });
    }
    if !parts.api
        && let Some(addr) = config.ops_listen
    {
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "serving /healthz, /readyz and /metrics");
        let (app, shutdown) = (http::ops_router(state.clone()), shutdown.clone());
        tasks.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.wait().await })
                .await
                .map_err(anyhow::Error::from)
        });
    }
    if parts.api {
        let listener = TcpListener::bind(config.http.listen).await?;
        tracing::info!(addr = %listener.local_addr()?, "listening");
        let app = http::app(state.clone());
        tasks.spawn({
            let (bp, db, shutdown) = (state.admission.clone(), state.db.clone(), shutdown.clone());
            async move {
                crate::services::admission::run(bp, db, shutdown).await;
                Ok(())
            }
        });
        tasks.spawn(http::session::delete_expired_periodically(
            state.db.clone(),
            http::session::CLEANUP_EVERY,
            shutdown.clone(),
        ));
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.wait().await })
                .await
                .map_err(anyhow::Error::from)
        });
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    shutdown.trigger();
    // The workers give their jobs `shutdown_grace` (then release them); in-flight requests get
    // as long. This bound is the backstop that makes the exit time bounded whatever hangs.
    let bound = config.shutdown_grace + SHUTDOWN_BACKSTOP;
    let drained = tokio::time::timeout(bound, async {
        while let Some(res) = tasks.join_next().await {
            if let Ok(Err(e)) = res {
                tracing::error!(error = %e, "task ended with an error");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            bound_ms = bound.as_millis() as u64,
            "tasks still running at the shutdown bound were abandoned"
        );
        tasks.shutdown().await;
    }
    state.db.pool().close().await;
    drop(database);
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
