//! The portal in-process: every page for every role, the route × role × tenant matrix,
//! sessions, CSRF, throttling, invitations, bad input and report downloads.

use ancora::domain::{Role, TenantId};
use ancora::services::authorization::Action;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use secrecy::SecretString;
use sqlx::PgPool;
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::helpers::TestApp;

#[path = "../../reports/tests/fixture.rs"]
pub(crate) mod fixture;

mod audit_anchor;
mod billing_page;
mod pages;
mod retention_shred;
mod security;
mod server_side;

pub(crate) const PASSWORD: &str = "a long enough password";
const EVENT: &str = "inv-2026-0003";

/// A browser: one cookie, the last page's CSRF token, and the client address the server sees
/// (`None`: the request carries no `ConnectInfo`, as with `oneshot`).
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    /// The session cookie (`name=value`).
    cookie: Option<String>,
    /// The anonymous CSRF cookie (`ancora_csrf=…`), set on a first visit.
    anon: Option<String>,
    pub(crate) csrf: Option<String>,
    ip: Option<std::net::SocketAddr>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Page {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookie: None,
            anon: None,
            csrf: None,
            ip: None,
        }
    }

    pub(crate) async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Page {
        let jar: Vec<&str> = [&self.anon, &self.cookie]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let req = if jar.is_empty() {
            req
        } else {
            req.header(header::COOKIE, jar.join("; "))
        };
        let req = match self.ip {
            Some(ip) => req.extension(axum::extract::ConnectInfo(ip)),
            None => req,
        };
        let router = ancora::http::router(self.app.state.clone());
        let resp = router
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        for set in headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = set.split(';').next().unwrap_or("").to_owned();
            let value = if pair.ends_with('=') {
                None
            } else {
                Some(pair.clone())
            };
            if pair.starts_with("ancora_csrf=") {
                self.anon = value;
            } else {
                self.cookie = value;
            }
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        let page = Page {
            status,
            headers,
            body,
        };
        if let Some(t) = csrf_in(&page.text()) {
            self.csrf = Some(t);
        }
        page
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        self.send(Request::builder().uri(path), Body::empty()).await
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf.clone().unwrap_or_default();
        all.push(("csrf", &token));
        self.post_raw(path, &all).await
    }

    async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            s.append_pair(k, v);
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(req, Body::from(s.finish())).await
    }

    pub(crate) async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.get("/login").await;
        let p = self
            .post("/login", &[("email", email), ("password", password)])
            .await;
        if p.status == StatusCode::SEE_OTHER {
            // Signing in issues a new CSRF token: pick it up as a browser would.
            self.get("/account").await;
        }
        p
    }
}

fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// A tenant with one proved event (the fixture's bundle) in one batch.
async fn tenant_with_event(app: &TestApp) -> TenantId {
    tenant_with_named_event(app, EVENT).await.0
}

/// A tenant with one proved event named `event` (the fixture's bundle) in one batch: the
/// tenant and the batch.
pub(crate) async fn tenant_with_named_event(app: &TestApp, event: &str) -> (TenantId, Uuid) {
    let t = app.tenant().await;
    let bundle = fixture::bundle();
    let batch = Uuid::now_v7();
    let mut tx = app.state.db.tenant_tx(t).await.expect("tx");
    let seq = sqlx::query_scalar!(
        "INSERT INTO events (tenant_id, id, digest_alg, digest, submitter, received_at, received_at_micros, leaf_hash) \
         VALUES ($1, $2, 'sha256', $3, 'ak_test', now(), 1767225600000003, $4) RETURNING seq",
        t.0,
        event,
        [7u8; 32].as_slice(),
        [9u8; 32].as_slice()
    )
    .fetch_one(&mut *tx)
    .await
    .expect("event");
    // The batch is the tenant's events up to this one (a stored whole bundle, as before
    // compact proofs, so the fixture's bundle is served as it is).
    sqlx::query!(
        "INSERT INTO batches (id, tenant_id, state, size, root, target_chain, first_seq, last_seq, anchored_at, proved_at) \
         VALUES ($1, $2, 'proved', 5, $3, 3, $4, $4, now(), now())",
        batch,
        t.0,
        bundle.batch.root.as_bytes().as_slice(),
        seq
    )
    .execute(&mut *tx)
    .await
    .expect("batch");
    sqlx::query!(
        "INSERT INTO batch_cursors (tenant_id, last_seq) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_seq = EXCLUDED.last_seq",
        t.0,
        seq
    )
    .execute(&mut *tx)
    .await
    .expect("cursor");
    sqlx::query!(
        "INSERT INTO proofs (tenant_id, event_id, batch_id, bundle, leaf_index) VALUES ($1, $2, $3, $4, 3)",
        t.0,
        event,
        batch,
        serde_json::to_value(&bundle).expect("json")
    )
    .execute(&mut *tx)
    .await
    .expect("proof");
    tx.commit().await.expect("commit");
    // The stored bundle's checkpoint is signed by the fixture's log key: make that key this
    // server's, as it is for every bundle a server stored (a bundle is checked when read).
    sqlx::query(
        "INSERT INTO tlog_signer (id, origin, secret_key) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET origin = EXCLUDED.origin, secret_key = EXCLUDED.secret_key",
    )
    .bind(fixture::ORIGIN)
    .bind([7u8; 32].as_slice())
    .execute(app.state.db.pool())
    .await
    .expect("the fixture's log key is this server's");
    (t, batch)
}

pub(crate) async fn user(app: &TestApp, tenant: TenantId, role: Role) -> String {
    let email = format!("{role}-{}@example.test", Uuid::now_v7().simple());
    ancora::admin::create_user(
        &app.state.db,
        &email,
        &SecretString::from(PASSWORD),
        tenant,
        role,
        false,
        "test",
    )
    .await
    .expect("user");
    email
}

/// Every GET page and the action that guards it.
fn get_routes(t: TenantId) -> Vec<(String, Action)> {
    let e = format!("/t/{t}/events/{EVENT}");
    vec![
        (format!("/t/{t}"), Action::ViewDashboard),
        (format!("/t/{t}/events"), Action::ReadCatalog),
        (
            format!("/t/{t}/events?q={}", hex::encode([7u8; 32])),
            Action::ReadCatalog,
        ),
        (format!("/t/{t}/events.csv"), Action::ReadCatalog),
        (e.clone(), Action::ReadCatalog),
        (format!("{e}/bundle.json"), Action::ReadCatalog),
        (format!("{e}/report.pdf"), Action::DownloadReport),
        (format!("{e}/report.json"), Action::DownloadReport),
        (
            format!("/t/{t}/reports/range?from=2000-01-01&to=2100-01-01&format=json"),
            Action::DownloadReport,
        ),
        (format!("/t/{t}/verify"), Action::VerifyBundle),
        (format!("/t/{t}/audit"), Action::ReadAuditLog),
        (format!("/t/{t}/members"), Action::ReadMembers),
        (format!("/t/{t}/keys"), Action::ReadApiKeys),
        (format!("/t/{t}/settings"), Action::ReadSettings),
        (format!("/t/{t}/webhooks"), Action::ReadWebhooks),
        (format!("/t/{t}/billing"), Action::ViewUsage),
    ]
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_page_answers_each_role_exactly_as_authorize_decides_and_other_tenants_are_404(
    pool: PgPool,
) {
    let app = TestApp::new(pool);
    let mine = tenant_with_event(&app).await;
    let other = tenant_with_event(&app).await;
    for role in Role::ALL {
        let email = user(&app, mine, role).await;
        let mut b = Browser::new(&app);
        let signed = b.sign_in(&email, PASSWORD).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{role} signs in");
        for (path, action) in get_routes(mine) {
            let got = b.get(&path).await.status;
            let want = if action.roles().contains(&role) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(got, want, "{role} GET {path}");
        }
        // Another tenant's pages, even for ids that exist there: 404, never 403.
        for (path, _) in get_routes(other) {
            assert_eq!(
                b.get(&path).await.status,
                StatusCode::NOT_FOUND,
                "{role} GET {path}"
            );
        }
        // A tenant that does not exist reads the same.
        for (path, _) in get_routes(TenantId::new()) {
            assert_eq!(
                b.get(&path).await.status,
                StatusCode::NOT_FOUND,
                "{role} GET {path}"
            );
        }
    }
    let mut anon = Browser::new(&app);
    for (path, _) in get_routes(mine) {
        let p = anon.get(&path).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "anonymous GET {path}");
        assert!(
            p.location().starts_with("/login?next="),
            "{path} → {}",
            p.location()
        );
    }
}

/// A form: its path, its fields, and the action that guards it.
type Form = (String, Vec<(&'static str, &'static str)>, Action);

#[sqlx::test(migrations = "../../migrations")]
async fn every_state_changing_form_is_allowed_only_to_the_roles_authorize_names(pool: PgPool) {
    let app = TestApp::new(pool);
    let mine = tenant_with_event(&app).await;
    let other = tenant_with_event(&app).await;
    let forms = |t: TenantId| -> Vec<Form> {
        vec![
            (
                format!("/t/{t}/members"),
                vec![("email", "new@example.test"), ("role", "auditor")],
                Action::InviteMember,
            ),
            (
                format!("/t/{t}/keys"),
                vec![("name", "k"), ("role", "submitter")],
                Action::ManageApiKeys,
            ),
            (
                format!("/t/{t}/settings"),
                vec![("require_signatures", "on")],
                Action::ChangeSettings,
            ),
            (
                format!("/t/{t}/settings/retention"),
                vec![("hot", "30d"), ("keep", "10y")],
                Action::ManageRetention,
            ),
            (
                format!("/t/{t}/settings/shred"),
                vec![("confirm", "not the tenant's name")],
                Action::ShredContents,
            ),
            (
                format!("/t/{t}/verify"),
                vec![("bundle", "{}")],
                Action::VerifyBundle,
            ),
            (
                format!("/t/{t}/billing/checkout"),
                vec![("plan", "team")],
                Action::ManageBilling,
            ),
            (
                format!("/t/{t}/billing/manage"),
                vec![],
                Action::ManageBilling,
            ),
        ]
    };
    for role in Role::ALL {
        let email = user(&app, mine, role).await;
        let mut b = Browser::new(&app);
        b.sign_in(&email, PASSWORD).await;
        for (path, fields, action) in forms(mine) {
            let got = b.post(&path, &fields).await.status;
            let allowed = action.roles().contains(&role);
            if allowed {
                assert!(
                    got == StatusCode::OK || got == StatusCode::UNPROCESSABLE_ENTITY,
                    "{role} POST {path}: {got}"
                );
            } else {
                assert_eq!(got, StatusCode::FORBIDDEN, "{role} POST {path}");
            }
        }
        for (path, fields, _) in forms(other) {
            assert_eq!(
                b.post(&path, &fields).await.status,
                StatusCode::NOT_FOUND,
                "{role} POST {path}"
            );
        }
    }
    // Nothing changed in the other tenant.
    assert!(
        !app.audit_actions(other)
            .await
            .iter()
            .any(|a| a == "api_key.created" || a == "policy.changed" || a == "retention.changed")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn signing_in_rotates_the_session_id_and_signing_out_ends_it(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Auditor).await;
    let mut b = Browser::new(&app);
    b.get("/login").await;
    let before = b.cookie.clone();
    let p = b
        .post("/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let set = p
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert_ne!(b.cookie, before, "a new session id after sign-in");
    assert_eq!(b.get(&format!("/t/{t}")).await.status, StatusCode::OK);
    let old_cookie = b.cookie.clone();
    b.post("/logout", &[]).await;
    b.cookie = old_cookie;
    assert_eq!(
        b.get(&format!("/t/{t}")).await.status,
        StatusCode::SEE_OTHER,
        "the old cookie is dead"
    );
    assert!(
        app.audit_actions(t)
            .await
            .contains(&"user.login".to_owned())
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer_and_attempts_are_throttled(
    pool: PgPool,
) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Auditor).await;
    let mut b = Browser::new(&app);
    let wrong = b.sign_in(&email, "not the password").await;
    let unknown = b.sign_in("nobody@example.test", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let msg = |p: &Page| {
        p.text()
            .split("role=\"alert\">")
            .nth(1)
            .map(|s| s.split('<').next().unwrap_or("").to_owned())
    };
    assert_eq!(msg(&wrong), msg(&unknown), "the same words either way");
    for _ in 0..5 {
        b.sign_in(&email, "still wrong").await;
    }
    let right_but_throttled = b.sign_in(&email, PASSWORD).await;
    assert_eq!(
        right_but_throttled.status,
        StatusCode::UNAUTHORIZED,
        "paused after too many failures"
    );
    assert_eq!(msg(&right_but_throttled), msg(&unknown));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_with_a_clear_page(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Owner).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let path = format!("/t/{t}/settings");
    let missing = b.post_raw(&path, &[("require_signatures", "on")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(
        missing.text().contains("Form expired"),
        "{}",
        missing.text()
    );
    let wrong = b
        .post_raw(&path, &[("require_signatures", "on"), ("csrf", "forged")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(
        !app.audit_actions(t)
            .await
            .contains(&"policy.changed".to_owned())
    );
    // Sign-in itself needs the token (login CSRF).
    let mut fresh = Browser::new(&app);
    let p = fresh
        .post_raw("/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_tampered_session_cookie_is_simply_signed_out(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Owner).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    for bad in [
        "ancora_session=AAAA",
        "ancora_session=%%%",
        "ancora_session=",
    ] {
        b.cookie = Some(bad.to_owned());
        let p = b.get(&format!("/t/{t}")).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{bad}");
        assert!(p.location().starts_with("/login"), "{bad}");
    }
}

async fn last_link(app: &TestApp, to: &str) -> String {
    let mut tx = app.state.db.system_tx().await.expect("tx");
    let body = sqlx::query_scalar!(
        "SELECT body FROM outbox WHERE to_email = $1 ORDER BY id DESC LIMIT 1",
        to
    )
    .fetch_one(&mut *tx)
    .await
    .expect("mail");
    let at = body.find("/invite/").expect("a link");
    body[at..]
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_invitation_sets_a_password_once_and_a_reused_link_is_gone(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let owner = user(&app, t, Role::Owner).await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner, PASSWORD).await;
    b.get(&format!("/t/{t}/members")).await;
    let p = b
        .post(
            &format!("/t/{t}/members"),
            &[("email", "new.auditor@example.test"), ("role", "auditor")],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    let link = last_link(&app, "new.auditor@example.test").await;
    let mut invitee = Browser::new(&app);
    assert_eq!(invitee.get(&link).await.status, StatusCode::OK);
    let done = invitee
        .post(
            &link,
            &[
                ("password", "my new long password"),
                ("confirm", "my new long password"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), format!("/t/{t}"));
    assert_eq!(
        invitee.get(&format!("/t/{t}/events")).await.status,
        StatusCode::OK,
        "an auditor now"
    );
    let mut again = Browser::new(&app);
    assert_eq!(again.get(&link).await.status, StatusCode::GONE);
    assert_eq!(
        again.get("/invite/not-a-real-token").await.status,
        StatusCode::GONE
    );
    let actions = app.audit_actions(t).await;
    assert!(
        actions.contains(&"member.invited".to_owned())
            && actions.contains(&"member.added".to_owned()),
        "{actions:?}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_verify_page_says_what_is_wrong_with_input_that_is_not_a_bundle(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Auditor).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    b.get(&format!("/t/{t}/verify")).await;
    let path = format!("/t/{t}/verify");
    let not_json = b
        .post(&path, &[("bundle", "<script>alert(1)</script>")])
        .await;
    assert_eq!(not_json.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        not_json
            .text()
            .contains("This is not an Ancora proof bundle")
    );
    assert!(
        !not_json.text().contains("<script>alert(1)"),
        "escaped by askama"
    );
    let good = serde_json::to_string(&fixture::bundle()).expect("json");
    let ok = b.post(&path, &[("bundle", &good)]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.text().contains(EVENT));
    let huge = "x".repeat(ancora::http::portal::MAX_BUNDLE_BYTES + 10);
    let too_big = b.post(&path, &[("bundle", &huge)]).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_event_pdf_report_names_the_event_and_its_download_is_audited(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Auditor).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let p = b.get(&format!("/t/{t}/events/{EVENT}/report.pdf")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(
        p.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert!(p.body.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&p.body).contains(EVENT));
    assert!(
        app.audit_actions(t)
            .await
            .contains(&"report.downloaded".to_owned())
    );
    let range = b
        .get(&format!(
            "/t/{t}/reports/range?from=2000-01-01&to=2100-01-01&format=json"
        ))
        .await;
    let v: serde_json::Value = serde_json::from_slice(&range.body).expect("a JSON range report");
    // The fixture's event and the tenant's audit events (the download itself is one).
    let mut tx = app.state.db.tenant_tx(t).await.expect("tx");
    let stored = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM events WHERE tenant_id = $1"#,
        t.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("count");
    tx.commit().await.expect("commit");
    assert!(stored > 1, "audit events are events too");
    assert_eq!(v["summary"]["events"], stored);
    assert!(String::from_utf8_lossy(&range.body).contains(EVENT));
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_sign_in_page_renders_stably(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut b = Browser::new(&app);
    let page = b.get("/login").await.text();
    let token = b.csrf.clone().unwrap_or_default();
    insta::assert_snapshot!("portal_login", page.replace(&token, "[csrf]"));
}
