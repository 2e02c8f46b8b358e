//! Proof reads from memory (issue 13, item 2): a final bundle is served from the in-process
//! cache with no database round trip, with a strong `ETag` and `Cache-Control`, `304` for a
//! matching `If-None-Match`; a stored proof is checked when it is read from the database
//! (checkpoint signatures once per checkpoint), so a damaged row never yields a bundle.

use ancora_proof::bundle::{Bundle, Trust, verify_bundle};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem};

/// The batch holding an event (`$1`, its id), by the event's `seq`.
const BATCH_OF: &str = "SELECT ancora_batch_of(tenant_id, seq) FROM events WHERE id = $1";

async fn proved(app: &TestApp, ids: &[&str]) -> String {
    app.proved_tenant(ids).await.1
}

async fn get_proof(
    app: &TestApp,
    key: &str,
    id: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/events/{id}/proof"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"));
    if let Some(v) = if_none_match {
        req = req.header(header::IF_NONE_MATCH, v);
    }
    app.send_raw(req.body(Body::empty()).expect("request"))
        .await
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_final_bundle_has_a_strong_etag_is_immutable_and_a_matching_if_none_match_is_304(
    pool: PgPool,
) {
    let app = TestApp::new(pool);
    let key = proved(&app, &["t-1", "t-2"]).await;

    let (s, h, body) = get_proof(&app, &key, "t-1", None).await;
    assert_eq!(s, StatusCode::OK);
    let etag = h[header::ETAG].to_str().expect("etag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 20,
        "{etag}"
    );
    assert_eq!(
        h[header::CACHE_CONTROL],
        "private, max-age=31536000, immutable",
        "tlog bundles are final"
    );
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let bundle = Bundle::from_json(&body).expect("a bundle");
    assert_eq!(bundle.event.event_id, "t-1");

    // The same bytes and tag from the cache; another event has another tag.
    let (_, h2, body2) = get_proof(&app, &key, "t-1", None).await;
    assert_eq!(
        (h2[header::ETAG].to_str().expect("etag"), &body2),
        (etag.as_str(), &body)
    );
    let (_, other, _) = get_proof(&app, &key, "t-2", None).await;
    assert_ne!(other[header::ETAG], etag);

    // If-None-Match: the tag, its weak form, a list holding it, `*` → 304, no body.
    for inm in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        "*".to_owned(),
    ] {
        let (s, h, b) = get_proof(&app, &key, "t-1", Some(&inm)).await;
        assert_eq!(s, StatusCode::NOT_MODIFIED, "{inm}");
        assert!(b.is_empty(), "{inm}");
        assert_eq!(h[header::ETAG].to_str().expect("etag"), etag);
        assert_eq!(
            h[header::CACHE_CONTROL],
            "private, max-age=31536000, immutable"
        );
    }
    // Another tag, or garbage: ignored, the bundle.
    for inm in ["\"other\"", "garbage, ,,\"unterminated", "W/", ""] {
        let (s, _, b) = get_proof(&app, &key, "t-1", Some(inm)).await;
        assert_eq!((s, &b), (StatusCode::OK, &body), "{inm:?}");
    }
    // The view of the event embeds the same bundle.
    let (s, _, view) = app
        .request(Method::GET, "/v1/events/t-1", Some(&key), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        view["bundle"],
        serde_json::from_slice::<Value>(&body).expect("json")
    );
    assert_eq!(view["finality"], json!("final"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_cached_bundle_is_served_without_the_database_and_checkpoints_are_verified_once(
    pool: PgPool,
) {
    let app = TestApp::new(pool.clone());
    let ids = ["c-1", "c-2", "c-3", "c-4"];
    let key = proved(&app, &ids).await;
    assert_eq!(app.state.proof_cache.len(), 0);

    let mut first = Vec::new();
    for id in ids {
        let (s, _, b) = get_proof(&app, &key, id, None).await;
        assert_eq!(s, StatusCode::OK);
        first.push(b);
    }
    assert_eq!(app.state.proof_cache.len(), 4);
    assert_eq!(
        app.state.proof_cache.checkpoints_verified(),
        1,
        "one batch, one anchor, one checkpoint: its signature verified once"
    );
    // Every bundle verifies with the log's key.
    let mut tx = app.state.db.system_tx().await.expect("tx");
    let log_key =
        ancora::services::anchoring::tlog::TlogAnchor::from_config(&app.state.settings.log)
            .verifier(&mut tx)
            .await
            .expect("key");
    tx.commit().await.expect("commit");
    for b in &first {
        let bundle = Bundle::from_json(b).expect("bundle");
        let trust = Trust {
            log_keys: vec![log_key.clone()],
            chainweb_headers: vec![],
        };
        assert!(verify_bundle(&bundle, &trust).is_verified());
    }

    // The stored proofs are gone (the batch trees they are read off): the cache still
    // answers, byte for byte, with no database.
    sqlx::query("UPDATE batches SET tree = NULL")
        .execute(&pool)
        .await
        .expect("delete");
    for (id, b) in ids.iter().zip(&first) {
        let (s, _, again) = get_proof(&app, &key, id, None).await;
        assert_eq!((s, &again), (StatusCode::OK, b), "{id} from the cache");
    }
    // A process without them in its cache finds nothing (the rows are really gone).
    let cold = TestApp::new(pool);
    let (s, _, _) = get_proof(&cold, &key, "c-1", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_stored_checkpoint_the_log_did_not_sign_is_an_error_never_a_bundle(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let key = proved(&app, &["d-1", "d-2"]).await;
    // Rewrite one character of the signature of the checkpoint stored with the batch's trust
    // point: every Merkle step still holds, only the signature check can see it.
    let batch: uuid::Uuid = sqlx::query_scalar(BATCH_OF)
        .bind("d-1")
        .fetch_one(&pool)
        .await
        .expect("batch");
    let text: String = sqlx::query_scalar("SELECT trust_point::text FROM batches WHERE id = $1")
        .bind(batch)
        .fetch_one(&pool)
        .await
        .expect("trust point");
    let mut tp: Value = serde_json::from_str(&text).expect("json");
    let cp = tp[0]["checkpoint"]
        .as_str()
        .expect("a tlog checkpoint")
        .to_owned();
    let mut chars: Vec<char> = cp.trim_end().chars().collect();
    let i = chars.len() - 10; // inside the signature's base64, before any padding
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    tp[0]["checkpoint"] = json!(format!("{}\n", chars.into_iter().collect::<String>()));
    sqlx::query("UPDATE batches SET trust_point = $2::json WHERE id = $1")
        .bind(batch)
        .bind(tp.to_string())
        .execute(&pool)
        .await
        .expect("damage");

    for id in ["d-1", "d-2"] {
        let (s, h, b) = get_proof(&app, &key, id, None).await;
        let body: Value = serde_json::from_slice(&b).expect("problem");
        assert_problem(&(s, h, body), StatusCode::INTERNAL_SERVER_ERROR, "");
    }
    assert_eq!(app.state.proof_cache.len(), 0, "nothing damaged is cached");
    assert_eq!(app.state.proof_cache.checkpoints_verified(), 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_final_batch_is_held_after_one_read_and_its_events_render_from_memory_byte_for_byte(
    pool: PgPool,
) {
    let ids = ["h-1", "h-2", "h-3", "h-4", "h-5"];
    let app = TestApp::new(pool.clone());
    let key = proved(&app, &ids).await;
    // What each bundle is when read from its row, in a process that holds nothing (batch
    // cache off).
    let rows = TestApp::with_config(pool.clone(), |c| c.settings.proof_batch_cache_bytes = 0);
    let mut expected = Vec::new();
    for id in ids {
        let (s, h, b) = get_proof(&rows, &key, id, None).await;
        assert_eq!(s, StatusCode::OK);
        expected.push((h[header::ETAG].to_str().expect("etag").to_owned(), b));
    }
    rows.batch_loads_done().await;
    assert_eq!(rows.state.batch_cache.batches(), 0, "off: nothing held");

    // One read from the database; its batch is loaded beside it.
    assert_eq!(app.state.batch_cache.batches(), 0);
    let (s, _, b) = get_proof(&app, &key, "h-1", None).await;
    assert_eq!((s, &b), (StatusCode::OK, &expected[0].1));
    app.batch_loads_done().await;
    assert_eq!(app.state.batch_cache.batches(), 1, "the batch is held");
    assert!(app.state.batch_cache.bytes() > 0);

    // The stored proofs are gone (the batch tree they are read off): the other events still
    // render, from memory, the same bytes and tags as from their rows, each verifying with
    // the log's key.
    sqlx::query("UPDATE batches SET tree = NULL")
        .execute(&pool)
        .await
        .expect("delete");
    let mut tx = app.state.db.system_tx().await.expect("tx");
    let log_key =
        ancora::services::anchoring::tlog::TlogAnchor::from_config(&app.state.settings.log)
            .verifier(&mut tx)
            .await
            .expect("key");
    tx.commit().await.expect("commit");
    for (id, (etag, body)) in ids.iter().zip(&expected).skip(1) {
        let (s, h, b) = get_proof(&app, &key, id, None).await;
        assert_eq!(s, StatusCode::OK, "{id}");
        assert_eq!(&b, body, "{id}: the same bytes as from its row");
        assert_eq!(h[header::ETAG].to_str().expect("etag"), etag, "{id}");
        let bundle = Bundle::from_json(&b).expect("bundle");
        let trust = Trust {
            log_keys: vec![log_key.clone()],
            chainweb_headers: vec![],
        };
        assert!(verify_bundle(&bundle, &trust).is_verified(), "{id}");
        // A matching If-None-Match is a 304 whichever cache answers.
        let (s, _, _) = get_proof(&app, &key, id, Some(etag)).await;
        assert_eq!(s, StatusCode::NOT_MODIFIED, "{id}");
    }
    // Another tenant's key finds none of them.
    let (_, other_key) = app.tenant_with_key(ancora::domain::Role::Submitter).await;
    let (s, _, _) = get_proof(&app, &other_key, "h-3", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Metrics name the source.
    let (_, _, metrics) = app
        .send_raw(
            Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    let metrics = String::from_utf8(metrics).expect("text");
    assert!(
        metrics.contains("ancora_proof_read_duration_seconds_count{source=\"batch\"} 4"),
        "{metrics}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_with_its_tree_is_held_from_its_events_and_an_older_one_from_its_proof_rows(
    pool: PgPool,
) {
    use ancora::services::proofs::hold_batch;
    let app = TestApp::new(pool.clone());
    let (tenant, _) = app.proved_tenant(&["t-1", "t-2", "t-3"]).await;
    let batch: uuid::Uuid = sqlx::query_scalar(BATCH_OF)
        .bind("t-1")
        .fetch_one(&pool)
        .await
        .expect("batch");
    // (The batch also holds the tenant's audit events, after these.)
    // A batch that stores its tree has no proof row per event: it is held from its events, in
    // seq order.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM proofs")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 0);
    hold_batch(&app.state, tenant, batch)
        .await
        .expect("held from its events");
    assert_eq!(app.state.batch_cache.batches(), 1);

    // The same batch as proved before batches stored their trees: no tree, a proof row per
    // event with its leaf index. Its proof rows are read, and moved ones (0 and 2 swapped)
    // are refused.
    sqlx::query("UPDATE batches SET tree = NULL WHERE id = $1")
        .bind(batch)
        .execute(&pool)
        .await
        .expect("no tree");
    sqlx::query(
        "INSERT INTO proofs (tenant_id, event_id, batch_id, leaf_index) \
         SELECT e.tenant_id, e.id, b.id, (row_number() OVER (ORDER BY e.seq) - 1)::integer \
         FROM batches b \
         JOIN events e ON e.tenant_id = b.tenant_id AND e.seq BETWEEN b.first_seq AND b.last_seq \
         WHERE b.id = $1",
    )
    .bind(batch)
    .execute(&pool)
    .await
    .expect("old proof rows");
    let swap = "UPDATE proofs SET leaf_index = 2 - leaf_index WHERE batch_id = $1";
    sqlx::query(swap)
        .bind(batch)
        .execute(&pool)
        .await
        .expect("swap");
    let old = TestApp::new(pool.clone());
    let refused = hold_batch(&old.state, tenant, batch)
        .await
        .expect_err("swapped proof rows");
    assert!(refused.to_string().contains("is not leaf 0"), "{refused:#}");
    sqlx::query(swap)
        .bind(batch)
        .execute(&pool)
        .await
        .expect("swap back");
    hold_batch(&old.state, tenant, batch)
        .await
        .expect("held from its proof rows");
    assert_eq!(old.state.batch_cache.batches(), 1);
    // An event without its proof row: not held.
    sqlx::query("DELETE FROM proofs WHERE event_id = 't-2'")
        .execute(&pool)
        .await
        .expect("delete");
    let missing = TestApp::new(pool.clone());
    let refused = hold_batch(&missing.state, tenant, batch)
        .await
        .expect_err("a proof row missing");
    let size: i32 = sqlx::query_scalar("SELECT size FROM batches WHERE id = $1")
        .bind(batch)
        .fetch_one(&pool)
        .await
        .expect("size");
    assert!(
        refused
            .to_string()
            .contains(&format!("has {} stored proofs for {size} events", size - 1)),
        "{refused:#}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_whose_stored_events_do_not_check_out_is_not_held_and_its_reads_go_on(
    pool: PgPool,
) {
    let app = TestApp::new(pool.clone());
    let key = proved(&app, &["g-1", "g-2", "g-3"]).await;
    // One event's stored fields no longer give its leaf hash.
    sqlx::query("UPDATE events SET submitter = 'someone else' WHERE id = 'g-3'")
        .execute(&pool)
        .await
        .expect("damage");
    let (s, _, _) = get_proof(&app, &key, "g-1", None).await;
    assert_eq!(s, StatusCode::OK);
    app.batch_loads_done().await;
    assert_eq!(app.state.batch_cache.batches(), 0, "refused");
    // Not loaded again: a read of another of its events starts no load.
    let (s, _, _) = get_proof(&app, &key, "g-2", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.state.batch_cache.loads_running(), 0);
    // The damaged event is an error, never a bundle.
    let (s, h, b) = get_proof(&app, &key, "g-3", None).await;
    let body: Value = serde_json::from_slice(&b).expect("problem");
    assert_problem(&(s, h, body), StatusCode::INTERNAL_SERVER_ERROR, "");
}
