//! The audit log is anchored like events: each tenant entry becomes the event `audit-<id>`,
//! in the same transaction, whose digest is the SHA-256 of the entry's canonical JSON; the
//! workers prove it, and the audit page links every entry to its proof.

use ancora::db::audit::{self, AuditEntry};
use ancora::domain::Role;
use ancora::workers;
use ancora_proof::bundle::{Bundle, verify_bundle};
use ancora_proof::event::ContentDigest;
use serde_json::json;
use sqlx::PgPool;
use time::format_description::well_known::Rfc3339;

use super::{Browser, PASSWORD, user};
use crate::helpers::TestApp;

/// The tenant's audit rows as stored, oldest first, as the canonical JSON the contract names
/// (built here independently of the code under test).
async fn canonical_rows(app: &TestApp, t: ancora::domain::TenantId) -> Vec<(i64, Vec<u8>)> {
    let mut tx = app.state.db.tenant_tx(t).await.expect("tx");
    let rows = sqlx::query!(
        "SELECT id, actor, action, subject, details, at FROM audit_log \
         WHERE tenant_id = $1 ORDER BY id",
        t.0
    )
    .fetch_all(&mut *tx)
    .await
    .expect("rows");
    tx.commit().await.expect("commit");
    rows.into_iter()
        .map(|r| {
            let row = json!({
                "action": r.action, "actor": r.actor,
                "at": r.at.format(&Rfc3339).expect("time"),
                "details": r.details, "id": r.id, "subject": r.subject,
                "tenant_id": t.to_string(),
            });
            (r.id, serde_json::to_vec(&row).expect("json"))
        })
        .collect()
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_audit_entry_of_a_tenant_gets_a_bundle_that_verifies_and_the_page_links_it(
    pool: PgPool,
) {
    // Arrange: creating the tenant and a user writes two audit entries.
    let app = TestApp::new(pool);
    let t = app.tenant().await;
    let email = user(&app, t, Role::Auditor).await;

    // Act
    workers::run_all_jobs_now(&app.state)
        .await
        .expect("the workers batch, anchor and prove");

    // Assert: each entry's event holds the digest of its canonical JSON, and its bundle verifies.
    let trust = crate::workers::trust(&app.state).await;
    let rows = canonical_rows(&app, t).await;
    assert_eq!(rows.len(), 2, "tenant.created and user.created");
    for (id, canonical) in &rows {
        let event = format!("audit-{id}");
        let mut tx = app.state.db.tenant_tx(t).await.expect("tx");
        let stored = ancora::db::proofs::get(&mut tx, t, &event)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{event} has a bundle"));
        tx.commit().await.expect("commit");
        let json = ancora::services::proofs::assemble(t, stored, &mut Default::default())
            .expect("assembled");
        let bundle = Bundle::from_json(json.to_string().as_bytes()).expect("a bundle");
        assert_eq!(bundle.event.event_id, event);
        assert_eq!(bundle.event.submitter, audit::AUDIT_SUBMITTER);
        assert_eq!(bundle.event.digest, ContentDigest::sha256_of(canonical));
        let report = verify_bundle(&bundle, &trust);
        assert!(
            report.is_verified(),
            "{event}: {:?}",
            report.failures().collect::<Vec<_>>()
        );
    }

    // And the audit page shows each of them proved, linked to its event.
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let page = b.get(&format!("/t/{t}/audit")).await.text();
    for (id, _) in &rows {
        let link = format!(
            "href=\"/t/{t}/events/audit-{id}\" title=\"The proof of this entry\"><span class=\"badge proved\">proved</span>"
        );
        assert!(page.contains(&link), "entry {id} links its proof: {page}");
    }
    // The sign-in just written is not proved yet, and says so.
    assert!(page.contains("<span class=\"badge pending\">pending</span>"));
    let event_page = b.get(&format!("/t/{t}/events/audit-{}", rows[0].0)).await;
    assert!(event_page.text().contains("Verdict: verified"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_audit_entry_and_its_event_commit_or_roll_back_together(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = app.tenant().await;
    let count = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            let mut tx = db.tenant_tx(t).await.expect("tx");
            let n = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM events WHERE tenant_id = $1 AND submitter = 'audit'"#,
                t.0
            )
            .fetch_one(&mut *tx)
            .await
            .expect("count");
            tx.commit().await.expect("commit");
            n
        }
    };
    let before = count(&app).await;

    let mut tx = app.state.db.tenant_tx(t).await.expect("tx");
    audit::record(
        &mut tx,
        AuditEntry {
            tenant: Some(t),
            actor: "test",
            action: "test.rolled_back",
            subject: None,
            details: json!({}),
        },
    )
    .await
    .expect("record");
    let inside = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM events WHERE tenant_id = $1 AND submitter = 'audit'"#,
        t.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("count");
    tx.rollback().await.expect("rollback");

    assert_eq!(before, 1, "tenant.created");
    assert_eq!(
        inside,
        before + 1,
        "the event is written in the entry's transaction"
    );
    assert_eq!(count(&app).await, before, "and rolled back with it");
}

#[sqlx::test(migrations = "../../migrations")]
async fn platform_entries_are_not_anchored(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut tx = app.state.db.system_tx().await.expect("tx");
    audit::record(
        &mut tx,
        AuditEntry {
            tenant: None,
            actor: "test",
            action: "platform.thing",
            subject: None,
            details: json!({}),
        },
    )
    .await
    .expect("record");
    tx.commit().await.expect("commit");
    let events = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM events"#)
        .fetch_one(app.state.db.pool())
        .await
        .expect("count");
    let jobs = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs"#)
        .fetch_one(app.state.db.pool())
        .await
        .expect("count");
    assert_eq!((events, jobs), (0, 0));
}
