//! API bodies under mutation: valid bodies of every `/v1` route that takes one, mutated at
//! random (JSON-aware: values swapped for hostile ones, keys dropped or added, nesting; and
//! byte-level: flips, cuts, inserts), sent in-process with keys of every role. No answer may
//! be a 500, and every `/v1` error is problem+json. Runs `ANCORA_FUZZ_API_SECS` seconds
//! (default 6; the long form of `e2e/bench/reliability.sh` gives it minutes) and prints
//! `FUZZ api_bodies cases=… crashes=…`. A failing case prints its body; it becomes a
//! regression test beside its fix. (The pure decoders are fuzzed by libFuzzer:
//! `backend/proof/fuzz`.)

use std::time::{Duration, Instant};

use ancora::domain::Role;
use axum::body::Body;
use axum::http::{Request, header};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, digest_of};

use crate::portal::fixture;

/// Hostile values a mutation puts in place of any JSON value.
fn hostile(rng: &mut StdRng) -> Value {
    let long = "x".repeat(rng.gen_range(250..70_000));
    let choices: Vec<Value> = vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1.5e308),
        json!(""),
        json!(long),
        json!("\u{0}"),
        json!("a\u{0}b"),
        json!("\u{202E}evil"),
        json!("\u{200B}"),
        json!("\u{FEFF}x"),
        json!("../../etc/passwd"),
        json!("%00"),
        json!("sha256:"),
        json!(format!("sha256:{}", "0".repeat(64))),
        json!(format!("sha256:{}", "g".repeat(64))),
        json!(format!("sha512_256:{}", "f".repeat(63))),
        json!("=="),
        json!("////"),
        json!("AAAA"),
        json!([]),
        json!({}),
        serde_json::from_str(&format!("{}1{}", "[".repeat(30), "]".repeat(30))).expect("nested"),
        json!({ "a": { "b": { "c": { "d": { "e": {} } } } } }),
        json!("日本語"),
        json!("\\u0000"),
        json!("'; DROP TABLE events; --"),
    ];
    choices[rng.gen_range(0..choices.len())].clone()
}

/// A JSON-aware mutation: one node of `v` replaced, removed, duplicated or given a stranger.
fn mutate_value(v: &mut Value, rng: &mut StdRng) {
    match v {
        Value::Object(map) if !map.is_empty() && rng.gen_bool(0.8) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let k = keys[rng.gen_range(0..keys.len())].clone();
            match rng.gen_range(0..6) {
                0 => {
                    map.remove(&k);
                }
                1 => {
                    map.insert(format!("{k}_unknown"), hostile(rng));
                }
                2 => {
                    map.insert(k, hostile(rng));
                }
                _ => {
                    if let Some(child) = map.get_mut(&k) {
                        mutate_value(child, rng);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() && rng.gen_bool(0.8) => {
            let i = rng.gen_range(0..items.len());
            match rng.gen_range(0..5) {
                0 => {
                    items.remove(i);
                }
                1 => {
                    let copy = items[i].clone();
                    let n = rng.gen_range(1..50);
                    for _ in 0..n {
                        items.push(copy.clone());
                    }
                }
                _ => mutate_value(&mut items[i], rng),
            }
        }
        _ => *v = hostile(rng),
    }
}

/// A byte-level mutation.
fn mutate_bytes(b: &mut Vec<u8>, rng: &mut StdRng) {
    if b.is_empty() {
        b.push(b'{');
        return;
    }
    let i = rng.gen_range(0..b.len());
    match rng.gen_range(0..5) {
        0 => b[i] ^= 1 << rng.gen_range(0..8),
        1 => b.truncate(i),
        2 => b.insert(
            i,
            [0u8, 0xFF, b'"', b'\\', b'{', b']', 0xC3, 0xED][rng.gen_range(0..8)],
        ),
        3 => {
            b.remove(i);
        }
        _ => {
            let tail = b[i..].to_vec();
            b.extend_from_slice(&tail[..tail.len().min(64)]);
        }
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn mutated_api_bodies_never_get_a_500_or_a_non_problem_error(pool: PgPool) {
    // Arrange: keys of every role, valid seeds for every body-taking route.
    let secs = std::env::var("ANCORA_FUZZ_API_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6u64);
    let seed: u64 = std::env::var("ANCORA_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::new(pool);
    let tenant = app.tenant().await;
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push(app.key(tenant, role).await);
    }
    let public = hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[3; 32])
            .verifying_key()
            .to_bytes(),
    );
    let bundle = serde_json::to_value(fixture::bundle()).expect("bundle");
    let event = json!({ "id": "f-1", "digest": digest_of("f-1"), "metadata": { "k": "v" } });
    let seeds: Vec<(&str, &str, Value)> = vec![
        (
            "POST",
            "/v1/events",
            json!({ "events": [event.clone(), { "id": "f-2", "content": "aGVsbG8=" }] }),
        ),
        (
            "POST",
            "/v1/events/batch",
            json!({ "events": [event.clone()] }),
        ),
        (
            "POST",
            "/v1/audit/batch",
            json!({ "events": [event], "policy": "window", "tenantId": tenant.to_string() }),
        ),
        ("POST", "/v1/proof/verify", json!({ "bundle": bundle })),
        (
            "POST",
            "/v1/spv",
            json!({ "chainId": "0", "requestKey": "A".repeat(43), "targetChainId": 1 }),
        ),
        (
            "POST",
            "/v1/spv/verify",
            json!({ "proof": "eyJjaGFpbiI6MH0", "chainId": 0, "header": { "height": 1 } }),
        ),
        (
            "POST",
            "/v1/submitter-keys",
            json!({ "name": "fz", "publicKey": public }),
        ),
        (
            "PUT",
            "/v1/submitter-keys/policy",
            json!({ "requireSignatures": false }),
        ),
        (
            "POST",
            "/v1/webhooks",
            json!({ "url": "https://hooks.example.test/a", "events": ["event.proved"] }),
        ),
        (
            "POST",
            "/v1/billing/stripe/webhook",
            json!({ "id": "evt_1", "type": "invoice.paid", "data": { "object": {} } }),
        ),
    ];

    // Act
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut cases = 0u64;
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    let mut crashes = Vec::new();
    while Instant::now() < deadline {
        let (method, path, seed_body) = &seeds[rng.gen_range(0..seeds.len())];
        let mut v = seed_body.clone();
        for _ in 0..rng.gen_range(1..4) {
            mutate_value(&mut v, &mut rng);
        }
        let mut bytes = serde_json::to_vec(&v).expect("json");
        if rng.gen_bool(0.3) {
            for _ in 0..rng.gen_range(1..4) {
                mutate_bytes(&mut bytes, &mut rng);
            }
        }
        let key = &keys[rng.gen_range(0..keys.len())];
        let content_type = match rng.gen_range(0..10) {
            0 => "text/plain",
            1 => "application/json; charset=latin1",
            _ => "application/json",
        };
        let mut req = Request::builder()
            .method(*method)
            .uri(*path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, content_type);
        if rng.gen_bool(0.1) {
            req = req.header("Idempotency-Key", format!("k{}", rng.gen_range(0..5)));
        }
        if path.ends_with("webhook") {
            req = req.header(
                "Stripe-Signature",
                format!(
                    "t={},v1={}",
                    rng.gen_range(0..2_000_000_000u64),
                    "ab".repeat(32)
                ),
            );
        }
        let (status, headers, body) = app
            .send(req.body(Body::from(bytes.clone())).expect("request"))
            .await;
        cases += 1;
        *statuses.entry(status.as_u16()).or_default() += 1;
        let problem = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            == Some("application/problem+json");
        if status.as_u16() == 500
            || (status.is_client_error() || status.is_server_error()) && !problem
        {
            crashes.push(format!(
                "{method} {path} → {status} {body}\n  body sent: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(600)])
            ));
        }
    }

    // Assert
    println!(
        "FUZZ api_bodies seed={seed} secs={secs} cases={cases} crashes={} statuses={statuses:?}",
        crashes.len()
    );
    assert!(cases > 50, "only {cases} cases in {secs} s");
    assert!(
        crashes.is_empty(),
        "{} bad answers (seed {seed}); first:\n{}",
        crashes.len(),
        crashes[..crashes.len().min(3)].join("\n")
    );
}
