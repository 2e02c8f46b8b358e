//! Process start-up and shut-down: choose the database (configured or embedded), migrate, run
//! the API and/or the workers until SIGINT or SIGTERM, then stop cleanly: the listener closes,
//! in-flight requests finish, no new job is claimed, running jobs finish or (after
//! `ANCORA_SHUTDOWN_GRACE_MS`) are abandoned and their leases released; the exit comes within
//! the grace period plus [`SHUTDOWN_BACKSTOP`].

use std::sync::Arc;
use std::time::Duration;

use crate::support::Shutdown;
use secrecy::ExposeSecret as _;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

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
        Some(url) => {
            use anyhow::Context as _;
            let text = url.expose_secret();
            anyhow::ensure!(
                text.starts_with("postgres://") || text.starts_with("postgresql://"),
                "DATABASE_URL: not a Postgres URL (postgres://user:password@host:port/database)"
            );
            let opts: sqlx::postgres::PgConnectOptions = text
                .parse()
                .map_err(|e| anyhow::anyhow!("DATABASE_URL: not a Postgres URL: {e}"))?;
            // Where, without the password.
            let at = format!(
                "{}:{}/{}",
                opts.get_host(),
                opts.get_port(),
                opts.get_database().unwrap_or("")
            );
            let db = Db::connect_tuned(opts, config.pool, config.acquire_timeout)
                .await
                .with_context(|| format!("DATABASE_URL: cannot connect to the database at {at}"))?;
            Ok(Database { db, embedded: None })
        }
        None => {
            let data_dir = config.data_dir.clone();
            let pg =
                tokio::task::spawn_blocking(move || EmbeddedPostgres::start_or_join(&data_dir))
                    .await??;
            pg.ensure_database().await?;
            let db =
                Db::connect_tuned(pg.url().parse()?, config.pool, config.acquire_timeout).await?;
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
        let app = http::router(state.clone());
        let limits = ConnLimits::from(&config.http);
        tasks.spawn({
            let (bp, db, shutdown) = (state.admission.clone(), state.db.clone(), shutdown.clone());
            async move {
                crate::services::admission::run(bp, db, shutdown).await;
                Ok(())
            }
        });
        tasks.spawn({
            let (services, shutdown) = (state.services.clone(), shutdown.clone());
            async move {
                crate::services::authentication::run(services, shutdown).await;
                Ok(())
            }
        });
        tasks.spawn({
            let (billing, shutdown) = (state.billing.clone(), shutdown.clone());
            async move {
                crate::services::billing::run_flusher(billing, shutdown).await;
                Ok(())
            }
        });
        tasks.spawn(http::session::delete_expired_periodically(
            state.db.clone(),
            http::session::CLEANUP_EVERY,
            shutdown.clone(),
        ));
        let shutdown = shutdown.clone();
        tasks.spawn(serve_http(listener, app, limits, shutdown));
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

/// What one HTTP listener allows its clients.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Longest wait for a complete request head, counted from the connection's opening or
    /// its previous answer; the connection is then closed. This bounds slow-header clients
    /// and idle keep-alive connections alike.
    pub header_read_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
}

impl From<&crate::config::HttpConfig> for ConnLimits {
    fn from(h: &crate::config::HttpConfig) -> Self {
        ConnLimits {
            header_read_timeout: h.header_read_timeout,
            max_connections: h.max_connections,
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets open connections finish their
/// requests. Each connection holds one of `limits.max_connections` permits, taken before it is
/// accepted: past the cap, new clients wait in the kernel's backlog and the open-file limit is
/// never reached, so `/healthz` stays reachable once the slow clients time out. Every request
/// carries its client's address (`ConnectInfo<SocketAddr>`, which sign-in throttling counts by).
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnLimits,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p?,
            _ = shutdown.wait() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        );
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open 30 s after shutdown; leaving them");
    }
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
