//! The job queue and the batch, anchor and prove jobs, against a fresh database per test,
//! driven by `run_pending_jobs` / `run_all_jobs_now`.

use std::net::SocketAddr;
use std::time::Duration;

use ancora::app::AppState;
use ancora::config::Config;
use ancora::db::Db;
use ancora::db::jobs;
use ancora::domain::{Role, TenantId, chain_for_tenant};
use ancora::http::auth::Auth;
use ancora::services::anchoring::tlog::TlogAnchor;
use ancora::services::ingest::{EventInput, IngestOptions, ingest_events};
use ancora::workers;
use ancora::workers::Job as _;
use ancora_proof::bundle::{Bundle, Trust, verify_bundle};
use sqlx::PgPool;
use uuid::Uuid;

/// App state over the test's database, with the test configuration changed by `tune`.
pub fn state_with(pool: PgPool, tune: impl FnOnce(&mut Config)) -> AppState {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut config = Config::for_tests(addr);
    tune(&mut config);
    AppState::new(Db::from_pool(pool), config)
}

/// A tenant (with an explicit chain when given) and a submitter's credentials for it.
pub async fn tenant(state: &AppState, chain: Option<i32>) -> Auth {
    let id = TenantId::new();
    let mut tx = state.db.system_tx().await.expect("tx");
    ancora::db::tenants::insert(&mut tx, id, "Test tenant")
        .await
        .expect("tenant");
    if let Some(c) = chain {
        sqlx::query!("UPDATE tenants SET chain_id = $1 WHERE id = $2", c, id.0)
            .execute(&mut *tx)
            .await
            .expect("chain");
    }
    tx.commit().await.expect("commit");
    Auth {
        tenant: id,
        key_id: Uuid::now_v7(),
        role: Role::Submitter,
        prefix: "ak_testtest".into(),
    }
}

/// `n` events with ids `{prefix}-{i}` and distinct digests.
pub fn events(prefix: &str, n: usize) -> Vec<EventInput> {
    (0..n)
        .map(|i| EventInput {
            id: Some(format!("{prefix}-{i}")),
            digest: Some(format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                    format!("{prefix}/{i}").as_bytes()
                ))
            )),
            ..EventInput::default()
        })
        .collect()
}

/// Submits events as `auth`.
pub async fn submit(state: &AppState, auth: &Auth, events: Vec<EventInput>) {
    ingest_events(state, auth, events, IngestOptions::default())
        .await
        .expect("ingest");
}

/// The log's verifier as a `Trust`.
pub async fn trust(state: &AppState) -> Trust {
    let mut tx = state.db.system_tx().await.expect("tx");
    let verifier = TlogAnchor::from_config(&state.config.settings.log)
        .verifier(&mut tx)
        .await
        .expect("verifier");
    tx.commit().await.expect("commit");
    Trust {
        log_keys: vec![verifier],
        ..Trust::default()
    }
}

/// The stored bundle of an event, if proved.
pub async fn bundle_of(state: &AppState, auth: &Auth, id: &str) -> Option<Bundle> {
    let mut tx = state.db.tenant_tx(auth.tenant).await.expect("tx");
    let json = ancora::db::proofs::get(&mut tx, auth.tenant, id)
        .await
        .expect("read");
    tx.commit().await.expect("commit");
    json.map(|p| {
        let j = ancora::services::proofs::assemble(auth.tenant, p, &mut Default::default())
            .expect("assembled");
        Bundle::from_json(j.to_string().as_bytes()).expect("a bundle")
    })
}

async fn batch_sizes(state: &AppState, auth: &Auth) -> Vec<i32> {
    let mut tx = state.db.tenant_tx(auth.tenant).await.expect("tx");
    let sizes = sqlx::query_scalar!(
        "SELECT size FROM batches WHERE tenant_id = $1 ORDER BY first_seq",
        auth.tenant.0
    )
    .fetch_all(&mut *tx)
    .await
    .expect("sizes");
    tx.commit().await.expect("commit");
    sizes
}

#[sqlx::test(migrations = "../../migrations")]
async fn submitted_events_end_with_stored_bundles_that_verify_against_the_log_key(pool: PgPool) {
    // Arrange
    let state = state_with(pool, |_| {});
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("e", 10)).await;

    // Act
    let ran = workers::run_all_jobs_now(&state).await.expect("jobs");

    // Assert
    assert_eq!(ran, 3, "one batch, one anchor and one prove job");
    let trust = trust(&state).await;
    for i in 0..10 {
        let bundle = bundle_of(&state, &auth, &format!("e-{i}"))
            .await
            .expect("proved");
        let report = verify_bundle(&bundle, &trust);
        assert!(
            report.is_verified(),
            "{:?}",
            report.failures().collect::<Vec<_>>()
        );
        assert_eq!(bundle.batch.leaf_index, i as u64);
    }
    assert_eq!(state.metrics.anchors_final.get(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_closes_at_the_size_limit_and_the_rest_follow_in_later_batches(pool: PgPool) {
    let state = state_with(pool, |c| c.settings.batching.max_events = 4);
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("s", 10)).await;

    workers::run_all_jobs_now(&state).await.expect("jobs");

    assert_eq!(batch_sizes(&state, &auth).await, vec![4, 4, 2]);
    let trust = trust(&state).await;
    for i in 0..10 {
        let bundle = bundle_of(&state, &auth, &format!("s-{i}"))
            .await
            .expect("proved");
        assert!(verify_bundle(&bundle, &trust).is_verified());
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_batch_job_waits_for_the_window_to_close(pool: PgPool) {
    let state = state_with(pool, |c| {
        c.settings.batching.window = Duration::from_secs(60)
    });
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("w", 3)).await;

    let ran = workers::run_pending_jobs(&state).await.expect("jobs");

    assert_eq!(ran, 0, "nothing is due before the window closes");
    assert!(batch_sizes(&state, &auth).await.is_empty());
    assert_eq!(
        jobs::count_kind(&state.db, jobs::KIND_BATCH)
            .await
            .expect("count"),
        1
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_full_batch_does_not_wait_for_the_window(pool: PgPool) {
    let state = state_with(pool, |c| {
        c.settings.batching.window = Duration::from_secs(60);
        c.settings.batching.max_events = 4;
    });
    let auth = tenant(&state, None).await;
    let other = tenant(&state, None).await;
    submit(&state, &auth, events("f", 3)).await;
    submit(&state, &other, events("o", 3)).await;

    let ran = workers::run_pending_jobs(&state).await.expect("jobs");
    assert_eq!(
        ran, 0,
        "3 events of 4, in each tenant: the window holds them"
    );

    // Two requests more bring the tenant to 5: a full batch waits, the job runs at once.
    submit(&state, &auth, events("g", 2)).await;
    workers::run_pending_jobs(&state).await.expect("jobs");
    let sizes = batch_sizes(&state, &auth).await;
    assert_eq!(sizes.first(), Some(&4), "one full batch at once: {sizes:?}");
    assert!(
        batch_sizes(&state, &other).await.is_empty(),
        "the other tenant's 3 events still wait for the window"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_due_batch_job_runs_without_ignoring_run_times(pool: PgPool) {
    let state = state_with(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::ZERO;
    });
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("d", 3)).await;

    workers::run_pending_jobs(&state).await.expect("jobs");

    assert!(bundle_of(&state, &auth, "d-2").await.is_some());
}

#[sqlx::test(migrations = "../../migrations")]
async fn tenants_routed_to_one_chain_share_one_anchor_and_batches_record_their_chain(pool: PgPool) {
    let state = state_with(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::from_secs(60);
    });
    let a = tenant(&state, Some(7)).await;
    let b = tenant(&state, Some(7)).await;
    let c = tenant(&state, None).await;
    for (auth, p) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        submit(&state, auth, events(p, 2)).await;
    }
    // Close every batch before any anchor job is due.
    assert_eq!(workers::run_pending_jobs(&state).await.expect("batches"), 3);

    workers::run_all_jobs_now(&state).await.expect("jobs");

    let mut tx = state.db.system_tx().await.expect("tx");
    let anchors = sqlx::query!("SELECT target_chain, size FROM anchors ORDER BY target_chain")
        .fetch_all(&mut *tx)
        .await
        .expect("anchors");
    let c_chain = chain_for_tenant(c.tenant, None, 20);
    // The hashed chain of a random tenant is 7 one time in 20: then all three share.
    let mut expected = if c_chain == 7 {
        vec![(7, 3)]
    } else {
        vec![(7, 2), (c_chain, 1)]
    };
    expected.sort();
    let got: Vec<(i32, i32)> = anchors.iter().map(|r| (r.target_chain, r.size)).collect();
    assert_eq!(got, expected);
    let bundle_a = bundle_of(&state, &a, "a-0").await.expect("proved");
    let bundle_b = bundle_of(&state, &b, "b-0").await.expect("proved");
    assert_eq!(bundle_a.anchor.root, bundle_b.anchor.root);
    let mut tx = state.db.tenant_tx(c.tenant).await.expect("tx");
    let recorded = sqlx::query_scalar!("SELECT target_chain FROM batches")
        .fetch_one(&mut *tx)
        .await
        .expect("batch");
    assert_eq!(recorded, c_chain, "the batch records the hashed chain");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_failing_job_is_retried_later_with_its_error_recorded(pool: PgPool) {
    let state = state_with(pool, |_| {});
    let auth = tenant(&state, None).await;
    let mut tx = state.db.system_tx().await.expect("tx");
    ancora::db::jobs::enqueue_prove_job(&mut tx, auth.tenant, Uuid::now_v7())
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");

    let result = workers::run_pending_jobs(&state).await;

    assert!(result.is_err(), "a prove job for a missing batch fails");
    let mut tx = state.db.system_tx().await.expect("tx");
    let row = sqlx::query!(
        r#"SELECT attempts, locked_until, last_error, run_at > now() AS "later!" FROM jobs"#
    )
    .fetch_one(&mut *tx)
    .await
    .expect("job");
    assert_eq!(row.attempts, 1);
    assert!(row.locked_until.is_none());
    assert!(row.later);
    assert!(
        row.last_error
            .unwrap_or_default()
            .contains("does not exist")
    );
    assert_eq!(
        workers::run_pending_jobs(&state).await.expect("none due"),
        0
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_worker_whose_lease_expired_finds_its_job_taken_and_does_nothing(pool: PgPool) {
    let state = state_with(pool, |_| {});
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("l", 2)).await;
    let stale = jobs::claim(&state.db, Duration::ZERO, true)
        .await
        .expect("claim")
        .expect("job");
    tokio::time::sleep(Duration::from_millis(5)).await;

    let fresh = jobs::claim(&state.db, workers::LEASE, true)
        .await
        .expect("claim")
        .expect("again");
    workers::batch::BatchJob
        .run(&state, &stale)
        .await
        .expect("stale run");

    assert_eq!(fresh.id, stale.id);
    assert_eq!(fresh.attempts, 2);
    assert!(
        batch_sizes(&state, &auth).await.is_empty(),
        "the stale worker closed nothing"
    );
    workers::batch::BatchJob
        .run(&state, &fresh)
        .await
        .expect("fresh run");
    assert_eq!(batch_sizes(&state, &auth).await, vec![2]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_prove_job_run_twice_keeps_the_first_bundles(pool: PgPool) {
    let state = state_with(pool, |_| {});
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("p", 3)).await;
    workers::run_all_jobs_now(&state).await.expect("jobs");
    let first = bundle_of(&state, &auth, "p-1").await.expect("proved");
    let batch: Uuid = first
        .batch
        .batch_id
        .as_deref()
        .expect("id")
        .parse()
        .expect("uuid");

    let mut tx = state.db.system_tx().await.expect("tx");
    ancora::db::jobs::enqueue_prove_job(&mut tx, auth.tenant, batch)
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let ran = workers::run_all_jobs_now(&state).await.expect("jobs");

    assert_eq!(ran, 1);
    assert_eq!(
        bundle_of(&state, &auth, "p-1").await.expect("proved"),
        first
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_sweeper_re_enqueues_pending_events_that_lost_their_job(pool: PgPool) {
    let state = state_with(pool, |_| {});
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("x", 2)).await;
    let mut tx = state.db.system_tx().await.expect("tx");
    sqlx::query!("DELETE FROM jobs")
        .execute(&mut *tx)
        .await
        .expect("lose the job");
    tx.commit().await.expect("commit");
    assert_eq!(workers::run_all_jobs_now(&state).await.expect("jobs"), 0);

    let swept = workers::sweep::sweep_once(&state, Duration::ZERO)
        .await
        .expect("sweep");
    workers::run_all_jobs_now(&state).await.expect("jobs");

    assert_eq!(swept, 1);
    assert!(bundle_of(&state, &auth, "x-1").await.is_some());
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_sweeper_leaves_a_tenant_alone_whose_batch_job_still_exists(pool: PgPool) {
    let state = state_with(pool, |_| {});
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("busy", 2)).await;

    let swept = workers::sweep::sweep_once(&state, Duration::ZERO)
        .await
        .expect("sweep");

    assert_eq!(swept, 0, "a queued job is busy work, not stalled work");
    workers::run_all_jobs_now(&state).await.expect("jobs");
    assert!(bundle_of(&state, &auth, "busy-1").await.is_some());
}

#[sqlx::test(migrations = "../../migrations")]
async fn events_arriving_while_the_batch_job_is_claimed_are_batched_and_proved(pool: PgPool) {
    let state = state_with(pool, |_| {});
    let auth = tenant(&state, None).await;
    submit(&state, &auth, events("r", 2)).await;
    let job = jobs::claim(&state.db, workers::LEASE, true)
        .await
        .expect("claim")
        .expect("job");
    // Locked job: the upsert only moves its run time; the job is not claimable meanwhile.
    submit(&state, &auth, events("r2", 1)).await;
    assert!(
        jobs::claim(&state.db, workers::LEASE, true)
            .await
            .expect("claim")
            .is_none()
    );

    workers::batch::BatchJob
        .run(&state, &job)
        .await
        .expect("batch");
    workers::run_all_jobs_now(&state).await.expect("jobs");

    assert_eq!(batch_sizes(&state, &auth).await.iter().sum::<i32>(), 3);
    assert!(bundle_of(&state, &auth, "r2-0").await.is_some());
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_root_is_bound_to_one_anchor_even_when_two_anchor_jobs_race(pool: PgPool) {
    let state = state_with(pool, |_| {});
    let auth = tenant(&state, Some(3)).await;
    submit(&state, &auth, events("k", 4)).await;
    let job = jobs::claim(&state.db, workers::LEASE, true)
        .await
        .expect("claim")
        .expect("job");
    workers::batch::BatchJob
        .run(&state, &job)
        .await
        .expect("batch");
    // A second anchor job for the same chain, as after a lease expiry.
    let mut tx = state.db.system_tx().await.expect("tx");
    jobs::enqueue(
        &mut tx,
        jobs::KIND_ANCHOR,
        None,
        serde_json::json!({ "chain": 3 }),
        None,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");

    let a = jobs::claim(&state.db, workers::LEASE, true)
        .await
        .expect("claim")
        .expect("a");
    let b = jobs::claim(&state.db, workers::LEASE, true)
        .await
        .expect("claim")
        .expect("b");
    let (ra, rb) = tokio::join!(
        workers::anchor::AnchorJob.run(&state, &a),
        workers::anchor::AnchorJob.run(&state, &b)
    );
    ra.expect("a");
    rb.expect("b");
    workers::run_all_jobs_now(&state).await.expect("jobs");

    let mut tx = state.db.system_tx().await.expect("tx");
    let anchors = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM anchors"#)
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(anchors, 1);
    assert_eq!(
        ancora::db::anchors::roots_anchored_twice(&mut tx)
            .await
            .expect("check"),
        0
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_job_that_outlives_its_lease_keeps_it_while_it_runs_and_nobody_claims_it_twice(
    pool: PgPool,
) {
    // Arrange: a job claimed with a short lease.
    let state = state_with(pool, |_| {});
    let lease = Duration::from_millis(300);
    let mut tx = state.db.system_tx().await.expect("tx");
    jobs::enqueue_archive_job(&mut tx, time::OffsetDateTime::now_utc())
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let job = jobs::claim(&state.db, lease, true)
        .await
        .expect("claim")
        .expect("job");

    // Act: it runs for four leases while another worker keeps trying to claim it.
    let others = async {
        let mut claimed = 0;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if jobs::claim(&state.db, lease, true)
                .await
                .expect("claim")
                .is_some()
            {
                claimed += 1;
            }
        }
        claimed
    };
    let ((), claimed) = tokio::join!(
        workers::holding_lease(
            &state.db,
            &job,
            lease,
            tokio::time::sleep(Duration::from_millis(1200))
        ),
        others
    );

    // Assert: never claimed while it ran; still this attempt's to finish.
    assert_eq!(claimed, 0, "the running job was claimed again");
    let mut tx = state.db.system_tx().await.expect("tx");
    assert!(jobs::take(&mut tx, &job).await.expect("take"));
    tx.rollback().await.expect("rollback");

    // Control: with nobody renewing, the lease ends and the job is claimed again.
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let again = jobs::claim(&state.db, lease, true)
        .await
        .expect("claim")
        .expect("claimed once the lease ended");
    assert_eq!(again.id, job.id);
    assert_eq!(again.attempts, job.attempts + 1);
    // The lease of the old attempt cannot be renewed any more.
    assert!(
        !jobs::extend_lease(&state.db, &job, lease)
            .await
            .expect("extend")
    );
}
