//! Isolation: every route × every role × own tenant / another tenant / no tenant, over the API
//! and the portal, against `Action::roles()` (the one authorization table).
//!
//! ADDING A ROUTE: add ONE line to [`ROUTES`] — the method, the path exactly as written in its
//! `.route("…", …)` (API paths with their `/v1` prefix), and its guard:
//!   `r("GET", "/v1/things/{id}", Key(Action::ReadEvents)),`
//! [`every_declared_route_has_an_entry_and_every_entry_a_route`] scans `src/http` for `.route(`
//! declarations and fails on any route without an entry (and on any entry without a route).
//! A new path parameter name also needs a value in [`fill`]; a POST whose body matters gets
//! `.body("…")` (`{n}` becomes a fresh number, `{digest}` a digest); a GET that answers 404
//! for its fixture even when allowed gets `.absent()`.
//!
//! What the matrix checks, per guard:
//! - `Key(action)`: no key → 401; a key of the tenant whose role `action.roles()` names → not
//!   401/403/5xx (and not 404 unless `.absent()`); any other role → 403; an allowed key naming
//!   another tenant's ids in the path → 404. No answer to a key of tenant A ever contains
//!   tenant B's ids.
//! - `Member(action)` (`/t/{tenant}/…`): anonymous → never served (a sign-in redirect, or a
//!   4xx from the CSRF guard or a form that does not parse); members whose role is named → not 401/403/404/5xx; other roles → 403;
//!   every role on another tenant, or on a tenant that does not exist → 404.
//! - `SignedIn`: anonymous → never served, as above; any signed-in person → not 401/403/5xx.
//! - `Operator`: only a platform operator; everyone else 403/404.
//! - `Public`: anyone; never a 5xx, never another tenant's data.
//!
//! The second wall — row-level security alone, with the application's own tenant filter
//! removed — is `security::row_level_security_alone_hides_every_other_tenants_rows`, and
//! [`row_level_security_alone_blocks_reads_with_another_tenants_guc`] here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ancora::domain::{Role, TenantId};
use ancora::services::authorization::Action;
use axum::http::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, digest_of};
use crate::portal::{Browser, PASSWORD, tenant_with_named_event, user};

use Guard::*;

/// Who may call a route.
#[derive(Clone, Copy, Debug)]
enum Guard {
    /// Anyone, without credentials (public by design).
    Public,
    /// An API key whose role the action names.
    Key(Action),
    /// A signed-in member of the path's tenant whose role the action names.
    Member(Action),
    /// Any signed-in person.
    SignedIn,
    /// A platform operator.
    Operator,
}

/// One route of the router.
#[derive(Clone, Copy, Debug)]
struct Route {
    method: &'static str,
    path: &'static str,
    guard: Guard,
    body: Option<&'static str>,
    absent: bool,
}

const fn r(method: &'static str, path: &'static str, guard: Guard) -> Route {
    Route {
        method,
        path,
        guard,
        body: None,
        absent: false,
    }
}

impl Route {
    /// The JSON body (API) or form fields as `a=b&c=d` (portal) to send.
    const fn body(mut self, body: &'static str) -> Self {
        self.body = Some(body);
        self
    }
    /// Allowed callers may get 404 (the fixture has no such object, or an earlier allowed
    /// caller in the matrix revoked it).
    const fn absent(mut self) -> Self {
        self.absent = true;
        self
    }
}

const EV: &str = r#"{"events":[{"id":"iso-{n}","digest":"{digest}"}]}"#;

/// Every route, one line each (see the header).
#[rustfmt::skip]
static ROUTES: &[Route] = &[
    // Operations
    r("GET", "/healthz", Public),
    r("GET", "/readyz", Public),
    r("GET", "/metrics", Public),
    // API
    r("POST", "/v1/events", Key(Action::SubmitEvents)).body(EV),
    r("GET", "/v1/events", Key(Action::ReadEvents)),
    r("GET", "/v1/events/{id}", Key(Action::ReadEvents)),
    r("GET", "/v1/events/{id}/proof", Key(Action::ReadEvents)),
    r("GET", "/v1/events/{id}/content", Key(Action::ReadContent)).absent(),
    r("GET", "/v1/retention", Key(Action::ManageRetention)),
    r("PUT", "/v1/retention", Key(Action::ManageRetention)).body(r#"{"legalHold":false}"#),
    r("POST", "/v1/events/batch", Key(Action::SubmitEvents)).body(EV),
    r("GET", "/v1/proof/{batchId}", Key(Action::ReadEvents)),
    r("POST", "/v1/proof/verify", Key(Action::VerifyProof)).body(r#"{"bundle":{}}"#),
    r("POST", "/v1/audit/batch", Key(Action::SubmitEvents)).body(EV),
    r("GET", "/v1/audit/proof/{batchId}", Key(Action::ReadEvents)),
    r("GET", "/v1/audit/catalog", Key(Action::ReadEvents)),
    r("GET", "/v1/usage", Key(Action::ViewUsage)),
    r("POST", "/v1/billing/stripe/webhook", Public).body("{}"),
    r("GET", "/v1/log/checkpoint", Public),
    r("GET", "/v1/log/consistency", Public),
    r("GET", "/v1/log/key", Public),
    r("GET", "/v1/openapi.json", Public),
    r("GET", "/docs/api", Public),
    r("POST", "/v1/spv", Key(Action::VerifyProof)).body(r#"{"chainId":"0","requestKey":"not-a-key"}"#),
    r("POST", "/v1/spv/verify", Key(Action::VerifyProof)).body(r#"{"proof":"not-a-proof"}"#),
    r("GET", "/v1/spv/{id}", Key(Action::ReadEvents)).absent(),
    r("POST", "/v1/submitter-keys", Key(Action::ManageSubmitterKeys)).body(r#"{"name":"k-{n}","publicKey":"not-a-key"}"#),
    r("GET", "/v1/submitter-keys", Key(Action::ReadSubmitterKeys)),
    r("PUT", "/v1/submitter-keys/policy", Key(Action::ManageSubmitterKeys)).body(r#"{"requireSignatures":false}"#),
    r("POST", "/v1/submitter-keys/{id}/revoke", Key(Action::ManageSubmitterKeys)),
    r("GET", "/v1/batches/{batchId}", Key(Action::ReadEvents)),
    r("GET", "/v1/events/{id}/report.pdf", Key(Action::DownloadReport)),
    r("GET", "/v1/events/{id}/report.json", Key(Action::DownloadReport)),
    r("GET", "/v1/batches/{batchId}/report.pdf", Key(Action::DownloadReport)),
    r("GET", "/v1/batches/{batchId}/report.json", Key(Action::DownloadReport)),
    r("GET", "/v1/reports/range", Key(Action::DownloadReport)),
    r("GET", "/v1/webhooks", Key(Action::ReadWebhooks)),
    r("POST", "/v1/webhooks", Key(Action::ManageWebhooks)).body(r#"{"url":"not a url","events":["event.proved"]}"#),
    r("GET", "/v1/webhooks/deliveries", Key(Action::ReadWebhooks)),
    r("DELETE", "/v1/webhooks/{id}", Key(Action::ManageWebhooks)).absent(),
    // Portal
    r("GET", "/", Public),
    r("GET", "/login", Public),
    r("POST", "/login", Public).body("email=nobody@example.test&password=wrong"),
    r("POST", "/logout", SignedIn),
    r("GET", "/forgot", Public),
    r("POST", "/forgot", Public).body("email=nobody@example.test"),
    r("GET", "/invite/{token}", Public),
    r("POST", "/invite/{token}", Public).body("password=a+long+enough+password"),
    r("GET", "/account", SignedIn),
    r("POST", "/account", SignedIn).body("current=wrong&new=x&confirm=y"),
    r("GET", "/operator/tenants", Operator),
    r("POST", "/operator/tenants", Operator).body("name=&owner_email=x"),
    r("GET", "/t/{tenant}", Member(Action::ViewDashboard)),
    r("GET", "/t/{tenant}/events", Member(Action::ReadCatalog)),
    r("GET", "/t/{tenant}/events.csv", Member(Action::ReadCatalog)),
    r("GET", "/t/{tenant}/events/{event}", Member(Action::ReadCatalog)),
    r("GET", "/t/{tenant}/events/{event}/bundle.json", Member(Action::ReadCatalog)),
    r("GET", "/t/{tenant}/events/{event}/report.pdf", Member(Action::DownloadReport)),
    r("GET", "/t/{tenant}/events/{event}/report.json", Member(Action::DownloadReport)),
    r("GET", "/t/{tenant}/batches/{batch}", Member(Action::ReadCatalog)),
    r("GET", "/t/{tenant}/batches/{batch}/report.{format}", Member(Action::DownloadReport)),
    r("GET", "/t/{tenant}/reports/range", Member(Action::DownloadReport)),
    r("GET", "/t/{tenant}/verify", Member(Action::VerifyBundle)),
    r("POST", "/t/{tenant}/verify", Member(Action::VerifyBundle)).body("bundle=%7B%7D"),
    r("POST", "/t/{tenant}/verify/upload", Member(Action::VerifyBundle)),
    r("GET", "/t/{tenant}/audit", Member(Action::ReadAuditLog)),
    r("GET", "/t/{tenant}/members", Member(Action::ReadMembers)),
    r("POST", "/t/{tenant}/members", Member(Action::InviteMember)).body("email=x&role=auditor"),
    r("GET", "/t/{tenant}/keys", Member(Action::ReadApiKeys)),
    r("POST", "/t/{tenant}/keys", Member(Action::ManageApiKeys)).body("name=&role=submitter"),
    r("POST", "/t/{tenant}/keys/{key}/revoke", Member(Action::ManageApiKeys)).absent(),
    r("GET", "/t/{tenant}/settings", Member(Action::ReadSettings)),
    r("POST", "/t/{tenant}/settings", Member(Action::ChangeSettings)),
    r("POST", "/t/{tenant}/settings/retention", Member(Action::ManageRetention)),
    r("POST", "/t/{tenant}/settings/shred", Member(Action::ShredContents)),
    r("GET", "/t/{tenant}/webhooks", Member(Action::ReadWebhooks)),
    r("POST", "/t/{tenant}/webhooks", Member(Action::ManageWebhooks)).body("url=not-a-url"),
    r("POST", "/t/{tenant}/webhooks/{id}/delete", Member(Action::ManageWebhooks)).absent(),
    r("GET", "/t/{tenant}/billing", Member(Action::ViewUsage)),
    r("POST", "/t/{tenant}/billing/checkout", Member(Action::ManageBilling)).body("plan=no-such-plan"),
    r("POST", "/t/{tenant}/billing/manage", Member(Action::ManageBilling)),
    r("GET", "/static/portal.css", Public),
    r("GET", "/static/portal.js", Public),
    r("GET", "/static/ancora-verify.js", Public),
];

// ---------------------------------------------------------------------------------------------
// The scan of the router's declarations.

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/http") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(METHOD, path)` of every `.route("path", get(..).post(..))` under `src/http`. Routes in
/// `http/api/` are nested under `/v1` (`http::router`).
fn declared_routes() -> BTreeSet<(String, String)> {
    let http = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut files = Vec::new();
    rust_files(&http, &mut files);
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        // Routes mounted any other way would escape the scan: only the one nest is known.
        for other in [".nest(", ".nest_service(", ".route_service("] {
            for (at, _) in text.match_indices(other) {
                let call = &text[at..(at + 40).min(text.len())];
                assert!(
                    call.starts_with(".nest(\"/v1\", api::routes())"),
                    "{}: {call:?} mounts routes the isolation scan does not see; teach \
                     declared_routes() about it",
                    file.display()
                );
            }
        }
        let prefix = if file.starts_with(http.join("api")) {
            "/v1"
        } else {
            ""
        };
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let open = rest.len() - rest.trim_start().len();
            assert!(
                rest[open..].starts_with('"'),
                "{}: .route( without a string literal path; the isolation scan needs one",
                file.display()
            );
            let close = open + 1 + rest[open + 1..].find('"').expect("closing quote");
            let path = format!("{prefix}{}", &rest[open + 1..close]);
            // The method router: up to the `.route(` call's closing parenthesis.
            let mut depth = 1;
            let mut end = close + 1;
            for (i, c) in rest[close + 1..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = close + 1 + i;
                    break;
                }
            }
            let methods = &rest[close + 1..end];
            let mut any = false;
            for m in ["get", "post", "put", "patch", "delete"] {
                let needle = format!("{m}(");
                let mut hay = methods;
                while let Some(p) = hay.find(&needle) {
                    let before = hay[..p].chars().last().unwrap_or(' ');
                    if !(before.is_alphanumeric() || before == '_') {
                        found.insert((m.to_uppercase(), path.clone()));
                        any = true;
                        break;
                    }
                    hay = &hay[p + needle.len()..];
                }
            }
            assert!(
                any,
                "{}: no method found for .route({path:?}, …)",
                file.display()
            );
            rest = &rest[end..];
        }
    }
    found
}

#[test]
fn every_declared_route_has_an_entry_and_every_entry_a_route() {
    let declared = declared_routes();
    assert!(declared.len() >= 40, "the scan found {declared:?}");
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = declared.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "routes without an entry in tests/isolation.rs ROUTES (add one line each): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&declared).collect();
    assert!(
        stale.is_empty(),
        "entries in tests/isolation.rs ROUTES with no such route: {stale:?}"
    );
    assert_eq!(listed.len(), ROUTES.len(), "a route listed twice");
}

// ---------------------------------------------------------------------------------------------
// The matrix.

/// One tenant's objects, to fill paths with.
struct Fixture {
    tenant: TenantId,
    event: String,
    batch: Uuid,
    /// An API key that revoke routes may revoke.
    victim_key: Uuid,
    /// A submitter key that revoke routes may revoke.
    submitter_key: Uuid,
    /// An owner API key.
    owner_key: String,
}

impl Fixture {
    async fn new(app: &TestApp, event: &str) -> Self {
        let (tenant, batch) = tenant_with_named_event(app, event).await;
        let owner_key = app.key(tenant, Role::Owner).await;
        let victim = app.key(tenant, Role::Submitter).await;
        let prefix: String = victim.chars().take(11).collect();
        let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
        let victim_key: Uuid = sqlx::query_scalar("SELECT id FROM api_keys WHERE prefix = $1")
            .bind(&prefix)
            .fetch_one(&mut *tx)
            .await
            .expect("the victim key's id");
        tx.commit().await.expect("commit");
        let public = ed25519_dalek::SigningKey::from_bytes(&[event.len() as u8; 32])
            .verifying_key()
            .to_bytes();
        let body = serde_json::json!({ "name": format!("sk-{}", event.len()), "publicKey": hex::encode(public) });
        let got = app
            .request(
                Method::POST,
                "/v1/submitter-keys",
                Some(&owner_key),
                Some(body),
            )
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.2);
        let submitter_key = got.2["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("submitter key id");
        Fixture {
            tenant,
            event: event.to_owned(),
            batch,
            victim_key,
            submitter_key,
            owner_key,
        }
    }

    /// Strings that identify this tenant's data in an answer.
    fn markers(&self) -> [String; 4] {
        [
            self.tenant.to_string(),
            self.event.clone(),
            self.batch.to_string(),
            self.submitter_key.to_string(),
        ]
    }
}

/// `path` with its parameters filled from `f`. A new parameter name needs a line here.
fn fill(path: &str, f: &Fixture) -> String {
    let id = if ["/v1/spv/", "/v1/webhooks/", "/t/{tenant}/webhooks/"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        Uuid::now_v7().to_string()
    } else if path.starts_with("/v1/submitter-keys/") {
        f.submitter_key.to_string()
    } else {
        f.event.clone()
    };
    let filled = path
        .replace("{tenant}", &f.tenant.to_string())
        .replace("{id}", &id)
        .replace("{event}", &f.event)
        .replace("{batchId}", &f.batch.to_string())
        .replace("{batch}", &f.batch.to_string())
        .replace("{key}", &f.victim_key.to_string())
        .replace("{token}", "no-such-invitation")
        .replace("{format}", "json");
    assert!(
        !filled.contains('{'),
        "{path}: teach isolation::fill this path parameter"
    );
    // Query strings the routes need to reach their handler's work.
    match path {
        "/v1/events" => format!("{filled}?digest=sha256:{}", hex::encode([7u8; 32])),
        "/v1/log/consistency" => format!("{filled}?from=0&to=0"),
        "/t/{tenant}/reports/range" | "/v1/reports/range" => {
            format!("{filled}?from=2000-01-01&to=2100-01-01&format=json")
        }
        _ => filled,
    }
}

fn body_of(route: &Route, n: &mut u32) -> Option<String> {
    route.body.map(|b| {
        *n += 1;
        b.replace("{n}", &n.to_string())
            .replace("{digest}", &digest_of(&n.to_string()))
    })
}

/// A marker of `other`'s data in `answer` that the request itself did not carry (an answer
/// may echo the id it was asked for).
fn leaks(answer: &str, other: &Fixture, sent: &str) -> Option<String> {
    other
        .markers()
        .into_iter()
        .find(|m| answer.contains(m.as_str()) && !sent.contains(m.as_str()))
}

async fn api_call(
    app: &TestApp,
    route: &Route,
    path: &str,
    key: Option<&str>,
    n: &mut u32,
) -> (StatusCode, String) {
    let method: Method = route.method.parse().expect("method");
    let body = body_of(route, n).map(|b| serde_json::from_str::<Value>(&b).expect("JSON body"));
    let body = match (body, route.method) {
        (None, "POST" | "PUT") => Some(serde_json::json!({})),
        (b, _) => b,
    };
    let (s, _, b) = app.request(method, path, key, body).await;
    (s, b.to_string())
}

fn is_denied(s: StatusCode) -> bool {
    s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_api_route_answers_each_role_as_authorize_decides_and_never_another_tenants_data(
    pool: PgPool,
) {
    // Arrange: tenant A (mine) with a key of every role, tenant B (theirs) with its objects.
    let app = TestApp::new(pool);
    let mine = Fixture::new(&app, "mine-ev-1").await;
    let theirs = Fixture::new(&app, "theirs-ev-1").await;
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, app.key(mine.tenant, role).await));
    }
    let mut n = 0;
    let mut checked = 0;
    for route in ROUTES.iter().filter(|r| r.path.starts_with("/v1")) {
        let own = fill(route.path, &mine);
        let other = fill(route.path, &theirs);
        match route.guard {
            Key(action) => {
                // Act + assert: no key.
                let (s, b) = api_call(&app, route, &own, None, &mut n).await;
                assert_eq!(
                    s,
                    StatusCode::UNAUTHORIZED,
                    "anonymous {} {own}: {b}",
                    route.method
                );
                for (role, key) in &keys {
                    let (s, b) = api_call(&app, route, &own, Some(key), &mut n).await;
                    let ctx = format!("{role} {} {own}: {s} {b}", route.method);
                    if action.roles().contains(role) {
                        assert!(!is_denied(s) && !s.is_server_error(), "{ctx}");
                        assert!(route.absent || s != StatusCode::NOT_FOUND, "{ctx}");
                    } else {
                        assert_eq!(s, StatusCode::FORBIDDEN, "{ctx}");
                    }
                    assert_eq!(leaks(&b, &theirs, &own), None, "{ctx}");
                    if other != own {
                        let (s, b) = api_call(&app, route, &other, Some(key), &mut n).await;
                        let ctx =
                            format!("{role} {} {other} (tenant B's ids): {s} {b}", route.method);
                        let want = if action.roles().contains(role) {
                            StatusCode::NOT_FOUND
                        } else {
                            StatusCode::FORBIDDEN
                        };
                        assert_eq!(s, want, "{ctx}");
                        assert_eq!(leaks(&b, &theirs, &other), None, "{ctx}");
                    }
                    checked += 1;
                }
            }
            Public => {
                for key in [None, Some(keys[0].1.as_str())] {
                    let (s, b) = api_call(&app, route, &own, key, &mut n).await;
                    let ctx = format!("{} {own}: {s} {b}", route.method);
                    assert!(!s.is_server_error(), "{ctx}");
                    assert_eq!(leaks(&b, &theirs, &own), None, "{ctx}");
                    checked += 1;
                }
            }
            other => panic!(
                "{} {}: an API route with a portal guard {other:?}",
                route.method, route.path
            ),
        }
    }
    // B's objects are all still there: nothing A did reached them.
    let (s, _, b) = app
        .request(
            Method::GET,
            &format!("/v1/events/{}", theirs.event),
            Some(&theirs.owner_key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = app
        .request(
            Method::GET,
            "/v1/submitter-keys",
            Some(&theirs.owner_key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b["keys"].as_array().is_some_and(|k| k
            .iter()
            .all(|k| k["revokedAt"].is_null() && k["revoked_at"].is_null())),
        "A revoked B's submitter key: {b}"
    );
    assert!(checked > 80, "{checked} checks");
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_portal_route_answers_each_role_as_authorize_decides_and_other_tenants_are_404(
    pool: PgPool,
) {
    // Arrange: tenant A with a member of every role, tenant B, an operator (member of a
    // third tenant only).
    let app = TestApp::new(pool);
    let mine = Fixture::new(&app, "mine-ev-1").await;
    let theirs = Fixture::new(&app, "theirs-ev-1").await;
    let third = app.tenant().await;
    let operator_email = format!("op-{}@example.test", Uuid::now_v7().simple());
    ancora::admin::create_user(
        &app.state.db,
        &operator_email,
        &secrecy::SecretString::from(PASSWORD),
        third,
        Role::Auditor,
        true,
        "test",
    )
    .await
    .expect("operator");
    let nowhere = Fixture {
        tenant: TenantId::new(),
        ..Fixture::new(&app, "nowhere-ev-1").await
    };
    let portal: Vec<&Route> = ROUTES
        .iter()
        .filter(|r| !r.path.starts_with("/v1"))
        .collect();

    // Anonymous.
    let mut anon = Browser::new(&app);
    anon.get("/login").await;
    for route in &portal {
        let path = fill(route.path, &mine);
        let page = send(&mut anon, route, &path).await;
        let ctx = format!("anonymous {} {path}: {}", route.method, page.status);
        assert!(!page.status.is_server_error(), "{ctx}");
        if !matches!(route.guard, Public) {
            // Never served: a sign-in redirect, or a refusal (the CSRF guard, a form that does
            // not parse) before anything is read.
            assert!(!page.status.is_success(), "{ctx}");
            if page.status.is_redirection() {
                assert!(
                    page.location().starts_with("/login"),
                    "{ctx} → {}",
                    page.location()
                );
            }
            assert_eq!(leaks(&page.text(), &mine, &path), None, "{ctx}");
        }
    }

    // Every member role of A, and the operator.
    let mut people: Vec<(String, Option<Role>)> = Vec::new();
    for role in Role::ALL {
        people.push((user(&app, mine.tenant, role).await, Some(role)));
    }
    people.push((operator_email, None));
    let mut checked = 0;
    for (email, role) in people {
        let who = role.map_or("operator".to_owned(), |r| r.to_string());
        let mut b = Browser::new(&app);
        let mut signed_in = false;
        for route in &portal {
            // Signed in afresh after anything that may end the session (`/logout`).
            if !signed_in {
                b = Browser::new(&app);
                let signed = b.sign_in(&email, PASSWORD).await;
                assert_eq!(signed.status, StatusCode::SEE_OTHER, "{who} signs in");
                signed_in = true;
            }
            if route.path == "/logout" {
                signed_in = false;
            }
            let own = fill(route.path, &mine);
            let page = send(&mut b, route, &own).await;
            let s = page.status;
            let ctx = format!("{who} {} {own}: {s}", route.method);
            assert!(!s.is_server_error(), "{ctx}");
            assert_eq!(leaks(&page.text(), &theirs, &own), None, "{ctx}");
            match (route.guard, role) {
                (Public, _) => {}
                (SignedIn, _) => assert!(!is_denied(s) && s != StatusCode::NOT_FOUND, "{ctx}"),
                (Operator, None) => assert!(!is_denied(s), "{ctx}"),
                (Operator, Some(_)) => {
                    assert!(
                        s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
                        "{ctx}"
                    )
                }
                (Member(_), None) => assert_eq!(s, StatusCode::NOT_FOUND, "{ctx}"),
                (Member(action), Some(role)) => {
                    if action.roles().contains(&role) {
                        assert!(!is_denied(s), "{ctx}");
                        assert!(route.absent || s != StatusCode::NOT_FOUND, "{ctx}");
                    } else {
                        assert_eq!(s, StatusCode::FORBIDDEN, "{ctx}");
                    }
                }
                (Key(_), _) => panic!("{ctx}: a portal route with an API guard"),
            }
            if let Member(_) = route.guard {
                for f in [&theirs, &nowhere] {
                    let path = fill(route.path, f);
                    let page = send(&mut b, route, &path).await;
                    let ctx = format!("{who} {} {path}: {}", route.method, page.status);
                    assert_eq!(page.status, StatusCode::NOT_FOUND, "{ctx}");
                    assert_eq!(leaks(&page.text(), &theirs, &path), None, "{ctx}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} checks");
}

async fn send(b: &mut Browser<'_>, route: &Route, path: &str) -> crate::portal::Page {
    match route.method {
        "GET" => b.get(path).await,
        "POST" if path.ends_with("/verify/upload") => {
            // A file upload: multipart, the CSRF token in its header.
            let boundary = "isolation-boundary";
            let body = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.json\"\r\n\
                 Content-Type: application/json\r\n\r\n{{}}\r\n--{boundary}--\r\n"
            );
            let req = axum::http::Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(
                    axum::http::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .header("x-csrf-token", b.csrf.clone().unwrap_or_default());
            b.send(req, axum::body::Body::from(body)).await
        }
        "POST" => {
            let fields: Vec<(String, String)> = route
                .body
                .map(|body| {
                    form_urlencoded::parse(body.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let refs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            b.post(path, &refs).await
        }
        m => panic!("{m} {path}: the portal test sends GET and POST only"),
    }
}

/// The second wall on its own: as `ancora_app` with the tenant setting naming tenant B, a
/// query with no tenant filter of the application's own sees B's rows only — never A's.
#[sqlx::test(migrations = "../../migrations")]
async fn row_level_security_alone_blocks_reads_with_another_tenants_guc(pool: PgPool) {
    let app = TestApp::new(pool);
    let mine = Fixture::new(&app, "mine-ev-1").await;
    let theirs = Fixture::new(&app, "theirs-ev-1").await;
    // Act: B's transaction (role ancora_app, GUC = B), no WHERE tenant_id at all.
    let mut tx = app.state.db.tenant_tx(theirs.tenant).await.expect("tx");
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *tx)
        .await
        .expect("role");
    let events: Vec<String> = sqlx::query_scalar("SELECT id FROM events")
        .fetch_all(&mut *tx)
        .await
        .expect("events");
    let batches: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM batches")
        .fetch_all(&mut *tx)
        .await
        .expect("batches");
    let keys: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM api_keys")
        .fetch_all(&mut *tx)
        .await
        .expect("keys");
    let proofs: Vec<String> = sqlx::query_scalar("SELECT event_id FROM proofs")
        .fetch_all(&mut *tx)
        .await
        .expect("proofs");
    tx.rollback().await.expect("rollback");
    // Assert
    assert_eq!(role, "ancora_app");
    assert!(events.contains(&theirs.event), "B sees its own: {events:?}");
    assert!(
        !events.contains(&mine.event),
        "B sees A's event: {events:?}"
    );
    assert_eq!(batches, vec![theirs.batch]);
    assert!(!keys.contains(&mine.victim_key), "B sees A's API key");
    assert!(!proofs.contains(&mine.event), "B sees A's proof");
}

/// A tenant's transaction begins with `BEGIN` and its settings in one message: inside it the
/// role is `ancora_app` and the tenant is set (for an ingest, its ingest lock is held too);
/// once it ends, by commit or rollback, the same pooled connection is back to its own role
/// with no tenant, so nothing of one tenant's settings leaks into the next user's work.
#[sqlx::test(migrations = "../../migrations")]
async fn tenant_settings_and_the_ingest_lock_end_with_their_transaction(pool: PgPool) {
    // Arrange: one connection, so every transaction below runs on the same one.
    let db = ancora::db::Db::connect_with((*pool.connect_options()).clone(), 1)
        .await
        .expect("db");
    let tenant = TenantId(Uuid::new_v4());
    let (_, lock_key) = ancora::db::events::ingest_lock_key(tenant);
    let outside = "SELECT current_user::text, coalesce(current_setting('ancora.tenant_id', true), ''), \
                   (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                    AND pid = pg_backend_pid())";
    let as_root: (String, String, i64) = sqlx::query_as(outside)
        .fetch_one(db.pool())
        .await
        .expect("before");
    for commit in [true, false] {
        // Act: an ingest transaction, then a plain tenant one, then the system one.
        let mut tx = db.ingest_tx(tenant).await.expect("ingest tx");
        let inside: (String, String, i64) = sqlx::query_as(&format!(
            "SELECT current_user::text, current_setting('ancora.tenant_id'), \
             (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' \
              AND objid = {} AND pid = pg_backend_pid())",
            lock_key as u32
        ))
        .fetch_one(&mut *tx)
        .await
        .expect("inside");
        if commit {
            tx.commit().await.expect("commit");
        } else {
            tx.rollback().await.expect("rollback");
        }
        let after: (String, String, i64) = sqlx::query_as(outside)
            .fetch_one(db.pool())
            .await
            .expect("after");
        let mut tx = db.tenant_tx(tenant).await.expect("tenant tx");
        let plain: (String, String) =
            sqlx::query_as("SELECT current_user::text, current_setting('ancora.tenant_id')")
                .fetch_one(&mut *tx)
                .await
                .expect("plain");
        drop(tx); // rolled back by the pool
        let mut tx = db.system_tx().await.expect("system tx");
        let system: (String, String) = sqlx::query_as(
            "SELECT current_user::text, coalesce(current_setting('ancora.tenant_id', true), '')",
        )
        .fetch_one(&mut *tx)
        .await
        .expect("system");
        tx.commit().await.expect("commit");
        let last: (String, String, i64) = sqlx::query_as(outside)
            .fetch_one(db.pool())
            .await
            .expect("last");
        // Assert
        assert_eq!(
            inside,
            ("ancora_app".into(), tenant.to_string(), 1),
            "commit {commit}"
        );
        assert_eq!(plain, ("ancora_app".into(), tenant.to_string()));
        assert_eq!(system, ("ancora_app".into(), String::new()));
        assert_eq!(
            after, as_root,
            "commit {commit}: settings or lock outlived the transaction"
        );
        assert_eq!(last, as_root);
        assert_ne!(as_root.0, "ancora_app");
    }
}

/// A role that may not make a request gets 403 whatever its body: a body that is not JSON,
/// not sent as JSON, or of the wrong shape is refused (400, 415, 422) only to a role that may
/// send it. The role check comes first, so a refused role learns nothing from the body's
/// validation.
#[sqlx::test(migrations = "../../migrations")]
async fn a_role_that_may_not_write_gets_403_whatever_its_body(pool: PgPool) {
    use axum::body::Body;
    use axum::http::{Request, header};
    let app = TestApp::new(pool);
    let mine = Fixture::new(&app, "mine-ev-1").await;
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, app.key(mine.tenant, role).await));
    }
    let bodies: [(&str, Option<&str>); 4] = [
        ("{not json", Some("application/json")),
        (
            r#"{"events": 7, "unknown_member": true}"#,
            Some("application/json"),
        ),
        ("id=1", Some("application/x-www-form-urlencoded")),
        ("{}", None),
    ];
    let mut denied = 0;
    let mut allowed = 0;
    for route in ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/v1") && matches!(r.method, "POST" | "PUT"))
    {
        let Key(action) = route.guard else { continue };
        let path = fill(route.path, &mine);
        for (role, key) in &keys {
            for (body, content_type) in bodies {
                let mut req = Request::builder()
                    .method(route.method)
                    .uri(&path)
                    .header(header::AUTHORIZATION, format!("Bearer {key}"));
                if let Some(t) = content_type {
                    req = req.header(header::CONTENT_TYPE, t);
                }
                let (s, _, b) = app.send(req.body(Body::from(body)).expect("request")).await;
                let ctx = format!(
                    "{role} {} {path} {body:?} {content_type:?}: {s} {b}",
                    route.method
                );
                if action.roles().contains(role) {
                    assert!(!is_denied(s) && !s.is_server_error(), "{ctx}");
                    allowed += 1;
                } else {
                    assert_eq!(s, StatusCode::FORBIDDEN, "{ctx}");
                    denied += 1;
                }
            }
        }
    }
    assert!(
        denied >= 40 && allowed >= 40,
        "{denied} denied, {allowed} allowed"
    );
}
