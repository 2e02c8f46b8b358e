//! `X-Request-Id`: echoed when the client sends one, made when it does not, and carried by the
//! log lines of the request (JSON logs of the real binary).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::TestApp;
use crate::helpers::process::*;

#[sqlx::test(migrations = "../../migrations")]
async fn a_request_id_sent_by_the_client_is_echoed_and_one_is_made_when_absent(pool: PgPool) {
    let app = TestApp::new(pool);

    let (s1, h1, _) = app
        .send(
            Request::get("/healthz")
                .header("x-request-id", "client-id-7")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    let (s2, h2, _) = app
        .send(
            Request::get("/v1/nope")
                .body(Body::empty())
                .expect("request"),
        )
        .await;

    assert_eq!(s1, StatusCode::OK);
    assert_eq!(
        h1.get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"client-id-7"[..])
    );
    assert_eq!(s2, StatusCode::NOT_FOUND, "errors carry it too");
    let made = h2
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an id is made");
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
}

/// A raw GET with an `X-Request-Id`; the response head.
async fn get_with_id(port: u16, path: &str, id: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: {id}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    String::from_utf8_lossy(&raw).into_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn json_logs_carry_the_request_id_of_the_request_they_were_written_in(pool: PgPool) {
    // Arrange: JSON logs with the access line on.
    let dir = tempdir("request-id");
    let log = dir.join("server.log");
    let server = Server::start(
        &[
            ("DATABASE_URL", database_url_of(&pool)),
            ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
            ("ANCORA_LOG_FORMAT", "json".to_owned()),
            ("ANCORA_LOG", "info,sqlx=warn,tower_http=info".to_owned()),
        ],
        &log,
        Duration::from_secs(30),
    )
    .await;

    // Act
    let head = get_with_id(server.port, "/v1/log/key", "trace-me-42").await;

    // Assert: echoed, and a JSON log line of that request names it.
    assert!(
        head.to_ascii_lowercase()
            .contains("x-request-id: trace-me-42"),
        "{head}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let found = loop {
        let text = std::fs::read_to_string(&log).expect("log");
        let hit = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["span"]["request_id"] == "trace-me-42");
        if hit.is_some() || Instant::now() > deadline {
            break hit;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    server.stop().await;
    let line = found.expect("a JSON log line with the request id");
    assert_eq!(line["span"]["name"], "request");
    assert_eq!(line["span"]["method"], "GET");
}
