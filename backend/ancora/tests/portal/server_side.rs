//! What only the served app does: the client address reaches sign-in throttling through
//! `http::app` (`into_make_service_with_connect_info`), and expired sessions are deleted.

use std::net::SocketAddr;
use std::time::Duration;

use ancora::domain::Role;
use ancora::support::Shutdown;
use axum::http::StatusCode;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{Browser, PASSWORD, csrf_in, tenant_with_event, user};
use crate::helpers::TestApp;

/// One HTTP/1.1 exchange over a real TCP connection: `(status, set-cookie pair, body)`.
async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<String>,
) -> (u16, Option<String>, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    let body = form.unwrap_or_default();
    if method == "POST" {
        req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let set_cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .and_then(|l| l.split_once(':'))
        .and_then(|(_, v)| v.trim().split(';').next())
        .map(str::to_owned);
    (status, set_cookie, body.to_owned())
}

/// GET /login then POST it with `email` and `password`; the POST's status.
async fn sign_in_over_tcp(addr: SocketAddr, email: &str, password: &str) -> u16 {
    let (_, cookie, page) = exchange(addr, "GET", "/login", None, None).await;
    let cookie = cookie.expect("a session cookie");
    let token = csrf_in(&page).expect("a CSRF token");
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .append_pair("password", password)
        .append_pair("csrf", &token)
        .finish();
    exchange(addr, "POST", "/login", Some(&cookie), Some(form))
        .await
        .0
}

async fn ip_failures(app: &TestApp) -> Vec<String> {
    let mut tx = app.state.db.system_tx().await.expect("tx");
    let keys = sqlx::query_scalar!("SELECT key FROM login_failures WHERE scope = 'ip' ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .expect("failures");
    tx.commit().await.expect("commit");
    keys
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_served_app_throttles_sign_in_by_the_client_address_it_sees(pool: PgPool) {
    // Arrange: the app exactly as `ancora serve` runs it, on a real socket.
    let app = TestApp::new(pool);
    let t = tenant_with_event(&app).await;
    let email = user(&app, t, Role::Auditor).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = ancora::http::app(app.state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, served).await });

    // Act: one failure over TCP, then the address reaches the per-address limit.
    let wrong = sign_in_over_tcp(addr, &email, "not the password").await;
    let recorded = ip_failures(&app).await;
    let mut tx = app.state.db.system_tx().await.expect("tx");
    for _ in 1..ancora::http::portal::MAX_LOGIN_FAILURES_PER_IP {
        ancora::db::portal::record_failure(&mut tx, "ip", "127.0.0.1")
            .await
            .expect("failure");
    }
    tx.commit().await.expect("commit");
    let right_but_throttled = sign_in_over_tcp(addr, &email, PASSWORD).await;
    // The same account from another address is not held back by 127.0.0.1's failures.
    let mut elsewhere = Browser::new(&app);
    elsewhere.ip = Some(([192, 0, 2, 7], 40000).into());
    let other = elsewhere.sign_in(&email, PASSWORD).await.status;
    server.abort();

    // Assert
    assert_eq!(wrong, 401);
    assert_eq!(
        recorded,
        vec!["127.0.0.1".to_owned()],
        "keyed by the peer address"
    );
    assert_eq!(right_but_throttled, 401, "the address is paused");
    assert_eq!(other, StatusCode::SEE_OTHER);
}

#[sqlx::test(migrations = "../../migrations")]
async fn expired_sessions_are_deleted_now_and_periodically_until_shutdown(pool: PgPool) {
    let app = TestApp::new(pool);
    let insert = |id: &'static str, secs: f64| {
        let pool = app.state.db.pool().clone();
        async move {
            sqlx::query!(
                "INSERT INTO tower_sessions.session (id, data, expiry_date) \
                 VALUES ($1, '\\x00', now() + make_interval(secs => $2))",
                id,
                secs
            )
            .execute(&pool)
            .await
            .expect("session row");
        }
    };
    let ids = || {
        let pool = app.state.db.pool().clone();
        async move {
            sqlx::query_scalar!("SELECT id FROM tower_sessions.session ORDER BY id")
                .fetch_all(&pool)
                .await
                .expect("ids")
        }
    };
    insert("expired", -3600.0).await;
    insert("live", 3600.0).await;

    ancora::http::session::delete_expired(&app.state.db)
        .await
        .expect("delete");
    assert_eq!(ids().await, vec!["live".to_owned()]);

    let shutdown = Shutdown::new();
    let task = tokio::spawn(ancora::http::session::delete_expired_periodically(
        app.state.db.clone(),
        Duration::from_millis(20),
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(60)).await;
    insert("expired-later", -1.0).await;
    let mut gone = false;
    for _ in 0..100 {
        if ids().await == vec!["live".to_owned()] {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        gone,
        "a session that expired after start-up is deleted by a later round"
    );
    shutdown.trigger();
    let ended = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the task ends at shutdown")
        .expect("joined");
    assert!(ended.is_ok());
}
