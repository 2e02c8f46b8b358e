//! Reliability findings of the probe (issue 17), each pinned: a database outage answers 503
//! with `Retry-After` at once and service resumes when it returns; requests aborted at any
//! stage leave no transaction open; slow or idle clients are cut off and cannot crowd out
//! `/healthz`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ancora::db::Db;
use ancora::domain::Role;
use ancora::server::{ConnLimits, serve_http};
use ancora::support::Shutdown;
use axum::http::{Method, StatusCode, header};
use rand::Rng as _;
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::process::http;
use crate::helpers::{TestApp, digest_of};

/// A TCP proxy in front of Postgres that can be cut (every open link dropped; new ones closed
/// at once, as a stopped server refuses them, or held unanswered, as a partitioned network
/// or a hung server does) and restored: a database outage as the service sees it.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    blackhole: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let blackhole = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, links, blackhole) = (up.clone(), links.clone(), blackhole.clone());
            async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up.load(Ordering::SeqCst) {
                        if blackhole.load(Ordering::SeqCst) {
                            let held = tokio::spawn(async move {
                                let _client = client;
                                std::future::pending::<()>().await
                            });
                            links.lock().expect("links").push(held.abort_handle());
                        }
                        continue;
                    }
                    let upstream = upstream.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().expect("links").push(link.abort_handle());
                }
            }
        });
        Proxy {
            port,
            up,
            blackhole,
            links,
            accept,
        }
    }

    fn cut(&self, blackhole: bool) {
        self.blackhole.store(blackhole, Ordering::SeqCst);
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut(false);
        self.accept.abort();
    }
}

fn options_of(pool: &PgPool) -> PgConnectOptions {
    (*pool.connect_options()).clone()
}

async fn stray_transactions(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM pg_stat_activity
           WHERE datname = current_database() AND state LIKE 'idle in transaction%'"#
    )
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

/// Serves `app`'s state on a fresh port with `limits`, the way `ancora serve` does.
async fn serve(app: &TestApp, limits: ConnLimits) -> (SocketAddr, Shutdown) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let router = ancora::http::router(app.state.clone());
    tokio::spawn(serve_http(listener, router, limits, shutdown.clone()));
    (addr, shutdown)
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_database_outage_answers_503_with_retry_after_at_once_and_service_resumes_within_5_s(
    pool: PgPool,
) {
    // Arrange: the service reaches Postgres through a proxy we can cut.
    let opts = options_of(&pool);
    let proxy = Proxy::start(format!("{}:{}", opts.get_host(), opts.get_port())).await;
    let db = Db::connect_with(opts.clone().host("127.0.0.1").port(proxy.port), 4)
        .await
        .expect("pool");
    let app = TestApp::from_db(db, |_| {});
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let (s, b) = app
        .post_events(&key, json!([{ "id": "before", "digest": digest_of("b") }]))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(
        app.request(Method::GET, "/readyz", None, None).await.0,
        StatusCode::OK
    );

    // Act: the database goes away, refusing connections, then not answering at all.
    for blackhole in [false, true] {
        proxy.cut(blackhole);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let body = json!({ "events": [{ "id": "during", "digest": digest_of("d") }] });
        for (method, path, body) in [
            (Method::POST, "/v1/events", Some(body.clone())),
            (Method::GET, "/v1/events/before", None),
            (Method::GET, "/v1/events/before/proof", None),
            (Method::POST, "/v1/events", Some(body)),
        ] {
            let started = Instant::now();
            let (status, headers, problem) =
                app.request(method.clone(), path, Some(&key), body).await;
            let took = started.elapsed();
            // Assert: a fast, honest 503 that says when to retry.
            let what = format!("{method} {path} (blackhole: {blackhole})");
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {problem}");
            assert!(took < Duration::from_millis(2500), "{what} took {took:?}");
            assert!(headers.contains_key(header::RETRY_AFTER), "{what}");
            assert_eq!(
                headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json")
            );
        }
        // The portal: a page behind a session (the session store is the database too).
        let session = tower_sessions::session::Id::default();
        let started = Instant::now();
        let (status, headers, _) = app
            .send(
                axum::http::Request::builder()
                    .uri("/account")
                    .header(header::COOKIE, format!("ancora_session={session}"))
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await;
        let took = started.elapsed();
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "portal (blackhole: {blackhole})"
        );
        assert!(took < Duration::from_millis(2500), "portal took {took:?}");
        assert!(headers.contains_key(header::RETRY_AFTER));
        assert!(
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html")),
            "a page"
        );
        let started = Instant::now();
        let ready = app.request(Method::GET, "/readyz", None, None).await;
        assert_eq!(ready.0, StatusCode::SERVICE_UNAVAILABLE);
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1500), "readyz took {took:?}");
    }

    // The database comes back: service resumes within 5 s.
    proxy.restore();
    let back = Instant::now();
    loop {
        let (s, _) = app
            .post_events(&key, json!([{ "id": "after", "digest": digest_of("a") }]))
            .await;
        if s == StatusCode::ACCEPTED {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not back after 5 s: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.request(Method::GET, "/readyz", None, None).await.0,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_connection_released_inside_a_transaction_is_closed_not_reused(pool: PgPool) {
    // Arrange: the service's own pool.
    let db = Db::connect_with(options_of(&pool), 2).await.expect("pool");

    // Act: a connection goes back to the pool while the server has a transaction open on
    // it and sqlx does not know (what a cancelled `BEGIN` leaves).
    {
        let mut conn = db.pool().acquire().await.expect("acquire");
        sqlx::raw_sql("BEGIN")
            .execute(&mut *conn)
            .await
            .expect("begin");
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while stray_transactions(&pool).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Assert: no stray transaction, and the pool still serves transactions.
    assert_eq!(stray_transactions(&pool).await, 0);
    for _ in 0..4 {
        let tx = db.system_tx().await.expect("tx");
        tx.commit().await.expect("commit");
    }
}

/// Counts warnings about transactions: Postgres' notices as sqlx logs them ("there is already
/// a transaction in progress", "there is no transaction in progress") and the pool's own
/// release check ("released inside a transaction").
#[derive(Clone, Default)]
struct TransactionWarnings(Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for TransactionWarnings {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let m = e.metadata();
        let ours = m.target().starts_with("sqlx::postgres::notice")
            || m.target().starts_with("ancora::db");
        if ours
            && matches!(*m.level(), tracing::Level::WARN | tracing::Level::ERROR)
            && self.0.fetch_add(1, Ordering::SeqCst) < 3
        {
            // The first few are printed, to say what went wrong.
            let mut text = String::new();
            e.record(&mut |f: &tracing::field::Field, v: &dyn std::fmt::Debug| {
                text.push_str(&format!("{}={v:?} ", f.name()));
            });
            eprintln!("warning from {}: {text}", m.target());
        }
    }
}

impl TransactionWarnings {
    /// Installs the counter for the whole test process (nextest runs each test in its own).
    fn install() -> Self {
        use tracing_subscriber::layer::SubscriberExt as _;
        let w = TransactionWarnings::default();
        let _ =
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(w.clone()));
        w
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn raw_request(method: &str, path: &str, key: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[sqlx::test(migrations = "../../migrations")]
async fn requests_aborted_at_every_stage_leave_no_stray_transaction_and_break_nothing(
    pool: PgPool,
) {
    // Arrange: the service as `ancora serve` runs it, on its own pool.
    let warnings = TransactionWarnings::install();
    let db = Db::connect_with(options_of(&pool), 6).await.expect("pool");
    let app = TestApp::from_db(db, |_| {});
    let (_, key) = app.tenant_with_key(Role::Owner).await;
    let limits = ConnLimits {
        header_read_timeout: Duration::from_secs(5),
        max_connections: 256,
    };
    let (addr, shutdown) = serve(&app, limits).await;

    // Act: 1000 requests of every kind, each abandoned at a random byte of the request or a
    // random moment (0-6 ms) after it was sent.
    let mut tasks = tokio::task::JoinSet::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(48));
    for i in 0..1000 {
        let (key, gate) = (key.clone(), gate.clone());
        tasks.spawn(async move {
            let _p = gate.acquire_owned().await.expect("gate");
            let one = json!({ "events": [{ "id": format!("a-{i}"), "digest": digest_of(&i.to_string()) }] }).to_string();
            let raw = match i % 5 {
                0 | 1 => raw_request("POST", "/v1/events", &key, &one),
                2 => raw_request("POST", "/v1/events/batch", &key, &one),
                3 => raw_request("GET", &format!("/v1/events/a-{}", i - 1), &key, ""),
                _ => raw_request("POST", "/v1/audit/batch", &key, &one),
            };
            let (cut, wait_us) = {
                let mut rng = rand::thread_rng();
                let cut = if rng.gen_bool(0.2) { rng.gen_range(0..raw.len()) } else { raw.len() };
                (cut, rng.gen_range(0..6000))
            };
            let Ok(mut s) = TcpStream::connect(addr).await else { return };
            let _ = s.write_all(&raw[..cut]).await;
            tokio::time::sleep(Duration::from_micros(wait_us)).await;
            drop(s);
        });
    }
    while tasks.join_next().await.is_some() {}
    // Let every request's own task run to its end: then every connection of the service's
    // pool is back in it, and any that is still inside a transaction is a stray one.
    let service_pool = app.state.db.pool().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet = 0;
    while quiet < 5 && Instant::now() < deadline {
        let idle = service_pool.num_idle() as u32 == service_pool.size();
        quiet = if idle { quiet + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(quiet, 5, "requests still running after 30 s");

    // Assert: no transaction warning, nothing left inside a transaction, and everything
    // still works.
    assert_eq!(
        warnings.count(),
        0,
        "transaction warnings during the aborts"
    );
    assert_eq!(
        stray_transactions(&pool).await,
        0,
        "stray transactions after aborts"
    );
    for i in 0..30 {
        let body = json!({ "events": [{ "id": format!("ok-{i}"), "digest": digest_of("ok") }] });
        let (status, text) = http(addr.port(), "POST", "/v1/events", Some(&key), Some(&body))
            .await
            .expect("request");
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&text));
    }
    let (status, _) = http(
        addr.port(),
        "POST",
        "/v1/events/batch",
        Some(&key),
        Some(&json!({ "events": [{ "id": "ok-b", "digest": digest_of("b") }] })),
    )
    .await
    .expect("request");
    assert_eq!(status, 202);
    assert_eq!(stray_transactions(&pool).await, 0);
    assert_eq!(warnings.count(), 0, "transaction warnings afterwards");
    shutdown.trigger();
}

/// Reads until the peer closes the connection (`true`) or `within` passes (`false`).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn slow_header_clients_are_cut_off_and_cannot_lock_healthz_out(pool: PgPool) {
    let app = TestApp::new(pool);
    let limits = ConnLimits {
        header_read_timeout: Duration::from_millis(800),
        max_connections: 40,
    };
    let (addr, shutdown) = serve(&app, limits).await;

    // Act: 30 clients that never finish their headers.
    let mut slow = Vec::new();
    for _ in 0..30 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
            .await
            .expect("write");
        slow.push(s);
    }
    let healthz_beside_them = http(addr.port(), "GET", "/healthz", None, None).await;
    // All of them, and more than the cap.
    let mut closed = 0;
    for s in &mut slow {
        closed += usize::from(closed_within(s, Duration::from_secs(3)).await);
    }
    let mut crowd = Vec::new();
    for _ in 0..60 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
        crowd.push(s);
    }
    let started = Instant::now();
    let healthz_past_the_cap = tokio::time::timeout(
        Duration::from_secs(5),
        http(addr.port(), "GET", "/healthz", None, None),
    )
    .await;
    let waited = started.elapsed();

    // Assert
    assert_eq!(healthz_beside_them.expect("healthz").0, 200);
    assert_eq!(closed, 30, "slow clients still open after 3 s");
    assert_eq!(
        healthz_past_the_cap
            .expect("healthz in 5 s")
            .expect("healthz")
            .0,
        200
    );
    assert!(waited < Duration::from_secs(4), "healthz waited {waited:?}");
    shutdown.trigger();
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_idle_keep_alive_connection_is_closed(pool: PgPool) {
    let app = TestApp::new(pool);
    let limits = ConnLimits {
        header_read_timeout: Duration::from_millis(500),
        max_connections: 16,
    };
    let (addr, shutdown) = serve(&app, limits).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.expect("read");
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "first answer"
    );

    // The connection stays open after the answer (keep-alive), then idles.
    assert!(
        closed_within(&mut s, Duration::from_secs(3)).await,
        "idle connection kept open"
    );
    shutdown.trigger();
}
