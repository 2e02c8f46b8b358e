//! The billing page: usage against quotas with a chart, the banners as a quota nears and
//! bites, the estimate, no inline script or style, and Stripe Checkout from the form
//! (against a Stripe double answering with documented object shapes).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ancora::domain::Role;
use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use serde_json::json;
use sqlx::PgPool;

use super::{Browser, EVENT, PASSWORD, tenant_with_event, user};
use crate::billing::with_plans;
use crate::helpers::{TestApp, digest_of};

async fn submit(app: &TestApp, key: &str, prefix: &str, n: usize) {
    let events: Vec<serde_json::Value> = (0..n)
        .map(|i| json!({"id": format!("{prefix}-{i}"), "digest": digest_of(&format!("{prefix}{i}"))}))
        .collect();
    assert_eq!(
        app.post_events(key, serde_json::Value::Array(events))
            .await
            .0,
        StatusCode::ACCEPTED
    );
}

fn no_inline_script_or_style(html: &str) {
    assert!(!html.contains("style="), "inline style attribute");
    assert!(!html.contains("<style"), "inline style element");
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..html[i..].find('>').map_or(html.len(), |e| i + e)];
        assert!(tag.contains(" src="), "inline script: {tag}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_billing_page_shows_usage_against_quotas_and_warns_as_a_quota_nears_then_bites(
    pool: PgPool,
) {
    let app = TestApp::with_config(pool, with_plans);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    app.state
        .billing
        .set_plan(tenant, "small", None)
        .await
        .expect("plan");
    let email = user(&app, tenant, Role::Billing).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let path = format!("/t/{tenant}/billing");

    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains(r#"data-testid="plan">small<"#), "{html}");
    assert!(!html.contains("quota-banner"));
    assert!(
        html.contains(r#"<rect class="bar ok" x="0" y="4" width="0""#),
        "{html}"
    );
    no_inline_script_or_style(&html);

    submit(&app, &key, "a", 4).await; // 80 % of 5
    let html = b.get(&path).await.text();
    assert!(
        html.contains("80% of the monthly quota of events is used (4 of 5)"),
        "{html}"
    );
    assert!(
        html.contains(r#"<rect class="bar near" x="0" y="4" width="80""#),
        "{html}"
    );

    submit(&app, &key, "b", 1).await;
    let html = b.get(&path).await.text();
    assert!(
        html.contains("The monthly quota of events (5) is used up"),
        "{html}"
    );
    assert!(html.contains(r#"class="banner over""#), "{html}");
    // The dashboard says so too, with the way to the billing page.
    let dash = b.get(&format!("/t/{tenant}")).await.text();
    assert!(
        dash.contains("The monthly quota of events (5) is used up"),
        "{dash}"
    );
    assert!(
        dash.contains(&format!(r#"<a href="/t/{tenant}/billing">Billing</a></p>"#)),
        "{dash}"
    );
    // Without Stripe there is no Checkout form.
    assert!(!html.contains("Continue to Stripe Checkout"));
    // A quota of 0 is a full bar that bites from the start, never a division by zero.
    app.state
        .billing
        .set_plan(tenant, "tiny", None)
        .await
        .expect("plan");
    let html = b.get(&path).await.text();
    assert!(
        html.contains(r#"<rect class="bar over" x="0" y="64" width="100""#),
        "{html}"
    );
}

/// Stripe's customers and Checkout sessions endpoints: records the paths, answers with the
/// documented objects.
async fn checkout_double() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let app = Router::new().fallback(move |uri: Uri, body: Bytes| {
        let log = log.clone();
        async move {
            log.lock().expect("lock").push((uri.path().to_owned(), String::from_utf8_lossy(&body).into_owned()));
            let obj = if uri.path() == "/v1/billing_portal/sessions" {
                json!({
                    "id": "bps_1", "object": "billing_portal.session", "configuration": "bpc_1",
                    "created": 1_680_210_639, "customer": "cus_Portal1", "livemode": false,
                    "return_url": null, "url": "https://billing.stripe.com/p/session/test_1"
                })
            } else if uri.path() == "/v1/customers" {
                json!({"id": "cus_Portal1", "object": "customer", "created": 1_680_893_993, "livemode": false, "metadata": {}})
            } else {
                json!({
                    "id": "cs_test_portal", "object": "checkout.session",
                    "automatic_tax": {"enabled": false, "liability": null, "status": null},
                    "created": 1_679_600_215, "custom_fields": [], "custom_text": {},
                    "expires_at": 1_679_686_615, "livemode": false, "mode": "subscription",
                    "payment_method_types": ["card"], "payment_status": "unpaid", "shipping_options": [],
                    "status": "open", "url": "https://checkout.stripe.com/c/pay/cs_test_portal"
                })
            };
            axum::Json(obj)
        }
    });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/"), seen)
}

#[sqlx::test(migrations = "../../migrations")]
async fn checkout_creates_the_customer_once_and_sends_the_person_to_stripe(pool: PgPool) {
    let (base, seen) = checkout_double().await;
    let app = TestApp::with_config(pool, move |c| {
        with_plans(c);
        c.settings.billing.stripe_secret_key = Some("sk_test_portal".to_owned().into());
        c.settings.billing.stripe_api_base = base;
    });
    let tenant = app.tenant().await;
    let email = user(&app, tenant, Role::Owner).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let html = b.get(&format!("/t/{tenant}/billing")).await.text();
    assert!(html.contains("Continue to Stripe Checkout"), "{html}");

    let to = b
        .post(&format!("/t/{tenant}/billing/checkout"), &[("plan", "pro")])
        .await;
    assert_eq!(to.status, StatusCode::SEE_OTHER, "{}", to.text());
    assert_eq!(
        to.location(),
        "https://checkout.stripe.com/c/pay/cs_test_portal"
    );
    // A second Checkout reuses the customer.
    b.get(&format!("/t/{tenant}/billing")).await;
    let again = b
        .post(
            &format!("/t/{tenant}/billing/checkout"),
            &[("plan", "team")],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let paths: Vec<String> = seen
        .lock()
        .expect("lock")
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/customers",
            "/v1/checkout/sessions",
            "/v1/checkout/sessions"
        ]
    );
    let last = seen.lock().expect("lock")[2].1.clone();
    assert!(
        last.contains("price_team") && last.contains(&tenant.to_string()),
        "{last}"
    );

    // A plan Stripe does not sell: a readable refusal, nothing sent.
    b.get(&format!("/t/{tenant}/billing")).await;
    let no = b
        .post(
            &format!("/t/{tenant}/billing/checkout"),
            &[("plan", "tiny")],
        )
        .await;
    assert_eq!(no.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no.text().contains("cannot be bought through Stripe"));
    assert_eq!(seen.lock().expect("lock").len(), 3);

    // Once subscribed, the plan changes in Stripe's customer portal, never by a second
    // subscription.
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    ancora::db::billing::set_subscription(&mut tx, tenant, "pro", Some("sub_P1"))
        .await
        .expect("sub");
    tx.commit().await.expect("commit");
    let html = b.get(&format!("/t/{tenant}/billing")).await.text();
    assert!(
        html.contains("Manage subscription in Stripe")
            && !html.contains("Continue to Stripe Checkout"),
        "{html}"
    );
    let to = b.post(&format!("/t/{tenant}/billing/manage"), &[]).await;
    assert_eq!(to.status, StatusCode::SEE_OTHER, "{}", to.text());
    assert_eq!(to.location(), "https://billing.stripe.com/p/session/test_1");
    b.get(&format!("/t/{tenant}/billing")).await;
    let twice = b
        .post(
            &format!("/t/{tenant}/billing/checkout"),
            &[("plan", "team")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.text().contains("has a subscription already"));
    let paths: Vec<String> = seen
        .lock()
        .expect("lock")
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(
        paths.last().map(String::as_str),
        Some("/v1/billing_portal/sessions")
    );
    assert_eq!(paths.len(), 4);
}

#[sqlx::test(migrations = "../../migrations")]
async fn reports_are_metered_and_refused_with_a_402_page_past_the_quota(pool: PgPool) {
    let app = TestApp::with_config(pool, with_plans);
    let tenant = tenant_with_event(&app).await;
    app.state
        .billing
        .set_plan(tenant, "tiny", None)
        .await
        .expect("plan"); // 1 report a month
    let email = user(&app, tenant, Role::Auditor).await;
    let mut b = Browser::new(&app);
    b.sign_in(&email, PASSWORD).await;
    let report = format!("/t/{tenant}/events/{EVENT}/report.json");

    assert_eq!(b.get(&report).await.status, StatusCode::OK);
    let refused = b.get(&report).await;
    assert_eq!(refused.status, StatusCode::PAYMENT_REQUIRED);
    let html = refused.text();
    assert!(
        html.contains("Monthly quota used up")
            && html.contains("monthly quota of reports of plan tiny"),
        "{html}"
    );
    // An event that does not exist is a 404, not a counted report.
    assert_eq!(
        b.get(&format!("/t/{tenant}/events/nope/report.pdf"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let u = app.state.billing.usage(tenant).await.expect("usage");
    assert_eq!(
        u.usage[ancora::services::billing::Metric::Reports.index()],
        1
    );
}
