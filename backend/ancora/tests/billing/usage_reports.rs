//! Usage reported to Stripe as billing meter events, against an HTTP double of Stripe's API
//! that checks each request and answers with Stripe's documented meter event object: what is
//! new is reported once, a failed report is resent with the same identifier, usage from
//! before a customer was linked is not billed, and the worker job does the same.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::with_plans;
use crate::helpers::{TestApp, digest_of};
use ancora::domain::{Role, TenantId};

/// One meter event the double accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) identifier: String,
    idempotency_key: String,
    event_name: String,
    customer: String,
    pub(super) value: String,
}

pub(super) struct Double {
    pub(super) base: String,
    sent: Arc<Mutex<Vec<Sent>>>,
}

/// Stripe's meter events endpoint; the first `fail` requests get a 500 (Stripe's error shape).
pub(super) async fn stripe_double(fail: usize) -> Double {
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let failures = Arc::new(AtomicUsize::new(fail));
    let log = sent.clone();
    let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (log, failures) = (log.clone(), failures.clone());
        async move {
            assert_eq!((method, uri.path()), (Method::POST, "/v1/billing/meter_events"));
            assert_eq!(headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer sk_test_ancora"));
            let form: std::collections::HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
            let field = |k: &str| form.get(k).cloned().unwrap_or_default();
            let s = Sent {
                identifier: field("identifier"),
                idempotency_key: headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
                event_name: field("event_name"),
                customer: field("payload[stripe_customer_id]"),
                value: field("payload[value]"),
            };
            log.lock().expect("lock").push(s.clone());
            if failures.load(Ordering::SeqCst) > 0 {
                failures.fetch_sub(1, Ordering::SeqCst);
                let e = json!({"error": {"type": "api_error", "message": "An unknown error occurred"}});
                return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(e)).into_response();
            }
            let obj = json!({
                "object": "billing.meter_event", "created": field("timestamp").parse::<i64>().unwrap_or(0),
                "event_name": s.event_name, "identifier": s.identifier, "livemode": false,
                "payload": {"stripe_customer_id": s.customer, "value": s.value},
                "timestamp": field("timestamp").parse::<i64>().unwrap_or(0)
            });
            (StatusCode::OK, axum::Json(obj)).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Double {
        base: format!("http://{addr}/"),
        sent,
    }
}

fn app(pool: PgPool, d: &Double) -> TestApp {
    let base = d.base.clone();
    TestApp::with_config(pool, move |c| {
        with_plans(c);
        c.settings.billing.stripe_secret_key = Some("sk_test_ancora".to_owned().into());
        c.settings.billing.stripe_api_base = base;
    })
}

async fn submit(app: &TestApp, key: &str, prefix: &str, n: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("{prefix}-{i}"), "digest": digest_of(&format!("{prefix}{i}"))}))
        .collect();
    assert_eq!(
        app.post_events(key, Value::Array(events)).await.0,
        StatusCode::ACCEPTED
    );
}

pub(super) fn sent(d: &Double) -> Vec<Sent> {
    d.sent.lock().expect("lock").clone()
}

fn expect(tenant: TenantId, total: u64, value: &str) -> Sent {
    let id = format!("ancora-{tenant}-events_ingested-{total}");
    Sent {
        identifier: id.clone(),
        idempotency_key: id,
        event_name: "ancora_events".into(),
        customer: "cus_Report1".into(),
        value: value.into(),
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn new_usage_is_reported_once_with_an_identifier_per_report(pool: PgPool) {
    let d = stripe_double(0).await;
    let app = app(pool, &d);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    app.state
        .billing
        .set_plan(tenant, "team", Some("cus_Report1"))
        .await
        .expect("link");

    submit(&app, &key, "a", 3).await;
    let s = app.state.billing.report_usage().await.expect("report");
    assert_eq!((s.tenants, s.reports, s.units), (1, 1, 3));
    assert_eq!(
        app.state
            .billing
            .report_usage()
            .await
            .expect("again")
            .reports,
        0
    );
    submit(&app, &key, "b", 2).await;
    assert_eq!(
        app.state.billing.report_usage().await.expect("more").units,
        2
    );

    assert_eq!(
        sent(&d),
        vec![expect(tenant, 3, "3"), expect(tenant, 5, "2")]
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_failed_report_is_resent_with_the_same_identifier_before_anything_new(pool: PgPool) {
    let d = stripe_double(1).await;
    let app = app(pool, &d);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    app.state
        .billing
        .set_plan(tenant, "team", Some("cus_Report1"))
        .await
        .expect("link");

    submit(&app, &key, "a", 3).await;
    let err = app
        .state
        .billing
        .report_usage()
        .await
        .expect_err("Stripe failed");
    assert!(err.to_string().contains("500"), "{err}");
    submit(&app, &key, "b", 2).await;
    app.state.billing.report_usage().await.expect("resent");
    app.state
        .billing
        .report_usage()
        .await
        .expect("then the rest");

    // The failed report (3 through 3) again, unchanged, then the 2 new ones: 5 in all.
    assert_eq!(
        sent(&d),
        vec![
            expect(tenant, 3, "3"),
            expect(tenant, 3, "3"),
            expect(tenant, 5, "2")
        ]
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn usage_from_before_the_customer_was_linked_is_not_billed(pool: PgPool) {
    let d = stripe_double(0).await;
    let app = app(pool, &d);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    submit(&app, &key, "early", 4).await;
    app.state
        .billing
        .set_plan(tenant, "team", Some("cus_Report1"))
        .await
        .expect("link");
    assert_eq!(
        app.state
            .billing
            .report_usage()
            .await
            .expect("report")
            .reports,
        0
    );
    submit(&app, &key, "late", 1).await;
    app.state.billing.report_usage().await.expect("report");
    assert_eq!(sent(&d), vec![expect(tenant, 5, "1")]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_report_job_reports_and_retries_after_a_failure(pool: PgPool) {
    let d = stripe_double(1).await;
    let app = app(pool, &d);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    app.state
        .billing
        .set_plan(tenant, "team", Some("cus_Report1"))
        .await
        .expect("link");
    submit(&app, &key, "a", 2).await;
    ancora::workers::run_all_jobs_now(&app.state)
        .await
        .expect("pipeline");

    let mut tx = app.state.db.system_tx().await.expect("tx");
    ancora::db::jobs::enqueue_billing_report(&mut tx, time::OffsetDateTime::now_utc())
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    // First run: Stripe fails, the job stays queued with a backoff.
    assert!(ancora::workers::run_all_jobs_now(&app.state).await.is_err());
    assert_eq!(
        ancora::db::jobs::count_kind(&app.state.db, "billing_report")
            .await
            .expect("count"),
        1
    );
    // Next run: reported, and the job is done.
    ancora::workers::run_all_jobs_now(&app.state)
        .await
        .expect("retry");
    assert_eq!(
        ancora::db::jobs::count_kind(&app.state.db, "billing_report")
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        sent(&d),
        vec![expect(tenant, 2, "2"), expect(tenant, 2, "2")]
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_a_stripe_key_nothing_is_reported_and_nothing_calls_out(pool: PgPool) {
    let app = TestApp::with_config(pool, with_plans);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    app.state
        .billing
        .set_plan(tenant, "team", Some("cus_Local1"))
        .await
        .expect("link");
    submit(&app, &key, "a", 2).await;
    assert_eq!(app.state.billing.provider_name(), "local");
    assert!(!app.state.billing.reports_usage());
    let s = app.state.billing.report_usage().await.expect("report");
    assert_eq!(s.reports, 0);
}
