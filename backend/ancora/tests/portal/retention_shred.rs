//! Retention, crypto-shredding and archived marks in the portal: the settings page shows the
//! retention policy to every reader and its form to owners and admins; refusals re-render the
//! page with the service's reason and change nothing; only an owner destroys the contents,
//! after typing the tenant's name or id, never under legal hold, and proofs still verify
//! after; events and batches are marked hot, archived, expired or destroyed.

use ancora::domain::{Role, TenantId};
use ancora::services::archive::archiver::run_pass;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{Browser, PASSWORD, Page, user};
use crate::archive::{
    app_with_archive, assert_proof_verifies, get_content, local_archive, post_contents, prove_all,
    set_retention,
};
use crate::helpers::TestApp;

/// The name every test tenant has (`TestApp::tenant`).
const TENANT_NAME: &str = "Test tenant";

/// A tenant over a local archive with one proved event `doc-1` whose content is hot, and an
/// owner API key.
async fn tenant_with_content(tag: &str, pool: PgPool) -> (TestApp, TenantId, String) {
    let (archive, _) = local_archive(tag);
    let app = app_with_archive(pool, archive);
    let (t, owner_key) = app.tenant_with_key(Role::Owner).await;
    post_contents(
        &app,
        &owner_key,
        &[("doc-1", "quarterly figures, confidential")],
    )
    .await;
    prove_all(&app).await;
    (app, t, owner_key)
}

/// A signed-in browser for a new member of `t` with `role`, and their email.
async fn member(app: &TestApp, t: TenantId, role: Role) -> (Browser<'_>, String) {
    let email = user(app, t, role).await;
    let mut b = Browser::new(app);
    assert_eq!(
        b.sign_in(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    (b, email)
}

/// The policy as the API reads it.
async fn api_policy(app: &TestApp, owner_key: &str) -> Value {
    let (s, _, b) = app
        .request(Method::GET, "/v1/retention", Some(owner_key), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    json!({ "hot": b["hot"], "keep": b["keep"], "legalHold": b["legalHold"] })
}

/// How many times `action` was audited in `t`.
async fn audited(app: &TestApp, t: TenantId, action: &str) -> usize {
    app.audit_actions(t)
        .await
        .iter()
        .filter(|a| *a == action)
        .count()
}

/// The actors of `action` in `t`'s audit log.
async fn actors_of(app: &TestApp, t: TenantId, action: &str) -> Vec<String> {
    let mut tx = app.state.db.tenant_tx(t).await.expect("tx");
    let actors = sqlx::query_scalar::<_, String>(
        "SELECT actor FROM audit_log WHERE tenant_id = $1 AND action = $2 ORDER BY id",
    )
    .bind(t.0)
    .bind(action)
    .fetch_all(&mut *tx)
    .await
    .expect("actors");
    tx.commit().await.expect("commit");
    actors
}

fn is_html(p: &Page) -> bool {
    p.headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// The content of `doc-1` as the API serves it: status and body.
async fn content(app: &TestApp, key: &str) -> (StatusCode, Vec<u8>) {
    let (s, _, body, _) = get_content(app, key, "doc-1").await;
    (s, body)
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_owner_sees_the_retention_policy_and_changes_it_through_the_form_with_an_audit_row(
    pool: PgPool,
) {
    // Arrange
    let app = TestApp::new(pool);
    let (t, key) = app.tenant_with_key(Role::Owner).await;
    let (mut b, email) = member(&app, t, Role::Owner).await;
    let settings = format!("/t/{t}/settings");

    // Act
    let before = b.get(&settings).await;
    let saved = b
        .post(
            &format!("{settings}/retention"),
            &[("hot", "7d"), ("keep", "12y"), ("legal_hold", "on")],
        )
        .await;

    // Assert
    assert_eq!(before.status, StatusCode::OK);
    let text = before.text();
    assert!(
        text.contains("<dd>30d") && text.contains("<dd>10y"),
        "{text}"
    );
    assert!(text.contains("data-testid=\"retention-form\""), "{text}");
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert!(
        saved.text().contains("Retention saved."),
        "{}",
        saved.text()
    );
    assert!(saved.text().contains("<dd>7d") && saved.text().contains("<dd>12y"));
    assert_eq!(
        api_policy(&app, &key).await,
        json!({ "hot": "7d", "keep": "12y", "legalHold": true })
    );
    assert_eq!(
        actors_of(&app, t, "retention.changed").await,
        vec![format!("user:{email}")]
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_retention_values_re_render_the_page_with_the_reason_and_change_nothing(pool: PgPool) {
    // Arrange: a legal hold is on.
    let app = TestApp::new(pool);
    let (t, key) = app.tenant_with_key(Role::Owner).await;
    let (mut b, _) = member(&app, t, Role::Admin).await;
    let path = format!("/t/{t}/settings/retention");
    b.get(&format!("/t/{t}/settings")).await;
    let held = b
        .post(
            &path,
            &[("hot", "30d"), ("keep", "10y"), ("legal_hold", "on")],
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text());
    let policy = api_policy(&app, &key).await;
    let changes = audited(&app, t, "retention.changed").await;
    let cases: [(&str, &str, StatusCode, &str); 6] = [
        (
            "-1d",
            "10y",
            StatusCode::UNPROCESSABLE_ENTITY,
            "cannot be negative",
        ),
        (
            "30d",
            "1000y",
            StatusCode::UNPROCESSABLE_ENTITY,
            "longer than 100 years",
        ),
        (
            "30d",
            "1d",
            StatusCode::UNPROCESSABLE_ENTITY,
            "must be at least as long as hot",
        ),
        (
            "soon",
            "10y",
            StatusCode::UNPROCESSABLE_ENTITY,
            "is not a duration",
        ),
        ("30d", "", StatusCode::UNPROCESSABLE_ENTITY, "Keep:"),
        ("30d", "5y", StatusCode::CONFLICT, "under legal hold"),
    ];
    for (hot, keep, status, reason) in cases {
        // Act
        let p = b
            .post(&path, &[("hot", hot), ("keep", keep), ("legal_hold", "on")])
            .await;

        // Assert
        let text = p.text();
        assert_eq!(p.status, status, "{hot} {keep}: {text}");
        assert!(is_html(&p), "{hot} {keep}: a page, not plain text");
        assert!(
            text.contains("data-testid=\"retention-error\"")
                && text.contains("Nothing was changed.")
                && text.contains(reason),
            "{hot} {keep}: {text}"
        );
        assert!(
            text.contains(&format!("value=\"{hot}\"")),
            "the typed value is shown again"
        );
        assert_eq!(api_policy(&app, &key).await, policy, "{hot} {keep}");
        assert_eq!(audited(&app, t, "retention.changed").await, changes);
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_auditor_sees_the_policy_but_no_form_and_both_posts_are_forbidden(pool: PgPool) {
    // Arrange
    let (app, t, key) = tenant_with_content("portal-auditor", pool).await;
    let (mut b, _) = member(&app, t, Role::Auditor).await;

    // Act
    let page = b.get(&format!("/t/{t}/settings")).await;
    let retention = b
        .post(
            &format!("/t/{t}/settings/retention"),
            &[("hot", "0s"), ("keep", "0s")],
        )
        .await;
    let shred = b
        .post(
            &format!("/t/{t}/settings/shred"),
            &[("confirm", TENANT_NAME)],
        )
        .await;

    // Assert
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("data-testid=\"retention-policy\"") && text.contains("<dd>30d"),
        "{text}"
    );
    assert!(!text.contains("data-testid=\"retention-form\""), "{text}");
    assert!(!text.contains("data-testid=\"shred-form\""), "{text}");
    assert_eq!(retention.status, StatusCode::FORBIDDEN);
    assert!(retention.text().contains("Not allowed"));
    assert_eq!(shred.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api_policy(&app, &key).await,
        json!({ "hot": "30d", "keep": "10y", "legalHold": false })
    );
    assert_eq!(content(&app, &key).await.0, StatusCode::OK);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_admin_manages_retention_but_sees_no_shred_form_and_a_crafted_shred_post_is_forbidden(
    pool: PgPool,
) {
    // Arrange
    let (app, t, key) = tenant_with_content("portal-admin-shred", pool).await;
    let (mut b, _) = member(&app, t, Role::Admin).await;

    // Act
    let page = b.get(&format!("/t/{t}/settings")).await;
    let shred = b
        .post(
            &format!("/t/{t}/settings/shred"),
            &[("confirm", TENANT_NAME)],
        )
        .await;

    // Assert
    let text = page.text();
    assert!(text.contains("data-testid=\"retention-form\""), "{text}");
    assert!(!text.contains("data-testid=\"shred-form\""), "{text}");
    assert!(!text.contains("Destroy contents"), "{text}");
    assert_eq!(shred.status, StatusCode::FORBIDDEN);
    assert!(shred.text().contains("Not allowed"), "{}", shred.text());
    assert_eq!(
        content(&app, &key).await,
        (StatusCode::OK, b"quarterly figures, confidential".to_vec())
    );
    assert_eq!(audited(&app, t, "tenant.shredded").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_shred_with_a_wrong_confirmation_destroys_nothing_and_says_why(pool: PgPool) {
    // Arrange
    let (app, t, key) = tenant_with_content("portal-shred-wrong", pool).await;
    let (mut b, _) = member(&app, t, Role::Owner).await;
    let page = b.get(&format!("/t/{t}/settings")).await;
    assert!(page.text().contains("data-testid=\"shred-form\""));

    for typed in ["", "test tenant", "Another tenant", "yes"] {
        // Act
        let p = b
            .post(&format!("/t/{t}/settings/shred"), &[("confirm", typed)])
            .await;

        // Assert
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        assert!(is_html(&p));
        assert!(
            p.text().contains("data-testid=\"shred-error\"")
                && p.text().contains("Nothing was destroyed"),
            "{typed:?}: {}",
            p.text()
        );
    }
    assert_eq!(
        content(&app, &key).await,
        (StatusCode::OK, b"quarterly figures, confidential".to_vec())
    );
    assert_eq!(audited(&app, t, "tenant.shredded").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_owner_who_types_the_tenant_name_destroys_the_contents_and_proofs_still_verify(
    pool: PgPool,
) {
    // Arrange: the content is archived too.
    let (app, t, key) = tenant_with_content("portal-shred", pool).await;
    set_retention(&app, &key, json!({ "hot": "0s" })).await;
    run_pass(&app.state).await.expect("pass");
    let proof_before = assert_proof_verifies(&app, &key, "doc-1").await;
    let (mut b, email) = member(&app, t, Role::Owner).await;
    b.get(&format!("/t/{t}/settings")).await;

    // Act
    let p = b
        .post(
            &format!("/t/{t}/settings/shred"),
            &[("confirm", TENANT_NAME)],
        )
        .await;

    // Assert
    let text = p.text();
    assert_eq!(p.status, StatusCode::OK, "{text}");
    assert!(
        text.contains("data-testid=\"shred-ok\"")
            && text.contains("contents were destroyed")
            && text.contains("proofs remain valid"),
        "{text}"
    );
    assert!(text.contains("data key was destroyed on"), "{text}");
    let (s, _, _, problem) = get_content(&app, &key, "doc-1").await;
    assert_eq!(s, StatusCode::GONE, "{problem}");
    assert!(
        problem["problem"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("shredded"),
        "{problem}"
    );
    assert_eq!(
        assert_proof_verifies(&app, &key, "doc-1").await,
        proof_before
    );
    assert_eq!(
        actors_of(&app, t, "tenant.shredded").await,
        vec![format!("user:{email}")]
    );
    let event = b.get(&format!("/t/{t}/events/doc-1")).await;
    assert!(
        event.text().contains("class=\"badge destroyed\""),
        "{}",
        event.text()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_shred_under_legal_hold_is_refused_with_the_reason_even_when_confirmed_by_id(
    pool: PgPool,
) {
    // Arrange
    let (app, t, key) = tenant_with_content("portal-shred-hold", pool).await;
    let (s, _) = set_retention(&app, &key, json!({ "legalHold": true })).await;
    assert_eq!(s, StatusCode::OK);
    let (mut b, _) = member(&app, t, Role::Owner).await;
    b.get(&format!("/t/{t}/settings")).await;

    // Act
    let id = t.to_string();
    let p = b
        .post(
            &format!("/t/{t}/settings/shred"),
            &[("confirm", id.as_str())],
        )
        .await;

    // Assert
    let text = p.text();
    assert_eq!(p.status, StatusCode::CONFLICT, "{text}");
    assert!(is_html(&p));
    assert!(
        text.contains("data-testid=\"shred-error\"") && text.contains("under legal hold"),
        "{text}"
    );
    assert_eq!(
        content(&app, &key).await,
        (StatusCode::OK, b"quarterly figures, confidential".to_vec())
    );
    assert_eq!(audited(&app, t, "tenant.shredded").await, 0);
}

/// The row of `id` in a rendered table.
fn row_of<'a>(html: &'a str, id: &str) -> &'a str {
    html.split("<tr>")
        .find(|r| r.contains(&format!(">{id}</a>")))
        .unwrap_or_else(|| panic!("no row for {id} in {html}"))
}

/// The contents marks of `doc-1`'s event page, catalog row, digest search row and batch page.
async fn marks(b: &mut Browser<'_>, t: TenantId) -> Vec<String> {
    let event = b.get(&format!("/t/{t}/events/doc-1")).await.text();
    let batch = event
        .split("href=\"/t/")
        .filter_map(|s| s.split('"').next())
        .find(|s| s.contains("/batches/"))
        .map(|s| format!("/t/{s}"))
        .expect("a batch link");
    let digest = event
        .split("sha256:")
        .nth(1)
        .map(|s| s[..64].to_owned())
        .expect("the digest");
    let catalog = b.get(&format!("/t/{t}/events")).await.text();
    let search = b.get(&format!("/t/{t}/events?q={digest}")).await.text();
    let batch = b.get(&batch).await.text();
    let badge = |html: &str| {
        html.split("class=\"badge ")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .find(|c| ["hot", "archived", "expired", "destroyed"].contains(c))
            .unwrap_or("none")
            .to_owned()
    };
    vec![
        badge(
            event
                .split("<dt>Contents</dt>")
                .nth(1)
                .expect("event contents"),
        ),
        badge(row_of(&catalog, "doc-1")),
        badge(row_of(&search, "doc-1")),
        badge(
            batch
                .split("<dt>Contents</dt>")
                .nth(1)
                .expect("batch contents"),
        ),
    ]
}

#[sqlx::test(migrations = "../../migrations")]
async fn events_and_batches_are_marked_hot_then_archived_then_expired(pool: PgPool) {
    // Arrange
    let (app, t, key) = tenant_with_content("portal-marks", pool).await;
    let (mut b, _) = member(&app, t, Role::Auditor).await;
    let hot = marks(&mut b, t).await;

    // Act: archived by a pass with no hot period, then expired with no keep period.
    set_retention(&app, &key, json!({ "hot": "0s" })).await;
    let report = run_pass(&app.state).await.expect("pass");
    let archived = marks(&mut b, t).await;
    set_retention(&app, &key, json!({ "keep": "0s" })).await;
    run_pass(&app.state).await.expect("expiry pass");
    let expired = marks(&mut b, t).await;

    // Assert
    assert_eq!(hot, vec!["hot"; 4]);
    assert!(report.batches_archived >= 1, "{report:?}");
    assert_eq!(archived, vec!["archived"; 4]);
    assert_eq!(expired, vec!["expired"; 4]);
}
