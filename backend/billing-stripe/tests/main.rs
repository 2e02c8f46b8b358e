//! The Stripe client against an HTTP double of Stripe's API: each test checks the exact
//! request async-stripe sends (method, path, form body, Idempotency-Key, the key as Bearer)
//! and answers with the object shapes Stripe documents.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ancora_billing_stripe::{CheckoutRequest, MeterEvent, StripeClient, StripeError};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request the double received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    form: Vec<(String, String)>,
    idempotency_key: Option<String>,
    authorization: Option<String>,
}

/// The double: answers `status` with `body` and records every request.
async fn double(status: StatusCode, body: Value) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, bytes: Bytes| {
            let log = log.clone();
            let body = body.clone();
            async move {
                let mut form: Vec<(String, String)> = form_urlencoded::parse(&bytes)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                form.sort();
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                log.lock().expect("lock").push(Seen {
                    method,
                    path: uri.path().to_owned(),
                    form,
                    idempotency_key: header("idempotency-key"),
                    authorization: header("authorization"),
                });
                let resp: Response = (status, axum::Json(body)).into_response();
                resp
            }
        },
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/"), seen)
}

fn client(base: &str) -> StripeClient {
    StripeClient::new("sk_test_double", base, Duration::from_secs(5)).expect("client")
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_meter_event_is_posted_with_its_identifier_as_idempotency_key() {
    // Stripe's documented billing.meter_event object.
    let (base, seen) = double(
        StatusCode::OK,
        json!({
            "object": "billing.meter_event",
            "created": 1_704_824_589,
            "event_name": "ancora_events",
            "identifier": "ancora-t-events_ingested-42",
            "livemode": false,
            "payload": {"value": "42", "stripe_customer_id": "cus_NciAYcXfLnqBoz"},
            "timestamp": 1_704_824_589
        }),
    )
    .await;
    client(&base)
        .report_meter_event(&MeterEvent {
            event_name: "ancora_events".into(),
            customer: "cus_NciAYcXfLnqBoz".into(),
            value: 42,
            identifier: "ancora-t-events_ingested-42".into(),
            timestamp: 1_704_824_589,
        })
        .await
        .expect("reported");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path, "/v1/billing/meter_events");
    assert_eq!(
        r.idempotency_key.as_deref(),
        Some("ancora-t-events_ingested-42")
    );
    assert_eq!(r.authorization.as_deref(), Some("Bearer sk_test_double"));
    assert_eq!(
        r.form,
        pairs(&[
            ("event_name", "ancora_events"),
            ("identifier", "ancora-t-events_ingested-42"),
            ("payload[stripe_customer_id]", "cus_NciAYcXfLnqBoz"),
            ("payload[value]", "42"),
            ("timestamp", "1704824589"),
        ])
    );
}

#[tokio::test]
async fn a_customer_is_created_with_the_tenant_in_its_metadata() {
    let (base, seen) = double(
        StatusCode::OK,
        json!({
            "id": "cus_NffrFeUfNV2Hib",
            "object": "customer",
            "balance": 0,
            "created": 1_680_893_993,
            "currency": null,
            "default_source": null,
            "delinquent": false,
            "description": null,
            "email": null,
            "invoice_prefix": "0759376C",
            "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
            "livemode": false,
            "metadata": {"tenant_id": "t-1"},
            "name": "Acme Audit",
            "next_invoice_sequence": 1,
            "phone": null,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null
        }),
    )
    .await;
    let id = client(&base)
        .create_customer("t-1", "Acme Audit", "ancora-customer-t-1")
        .await
        .expect("created");
    assert_eq!(id, "cus_NffrFeUfNV2Hib");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].path, "/v1/customers");
    assert_eq!(
        seen[0].idempotency_key.as_deref(),
        Some("ancora-customer-t-1")
    );
    assert_eq!(
        seen[0].form,
        pairs(&[("metadata[tenant_id]", "t-1"), ("name", "Acme Audit")])
    );
}

#[tokio::test]
async fn a_checkout_session_subscribes_the_customer_to_one_price() {
    let (base, seen) = double(
        StatusCode::OK,
        json!({
            "id": "cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u",
            "object": "checkout.session",
            "after_expiration": null,
            "allow_promotion_codes": null,
            "amount_subtotal": null,
            "amount_total": null,
            "automatic_tax": {"enabled": false, "liability": null, "status": null},
            "billing_address_collection": null,
            "cancel_url": "https://portal.example/t/1/billing?checkout=cancelled",
            "client_reference_id": "t-1",
            "consent": null,
            "consent_collection": null,
            "created": 1_679_600_215,
            "currency": null,
            "custom_fields": [],
            "custom_text": {"shipping_address": null, "submit": null},
            "customer": "cus_NffrFeUfNV2Hib",
            "customer_creation": null,
            "customer_details": null,
            "customer_email": null,
            "expires_at": 1_679_686_615,
            "invoice": null,
            "invoice_creation": null,
            "livemode": false,
            "locale": null,
            "metadata": {},
            "mode": "subscription",
            "payment_intent": null,
            "payment_link": null,
            "payment_method_collection": "always",
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "phone_number_collection": {"enabled": false},
            "recovered_from": null,
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_details": null,
            "shipping_options": [],
            "status": "open",
            "submit_type": null,
            "subscription": null,
            "success_url": "https://portal.example/t/1/billing?checkout=done",
            "total_details": null,
            "url": "https://checkout.stripe.com/c/pay/cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u"
        }),
    )
    .await;
    let session = client(&base)
        .create_checkout_session(&CheckoutRequest {
            customer: "cus_NffrFeUfNV2Hib".into(),
            price: "price_team".into(),
            client_reference_id: "t-1".into(),
            success_url: "https://portal.example/t/1/billing?checkout=done".into(),
            cancel_url: "https://portal.example/t/1/billing?checkout=cancelled".into(),
            idempotency_key: "ancora-checkout-1".into(),
        })
        .await
        .expect("session");
    assert!(
        session
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://checkout.stripe.com/"))
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].path, "/v1/checkout/sessions");
    assert_eq!(
        seen[0].idempotency_key.as_deref(),
        Some("ancora-checkout-1")
    );
    assert_eq!(
        seen[0].form,
        pairs(&[
            (
                "cancel_url",
                "https://portal.example/t/1/billing?checkout=cancelled"
            ),
            ("client_reference_id", "t-1"),
            ("customer", "cus_NffrFeUfNV2Hib"),
            ("line_items[0][price]", "price_team"),
            ("mode", "subscription"),
            (
                "success_url",
                "https://portal.example/t/1/billing?checkout=done"
            ),
        ])
    );
}

#[tokio::test]
async fn stripe_errors_say_whether_a_retry_can_help() {
    let error = json!({"error": {"type": "invalid_request_error", "message": "No such customer: 'cus_gone'", "code": "resource_missing"}});
    let (base, _) = double(StatusCode::BAD_REQUEST, error).await;
    let e = client(&base)
        .create_customer("t", "n", "k")
        .await
        .expect_err("refused");
    assert!(
        matches!(&e, StripeError::Refused { status: 400, message } if message.contains("No such customer")),
        "{e}"
    );
    assert!(!e.is_retryable());

    let (base, _) = double(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": {"type": "api_error", "message": "boom"}}),
    )
    .await;
    let e = client(&base)
        .create_customer("t", "n", "k")
        .await
        .expect_err("failed");
    assert!(e.is_retryable(), "{e}");

    // Nobody listening: a transport error, retryable.
    let e = client("http://127.0.0.1:9/")
        .create_customer("t", "n", "k")
        .await
        .expect_err("unreachable");
    assert!(e.is_retryable(), "{e}");
}

#[tokio::test]
async fn a_portal_session_opens_stripes_customer_portal_for_the_customer() {
    // Stripe's documented billing_portal.session object.
    let (base, seen) = double(
        StatusCode::OK,
        json!({
            "id": "bps_1MrSjzLkdIwHu7ixex0IvU9b",
            "object": "billing_portal.session",
            "configuration": "bpc_1MAhNDLkdIwHu7ixckACO1Jq",
            "created": 1_680_210_639,
            "customer": "cus_NciAYcXfLnqBoz",
            "flow": null,
            "livemode": false,
            "locale": null,
            "on_behalf_of": null,
            "return_url": "https://portal.example/t/1/billing",
            "url": "https://billing.stripe.com/p/session/test_YWNjdF8xTTJKVGtMa2RJd0h1N2l4"
        }),
    )
    .await;
    let url = client(&base)
        .create_portal_session("cus_NciAYcXfLnqBoz", "https://portal.example/t/1/billing")
        .await
        .expect("session");
    assert_eq!(
        url,
        "https://billing.stripe.com/p/session/test_YWNjdF8xTTJKVGtMa2RJd0h1N2l4"
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].path, "/v1/billing_portal/sessions");
    assert_eq!(
        seen[0].form,
        pairs(&[
            ("customer", "cus_NciAYcXfLnqBoz"),
            ("return_url", "https://portal.example/t/1/billing"),
        ])
    );
}
