//! The transparency log's public endpoints, in-process: checkpoint, consistency, key.

use ancora::app::AppState;
use ancora::workers;
use ancora_proof::Hash;
use ancora_proof::tlog::{self, open_checkpoint, parse_verifier_key};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use sqlx::PgPool;
use tower::ServiceExt as _;

use crate::workers::{events, state_with, submit, tenant};

/// GETs `uri` without credentials: status, content type, body.
async fn get(state: &AppState, uri: &str) -> (StatusCode, String, String) {
    let resp = ancora::http::router(state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, ctype, String::from_utf8_lossy(&body).into_owned())
}

/// Makes `n` anchors, one per round (one tenant on its own chain each round).
async fn grow_log(state: &AppState, n: usize) {
    for round in 0..n {
        let auth = tenant(state, Some(round as i32 % 20)).await;
        submit(state, &auth, events(&format!("g{round}"), 2)).await;
        workers::run_all_jobs_now(state).await.expect("jobs");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_empty_log_publishes_a_signed_checkpoint_of_size_zero(pool: PgPool) {
    let state = state_with(pool, |_| {});

    let (status, ctype, note) = get(&state, "/v1/log/checkpoint").await;
    let (_, _, key) = get(&state, "/v1/log/key").await;

    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain"));
    let verifier = parse_verifier_key(&key).expect("a verifier key");
    let cp = open_checkpoint(&note, &verifier).expect("signed by the published key");
    assert_eq!(cp.size, 0);
    assert_eq!(cp.origin, "ancora.test/log");
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_anchor_grows_the_log_and_the_latest_checkpoint_covers_it(pool: PgPool) {
    let state = state_with(pool, |_| {});
    grow_log(&state, 3).await;

    let (status, _, note) = get(&state, "/v1/log/checkpoint").await;
    let (key_status, key_type, key) = get(&state, "/v1/log/key").await;

    assert_eq!((status, key_status), (StatusCode::OK, StatusCode::OK));
    assert!(key_type.starts_with("text/plain"));
    let verifier = parse_verifier_key(&key).expect("a verifier key");
    let cp = open_checkpoint(&note, &verifier).expect("signed by the published key");
    assert_eq!(cp.size, 3);
}

#[sqlx::test(migrations = "../../migrations")]
async fn consistency_proofs_between_any_two_sizes_verify_against_the_signed_roots(pool: PgPool) {
    let state = state_with(pool, |_| {});
    grow_log(&state, 5).await;
    let mut tx = state.db.system_tx().await.expect("tx");
    let roots: Vec<Hash> = sqlx::query_scalar!("SELECT root FROM tlog_checkpoints ORDER BY size")
        .fetch_all(&mut *tx)
        .await
        .expect("checkpoints")
        .iter()
        .map(|r| Hash::from_slice(r).expect("32 bytes"))
        .collect();
    tx.commit().await.expect("commit");
    assert_eq!(roots.len(), 5, "one checkpoint per append");

    for from in 1..=5u64 {
        for to in from..=5u64 {
            let (status, ctype, body) =
                get(&state, &format!("/v1/log/consistency?from={from}&to={to}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(ctype.starts_with("application/json"));
            let json: serde_json::Value = serde_json::from_str(&body).expect("json");
            let proof: Vec<Hash> = json["proof"]
                .as_array()
                .expect("proof")
                .iter()
                .map(|h| Hash::from_b64url(h.as_str().expect("text")).expect("hash"))
                .collect();
            let (old, new) = (roots[from as usize - 1], roots[to as usize - 1]);
            tlog::verify_consistency(from, to, &old, &new, &proof)
                .unwrap_or_else(|e| panic!("{from}→{to}: {e}"));
        }
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_consistency_range_outside_the_log_is_a_problem_json_400(pool: PgPool) {
    let state = state_with(pool, |_| {});
    grow_log(&state, 2).await;

    for query in [
        "from=2&to=1",
        "from=1&to=3",
        "from=1",
        "to=2",
        "from=a&to=2",
        "from=-1&to=2",
    ] {
        let (status, ctype, body) = get(&state, &format!("/v1/log/consistency?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(ctype, "application/problem+json", "{query}");
    }
    let (status, _, _) = get(&state, "/v1/log/consistency?from=0&to=2").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "from the empty log is a valid range"
    );
}
