//! The API's findings of the security and reliability probe (issue 17), each pinned by a test
//! that fails without its fix. The portal's are in `portal/security.rs`; the database outage,
//! cancelled requests and connection limits in `resilience.rs`.

use ancora::domain::Role;
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem, digest_of};

async fn batches_of(app: &TestApp, tenant: ancora::domain::TenantId) -> i64 {
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM batches WHERE tenant_id = $1"#,
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("count")
}

#[sqlx::test(migrations = "../../migrations")]
async fn nul_bytes_and_non_utf8_in_api_paths_and_queries_answer_problem_json(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Owner).await;

    for path in [
        "/v1/events/inv%00x",
        "/v1/events/inv%00x/proof",
        "/v1/events/%FF%FE",
        "/v1/events/%C3%28/proof",
        "/v1/events?digest=%00",
        "/v1/proof/%00",
        "/v1/audit/proof/%FF",
    ] {
        let got = app.request(Method::GET, path, Some(&key), None).await;
        assert_problem(&got, StatusCode::BAD_REQUEST, "NUL");
    }
    // In a body: an id or a metadata value with NUL is refused as invalid, not a 500.
    let (s, b) = app
        .post_events(&key, json!([{ "id": "a\u{0}b", "digest": digest_of("x") }]))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = app
        .post_events(
            &key,
            json!([{ "id": "m-1", "digest": digest_of("x"), "metadata": { "k": "a\u{0}b" } }]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_key_that_may_not_submit_does_not_close_the_tenants_pending_batch(pool: PgPool) {
    // Arrange: pending events (no batcher runs in-process), and keys of every role that may
    // not submit.
    let app = TestApp::new(pool);
    let (tenant, submitter) = app.tenant_with_key(Role::Submitter).await;
    let (s, b) = app
        .post_events(
            &submitter,
            json!([{ "id": "p-1", "digest": digest_of("p") }]),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let body = json!({ "events": [{ "id": "q-1", "digest": digest_of("q") }] });

    for role in [Role::Auditor, Role::Billing] {
        let key = app.key(tenant, role).await;
        for path in ["/v1/events/batch", "/v1/audit/batch"] {
            // Act
            let got = app
                .request(Method::POST, path, Some(&key), Some(body.clone()))
                .await;
            // Assert: refused, and the pending event is still pending.
            assert_problem(&got, StatusCode::FORBIDDEN, "");
            assert_eq!(
                batches_of(&app, tenant).await,
                0,
                "{role} closed a batch via {path}"
            );
        }
    }
    assert_eq!(app.event_count(tenant).await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn event_ids_with_invisible_or_direction_changing_characters_are_refused(pool: PgPool) {
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;

    for (i, c) in [
        '\u{202E}', '\u{200B}', '\u{200F}', '\u{2066}', '\u{FEFF}', '\u{00AD}',
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("invoice{c}{i}");
        let (s, b) = app
            .post_events(&key, json!([{ "id": id, "digest": digest_of("x") }]))
            .await;
        assert_eq!(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "U+{:04X}: {b}",
            u32::from(c)
        );
        let detail = b["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("events[0].id") && detail.contains("invisible"),
            "{detail}"
        );
    }
    let (s, b) = app
        .post_events(
            &key,
            json!([{ "id": "facture-é-日本-1", "digest": digest_of("x") }]),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::ACCEPTED,
        "visible Unicode stays welcome: {b}"
    );
    assert_eq!(app.event_count(tenant).await, 1);
}

/// Every table with a `tenant_id` column, by name.
async fn tenant_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar!(
        r#"SELECT c.table_name AS "name!" FROM information_schema.columns c
           WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id'
           ORDER BY 1"#
    )
    .fetch_all(pool)
    .await
    .expect("tables")
}

#[sqlx::test(migrations = "../../migrations")]
async fn row_level_security_alone_hides_every_other_tenants_rows(pool: PgPool) {
    // Arrange: two tenants with events, a closed batch, keys and audit entries each.
    let app = TestApp::new(pool.clone());
    let mut tenants = Vec::new();
    for name in ["mine", "theirs"] {
        let (tenant, key) = app.tenant_with_key(Role::Owner).await;
        let body = json!({ "events": [{ "id": format!("{name}-1"), "digest": digest_of(name) }] });
        let got = app
            .request(Method::POST, "/v1/events/batch", Some(&key), Some(body))
            .await;
        assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.2);
        tenants.push(tenant);
    }
    let (mine, theirs) = (tenants[0], tenants[1]);
    // The system tables name a tenant but hold none of its data (the anchorer's queue of batch
    // roots, the job queue: hashes and references, read across tenants by the workers); every
    // other table with a tenant_id is a tenant table and must be walled off.
    const SYSTEM: [&str; 2] = ["anchor_queue", "jobs"];
    let tables: Vec<String> = tenant_tables(&pool)
        .await
        .into_iter()
        .filter(|t| !SYSTEM.contains(&t.as_str()))
        .collect();
    assert!(tables.len() >= 10, "tenant tables: {tables:?}");

    let mut populated = Vec::new();
    for table in &tables {
        // The table name comes from the catalog; the queries deliberately have no tenant
        // filter of the application's own (only RLS stands between the tenants).
        let everything = format!("SELECT count(*) FROM {table} WHERE tenant_id = $1");
        let stored: i64 = sqlx::query_scalar(&everything)
            .bind(theirs.0)
            .fetch_one(&pool)
            .await
            .expect("as the owner");
        if stored > 0 {
            populated.push(table.clone());
        }
        // Act: as the application role with my tenant set, and with no tenant set.
        let mut tx = app.state.db.tenant_tx(mine).await.expect("tenant tx");
        let seen_as_mine: i64 = sqlx::query_scalar(&everything)
            .bind(theirs.0)
            .fetch_one(&mut *tx)
            .await
            .expect("as ancora_app");
        let unfiltered: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE tenant_id IS DISTINCT FROM $1"
        ))
        .bind(mine.0)
        .fetch_one(&mut *tx)
        .await
        .expect("as ancora_app");
        tx.rollback().await.expect("rollback");
        let mut sys = app.state.db.system_tx().await.expect("system tx");
        let seen_as_system: i64 = sqlx::query_scalar(&everything)
            .bind(theirs.0)
            .fetch_one(&mut *sys)
            .await
            .expect("as ancora_app without a tenant");
        sys.rollback().await.expect("rollback");

        // Assert
        assert_eq!(
            seen_as_mine, 0,
            "{table}: another tenant's rows are visible"
        );
        assert_eq!(
            unfiltered, 0,
            "{table}: rows of no tenant or another are visible"
        );
        assert_eq!(
            seen_as_system, 0,
            "{table}: tenant rows visible with no tenant set"
        );
    }
    for must in ["events", "batches", "api_keys", "audit_log"] {
        assert!(
            populated.contains(&must.to_owned()),
            "{must} held none of their rows: {populated:?}"
        );
    }

    // Writing into another tenant is refused too.
    let mut tx = app.state.db.tenant_tx(mine).await.expect("tenant tx");
    let forged = sqlx::query(
        "INSERT INTO events (tenant_id, id, digest_alg, digest, submitter, received_at, received_at_micros, leaf_hash) \
         VALUES ($1, 'forged', 'sha256', $2, 'x', now(), 1, $2)",
    )
    .bind(theirs.0)
    .bind([1u8; 32].as_slice())
    .execute(&mut *tx)
    .await;
    assert!(
        forged.is_err(),
        "an insert into another tenant passed row-level security"
    );
}
