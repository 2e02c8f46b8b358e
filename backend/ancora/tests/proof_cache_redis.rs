//! The shared proof cache (issue 14, item 6), against the real Redis at 127.0.0.1:6379: a
//! final bundle one process read from the database is served to another from Redis, byte for
//! byte; a bundle that is not final never goes there; an entry that does not verify, or is
//! another event's, is never served (the database answers); a Redis that is away or silent
//! never fails a read; an unusable `ANCORA_REDIS_URL` stops start-up naming itself.
//!
//! Each test has its own key prefix (and tenants are new per test), so tests running at once
//! never see each other's keys; each deletes its keys at the end, and entries live 10 minutes
//! in case a test stops before that.

use std::time::{Duration, Instant};

use ancora::config::Config;
use ancora::services::proofs::redis::RedisConfig;
use ancora_proof::bundle::{Bundle, Trust, verify_bundle};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::TestApp;

const REDIS: &str = "redis://127.0.0.1:6379";

/// A configuration of the shared cache on `url` with a prefix of this test's own.
fn redis_config(url: &str) -> RedisConfig {
    let mut c = RedisConfig::new(SecretString::from(url));
    c.key_prefix = format!("ancora-test:{}:proof:v1:", Uuid::new_v4());
    c.ttl = Duration::from_secs(600);
    c
}

fn app_with(pool: &PgPool, redis: &RedisConfig) -> TestApp {
    let redis = redis.clone();
    TestApp::with_config(pool.clone(), move |c: &mut Config| {
        c.settings.redis = Some(redis)
    })
}

async fn redis_conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("the tests need Redis at 127.0.0.1:6379 (redis-server)")
}

fn key_of(c: &RedisConfig, tenant: Uuid, id: &str) -> String {
    format!("{}{tenant}:{id}", c.key_prefix)
}

async fn redis_get(c: &RedisConfig, tenant: Uuid, id: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key_of(c, tenant, id))
        .query_async(&mut redis_conn().await)
        .await
        .expect("GET")
}

async fn redis_set(c: &RedisConfig, tenant: Uuid, id: &str, value: &[u8]) {
    let () = redis::cmd("SET")
        .arg(key_of(c, tenant, id))
        .arg(value)
        .arg("EX")
        .arg(600)
        .query_async(&mut redis_conn().await)
        .await
        .expect("SET");
}

/// The value the shared cache gets for the key, once the background write lands (`None` if
/// nothing came within 3 s).
async fn redis_eventually(c: &RedisConfig, tenant: Uuid, id: &str) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(v) = redis_get(c, tenant, id).await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deletes every key of the test's prefix.
async fn clean(c: &RedisConfig) {
    let mut conn = redis_conn().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", c.key_prefix))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .expect("DEL");
    }
}

/// A tenant with events `ids`, proved; its id and a key.
async fn proved(app: &TestApp, ids: &[&str]) -> (Uuid, String) {
    let (tenant, key) = app.proved_tenant(ids).await;
    (tenant.0, key)
}

async fn get_proof(app: &TestApp, key: &str, id: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/events/{id}/proof"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request");
    let (s, _, b) = app.send_raw(req).await;
    (s, b)
}

fn counts(app: &TestApp) -> (u64, u64, u64) {
    let m = &app.state.metrics;
    (
        m.proof_cache_redis_hits.get(),
        m.proof_cache_redis_misses.get(),
        m.proof_cache_redis_errors.get(),
    )
}

async fn assert_verifies(app: &TestApp, body: &[u8]) {
    let mut tx = app.state.db.system_tx().await.expect("tx");
    let log_key =
        ancora::services::anchoring::tlog::TlogAnchor::from_config(&app.state.settings.log)
            .verifier(&mut tx)
            .await
            .expect("key");
    tx.commit().await.expect("commit");
    let bundle = Bundle::from_json(body).expect("a bundle");
    let trust = Trust {
        log_keys: vec![log_key],
        chainweb_headers: vec![],
    };
    assert!(verify_bundle(&bundle, &trust).is_verified());
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_final_bundle_one_process_read_is_served_to_another_from_redis_byte_for_byte(
    pool: PgPool,
) {
    let cfg = redis_config(REDIS);
    let a = app_with(&pool, &cfg);
    // B holds no batches: a batch held in memory renders its events' bundles without the
    // stored batch tree this test deletes, so B could answer r-2.
    let redis = cfg.clone();
    let b = TestApp::with_config(pool.clone(), move |c: &mut Config| {
        c.settings.redis = Some(redis);
        c.settings.proof_batch_cache_bytes = 0;
    });
    let (tenant, key) = proved(&a, &["r-1", "r-2"]).await;

    let (s, body) = get_proof(&a, &key, "r-1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(counts(&a), (0, 1, 0), "A: a miss, then the database");
    let stored = redis_eventually(&cfg, tenant, "r-1").await;
    assert_eq!(
        stored.as_deref(),
        Some(&body[..]),
        "A put the bytes it served"
    );
    assert_eq!(
        redis_get(&cfg, tenant, "r-2").await,
        None,
        "only what was read"
    );

    // The proofs are gone from the database (the batch tree they are read off): B can only
    // answer r-1 from Redis.
    sqlx::query("UPDATE batches SET tree = NULL")
        .execute(&pool)
        .await
        .expect("delete");
    let (s, from_redis) = get_proof(&b, &key, "r-1").await;
    assert_eq!((s, &from_redis), (StatusCode::OK, &body), "byte for byte");
    assert_eq!(counts(&b), (1, 0, 0), "B: a Redis hit");
    assert_eq!(b.state.proof_cache.len(), 1, "and now in B's memory");
    assert_verifies(&b, &from_redis).await;
    let (s, _) = get_proof(&b, &key, "r-1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(counts(&b), (1, 0, 0), "the second read is from B's memory");
    // r-2 was never read, so it is not in Redis, and its stored proof is gone.
    let (s, _) = get_proof(&b, &key, "r-2").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(counts(&b), (1, 1, 0));
    clean(&cfg).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_bundle_that_is_not_final_is_not_put_in_redis(pool: PgPool) {
    let cfg = redis_config(REDIS);
    let a = app_with(&pool, &cfg);
    let (tenant, key) = proved(&a, &["n-1"]).await;
    // A process whose new anchors go to Chainweb: a bundle with only the log's trust point
    // may still gain its Chainweb one, so it is not final.
    let redis = cfg.clone();
    let chainweb = TestApp::with_config(pool.clone(), move |c: &mut Config| {
        c.settings.redis = Some(redis);
        c.settings.anchor_backend = ancora::config::AnchorBackendKind::Chainweb;
    });
    for _ in 0..2 {
        let (s, body) = get_proof(&chainweb, &key, "n-1").await;
        assert_eq!(s, StatusCode::OK);
        assert_verifies(&chainweb, &body).await;
    }
    assert_eq!(counts(&chainweb), (0, 2, 0), "both reads asked Redis");
    assert_eq!(chainweb.state.proof_cache.len(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        redis_get(&cfg, tenant, "n-1").await,
        None,
        "not final: not put"
    );
    // The same bundle is final to a `tlog` process, which puts it.
    let (s, _) = get_proof(&a, &key, "n-1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(redis_eventually(&cfg, tenant, "n-1").await.is_some());
    // A Chainweb process finds it there, but a bundle that is not final to it is not served
    // from Redis: the database answers.
    let (s, _) = get_proof(&chainweb, &key, "n-1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(counts(&chainweb), (0, 3, 0));
    clean(&cfg).await;
}

/// Ways to damage the entry of `r-1` (`good`: its bundle; `other`: r-2's bundle).
fn damaged(good: &[u8], other: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let v: Value = serde_json::from_slice(good).expect("json");
    let mut digest = v.clone();
    let d = digest["event"]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let last = d.chars().last().expect("a digit");
    let flipped = if last == '0' { '1' } else { '0' };
    digest["event"]["digest"] = json!(format!("{}{flipped}", &d[..d.len() - 1]));
    let mut checkpoint = v.clone();
    let cp = checkpoint["trustPoints"][0]["checkpoint"]
        .as_str()
        .expect("a tlog checkpoint")
        .to_owned();
    let mut chars: Vec<char> = cp.trim_end().chars().collect();
    let i = chars.len() - 10; // inside the signature's base64
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    checkpoint["trustPoints"][0]["checkpoint"] =
        json!(format!("{}\n", chars.into_iter().collect::<String>()));
    let mut renamed = serde_json::from_slice::<Value>(other).expect("json");
    renamed["event"]["eventId"] = json!("r-1");
    vec![
        ("not JSON", b"\x00garbage{".to_vec()),
        ("JSON but no bundle", br#"{"version":2}"#.to_vec()),
        ("another digest", serde_json::to_vec(&digest).expect("json")),
        (
            "a checkpoint the log did not sign",
            serde_json::to_vec(&checkpoint).expect("json"),
        ),
        ("another event's bundle", other.to_vec()),
        (
            "another event's bundle, renamed",
            serde_json::to_vec(&renamed).expect("json"),
        ),
    ]
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_entry_in_redis_that_does_not_verify_is_never_served(pool: PgPool) {
    let cfg = redis_config(REDIS);
    // Both of A's reads must come from their rows (what a process puts in Redis): with batches
    // held, r-2 could be rendered from r-1's batch, loaded beside the first read, and not put.
    let redis = cfg.clone();
    let a = TestApp::with_config(pool.clone(), move |c: &mut Config| {
        c.settings.redis = Some(redis);
        c.settings.proof_batch_cache_bytes = 0;
    });
    let (tenant, key) = proved(&a, &["r-1", "r-2"]).await;
    let (_, good) = get_proof(&a, &key, "r-1").await;
    let (_, other) = get_proof(&a, &key, "r-2").await;
    assert!(redis_eventually(&cfg, tenant, "r-2").await.is_some());
    let cases = damaged(&good, &other);
    assert_eq!(
        cases[4].1, other,
        "the cases are made from the real bundles"
    );
    for (what, bad) in cases {
        assert_ne!(bad, good, "{what}: damaged");
        redis_set(&cfg, tenant, "r-1", &bad).await;
        // A fresh process (nothing in memory): Redis answers the damaged entry first.
        let b = app_with(&pool, &cfg);
        let (s, body) = get_proof(&b, &key, "r-1").await;
        assert_eq!(
            (s, &body),
            (StatusCode::OK, &good),
            "{what}: the database's bundle"
        );
        assert_eq!(counts(&b), (0, 1, 0), "{what}: a miss, not a hit");
        assert_verifies(&b, &body).await;
        // And the database's read puts the good bundle back.
        let deadline = Instant::now() + Duration::from_secs(3);
        while redis_get(&cfg, tenant, "r-1").await.as_deref() != Some(&good[..]) {
            assert!(Instant::now() < deadline, "{what}: not repaired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The repaired entry is served.
    let b = app_with(&pool, &cfg);
    let (s, body) = get_proof(&b, &key, "r-1").await;
    assert_eq!((s, &body), (StatusCode::OK, &good));
    assert_eq!(counts(&b), (1, 0, 0));
    clean(&cfg).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_redis_that_is_away_or_silent_never_fails_a_read(pool: PgPool) {
    // Away: a closed port (connections refused).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    // Silent: accepts connections and never answers (reads must give up after the timeout).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
        }
    });
    for url in [
        format!("redis://127.0.0.1:{closed}"),
        format!("redis://127.0.0.1:{silent_port}"),
    ] {
        let cfg = redis_config(&url);
        let app = app_with(&pool, &cfg);
        let (_, key) = proved(&app, &["x-1", "x-2", "x-3"]).await;
        let started = Instant::now();
        for id in ["x-1", "x-2", "x-1", "x-3"] {
            let (s, body) = get_proof(&app, &key, id).await;
            assert_eq!(s, StatusCode::OK, "{url} {id}");
            assert_verifies(&app, &body).await;
        }
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "{url}: {took:?}");
        let (hits, _, errors) = counts(&app);
        assert_eq!(hits, 0, "{url}");
        assert!(errors >= 1, "{url}: the failure is counted");
        // After an error Redis is left alone for a while: not one timeout per read.
        assert!(errors <= 2, "{url}: {errors} errors for 3 misses");
        assert_eq!(
            app.state.proof_cache.len(),
            3,
            "{url}: served from memory after"
        );
    }
    held.abort();
}

#[test]
fn an_unusable_redis_url_stops_start_up_naming_the_setting() {
    for bad in ["http://127.0.0.1:6379", "redis://:s3cret@127.0.0.1:port"] {
        let err = crate::ops_config::assert_one_line(
            crate::ops_config::run(
                &["serve"],
                &[
                    ("ANCORA_REDIS_URL", bad),
                    ("ANCORA_MASTER_KEY", &"ab".repeat(32)),
                ],
            ),
            1,
            &["ANCORA_REDIS_URL"],
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
}
