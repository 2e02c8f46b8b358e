//! Range batches, compact proofs and admission control, against a fresh database per test.

use std::time::Duration;

use ancora::db::events::{NewEvents, insert_new};
use ancora::domain::Role;
use ancora::workers;
use ancora_proof::bundle::Bundle;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::helpers::{TestApp, assert_problem, digest_of};

/// Posts one event per id, each with the digest of its id.
async fn post(app: &TestApp, key: &str, ids: &[&str]) -> (StatusCode, Value) {
    let events: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "digest": digest_of(id) }))
        .collect();
    app.post_events(key, Value::Array(events)).await
}

async fn bundle(app: &TestApp, key: &str, id: &str) -> Bundle {
    let (s, _, b) = app
        .request(
            Method::GET,
            &format!("/v1/events/{id}/proof"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{id}: {b}");
    Bundle::from_json(b.to_string().as_bytes()).expect("a bundle")
}

/// Inserts one event in `tx` as an ingest would (ingest lock, then the row) and leaves the
/// transaction open.
async fn insert_one(
    tx: &mut sqlx::PgConnection,
    tenant: ancora::domain::TenantId,
    submitter: &str,
    id: &str,
    at: OffsetDateTime,
) {
    let leaf = ancora_proof::event::EventLeaf {
        tenant_id: tenant.bytes(),
        event_id: id.into(),
        digest: digest_of(id).parse().expect("digest"),
        submitter: submitter.to_owned(),
        received_at_micros: at.unix_timestamp() * 1_000_000,
    };
    let mut rows = NewEvents::with_capacity(1);
    rows.ids.push(id.into());
    rows.digest_algs.push("sha256".into());
    rows.digests.push(leaf.digest.bytes.to_vec());
    rows.metadata.push(String::new());
    rows.submitters.push(leaf.submitter.clone());
    rows.signatures.push(Vec::new());
    rows.signer_key_ids.push(uuid::Uuid::nil());
    rows.leaf_hashes
        .push(leaf.leaf_hash().expect("leaf").as_bytes().to_vec());
    insert_new(tx, tenant, &rows, at, leaf.received_at_micros)
        .await
        .expect("insert");
}

/// Runs the batcher's look after its take, then counts the tenant's batch jobs.
async fn reschedule_then_count_jobs(
    app: &TestApp,
    pool: &PgPool,
    tenant: ancora::domain::TenantId,
) -> i64 {
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    ancora::services::batching::reschedule(&mut tx, &app.state.config.settings.batching, tenant)
        .await
        .expect("reschedule");
    tx.commit().await.expect("commit");
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM jobs WHERE dedupe_key = $1"#,
        format!("batch:{tenant}")
    )
    .fetch_one(pool)
    .await
    .expect("jobs")
}

#[sqlx::test(migrations = "../../migrations")]
async fn batches_are_consecutive_ranges_of_arrival_order_with_leaves_in_that_order(pool: PgPool) {
    // Arrange: batches of at most 3 events.
    let app = TestApp::with_config(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.max_events = 3;
    });
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let ids: Vec<String> = (0..10).map(|i| format!("r-{i}")).collect();
    for chunk in ids.chunks(4) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        assert_eq!(post(&app, &key, &refs).await.0, StatusCode::ACCEPTED);
    }

    // Act
    workers::run_all_jobs_now(&app.state).await.expect("jobs");

    // Assert: every event proved; its batch and leaf index in the API agree with its bundle;
    // the batches are 3, 3, 3, 1 in arrival order.
    let mut seen: Vec<(String, u64)> = Vec::new();
    for id in &ids {
        let b = bundle(&app, &key, id).await;
        let (_, _, status) = app
            .request(Method::GET, &format!("/v1/events/{id}"), Some(&key), None)
            .await;
        assert_eq!(status["status"], "proved");
        assert_eq!(status["batchId"].as_str(), b.batch.batch_id.as_deref());
        assert_eq!(status["leafIndex"].as_u64(), Some(b.batch.leaf_index));
        seen.push((b.batch.batch_id.expect("batch id"), b.batch.leaf_index));
    }
    let leaves: Vec<u64> = seen.iter().map(|s| s.1).collect();
    assert_eq!(leaves, vec![0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    let mut batches: Vec<&String> = seen.iter().map(|s| &s.0).collect();
    batches.dedup();
    assert_eq!(
        batches.len(),
        4,
        "four batches, each a run of consecutive events"
    );
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    let cursor = sqlx::query_scalar!(
        "SELECT last_seq FROM batch_cursors WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("cursor");
    let max_seq = sqlx::query_scalar!(
        r#"SELECT max(seq) AS "m!" FROM events WHERE tenant_id = $1"#,
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("max");
    assert_eq!(cursor, max_seq, "the cursor is at the last batched event");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_never_ends_past_an_event_whose_insert_has_not_committed(pool: PgPool) {
    // Arrange: one ingest holds a smaller seq uncommitted while a later one commits.
    let app = TestApp::with_config(pool, |c| c.settings.batching.window = Duration::ZERO);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let mut slow = app.state.db.ingest_tx(tenant).await.expect("tx");
    let at = OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("time");
    insert_one(&mut slow, tenant, &key[..11], "slow", at).await;
    assert_eq!(post(&app, &key, &["fast"]).await.0, StatusCode::ACCEPTED);

    // Act: the batcher cannot settle while the slow insert is open…
    let waiting =
        ancora::db::batches::settled_horizon(&app.state.db, tenant, Duration::from_millis(300))
            .await;
    // …and once it commits, one batch holds both, in seq order.
    let committer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        slow.commit().await.expect("commit");
    });
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    committer.await.expect("committed");
    workers::run_all_jobs_now(&app.state).await.expect("jobs");

    // Assert
    let err = waiting.expect_err("an open ingest holds the horizon back");
    assert!(err.to_string().contains("still open"), "{err:#}");
    let slow_bundle = bundle(&app, &key, "slow").await;
    let fast_bundle = bundle(&app, &key, "fast").await;
    assert_eq!(slow_bundle.batch.batch_id, fast_bundle.batch.batch_id);
    assert_eq!(
        (slow_bundle.batch.leaf_index, fast_bundle.batch.leaf_index),
        (0, 1),
        "leaves follow seq, not commit order"
    );
}

/// A tenant whose events `ids` are submitted and proved in one batch (after its own audit
/// events), served with no batch held in memory, so proofs are read from their rows.
async fn proved_from_rows(
    pool: &PgPool,
    ids: &[&str],
) -> (TestApp, ancora::domain::TenantId, String) {
    let app = TestApp::with_config(pool.clone(), |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.proof_batch_cache_bytes = 0;
    });
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    assert_eq!(post(&app, &key, ids).await.0, StatusCode::ACCEPTED);
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    (app, tenant, key)
}

#[sqlx::test(migrations = "../../migrations")]
async fn proofs_are_stored_compactly_and_a_damaged_one_is_an_error_not_a_bad_bundle(pool: PgPool) {
    // Arrange: the row path is what is tested, so no batch is held in memory (a held batch
    // serves c-1 from its leaves, a correct bundle, once c-2 was read).
    let (app, tenant, key) = proved_from_rows(&pool, &["c-0", "c-1", "c-2"]).await;
    let good = bundle(&app, &key, "c-2").await;

    // Act: flip a bit of c-0's leaf in the batch's stored tree, the first step of c-1's path
    // (c-1 was never read, so not cached; c-2's path does not use that node).
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM proofs WHERE tenant_id = $1")
        .bind(tenant.0)
        .fetch_one(&pool)
        .await
        .expect("rows");
    let batch = "SELECT ancora_batch_of($1, seq) FROM events WHERE tenant_id = $1 AND id = 'c-1'";
    let tree: Option<i32> = sqlx::query_scalar(&format!(
        "SELECT length(tree) FROM batches WHERE tenant_id = $1 AND id = ({batch})"
    ))
    .bind(tenant.0)
    .fetch_one(&pool)
    .await
    .expect("batch");
    sqlx::query(&format!(
        "UPDATE batches SET tree = set_byte(tree, 31, get_byte(tree, 31) # 1) \
         WHERE tenant_id = $1 AND id = ({batch})"
    ))
    .bind(tenant.0)
    .execute(&pool)
    .await
    .expect("damage");
    let damaged = app
        .request(Method::GET, "/v1/events/c-1/proof", Some(&key), None)
        .await;
    let lost = app
        .request(Method::GET, "/v1/events/c-0/proof", Some(&key), None)
        .await;

    // Assert: nothing is stored per event; the batch keeps its tree once, and each event's
    // path is read off it at its leaf's place.
    assert_eq!(rows, 0, "no proof row per event");
    assert_eq!(
        tree,
        Some(6 * 32),
        "the batch tree's nodes: 3 leaves, 2, the root"
    );
    assert_eq!(good.batch.leaf_index, 2);
    // c-1's path holds the damaged node; c-0's leaf is no longer in the tree at all
    assert_problem(&damaged, StatusCode::INTERNAL_SERVER_ERROR, "");
    assert_problem(&lost, StatusCode::INTERNAL_SERVER_ERROR, "");
}

#[sqlx::test(migrations = "../../migrations")]
async fn of_two_provers_of_one_batch_the_second_to_store_it_fails_and_writes_nothing(pool: PgPool) {
    use ancora::services::proofs::prove_batch;
    // Arrange: a proved batch made anchored and unproved again (its anchor is final, so it can
    // be proved).
    let (app, tenant, _) = proved_from_rows(&pool, &["w-0", "w-1"]).await;
    let batch: uuid::Uuid = sqlx::query_scalar(
        "SELECT ancora_batch_of(tenant_id, seq) FROM events WHERE tenant_id = $1 AND id = 'w-0'",
    )
    .bind(tenant.0)
    .fetch_one(&pool)
    .await
    .expect("batch");
    sqlx::query(
        "UPDATE batches SET state = 'anchored', tree = NULL, proved_at = NULL WHERE id = $1",
    )
    .bind(batch)
    .execute(&pool)
    .await
    .expect("unproved");

    // Act: the first prover stores the batch and has not committed when the second one's
    // update comes; the first commits once the second waits for its row lock.
    let mut first = app.state.db.tenant_tx(tenant).await.expect("tx");
    let proved = prove_batch(&mut first, &app.state, tenant, batch)
        .await
        .expect("the first prover");
    let svc = app.state.clone();
    let second = tokio::spawn(async move {
        let mut tx = svc.db.tenant_tx(tenant).await.expect("tx");
        let got = prove_batch(&mut tx, &svc, tenant, batch).await;
        tx.rollback().await.expect("rollback");
        got.map(|received| received.len())
            .map_err(|e| format!("{e:#}"))
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .expect("activity");
        if waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second prover never waited for the first"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.commit().await.expect("commit");
    let second = second.await.expect("join");

    // Assert: the first proved the batch; the second failed (its job retries and finds the
    // batch proved), so nothing of it (webhooks included) is committed.
    assert!(!proved.is_empty());
    let err = second.expect_err("the second prover fails");
    assert!(err.contains("was proved meanwhile"), "{err}");
    let (state, tree): (String, Option<i32>) =
        sqlx::query_as("SELECT state, length(tree) FROM batches WHERE id = $1")
            .bind(batch)
            .fetch_one(&pool)
            .await
            .expect("batch");
    assert_eq!(state, "proved");
    assert!(tree.is_some());
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_proof_row_stored_with_its_proof_object_is_read_as_before(pool: PgPool) {
    // Arrange: a proved batch, then made as the prover stored it before batches kept their
    // tree: a proof row per event, o-1's with its proof object up to the batch root, the
    // others with their leaf index alone; the batch no tree.
    let (app, tenant, key) = proved_from_rows(&pool, &["o-0", "o-1", "o-2"]).await;
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT leaf_hash FROM events WHERE tenant_id = $1 AND id LIKE 'o-%' ORDER BY seq",
    )
    .bind(tenant.0)
    .fetch_all(&pool)
    .await
    .expect("leaves");
    let tree = ancora_proof::merkle::MerkleTree::from_leaf_hashes(
        ancora_proof::HashAlgorithm::Sha512_256,
        hashes
            .iter()
            .map(|h| ancora_proof::Hash::from_slice(h).expect("hash"))
            .collect(),
    );
    let object = tree.proof(1).expect("proof").encode();
    sqlx::query(
        "INSERT INTO proofs (tenant_id, event_id, batch_id, leaf_index, batch_proof) \
         SELECT e.tenant_id, e.id, ancora_batch_of(e.tenant_id, e.seq), \
                substr(e.id, 3)::integer, CASE WHEN e.id = 'o-1' THEN $2::bytea END \
         FROM events e WHERE e.tenant_id = $1 AND e.id LIKE 'o-%'",
    )
    .bind(tenant.0)
    .bind(&object)
    .execute(&pool)
    .await
    .expect("old rows");
    sqlx::query("UPDATE batches SET tree = NULL WHERE tenant_id = $1")
        .bind(tenant.0)
        .execute(&pool)
        .await
        .expect("no tree");

    // Act
    let old = bundle(&app, &key, "o-1").await;
    let without = app
        .request(Method::GET, "/v1/events/o-0/proof", Some(&key), None)
        .await;

    // Assert: the stored object is served (and checked); a row with neither is an error.
    assert_eq!(old.batch.leaf_index, 1);
    assert_eq!(old.batch.proof.0, object);
    assert_problem(&without, StatusCode::INTERNAL_SERVER_ERROR, "");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_tenant_whose_proofs_lag_is_held_then_refused_and_admitted_once_they_catch_up(
    pool: PgPool,
) {
    // Arrange: a tenant with a batch closed 5 s ago and still not proved.
    let app = TestApp::with_config(pool.clone(), |c| {
        c.settings.max_proof_lag = Some(Duration::from_secs(1));
    });
    let (behind, key) = app.tenant_with_key(Role::Submitter).await;
    let (_, other_key) = app.tenant_with_key(Role::Submitter).await;
    assert_eq!(post(&app, &key, &["b-0"]).await.0, StatusCode::ACCEPTED);
    ancora::services::batching::flush(&app.state, behind, "window")
        .await
        .expect("batch closed");
    sqlx::query!(
        "UPDATE batches SET created_at = now() - interval '5 seconds' WHERE tenant_id = $1",
        behind.0
    )
    .execute(&pool)
    .await
    .expect("age");
    app.state
        .admission
        .refresh(&app.state.db)
        .await
        .expect("lags");

    // Act: a request while the lag stays is held, then refused…
    let started = std::time::Instant::now();
    let refused = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&key),
            Some(json!({ "events": [{ "id": "b-1", "digest": digest_of("b-1") }] })),
        )
        .await;
    let held_for = started.elapsed();
    let other = post(&app, &other_key, &["o-1"]).await;
    // …and one while the prover catches up is held, then admitted.
    let started = std::time::Instant::now();
    let (admitted, ()) = tokio::join!(post(&app, &key, &["b-1"]), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        workers::run_all_jobs_now(&app.state).await.expect("jobs");
        app.state
            .admission
            .refresh(&app.state.db)
            .await
            .expect("lags");
    });
    let admitted_after = started.elapsed();
    let (_, _, metrics) = app.request(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();

    // Assert
    assert_problem(&refused, StatusCode::TOO_MANY_REQUESTS, "behind");
    assert_eq!(
        refused.1.get(header::RETRY_AFTER).map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert!(
        held_for >= ancora::services::admission::MAX_HOLD,
        "held {held_for:?} before the 429"
    );
    assert_eq!(
        other.0,
        StatusCode::ACCEPTED,
        "other tenants are not held back"
    );
    assert_eq!(admitted.0, StatusCode::ACCEPTED, "{}", admitted.1);
    assert!(
        admitted_after >= Duration::from_millis(300)
            && admitted_after < ancora::services::admission::MAX_HOLD,
        "admitted after {admitted_after:?}, once the lag was gone"
    );
    assert_eq!(
        app.event_count(behind).await,
        2,
        "b-0 and, after the 429, b-1 once"
    );
    assert!(
        metrics.contains("ancora_ingest_refused_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("ancora_ingest_held_total 1"), "{metrics}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batcher_that_took_the_job_while_an_ingest_was_in_flight_enqueues_it_again(pool: PgPool) {
    // Arrange: the tenant's batch job exists; an ingest sees it (and so makes none), stays
    // open, and the batcher takes the job meanwhile.
    let app = TestApp::with_config(pool.clone(), |c| {
        c.settings.batching.window = Duration::ZERO
    });
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let now = OffsetDateTime::now_utc();
    let mut tx = app.state.db.system_tx().await.expect("tx");
    ancora::db::jobs::enqueue_batch_job(&mut tx, tenant, now)
        .await
        .expect("job");
    tx.commit().await.expect("commit");
    let mut open = app.state.db.ingest_tx(tenant).await.expect("tx");
    insert_one(&mut open, tenant, &key[..11], "late", now).await;
    let made = ancora::db::events::count_and_enqueue_batch(
        &mut open,
        tenant,
        now.date(),
        "events_ingested",
        1,
        now + time::Duration::minutes(1),
    )
    .await
    .expect("saw the job");
    let key_of = format!("batch:{tenant}");
    sqlx::query!("DELETE FROM jobs WHERE dedupe_key = $1", key_of)
        .execute(&pool)
        .await
        .expect("the batcher takes the job");

    // Act: the batcher's look after its take, while the ingest is still open…
    let jobs_while_open = reschedule_then_count_jobs(&app, &pool, tenant).await;
    open.commit().await.expect("the ingest commits");
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    // …and once nothing is in flight or pending, it enqueues nothing.
    let jobs_when_idle = reschedule_then_count_jobs(&app, &pool, tenant).await;

    // Assert
    assert!(!made, "the ingest found the job and made none");
    assert_eq!(jobs_while_open, 1, "an ingest in flight gets the job back");
    assert_eq!(bundle(&app, &key, "late").await.event.event_id, "late");
    assert_eq!(jobs_when_idle, 0);
}
