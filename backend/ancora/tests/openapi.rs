//! The OpenAPI document: generated from the code, served at `/v1/openapi.json`, listing every
//! `/v1` route the router declares (and nothing else), each operation with its responses and
//! problem+json errors; and its page for people at `/docs/api`.

use std::collections::BTreeSet;

use ancora::domain::Role;
use axum::http::{Method, StatusCode, header};
use serde_json::Value;
use sqlx::PgPool;

use super::helpers::TestApp;
use super::helpers::routes::api_routes;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_document_lists_exactly_the_routes_the_router_declares(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);

    // Act
    let (status, headers, doc) = app
        .request(Method::GET, "/v1/openapi.json", None, None)
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("application/json")
    );
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    let routes = api_routes();
    let listed = documented(&doc);
    let undocumented: Vec<_> = routes.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document (annotate the handler with #[utoipa::path] and \
         add it to paths(...) in src/http/api/openapi.rs): {undocumented:?}"
    );
    assert!(
        extra.is_empty(),
        "documented paths that no route serves: {extra:?}"
    );
    assert!(routes.len() >= 23, "{routes:?}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_operation_has_a_success_and_problem_json_errors(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, _, doc) = app
        .request(Method::GET, "/v1/openapi.json", None, None)
        .await;

    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let at = format!("{m} {path}");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success answer"
            );
            assert!(op["summary"].is_string(), "{at}: no summary");
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        r["content"]["application/problem+json"].is_object(),
                        "{at} {status}: not problem+json"
                    );
                }
            }
            for s in ["400", "503"] {
                assert!(responses.contains_key(s), "{at}: no {s}");
            }
            if op.get("security").is_some() {
                for s in ["401", "403"] {
                    assert!(responses.contains_key(s), "{at}: no {s}");
                }
            }
            if op.get("requestBody").is_some() {
                let body = &op["requestBody"]["content"]["application/json"]["schema"];
                assert!(body.is_object(), "{at}: the body has no schema");
                assert!(responses.contains_key("422"), "{at}: no 422");
            }
        }
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "Problem",
        "EventInput",
        "Receipt",
        "SubmitResponse",
        "EventView",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_document_describes_camel_case_bodies(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, _, doc) = app
        .request(Method::GET, "/v1/openapi.json", None, None)
        .await;

    let mut offenders = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        for prop in schema["properties"].as_object().into_iter().flatten() {
            if prop.0.contains('_') {
                offenders.push(format!("{name}.{}", prop.0));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
    let receipt = &doc["components"]["schemas"]["Receipt"]["properties"];
    for p in ["leafHash", "receivedAt", "receivedAtMicros", "statusUrl"] {
        assert!(receipt[p].is_object(), "Receipt.{p}: {receipt}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_reference_page_renders_every_operation_without_inline_script(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, owner) = app.tenant_with_key(Role::Owner).await;
    let _ = owner;

    // Act
    let (status, headers, page) = app.request(Method::GET, "/docs/api", None, None).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );
    let html = page.as_str().expect("html");
    for (method, path) in api_routes() {
        let anchor = format!("{method} {path}");
        assert!(html.contains(&anchor), "{anchor} not on the page");
    }
    assert!(html.contains("Idempotency-Key"));
    assert!(html.contains("application/problem+json"));
    assert!(html.contains("leafHash"), "schemas list their properties");
    assert!(!html.contains("<script>"), "no inline script");
    assert!(!html.contains(" style=\""), "no inline style");
    let csp = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}
