//! Billing through the API, in process against a fresh database per test: quotas (402, the
//! request refused whole), metering exactly once per source action, `GET /v1/usage`, per-key
//! rate limits (429 with Retry-After), and plans set by an operator.

use std::sync::Arc;

use ancora::config::Config;
use ancora::domain::{Role, TenantId};
use ancora::services::billing::plans::Plans;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem, digest_of};

pub mod cli;
pub mod stripe_webhook;
pub mod usage_reports;

/// Plans for the tests: tight quotas, a slow rate, and priced plans for Stripe.
pub const PLANS: &str = r#"
[plans.tiny]
events_per_month = 5
proof_reads_per_month = 2
spv_requests_per_month = 0
reports_per_month = 1

[plans.small]
events_per_month = 5

[plans.slow]
requests_per_second = 1
burst = 2

[plans.team]
events_per_month = 1000
stripe_price = "price_team"
monthly_fee_cents = 4900
cents_per_1000_events = 100

[plans.pro]
stripe_price = "price_pro"
"#;

/// The test configuration with [`PLANS`] (tenants default to `team`).
pub fn with_plans(c: &mut Config) {
    c.settings.billing.plans = Arc::new(Plans::parse(PLANS).expect("plans"));
    c.settings.billing.default_plan = "team".into();
}

/// An app with [`PLANS`], a tenant on `plan` and a key of `role`.
pub async fn app_on(pool: PgPool, plan: &str, role: Role) -> (TestApp, TenantId, String) {
    let app = TestApp::with_config(pool, with_plans);
    let (tenant, key) = app.tenant_with_key(role).await;
    app.state
        .billing
        .set_plan(tenant, plan, None)
        .await
        .expect("plan");
    (app, tenant, key)
}

fn events(prefix: &str, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"id": format!("{prefix}-{i}"), "digest": digest_of(&format!("{prefix} {i}"))}))
            .collect(),
    )
}

async fn usage(app: &TestApp, key: &str) -> Value {
    let (s, _, body) = app.request(Method::GET, "/v1/usage", Some(key), None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_request_that_would_cross_the_event_quota_is_refused_whole_with_402(pool: PgPool) {
    // Arrange: 5 events a month.
    let (app, tenant, key) = app_on(pool, "tiny", Role::Owner).await;
    assert_eq!(
        app.post_events(&key, events("a", 3)).await.0,
        StatusCode::ACCEPTED
    );

    // Act: 3 more would make 6.
    let (s, h, body) = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&key),
            Some(json!({"events": events("b", 3)})),
        )
        .await;

    // Assert: 402 naming the quota, the usage and the reset; nothing of it stored.
    assert_problem(
        &(s, h, body.clone()),
        StatusCode::PAYMENT_REQUIRED,
        "monthly quota of events of plan tiny",
    );
    assert_eq!(body["quota"], "events");
    assert_eq!(body["limit"], 5);
    assert_eq!(body["usage"], 3);
    assert_eq!(body["requested"], 3);
    assert!(
        body["resetsAt"]
            .as_str()
            .is_some_and(|t| t.ends_with("-01T00:00:00Z")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("resets at")),
        "{body}"
    );
    assert_eq!(app.event_count(tenant).await, 3);
    let metrics = app.state.metrics.render();
    assert!(
        metrics.contains(r#"ancora_quota_refusals_total{quota="events"} 1"#),
        "{metrics}"
    );
    // What fits is still accepted, up to the quota exactly.
    assert_eq!(
        app.post_events(&key, events("c", 2)).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.post_events(&key, events("d", 1)).await.0,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(usage(&app, &key).await["usage"]["events"], 5);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_retried_request_is_counted_once_and_its_replay_is_answered_even_at_the_quota(
    pool: PgPool,
) {
    let (app, _tenant, key) = app_on(pool, "tiny", Role::Owner).await;
    let body = json!({"events": events("r", 5)});
    let send = || {
        Request::builder()
            .method(Method::POST)
            .uri("/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", "retry-1")
            .body(Body::from(body.to_string()))
            .expect("request")
    };
    let first = app.send(send()).await;
    assert_eq!(first.0, StatusCode::ACCEPTED, "{}", first.2);

    // The same request again (the client lost the answer): the first receipts, not a 402,
    // and nothing counted twice.
    let again = app.send(send()).await;
    assert_eq!(again.0, StatusCode::ACCEPTED, "{}", again.2);
    assert_eq!(again.2, first.2);
    assert_eq!(usage(&app, &key).await["usage"]["events"], 5);

    // The same ids without the key: stored before, so not counted either (but the quota is
    // checked first, so at the quota it is refused).
    let (s, _) = app.post_events(&key, events("r", 1)).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(usage(&app, &key).await["usage"]["events"], 5);
}

#[sqlx::test(migrations = "../../migrations")]
async fn resubmitted_ids_are_not_counted_again(pool: PgPool) {
    let (app, _tenant, key) = app_on(pool, "team", Role::Owner).await;
    assert_eq!(
        app.post_events(&key, events("x", 4)).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.post_events(&key, events("x", 4)).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.post_events(&key, events("x", 6)).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(usage(&app, &key).await["usage"]["events"], 6);
}

#[sqlx::test(migrations = "../../migrations")]
async fn usage_answers_plan_period_usage_and_quotas_to_owner_admin_and_billing_only(pool: PgPool) {
    let app = TestApp::with_config(pool, with_plans);
    let tenant = app.tenant().await;
    let submitter = app.key(tenant, Role::Submitter).await;
    assert_eq!(
        app.post_events(&submitter, events("u", 2)).await.0,
        StatusCode::ACCEPTED
    );

    for role in [Role::Owner, Role::Admin, Role::Billing] {
        let key = app.key(tenant, role).await;
        let body = usage(&app, &key).await;
        assert_eq!(body["plan"], "team", "{role}");
        assert_eq!(
            body["usage"],
            json!({"events": 2, "proofReads": 0, "spvRequests": 0, "reports": 0})
        );
        assert_eq!(
            body["quotas"],
            json!({"events": 1000, "proofReads": null, "spvRequests": null, "reports": null})
        );
        let start = body["periodStart"].as_str().expect("start");
        let end = body["periodEnd"].as_str().expect("end");
        assert!(
            start.ends_with("-01T00:00:00Z") && end.ends_with("-01T00:00:00Z") && start < end,
            "{body}"
        );
        // 4900 cents a month plus 2 events at 100 cents per 1000, rounded up.
        assert_eq!(body["estimateCents"], 4901);
        assert_eq!(body["paymentFailed"], false);
    }
    for role in [Role::Auditor, Role::Submitter] {
        let key = app.key(tenant, role).await;
        let got = app
            .request(Method::GET, "/v1/usage", Some(&key), None)
            .await;
        assert_problem(&got, StatusCode::FORBIDDEN, "owner, admin, billing");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn proof_reads_are_metered_and_limited_by_the_quota(pool: PgPool) {
    let (app, _tenant, key) = app_on(pool, "tiny", Role::Owner).await;
    assert_eq!(
        app.post_events(&key, events("p", 1)).await.0,
        StatusCode::ACCEPTED
    );
    ancora::workers::run_all_jobs_now(&app.state)
        .await
        .expect("jobs");

    for _ in 0..2 {
        let (s, _, b) = app
            .request(Method::GET, "/v1/events/p-0/proof", Some(&key), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let got = app
        .request(Method::GET, "/v1/events/p-0/proof", Some(&key), None)
        .await;
    assert_problem(&got, StatusCode::PAYMENT_REQUIRED, "proof reads");
    assert_eq!(got.2["quota"], "proofReads");
    // Also the status read that carries the bundle.
    let got = app
        .request(Method::GET, "/v1/events/p-0", Some(&key), None)
        .await;
    assert_eq!(got.0, StatusCode::PAYMENT_REQUIRED);

    // Counted in Postgres, not only in this process's memory.
    app.state.billing.flush().await.expect("flush");
    let mut tx = app.state.db.tenant_tx(_tenant).await.expect("tx");
    let stored = sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(count), 0)::bigint AS "n!" FROM usage_counters
           WHERE tenant_id = $1 AND metric = 'proof_reads'"#,
        _tenant.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("count");
    assert_eq!(stored, 2);
    assert_eq!(usage(&app, &key).await["usage"]["proofReads"], 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn spv_requests_are_refused_with_402_when_the_quota_is_zero(pool: PgPool) {
    let (app, _tenant, key) = app_on(pool, "tiny", Role::Owner).await;
    let got = app
        .request(
            Method::POST,
            "/v1/spv/verify",
            Some(&key),
            Some(json!({"proof": "x"})),
        )
        .await;
    assert_problem(&got, StatusCode::PAYMENT_REQUIRED, "SPV requests");
    assert_eq!(got.2["quota"], "spvRequests");
    assert_eq!(got.2["limit"], 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_key_past_its_rate_gets_429_with_retry_after_and_other_keys_do_not(pool: PgPool) {
    // 1 request a second, bursts of 2.
    let (app, tenant, key) = app_on(pool, "slow", Role::Owner).await;
    for _ in 0..2 {
        assert_eq!(usage_status(&app, &key).await, StatusCode::OK);
    }
    let got = app
        .request(Method::GET, "/v1/usage", Some(&key), None)
        .await;
    assert_problem(
        &got,
        StatusCode::TOO_MANY_REQUESTS,
        "limited to 1 requests per second",
    );
    let retry: u64 = got
        .1
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(
        app.state
            .metrics
            .render()
            .contains("ancora_rate_limited_total 1")
    );

    // Another key of the same tenant has its own bucket.
    let other = app.key(tenant, Role::Owner).await;
    assert_eq!(usage_status(&app, &other).await, StatusCode::OK);
    // And the bucket refills: after a second one more request passes.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(usage_status(&app, &key).await, StatusCode::OK);
}

async fn usage_status(app: &TestApp, key: &str) -> StatusCode {
    app.request(Method::GET, "/v1/usage", Some(key), None)
        .await
        .0
}

#[sqlx::test(migrations = "../../migrations")]
async fn with_billing_off_nothing_is_limited(pool: PgPool) {
    let app = TestApp::with_config(pool, |c| {
        with_plans(c);
        c.settings.billing.enforce = false;
    });
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    app.state
        .billing
        .set_plan(tenant, "tiny", None)
        .await
        .expect("plan");
    assert_eq!(
        app.post_events(&key, events("o", 8)).await.0,
        StatusCode::ACCEPTED
    );
    // Events are still counted (the ingest insert counts them).
    assert_eq!(usage(&app, &key).await["usage"]["events"], 8);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_operator_sets_plans_by_name_and_bad_input_changes_nothing(pool: PgPool) {
    let (app, tenant, key) = app_on(pool, "tiny", Role::Owner).await;
    let billing = &app.state.billing;
    let err = billing
        .set_plan(tenant, "platinum", None)
        .await
        .expect_err("unknown plan");
    assert!(
        err.to_string().contains("no plan called \"platinum\""),
        "{err}"
    );
    let err = billing
        .set_plan(tenant, "team", Some("sub_123"))
        .await
        .expect_err("not a customer");
    assert!(
        err.to_string().contains("not a Stripe customer id"),
        "{err}"
    );
    let err = billing
        .set_plan(TenantId::new(), "team", None)
        .await
        .expect_err("no tenant");
    assert!(err.to_string().contains("no tenant"), "{err}");
    assert_eq!(usage(&app, &key).await["plan"], "tiny");

    billing
        .set_plan(tenant, "pro", Some("cus_Enterprise1"))
        .await
        .expect("linked");
    assert_eq!(usage(&app, &key).await["plan"], "pro");
    // One customer, one tenant.
    let other = app.tenant().await;
    let err = billing
        .set_plan(other, "pro", Some("cus_Enterprise1"))
        .await
        .expect_err("taken");
    assert!(
        err.to_string().contains("linked to another tenant"),
        "{err}"
    );
    assert!(
        app.audit_actions(tenant)
            .await
            .contains(&"billing.plan_set".to_owned())
    );
}
