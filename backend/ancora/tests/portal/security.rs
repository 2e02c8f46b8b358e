//! The portal's findings of the security probe (issue 17), each pinned: the sign-in redirect
//! stays on the site, anonymous visits store no session, unreadable input gets a page (never a
//! 500 or plain text), and every page carries the security headers.

use ancora::domain::Role;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sqlx::PgPool;

use super::{Browser, EVENT, PASSWORD, tenant_with_event, user};
use crate::helpers::TestApp;

async fn stored_sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM tower_sessions.session"#)
        .fetch_one(app.state.db.pool())
        .await
        .expect("count sessions")
}

fn is_page(p: &super::Page) -> bool {
    p.headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn after_sign_in_next_never_leads_off_the_site_and_a_newline_in_it_is_no_500(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Auditor).await;

    for next in [
        "/\t/evil.example",
        "/\n/x",
        "/\r\n/x",
        "/\\evil.example",
        "//evil.example",
    ] {
        let mut b = Browser::new(&app);
        b.get("/login").await;
        let p = b
            .post(
                "/login",
                &[("email", &email), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "next={next:?}");
        assert_eq!(p.location(), "/", "next={next:?}");
        // Signed in, the sign-in page redirects at once: the same rule.
        let again = b
            .get(&format!(
                "/login?next={}",
                next.replace('\t', "%09")
                    .replace('\n', "%0A")
                    .replace('\r', "%0D")
                    .replace('\\', "%5C")
            ))
            .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "next={next:?}");
        assert_eq!(again.location(), "/", "next={next:?}");
    }
    let mut b = Browser::new(&app);
    b.get("/login").await;
    let p = b
        .post(
            "/login",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "/t/x/events?q=a"),
            ],
        )
        .await;
    assert_eq!(p.location(), "/t/x/events?q=a", "a same-site path is kept");
}

#[sqlx::test(migrations = "../../migrations")]
async fn anonymous_visits_store_no_session_and_only_signing_in_stores_one(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Auditor).await;

    // Act: many anonymous visits of the pages that show forms, from fresh browsers.
    for path in ["/login", "/forgot", "/login?next=/t/x", "/"] {
        for _ in 0..3 {
            let mut b = Browser::new(&app);
            b.get(path).await;
        }
    }
    let after_visits = stored_sessions(&app).await;
    let mut b = Browser::new(&app);
    b.get("/login").await;
    let signed = b
        .post("/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    let after_sign_in = stored_sessions(&app).await;
    b.get("/account").await; // the signed-in session's own CSRF token
    b.post("/logout", &[]).await;
    let after_sign_out = stored_sessions(&app).await;

    // Assert
    assert_eq!(after_visits, 0, "anonymous pages stored sessions");
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(after_sign_in, 1);
    assert_eq!(after_sign_out, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_anonymous_forms_still_refuse_a_post_without_the_visitors_token(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Auditor).await;
    let mut visitor = Browser::new(&app);
    visitor.get("/login").await;
    let token = visitor.csrf.clone().expect("the page carries a token");

    // Another browser (no cookie of the visitor's) replays the visitor's token: refused.
    let mut attacker = Browser::new(&app);
    attacker.csrf = Some(token);
    let replayed = attacker
        .post("/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    // The visitor's own browser, without the token field: refused.
    let without = visitor
        .post_raw("/login", &[("email", &email), ("password", PASSWORD)])
        .await;

    assert_eq!(replayed.status, StatusCode::FORBIDDEN);
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert_eq!(stored_sessions(&app).await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn nul_bytes_non_utf8_paths_and_malformed_forms_get_a_page_not_a_500(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Owner).await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    for path in [
        format!("/t/{t}/events/inv%00x"),
        format!("/t/{t}/events/inv%00x/bundle.json"),
        format!("/t/{t}/events/inv%00x/report.pdf"),
        format!("/t/{t}/events?q=inv%00x"),
        format!("/t/{t}/events.csv?q=%00"),
        format!("/t/{t}/events/%FF%FE"),
        format!("/t/{t}/batches/%C3%28"),
        format!("/t/{t}/audit?before=abc"),
        "/login?next=%00".to_owned(),
    ] {
        let p = b.get(&path).await;
        assert_eq!(
            p.status,
            StatusCode::BAD_REQUEST,
            "GET {path}: {}",
            p.text()
        );
        assert!(is_page(&p), "GET {path} answered {:?}", p.headers);
    }
    for (path, fields) in [
        ("/account".to_owned(), vec![("current", "x")]),
        (
            format!("/t/{t}/keys"),
            vec![("name", "k\0"), ("role", "submitter")],
        ),
        (format!("/t/{t}/verify"), vec![("bundle", "{\"a\":\"\0\"}")]),
        (
            format!("/t/{t}/members"),
            vec![("email", "a\0@example.test"), ("role", "auditor")],
        ),
    ] {
        let p = b.post(&path, &fields).await;
        assert_eq!(
            p.status,
            StatusCode::BAD_REQUEST,
            "POST {path}: {}",
            p.text()
        );
        assert!(is_page(&p), "POST {path} answered {:?}", p.headers);
    }
    let mut anon = Browser::new(&app);
    anon.get("/login").await;
    let p = anon
        .post("/login", &[("email", "a\0b"), ("password", "x")])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(is_page(&p));
    // The event itself is still there.
    assert_eq!(
        b.get(&format!("/t/{t}/events/{EVENT}")).await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_page_carries_the_security_headers_and_hsts_only_over_https(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let mut b = Browser::new(&app);
    let page = b.get("/login").await;
    let css = b.get("/static/portal.css").await;
    let api = app
        .send(
            Request::builder()
                .method(Method::GET)
                .uri("/v1/log/checkpoint")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    let https = TestApp::with_config(pool, |c| {
        c.settings.public_url = "https://audit.example".into()
    });
    let mut secure = Browser::new(&https);
    let secure_page = secure.get("/login").await;

    for h in [&page.headers, &css.headers, &api.1, &secure_page.headers] {
        let get = |n: &str| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let csp = get("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("style-src 'self'"), "{csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(get("x-content-type-options"), "nosniff");
        assert_eq!(get("referrer-policy"), "same-origin");
    }
    assert!(
        page.headers.get("strict-transport-security").is_none(),
        "no HSTS over http"
    );
    let hsts = secure_page
        .headers
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(hsts.starts_with("max-age="), "{hsts}");
    // The CSP can forbid inline code because the portal has none: no inline script, style
    // element, style attribute or event handler in any template.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let mut stack = vec![root];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("templates") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            seen += 1;
            let text = std::fs::read_to_string(&path)
                .expect("template")
                .to_ascii_lowercase();
            for bad in [
                "<script>",
                "<script type",
                "<style",
                " style=",
                " onclick=",
                " onload=",
                " onsubmit=",
                " onchange=",
                "javascript:",
            ] {
                assert!(!text.contains(bad), "{} holds {bad:?}", path.display());
            }
        }
    }
    assert!(seen > 5, "templates found: {seen}");
}
