//! The archive over a local directory: encryption at rest, the pass, cold reads, retention,
//! expiry, legal hold, shredding, a wrong master key.

use ancora::domain::Role;
use ancora::services::archive::archiver::run_pass;
use ancora::services::archive::{ArchiveConfig, ArchiveError, CryptoError, MasterKey};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::*;
use crate::helpers::{TestApp, digest_of};

#[sqlx::test(migrations = "../../migrations")]
async fn contents_are_encrypted_at_rest_and_read_back_hot_then_cold_after_the_archiving_pass(
    pool: PgPool,
) {
    // Arrange
    let (archive, dir) = local_archive("archive-local");
    let app = app_with_archive(pool, archive);
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    post_contents(
        &app,
        &owner,
        &[
            ("inv-1", "invoice alpha 1000 EUR"),
            ("inv-2", "invoice beta"),
        ],
    )
    .await;

    // Assert: encrypted in Postgres, served decrypted to readers, refused to submitters.
    let rows = hot_rows(&app, tenant).await;
    assert_eq!(rows.len(), 2);
    for (_, bytes, encrypted) in &rows {
        assert!(encrypted);
        assert!(!contains(bytes, b"invoice"), "plaintext in Postgres");
    }
    let (s, source, body, _) = get_content(&app, &auditor, "inv-1").await;
    assert_eq!((s, source.as_str()), (StatusCode::OK, "hot"));
    assert_eq!(body, b"invoice alpha 1000 EUR");
    let submitter = app.key(tenant, Role::Submitter).await;
    assert_eq!(
        get_content(&app, &submitter, "inv-1").await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _, _, p) = get_content(&app, &auditor, "nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{p}");

    // Act: proved, then archived with a hot period of zero.
    prove_all(&app).await;
    assert_eq!(
        set_retention(&app, &owner, json!({ "hot": "0s" })).await.0,
        StatusCode::OK
    );
    let report = run_pass(&app.state).await.expect("pass");

    // Assert: copied, verified, hot copies dropped; the archive holds no plaintext.
    assert_eq!(report.batches_archived, 1, "{report:?}");
    assert_eq!(report.contents_dropped, 2, "{report:?}");
    assert!(report.anchors >= 1 && report.checkpoints >= 1, "{report:?}");
    assert!(hot_rows(&app, tenant).await.is_empty());
    let files = files_under(&dir);
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    for suffix in ["tenant.json", "segment.json", "contents.json"] {
        assert!(
            names.iter().any(|n| n.ends_with(suffix)),
            "{suffix} in {names:?}"
        );
    }
    assert!(
        names.iter().any(|n| n.contains("/v1/anchors/")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("/v1/checkpoints/")),
        "{names:?}"
    );
    for (p, bytes) in &files {
        assert!(!contains(bytes, b"invoice"), "plaintext in {}", p.display());
    }
    assert!(app.state.metrics.archive_objects.get() >= 5);

    // A cold read fetches, checks and decrypts, then keeps the content hot.
    let (s, source, body, p) = get_content(&app, &auditor, "inv-2").await;
    assert_eq!((s, source.as_str()), (StatusCode::OK, "cold"), "{p}");
    assert_eq!(body, b"invoice beta");
    let (_, source, body, _) = get_content(&app, &auditor, "inv-2").await;
    assert_eq!(
        (source.as_str(), body.as_slice()),
        ("hot", &b"invoice beta"[..])
    );
    assert_proof_verifies(&app, &auditor, "inv-1").await;

    // A second pass has nothing to copy.
    let again = run_pass(&app.state).await.expect("pass");
    assert_eq!(again.batches_archived, 0, "{again:?}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn retention_is_read_and_changed_by_owners_and_admins_and_nonsense_is_refused(pool: PgPool) {
    let app = TestApp::new(pool);
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    let admin = app.key(tenant, Role::Admin).await;

    let (s, _, b) = app
        .request(Method::GET, "/v1/retention", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["hot"], "30d");
    assert_eq!(b["keep"], "10y");
    assert_eq!(b["legalHold"], false);
    let (s, _, _) = app
        .request(Method::GET, "/v1/retention", Some(&auditor), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        set_retention(&app, &auditor, json!({ "hot": "1d" }))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    for (body, status) in [
        (json!({ "hot": "-1d" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "keep": "1000y" }), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({ "hot": "99999999999999999999y" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "hot": "10d", "keep": "1d" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "hot": "ten days" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (s, b) = set_retention(&app, &owner, body.clone()).await;
        assert_eq!(s, status, "{body} → {b}");
        assert!(b["detail"].as_str().is_some_and(|d| !d.is_empty()), "{b}");
    }
    let (s, _) = set_retention(&app, &owner, json!({ "hotDays": 3 })).await;
    assert!(s.is_client_error());

    let (s, b) = set_retention(
        &app,
        &admin,
        json!({ "hot": "0s", "keep": "12y", "legalHold": true }),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["hot"].clone(), b["keep"].clone(), b["legalHold"].clone()),
        (json!("0s"), json!("12y"), json!(true))
    );
    // Under legal hold the keep period cannot shorten, even while lifting the hold.
    let (s, b) = set_retention(&app, &owner, json!({ "keep": "1y" })).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(
        b["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("legal hold")
    );
    assert_eq!(
        set_retention(&app, &owner, json!({ "keep": "1y", "legalHold": false }))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        set_retention(&app, &owner, json!({ "legalHold": false }))
            .await
            .0,
        StatusCode::OK
    );
    let (s, b) = set_retention(&app, &owner, json!({ "keep": "1y" })).await;
    assert_eq!((s, b["keep"].clone()), (StatusCode::OK, json!("1y")));
    assert!(
        app.audit_actions(tenant)
            .await
            .iter()
            .any(|a| a == "retention.changed")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn expiry_deletes_archived_contents_leaves_a_tombstone_keeps_proofs_and_never_runs_under_legal_hold(
    pool: PgPool,
) {
    let (archive, dir) = local_archive("archive-expiry");
    let app = app_with_archive(pool, archive);
    let (_, held_owner, held_auditor) = tenant_keys(&app).await;
    let (_, owner, auditor) = tenant_keys(&app).await;
    post_contents(&app, &held_owner, &[("h-1", "held content")]).await;
    post_contents(&app, &owner, &[("x-1", "expiring content")]).await;
    prove_all(&app).await;
    let zero = json!({ "hot": "0s", "keep": "0s" });
    assert_eq!(
        set_retention(&app, &owner, zero.clone()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        set_retention(&app, &held_owner, zero).await.0,
        StatusCode::OK
    );
    assert_eq!(
        set_retention(&app, &held_owner, json!({ "legalHold": true }))
            .await
            .0,
        StatusCode::OK
    );

    let report = run_pass(&app.state).await.expect("pass");

    assert_eq!(report.batches_expired, 1, "{report:?}");
    let (s, _, _, p) = get_content(&app, &auditor, "x-1").await;
    assert_eq!(s, StatusCode::GONE, "{p}");
    assert!(
        p["problem"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("expired")
    );
    assert_proof_verifies(&app, &auditor, "x-1").await;
    let (s, _, body, _) = get_content(&app, &held_auditor, "h-1").await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, &b"held content"[..]));
    // One contents object is left (the held tenant's); both segments stay.
    let files = files_under(&dir);
    let count = |suffix: &str| files.iter().filter(|(p, _)| p.ends_with(suffix)).count();
    assert_eq!(count("contents.json"), 1);
    assert_eq!(count("segment.json"), 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn shredding_makes_contents_unreadable_everywhere_while_every_proof_still_verifies(
    pool: PgPool,
) {
    // Arrange: contents hot and archived.
    let (archive, dir) = local_archive("archive-shred");
    let app = app_with_archive(pool, archive);
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    post_contents(
        &app,
        &owner,
        &[("s-1", "confidential-one"), ("s-2", "confidential-two")],
    )
    .await;
    prove_all(&app).await;
    run_pass(&app.state).await.expect("pass");
    assert_eq!(
        hot_rows(&app, tenant).await.len(),
        2,
        "30 days hot by default"
    );
    let before = assert_proof_verifies(&app, &auditor, "s-1").await;

    // Act
    let done = ancora::services::archive::shred::shred(&app.state, tenant, "test")
        .await
        .expect("shred");

    // Assert
    assert!(done.key_destroyed_now);
    assert!(hot_rows(&app, tenant).await.is_empty());
    for id in ["s-1", "s-2"] {
        let (s, _, _, p) = get_content(&app, &auditor, id).await;
        assert_eq!(s, StatusCode::GONE, "{p}");
        assert!(
            p["problem"]["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("shredded")
        );
    }
    assert_eq!(assert_proof_verifies(&app, &auditor, "s-1").await, before);
    assert_proof_verifies(&app, &auditor, "s-2").await;
    // The archive keeps ciphertext only, and its record of the tenant no longer holds the key.
    let tenant_json: Value = serde_json::from_slice(
        &files_under(&dir)
            .into_iter()
            .find(|(p, _)| p.ends_with("tenant.json"))
            .expect("tenant.json")
            .1,
    )
    .expect("json");
    assert_eq!(
        tenant_json["rows"]["key"]["wrapped_key"],
        Value::Null,
        "{tenant_json}"
    );
    for (p, bytes) in files_under(&dir) {
        assert!(
            !contains(&bytes, b"confidential"),
            "plaintext in {}",
            p.display()
        );
    }
    // New contents are refused, digests still accepted; shredding twice is harmless.
    let (s, b) = app
        .post_events(&owner, json!([{ "id": "s-3", "content": "aGk=" }]))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, _) = app
        .post_events(&owner, json!([{ "id": "s-4", "digest": digest_of("s-4") }]))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let again = ancora::services::archive::shred::shred(&app.state, tenant, "test")
        .await
        .expect("again");
    assert!(!again.key_destroyed_now);
    assert!(
        app.audit_actions(tenant)
            .await
            .iter()
            .any(|a| a == "tenant.shredded")
    );

    // Under legal hold, a shred is refused.
    let (held, held_owner, _) = tenant_keys(&app).await;
    post_contents(&app, &held_owner, &[("k-1", "kept")]).await;
    set_retention(&app, &held_owner, json!({ "legalHold": true })).await;
    let refused = ancora::services::archive::shred::shred(&app.state, held, "test").await;
    assert!(
        matches!(refused, Err(ArchiveError::LegalHold(_))),
        "{refused:?}"
    );
    assert_eq!(hot_rows(&app, held).await.len(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_wrong_master_key_is_a_clear_error_and_a_metric_never_garbage(pool: PgPool) {
    let (archive, _) = local_archive("archive-key");
    let app = app_with_archive(pool.clone(), archive.clone());
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    post_contents(&app, &owner, &[("w-1", "secret")]).await;
    let other = app_with_archive(
        pool,
        ArchiveConfig {
            master_key: MasterKey::generate(),
            ..archive
        },
    );

    let got = ancora::services::archive::content::read(&other.state, tenant, "w-1").await;

    match got {
        Err(ArchiveError::Crypto(e @ CryptoError::WrongMasterKey { .. })) => {
            assert!(e.to_string().contains("ANCORA_MASTER_KEY"), "{e}");
        }
        other => panic!("expected a wrong-master-key error, got {other:?}"),
    }
    let (s, _, _, _) = get_content(&other, &auditor, "w-1").await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        other
            .state
            .metrics
            .render()
            .contains(r#"ancora_archive_errors_total{kind="wrong_master_key"} 2"#),
        "{}",
        other.state.metrics.render()
    );
    // The right key still reads it.
    assert_eq!(get_content(&app, &auditor, "w-1").await.2, b"secret");
}

#[sqlx::test(migrations = "../../migrations")]
async fn plaintext_contents_written_before_encryption_are_encrypted_by_the_archiving_pass(
    pool: PgPool,
) {
    let (archive, _) = local_archive("archive-plain");
    let app = app_with_archive(pool, archive);
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    let (s, _) = app
        .post_events(
            &owner,
            json!([{ "id": "old-1", "digest": digest_of("legacy plaintext") }]),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    sqlx::query!(
        "INSERT INTO event_contents (tenant_id, event_id, content) VALUES ($1, 'old-1', $2)",
        tenant.0,
        b"legacy plaintext".as_slice()
    )
    .execute(&mut *tx)
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(
        get_content(&app, &auditor, "old-1").await.2,
        b"legacy plaintext"
    );

    let report = run_pass(&app.state).await.expect("pass");

    assert_eq!(report.encrypted, 1, "{report:?}");
    let rows = hot_rows(&app, tenant).await;
    assert!(rows[0].2 && !contains(&rows[0].1, b"legacy"), "{rows:?}");
    assert_eq!(
        get_content(&app, &auditor, "old-1").await.2,
        b"legacy plaintext"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_another_pass_archived_first_is_not_written_again(pool: PgPool) {
    // Arrange: one batch archived by a pass.
    use ancora::services::archive::archiver::{PassReport, archive_batch};
    use ancora::services::archive::store::sha256;
    let (archive, dir) = local_archive("archive-twice");
    let app = app_with_archive(pool, archive);
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    post_contents(&app, &owner, &[("tw-1", "first"), ("tw-2", "second")]).await;
    prove_all(&app).await;
    let first = run_pass(&app.state).await.expect("pass");
    assert_eq!(first.batches_archived, 1, "{first:?}");
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    let (batch, closed, recorded): (uuid::Uuid, time::OffsetDateTime, Vec<u8>) =
        sqlx::query_as("SELECT id, created_at, archive_sha256 FROM batches WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(&mut *tx)
            .await
            .expect("batch");
    tx.commit().await.expect("commit");
    let before = files_under(&dir);
    let segment = |files: &[(std::path::PathBuf, Vec<u8>)]| {
        files
            .iter()
            .find(|(p, _)| p.ends_with("segment.json"))
            .map(|(_, b)| b.clone())
            .expect("segment.json")
    };
    assert_eq!(sha256(&segment(&before)).to_vec(), recorded);

    // Act: what a second pass that listed the batch before the first recorded it does.
    let mut report = PassReport::default();
    archive_batch(&app.state, tenant, batch, closed, &mut report)
        .await
        .expect("second archiving of the batch");

    // Assert: nothing written, the copy on record is still the one in the store.
    assert_eq!(report.batches_archived, 0, "{report:?}");
    assert_eq!(report.objects, 0, "{report:?}");
    let after = files_under(&dir);
    assert_eq!(segment(&after), segment(&before));
    assert_eq!(sha256(&segment(&after)).to_vec(), recorded);
    assert_proof_verifies(&app, &auditor, "tw-1").await;
}
