//! `POST /v1/billing/stripe/webhook`: payloads signed with the real scheme (HMAC-SHA256 over
//! `timestamp.payload`), valid and forged, stale, replayed, malformed; each handled event
//! type; unknown ones.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;

use super::{PLANS, with_plans};
use crate::helpers::{TestApp, assert_problem};
use ancora::domain::{Role, TenantId};
use ancora::services::billing::webhook::sign;

const SECRET: &str = "whsec_test_secret";

fn app(pool: PgPool, grace_days: i64) -> TestApp {
    assert!(PLANS.contains("price_pro"));
    TestApp::with_config(pool, |c| {
        with_plans(c);
        c.settings.billing.stripe_webhook_secret = Some(SECRET.to_owned().into());
        c.settings.billing.grace_period = time::Duration::days(grace_days);
    })
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A Stripe event envelope (fields beyond those Ancora reads included, as Stripe sends them).
fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": now(),
        "type": kind,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object, "previous_attributes": {}}
    })
}

fn subscription(id: &str, customer: &str, price: &str, status: &str) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "items": {"object": "list", "data": [
            {"id": "si_1", "object": "subscription_item", "price": {"id": price, "object": "price", "recurring": {"usage_type": "metered"}}}
        ]}
    })
}

async fn deliver(
    app: &TestApp,
    payload: &Value,
    signature: Option<String>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/v1/billing/stripe/webhook")
        .header("content-type", "application/json");
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    app.send(req.body(Body::from(payload.to_string())).expect("request"))
        .await
}

async fn signed(app: &TestApp, payload: &Value) -> (StatusCode, HeaderMap, Value) {
    let sig = sign(payload.to_string().as_bytes(), SECRET.as_bytes(), now());
    deliver(app, payload, Some(sig)).await
}

async fn linked(app: &TestApp, customer: &str) -> (TenantId, String) {
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    app.state
        .billing
        .set_plan(tenant, "team", Some(customer))
        .await
        .expect("link");
    (tenant, key)
}

async fn usage(app: &TestApp, key: &str) -> Value {
    app.request(Method::GET, "/v1/usage", Some(key), None)
        .await
        .2
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_signed_subscription_update_moves_the_tenant_to_the_plan_of_its_price(pool: PgPool) {
    let app = app(pool, 7);
    let (tenant, key) = linked(&app, "cus_A1").await;
    let e = event(
        "evt_1",
        "customer.subscription.updated",
        subscription("sub_1", "cus_A1", "price_pro", "active"),
    );
    let (s, _, body) = signed(&app, &e).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["received"], true);
    assert_eq!(usage(&app, &key).await["plan"], "pro");
    assert!(
        app.audit_actions(tenant)
            .await
            .contains(&"billing.plan_changed".to_owned())
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn forged_stale_unsigned_or_malformed_deliveries_are_400_and_change_nothing(pool: PgPool) {
    let app = app(pool, 7);
    let (_tenant, key) = linked(&app, "cus_A2").await;
    let e = event(
        "evt_2",
        "customer.subscription.updated",
        subscription("sub_2", "cus_A2", "price_pro", "active"),
    );
    let bytes = e.to_string();
    let cases = [
        (
            Some(sign(bytes.as_bytes(), b"whsec_wrong", now())),
            "no Stripe-Signature signature matches",
        ),
        (
            Some(sign(bytes.as_bytes(), SECRET.as_bytes(), now() - 3600)),
            "beyond the tolerance",
        ),
        (Some("t=abc,v1=zz".to_owned()), "malformed"),
        (Some("v1=00".to_owned()), "malformed"),
        (None, "no Stripe-Signature header"),
    ];
    for (sig, needle) in cases {
        let got = deliver(&app, &e, sig).await;
        assert_problem(&got, StatusCode::BAD_REQUEST, needle);
    }
    // A signature of another payload does not cover this one.
    let other = event(
        "evt_2",
        "customer.subscription.updated",
        subscription("sub_2", "cus_A2", "price_team", "active"),
    );
    let sig = sign(other.to_string().as_bytes(), SECRET.as_bytes(), now());
    assert_problem(
        &deliver(&app, &e, Some(sig)).await,
        StatusCode::BAD_REQUEST,
        "matches",
    );
    assert_eq!(usage(&app, &key).await["plan"], "team");
    // None of them was recorded: the genuine delivery still applies.
    assert_eq!(signed(&app, &e).await.0, StatusCode::OK);
    assert_eq!(usage(&app, &key).await["plan"], "pro");
}

#[sqlx::test(migrations = "../../migrations")]
async fn each_event_id_is_applied_once(pool: PgPool) {
    let app = app(pool, 7);
    let (_tenant, key) = linked(&app, "cus_A3").await;
    let to_pro = event(
        "evt_3a",
        "customer.subscription.updated",
        subscription("sub_3", "cus_A3", "price_pro", "active"),
    );
    let to_team = event(
        "evt_3b",
        "customer.subscription.updated",
        subscription("sub_3", "cus_A3", "price_team", "active"),
    );
    assert_eq!(signed(&app, &to_pro).await.0, StatusCode::OK);
    assert_eq!(signed(&app, &to_team).await.0, StatusCode::OK);
    // Stripe redelivers the first one: acknowledged, not applied again.
    let (s, _, body) = signed(&app, &to_pro).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["duplicate"], true);
    assert_eq!(usage(&app, &key).await["plan"], "team");
}

#[sqlx::test(migrations = "../../migrations")]
async fn unknown_types_prices_and_customers_are_acknowledged_and_change_nothing(pool: PgPool) {
    let app = app(pool, 7);
    let (_tenant, key) = linked(&app, "cus_A4").await;
    let cases = [
        event(
            "evt_4a",
            "charge.refunded",
            json!({"id": "ch_1", "object": "charge"}),
        ),
        event(
            "evt_4b",
            "customer.subscription.updated",
            subscription("sub_4", "cus_A4", "price_unknown", "active"),
        ),
        event(
            "evt_4c",
            "customer.subscription.updated",
            subscription("sub_4", "cus_Nobody", "price_pro", "active"),
        ),
        event(
            "evt_4d",
            "customer.subscription.created",
            subscription("sub_4", "cus_A4", "price_pro", "incomplete"),
        ),
    ];
    for e in &cases {
        let (s, _, body) = signed(&app, e).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body["ignored"].is_string(), "{body}");
    }
    assert_eq!(usage(&app, &key).await["plan"], "team");
    // A signed event without the fields Ancora reads is refused (Stripe retries it).
    let broken = event(
        "evt_4e",
        "customer.subscription.updated",
        json!({"id": "sub_4", "customer": "cus_A4", "status": "active"}),
    );
    assert_problem(
        &signed(&app, &broken).await,
        StatusCode::BAD_REQUEST,
        "items.data[0].price.id",
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_deleted_subscription_puts_the_tenant_back_on_free(pool: PgPool) {
    let app = app(pool, 7);
    let (_tenant, key) = linked(&app, "cus_A5").await;
    let created = event(
        "evt_5a",
        "customer.subscription.created",
        subscription("sub_5", "cus_A5", "price_pro", "active"),
    );
    assert_eq!(signed(&app, &created).await.0, StatusCode::OK);
    // An old subscription ending does not touch the current one.
    let old = event(
        "evt_5b",
        "customer.subscription.deleted",
        subscription("sub_old", "cus_A5", "price_team", "canceled"),
    );
    assert_eq!(signed(&app, &old).await.0, StatusCode::OK);
    assert_eq!(usage(&app, &key).await["plan"], "pro");
    let deleted = event(
        "evt_5c",
        "customer.subscription.deleted",
        subscription("sub_5", "cus_A5", "price_pro", "canceled"),
    );
    assert_eq!(signed(&app, &deleted).await.0, StatusCode::OK);
    assert_eq!(usage(&app, &key).await["plan"], "free");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_failed_payment_falls_back_to_free_limits_after_the_grace_period_until_paid(
    pool: PgPool,
) {
    // Grace period 0 days: the fallback is immediate.
    let app = app(pool, 0);
    let (_tenant, key) = linked(&app, "cus_A6").await;
    let invoice =
        json!({"id": "in_1", "object": "invoice", "customer": "cus_A6", "status": "open"});
    let failed = event("evt_6a", "invoice.payment_failed", invoice.clone());
    assert_eq!(signed(&app, &failed).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    let u = usage(&app, &key).await;
    assert_eq!(
        (
            u["plan"].clone(),
            u["limitsPlan"].clone(),
            u["paymentFailed"].clone()
        ),
        (json!("team"), json!("free"), json!(true))
    );
    assert_eq!(u["quotas"]["events"], 100_000);
    let paid = event("evt_6b", "invoice.paid", invoice);
    assert_eq!(signed(&app, &paid).await.0, StatusCode::OK);
    let u = usage(&app, &key).await;
    assert_eq!(
        (u["limitsPlan"].clone(), u["paymentFailed"].clone()),
        (json!("team"), json!(false))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_failed_payment_keeps_the_plan_limits_during_the_grace_period(pool: PgPool) {
    let app = app(pool, 7);
    let (_tenant, key) = linked(&app, "cus_A7").await;
    let failed = event(
        "evt_7",
        "invoice.payment_failed",
        json!({"id": "in_7", "customer": "cus_A7"}),
    );
    assert_eq!(signed(&app, &failed).await.0, StatusCode::OK);
    let u = usage(&app, &key).await;
    assert_eq!(
        (u["limitsPlan"].clone(), u["paymentFailed"].clone()),
        (json!("team"), json!(true))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_completed_checkout_links_the_customer_to_the_tenant_it_names(pool: PgPool) {
    let app = app(pool, 7);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    let session = json!({
        "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
        "client_reference_id": tenant.to_string(), "customer": "cus_New1", "subscription": "sub_8"
    });
    assert_eq!(
        signed(
            &app,
            &event("evt_8a", "checkout.session.completed", session)
        )
        .await
        .0,
        StatusCode::OK
    );
    let sub = event(
        "evt_8b",
        "customer.subscription.created",
        subscription("sub_8", "cus_New1", "price_pro", "active"),
    );
    assert_eq!(signed(&app, &sub).await.0, StatusCode::OK);
    assert_eq!(usage(&app, &key).await["plan"], "pro");
    // A session naming no tenant of ours changes nothing.
    let stray = json!({"id": "cs_2", "client_reference_id": TenantId::new().to_string(), "customer": "cus_New2"});
    let (s, _, body) = signed(&app, &event("evt_8c", "checkout.session.completed", stray)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["ignored"].is_string(), "{body}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_a_webhook_secret_the_endpoint_is_404(pool: PgPool) {
    let app = TestApp::new(pool);
    let e = event("evt_9", "invoice.paid", json!({"customer": "cus_X"}));
    let got = signed(&app, &e).await;
    assert_problem(&got, StatusCode::NOT_FOUND, "not configured");
}
