//! The API-key cache (issue 13): a known key is served from memory, a revoked key or a
//! suspended tenant stops working on every process within a second (two real `ancora serve`
//! processes on one database), and a flood of random keys gets 401 without evicting real keys.

use std::time::{Duration, Instant};

use ancora::domain::Role;
use ancora::support::Shutdown;
use axum::http::{Method, StatusCode};
use sqlx::PgPool;

use crate::helpers::TestApp;
use crate::helpers::process::{Server, database_url_of, http, tempdir, tenant_and_key};

/// `ancora_api_key_cache_hits_total` as a server's `/metrics` reports it.
async fn cache_hits(port: u16) -> u64 {
    let (status, body) = http(port, "GET", "/metrics", None, None)
        .await
        .expect("metrics");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).expect("utf-8");
    text.lines()
        .find_map(|l| l.strip_prefix("ancora_api_key_cache_hits_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no cache hit counter in /metrics:\n{text}"))
}

/// Uses `key` on the server until a use is served from its cache (the listener connects
/// during start-up); panics after 10 s.
async fn warm(port: u16, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let before = cache_hits(port).await;
    loop {
        let (status, _) = http(port, "GET", "/v1/events/none", Some(key), None)
            .await
            .expect("request");
        assert_eq!(status, 404, "the key works before the change");
        if cache_hits(port).await > before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the key never came from the cache"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long until `key` is answered `want` by the server, polling every 10 ms (at most 5 s).
async fn time_until(port: u16, key: &str, want: u16, since: Instant) -> Duration {
    loop {
        let (status, _) = http(port, "GET", "/v1/events/none", Some(key), None)
            .await
            .expect("request");
        if status == want {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "still {status} after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_revoked_key_and_a_suspended_tenant_stop_working_on_every_process_within_a_second(
    pool: PgPool,
) {
    // Arrange: two processes, both serving the keys from their caches.
    let dir = tempdir("key-cache");
    let (tenant, key) = tenant_and_key(&pool).await;
    let db = ancora::db::Db::from_pool(pool.clone());
    let other = ancora::admin::create_api_key(&db, tenant, Role::Auditor, "other", "test")
        .await
        .expect("second key");
    let other = secrecy::ExposeSecret::expose_secret(&other.key).to_owned();
    let env = vec![
        ("DATABASE_URL", database_url_of(&pool)),
        ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
    ];
    let a = Server::start(&env, &dir.join("a.log"), Duration::from_secs(60)).await;
    let b = Server::start(&env, &dir.join("b.log"), Duration::from_secs(60)).await;
    for port in [a.port, b.port] {
        warm(port, &key).await;
        warm(port, &other).await;
    }

    // Act 1: revoke the first key (plain SQL: whichever path revokes, the database announces).
    sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1")
        .bind(ancora::db::api_keys::hash_key(&key).as_slice())
        .execute(&pool)
        .await
        .expect("revoke");
    let revoked = Instant::now();

    // Assert 1: 401 on both within a second (the cache lifetime is far longer); the other key
    // still works.
    for port in [a.port, b.port] {
        let took = time_until(port, &key, 401, revoked).await;
        assert!(took <= Duration::from_secs(1), "revocation took {took:?}");
        let (status, _) = http(port, "GET", "/v1/events/none", Some(&other), None)
            .await
            .expect("request");
        assert_eq!(status, 404, "an unrelated key is not affected");
    }

    // Act 2: suspend the tenant.
    for port in [a.port, b.port] {
        warm(port, &other).await;
    }
    sqlx::query("UPDATE tenants SET status = 'suspended' WHERE id = $1")
        .bind(tenant.0)
        .execute(&pool)
        .await
        .expect("suspend");
    let suspended = Instant::now();

    // Assert 2
    for port in [a.port, b.port] {
        let took = time_until(port, &other, 403, suspended).await;
        assert!(took <= Duration::from_secs(1), "suspension took {took:?}");
    }
    a.stop().await;
    b.stop().await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_flood_of_random_keys_gets_401_and_does_not_evict_real_keys(pool: PgPool) {
    // Arrange: the app with its change listener running.
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let shutdown = Shutdown::new();
    let listener = tokio::spawn(ancora::services::authentication::run(
        app.state.services.clone(),
        shutdown.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.state.keys.is_live() {
        assert!(Instant::now() < deadline, "the listener never connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, _, _) = app
        .request(Method::GET, "/v1/events/none", Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.state.keys.len(), 1);
    let misses = app.state.metrics.api_key_cache_misses.get();

    // Act: well-formed random keys (each looked up: unknown), then malformed ones.
    for i in 0..300u32 {
        let random = format!(
            "ak_{:08}_{:0>43}",
            i,
            format!("{:x}", i.wrapping_mul(2654435761))
        );
        let got = app
            .request(Method::GET, "/v1/events/none", Some(&random), None)
            .await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{random}: {:?}", got.2);
    }
    let after_flood = app.state.metrics.api_key_cache_misses.get();
    for bad in [
        "ak_short",
        "Bearer",
        "ak_ABCDEFGH_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ] {
        let got = app
            .request(Method::GET, "/v1/events/none", Some(bad), None)
            .await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED);
    }
    let hits = app.state.metrics.api_key_cache_hits.get();
    let (status, _, _) = app
        .request(Method::GET, "/v1/events/none", Some(&key), None)
        .await;

    // Assert: unknown keys were looked up but not cached; malformed ones not even looked up;
    // the real key is still served from the cache.
    assert_eq!(after_flood - misses, 300);
    assert_eq!(app.state.metrics.api_key_cache_misses.get(), after_flood);
    assert_eq!(app.state.keys.len(), 1);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.state.metrics.api_key_cache_hits.get(), hits + 1);
    shutdown.trigger();
    listener.await.expect("listener ends");
    assert!(!app.state.keys.is_live());
}
