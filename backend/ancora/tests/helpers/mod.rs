//! Shared test helpers: an in-process app over a `#[sqlx::test]` database, tenants and keys
//! made the way `ancora admin` makes them, and a one-call request helper.
#![allow(dead_code)]

pub mod process;
pub mod routes;

use std::net::SocketAddr;

use ancora::config::Config;
use ancora::db::Db;
use ancora::domain::{Role, TenantId};
use ancora::{app::AppState, http};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use secrecy::ExposeSecret as _;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt as _;

/// The router and its state over one test database.
pub struct TestApp {
    /// The state (database, configuration).
    pub state: AppState,
    router: Router,
}

impl TestApp {
    /// Waits (up to 5 s) until no proved batch is being loaded into memory: a proof read from
    /// the database starts one beside it.
    pub async fn batch_loads_done(&self) {
        for _ in 0..200 {
            if self.state.batch_cache.loads_running() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("a batch load did not end in 5 s");
    }

    /// The app with the test configuration.
    pub fn new(pool: PgPool) -> Self {
        Self::with_config(pool, |_| {})
    }

    /// The app with the test configuration changed by `tune`.
    pub fn with_config(pool: PgPool, tune: impl FnOnce(&mut Config)) -> Self {
        let addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
        let mut config = Config::for_tests(addr);
        tune(&mut config);
        let state = AppState::new(Db::from_pool(pool), config);
        TestApp {
            router: http::router(state.clone()),
            state,
        }
    }

    /// The app over a database handle of its own (a pool made by [`Db::connect_with`], with
    /// the service's pool options), with the test configuration changed by `tune`.
    pub fn from_db(db: Db, tune: impl FnOnce(&mut Config)) -> Self {
        let addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
        let mut config = Config::for_tests(addr);
        tune(&mut config);
        let state = AppState::new(db, config);
        TestApp {
            router: http::router(state.clone()),
            state,
        }
    }

    /// A new tenant.
    pub async fn tenant(&self) -> TenantId {
        ancora::admin::create_tenant(&self.state.db, "Test tenant", "test")
            .await
            .expect("create tenant")
    }

    /// A new API key of `tenant` with `role`, as text.
    pub async fn key(&self, tenant: TenantId, role: Role) -> String {
        let k = ancora::admin::create_api_key(&self.state.db, tenant, role, "test", "test")
            .await
            .expect("create key");
        k.key.expose_secret().to_owned()
    }

    /// A new tenant and a key for it.
    pub async fn tenant_with_key(&self, role: Role) -> (TenantId, String) {
        let t = self.tenant().await;
        let k = self.key(t, role).await;
        (t, k)
    }

    /// Sends `method path` with the key as Bearer and `body` as JSON.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.expect("request")).await
    }

    /// Sends a prepared request; the body comes back as JSON (`Null` when empty, a string
    /// when not JSON).
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, headers, json)
    }

    /// Sends a prepared request; the body comes back as raw bytes (for PDFs and streams).
    pub async fn send_raw(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes.to_vec())
    }

    /// `POST /v1/events` with `{"events": events}`: status and body.
    pub async fn post_events(&self, key: &str, events: Value) -> (StatusCode, Value) {
        let (s, _, b) = self
            .request(
                Method::POST,
                "/v1/events",
                Some(key),
                Some(serde_json::json!({ "events": events })),
            )
            .await;
        (s, b)
    }

    /// A new tenant with a submitter key and events `ids` (digests of the ids), proved by
    /// running every job now: the tenant and the key.
    pub async fn proved_tenant(&self, ids: &[&str]) -> (TenantId, String) {
        let (tenant, key) = self.tenant_with_key(Role::Submitter).await;
        let events: Vec<Value> = ids
            .iter()
            .map(|id| serde_json::json!({ "id": id, "digest": digest_of(id) }))
            .collect();
        let (s, b) = self.post_events(&key, Value::Array(events)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        ancora::workers::run_all_jobs_now(&self.state)
            .await
            .expect("jobs");
        (tenant, key)
    }

    /// Number of events the tenant has submitted and Ancora stored (the audit log's own
    /// events, submitter `audit`, are not counted).
    pub async fn event_count(&self, tenant: TenantId) -> i64 {
        let mut tx = self.state.db.tenant_tx(tenant).await.expect("tx");
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM events WHERE tenant_id = $1 AND submitter <> 'audit'"#,
            tenant.0
        )
        .fetch_one(&mut *tx)
        .await
        .expect("count")
    }

    /// Audit-log actions of the tenant, oldest first.
    pub async fn audit_actions(&self, tenant: TenantId) -> Vec<String> {
        let mut tx = self.state.db.tenant_tx(tenant).await.expect("tx");
        sqlx::query_scalar!(
            "SELECT action FROM audit_log WHERE tenant_id = $1 ORDER BY id",
            tenant.0
        )
        .fetch_all(&mut *tx)
        .await
        .expect("audit")
    }
}

/// `sha256:<hex>` of `text`.
pub fn digest_of(text: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()))
    )
}

/// Asserts a problem+json answer with `status` whose detail contains `needle`.
pub fn assert_problem(got: &(StatusCode, HeaderMap, Value), status: StatusCode, needle: &str) {
    let (s, h, body) = got;
    assert_eq!(*s, status, "body: {body}");
    assert_eq!(
        h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "body: {body}"
    );
    assert_eq!(body["status"], status.as_u16(), "body: {body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(needle),
        "detail {detail:?} should contain {needle:?}"
    );
}
