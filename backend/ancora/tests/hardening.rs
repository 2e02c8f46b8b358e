//! Hardening (issue 17): secrets compared in constant time only, no `unsafe` anywhere, and no
//! configured or handled secret in the logs of a full run at debug level. (`cargo deny check
//! licenses bans sources` runs in `infra/scripts/test.sh`, with `deny.toml`.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ancora::domain::Role;
use ancora_proof::tlog::note::LogSigner;
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use sha2::Sha256;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::process::{Server, database_url_of, free_port, http, tempdir};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(
                name,
                "target" | "node_modules" | ".git" | "corpus" | "artifacts"
            ) {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The code of a line: without a `//` comment (good enough for this code base's style).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) if !line[..at].contains('"') => &line[..at],
        _ => line,
    }
}

// ---------------------------------------------------------------------------------------------
// Constant-time comparison.

/// Words that name a secret in an operand of `==` / `!=`.
const SECRET_WORDS: [&str; 9] = [
    "token",
    "secret",
    "password",
    "csrf",
    "session",
    "key_text",
    "mac",
    "signature",
    "api_key",
];

/// Comparisons the scan flags that compare no stored secret, with the reason.
const ALLOWED: [(&str, &str, &str); 2] = [
    (
        "http/portal/invite.rs",
        "f.password != f.confirm",
        "the two copies of a new password the person typed; no stored secret is involved",
    ),
    (
        "cli_monitor.rs",
        "kept.to_key_text() != key.to_key_text()",
        "two public verifier keys of the log (what the monitor trusts), not secrets",
    ),
];

/// The operand next to an operator: identifier characters, paths, calls and derefs.
fn operand(s: &str, leftwards: bool) -> String {
    let ok = |c: char| c.is_alphanumeric() || "_.:()*&".contains(c);
    let t = if leftwards {
        s.trim_end()
    } else {
        s.trim_start()
    };
    if leftwards {
        t.chars()
            .rev()
            .take_while(|c| ok(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    } else {
        t.chars().take_while(|c| ok(*c)).collect()
    }
}

/// The secret-looking comparisons on one line of code.
fn secret_comparisons(line: &str) -> Vec<String> {
    let line = code(line);
    let mut found = Vec::new();
    if line.contains("expose_secret()")
        && ["==", "!=", ".eq(", ".cmp(", "starts_with(", "ends_with("]
            .iter()
            .any(|op| line.contains(op))
    {
        found.push(line.trim().to_owned());
    }
    for op in ["==", "!="] {
        let mut from = 0;
        while let Some(at) = line[from..].find(op) {
            let at = from + at;
            let left = operand(&line[..at], true).to_lowercase();
            let right = operand(&line[at + 2..], false).to_lowercase();
            if SECRET_WORDS
                .iter()
                .any(|w| left.contains(w) || right.contains(w))
            {
                found.push(line.trim().to_owned());
            }
            from = at + 2;
        }
    }
    found
}

#[test]
fn secrets_are_never_compared_with_eq_only_in_constant_time() {
    // The scan itself catches what it is for.
    for bad in [
        "if token == presented {",
        "    let ok = stored.csrf_token != form.csrf;",
        "if key.expose_secret() == text {",
        "    ok = *session_id == cookie;",
    ] {
        assert!(!secret_comparisons(bad).is_empty(), "missed {bad:?}");
    }
    for fine in [
        ".find(|(k, _)| *k == ANON_COOKIE)",
        "if n == 0 {",
        "// token == x in a comment",
    ] {
        assert!(secret_comparisons(fine).is_empty(), "flagged {fine:?}");
    }

    let root = repo();
    let mut files = Vec::new();
    for dir in ["backend", "e2e"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.retain(|f| f.components().any(|c| c.as_os_str() == "src"));
    assert!(files.len() > 50, "{} source files", files.len());
    let mut bad = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        for (n, line) in text.lines().enumerate() {
            for hit in secret_comparisons(line) {
                let allowed = ALLOWED
                    .iter()
                    .any(|(f, snippet, _)| rel.ends_with(f) && hit.contains(snippet));
                if !allowed {
                    bad.push(format!("{rel}:{}: {hit}", n + 1));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "secrets compared with == / != (use subtle::ConstantTimeEq, Mac::verify_slice, or \
         compare hashes in the database; or add the line to ALLOWED with the reason):\n{}",
        bad.join("\n")
    );

    // The places that do compare presented secrets use the constant-time primitives.
    let src = root.join("backend/ancora/src");
    let must = [
        ("http/portal/csrf.rs", "ct_eq("),
        ("services/billing/webhook.rs", "verify_slice("),
        ("db/api_keys.rs", "Sha256"),
    ];
    for (file, needle) in must {
        let text = std::fs::read_to_string(src.join(file)).expect("read");
        assert!(text.contains(needle), "{file} no longer uses {needle}");
    }
}

// ---------------------------------------------------------------------------------------------
// No unsafe code.

#[test]
fn every_crate_forbids_unsafe_code_and_none_is_written() {
    let root = repo();
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let lints = workspace
        .split("[workspace.lints.rust]")
        .nth(1)
        .expect("[workspace.lints.rust]");
    assert!(
        lints.contains("unsafe_code = \"forbid\""),
        "the workspace lints must forbid unsafe_code"
    );
    let members = workspace
        .split("members = [")
        .nth(1)
        .and_then(|m| m.split(']').next())
        .expect("members");
    let members: Vec<&str> = members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .collect();
    assert!(members.len() >= 5, "{members:?}");
    // The fuzz targets live in a workspace of their own.
    let mut crates: Vec<&str> = members.clone();
    crates.push("backend/proof/fuzz");
    for krate in crates {
        let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{krate}/Cargo.toml: {e}"));
        if members.contains(&krate) {
            let inherits = manifest
                .split("[lints]")
                .nth(1)
                .is_some_and(|s| s.trim_start().starts_with("workspace = true"));
            assert!(inherits, "{krate}: [lints] workspace = true is missing");
        }
        // Every crate root says it too (binaries, fuzz targets included).
        let mut roots: Vec<PathBuf> = ["src/lib.rs", "src/main.rs"]
            .iter()
            .map(|r| root.join(krate).join(r))
            .filter(|p| p.exists())
            .collect();
        for dir in ["src/bin", "fuzz_targets"] {
            if let Ok(entries) = std::fs::read_dir(root.join(krate).join(dir)) {
                roots.extend(entries.map(|e| e.expect("entry").path()));
            }
        }
        assert!(!roots.is_empty(), "{krate}: no crate root found");
        for r in roots {
            let text = std::fs::read_to_string(&r).expect("read");
            assert!(
                text.contains("#![forbid(unsafe_code)]"),
                "{} lacks #![forbid(unsafe_code)]",
                r.display()
            );
        }
    }
    // And no file writes unsafe code or lifts the lint.
    let mut files = Vec::new();
    for dir in ["backend", "e2e"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut bad = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (n, line) in text.lines().enumerate() {
            let c = code(line);
            let unsafe_kw = c
                .split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .any(|w| w == "unsafe")
                && !c.contains('"');
            let lifted = !c.contains('"')
                && (c.contains("allow(unsafe_code)") || c.contains("warn(unsafe_code)"));
            if unsafe_kw || lifted {
                bad.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(bad.is_empty(), "unsafe code:\n{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Secrets never in logs.

/// Every setting that holds a secret (`hide_env_values = true` in `config.rs`) and is set by
/// the log test below. A new secret setting fails `every_secret_setting_is_in_the_log_test`
/// until it is added here and given a value in the log test.
const SECRET_SETTINGS: [&str; 9] = [
    "DATABASE_URL",
    "ANCORA_MASTER_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "ANCORA_LOG_SIGNING_KEY",
    "ANCORA_STRIPE_SECRET_KEY",
    "ANCORA_STRIPE_WEBHOOK_SECRET",
    "ANCORA_CHAINWEB_KEY",
    "ANCORA_REDIS_URL",
];

#[test]
fn every_secret_setting_is_in_the_log_test() {
    let config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config.rs"))
            .expect("config.rs");
    let mut hidden = Vec::new();
    // Each `#[arg(…)]` attribute, however it is wrapped.
    for attr in config.split("#[arg(").skip(1) {
        let attr = attr.split(")]").next().unwrap_or("");
        if attr.contains("hide_env_values = true")
            && let Some(env) = attr
                .split("env = \"")
                .nth(1)
                .and_then(|s| s.split('"').next())
        {
            hidden.push(env.to_owned());
        }
    }
    assert!(hidden.len() >= 4, "secret settings found: {hidden:?}");
    let missing: Vec<&String> = hidden
        .iter()
        .filter(|h| !SECRET_SETTINGS.contains(&h.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "secret settings the log test does not set (add them to SECRET_SETTINGS and give \
         them a value in no_secret_reaches_the_logs_of_a_full_run): {missing:?}"
    );
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore as _;
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// One HTTP/1.1 exchange with headers: status, response head, body.
async fn exchange(port: u16, request: String) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

fn cookie(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .filter_map(|l| l.split_once(':').map(|(_, v)| v.trim()))
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")) && !pair.ends_with('='))
        .map(str::to_owned)
}

fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a csrf field")
        .to_owned()
}

fn form(port: u16, path: &str, cookies: &[&str], fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    let body = s.finish();
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nCookie: {}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        cookies.join("; "),
        body.len()
    )
}

fn get(port: u16, path: &str, cookies: &[&str]) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nCookie: {}\r\n\r\n",
        cookies.join("; ")
    )
}

#[sqlx::test(migrations = "../../migrations")]
async fn no_secret_reaches_the_logs_of_a_full_run(pool: PgPool) {
    // Arrange: every secret setting set to a fresh value, logs at debug for every crate.
    let dir = tempdir("hardening-logs");
    let log = dir.join("serve.log");
    let db_password = format!("dbpw{}", random_hex(16));
    let url = database_url_of(&pool).replacen("://root@", &format!("://root:{db_password}@"), 1);
    assert!(url.contains(&db_password), "the test database URL: {url}");
    let signer = LogSigner::from_seed("hardening.test/log", rand::random()).expect("signer");
    let signing_key = signer.to_key_text();
    let stripe_key = format!("sk_test_{}", random_hex(20));
    let webhook_secret = format!("whsec_{}", random_hex(20));
    let chainweb_key = random_hex(32);
    let master_key = random_hex(32);
    let aws_secret = format!("awssecret{}", random_hex(20));
    let aws_token = format!("awstoken{}", random_hex(20));
    // The machine's Redis has no password: every call of the shared proof cache fails its
    // AUTH, and the error it logs must not carry the URL's password.
    let redis_password = format!("redispw{}", random_hex(20));
    let dead_port = free_port();
    let env = [
        ("DATABASE_URL", url.clone()),
        ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
        ("ANCORA_LOG_SIGNING_KEY", signing_key.clone()),
        ("ANCORA_STRIPE_SECRET_KEY", stripe_key.clone()),
        ("ANCORA_STRIPE_WEBHOOK_SECRET", webhook_secret.clone()),
        (
            "ANCORA_STRIPE_API_BASE",
            format!("http://127.0.0.1:{dead_port}"),
        ),
        ("ANCORA_CHAINWEB_KEY", chainweb_key.clone()),
        ("ANCORA_MASTER_KEY", master_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", aws_secret.clone()),
        ("AWS_SESSION_TOKEN", aws_token.clone()),
        (
            "ANCORA_REDIS_URL",
            format!("redis://:{redis_password}@127.0.0.1:6379/0"),
        ),
        ("ANCORA_BATCH_WINDOW_MS", "50".to_owned()),
        ("ANCORA_ANCHOR_INTERVAL_MS", "50".to_owned()),
        ("ANCORA_LOG", "debug".to_owned()),
    ];
    assert_eq!(
        env.iter()
            .filter(|(k, _)| SECRET_SETTINGS.contains(k))
            .count(),
        SECRET_SETTINGS.len()
    );
    let server = Server::start(&env, &log, Duration::from_secs(60)).await;
    let port = server.port;
    let db = ancora::db::Db::from_pool(pool.clone());
    let tenant = ancora::admin::create_tenant(&db, "Hardening", "test")
        .await
        .expect("tenant");
    let key = ancora::admin::create_api_key(&db, tenant, Role::Owner, "k", "test")
        .await
        .expect("key");
    let api_key = key.key.expose_secret().to_owned();
    let password = format!("pw-{}", random_hex(12));
    let email = "owner@hardening.test";
    ancora::admin::create_user(
        &db,
        email,
        &SecretString::from(password.clone()),
        tenant,
        Role::Owner,
        false,
        "test",
    )
    .await
    .expect("user");

    // Act: the API (submit, proof, a wrong key), the portal (a wrong and a right sign-in, a
    // Stripe call that fails), a Stripe webhook (signed right and wrong).
    let body =
        json!({ "events": [{ "id": "h-1", "digest": format!("sha256:{}", "ab".repeat(32)) }] });
    let (s, b) = http(port, "POST", "/v1/events", Some(&api_key), Some(&body))
        .await
        .expect("submit");
    assert_eq!(s, 202, "{}", String::from_utf8_lossy(&b));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, _) = http(port, "GET", "/v1/events/h-1/proof", Some(&api_key), None)
            .await
            .expect("proof");
        if s == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no proof within 30 s (last {s})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wrong_key = format!("{}x", &api_key[..api_key.len() - 1]);
    let (s, _) = http(port, "GET", "/v1/events/h-1", Some(&wrong_key), None)
        .await
        .expect("wrong key");
    assert_eq!(s, 401);

    let (_, head, page) = exchange(port, get(port, "/login", &[])).await;
    let anon = cookie(&head, "ancora_csrf").expect("anonymous csrf cookie");
    let anon_token = csrf_in(&page);
    let wrong_password = format!("wrong-{}", random_hex(12));
    let (s, _, _) = exchange(
        port,
        form(
            port,
            "/login",
            &[&anon],
            &[
                ("email", email),
                ("password", &wrong_password),
                ("csrf", &anon_token),
            ],
        ),
    )
    .await;
    assert_eq!(s, 401);
    let (s, head, _) = exchange(
        port,
        form(
            port,
            "/login",
            &[&anon],
            &[
                ("email", email),
                ("password", &password),
                ("csrf", &anon_token),
            ],
        ),
    )
    .await;
    assert_eq!(s, 303, "{head}");
    let session = cookie(&head, "ancora_session").expect("session cookie");
    let (s, _, page) = exchange(
        port,
        get(port, &format!("/t/{tenant}/billing"), &[&session]),
    )
    .await;
    assert_eq!(s, 200);
    let token = csrf_in(&page);
    let (s, _, _) = exchange(
        port,
        form(
            port,
            &format!("/t/{tenant}/billing/checkout"),
            &[&session],
            &[("plan", "team"), ("csrf", &token)],
        ),
    )
    .await;
    assert!(s >= 400, "a Checkout call to a dead Stripe answered {s}");

    let payload = json!({ "id": "evt_1", "type": "invoice.paid", "data": { "object": { "customer": "cus_x" } } }).to_string();
    let t = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut mac = Hmac::<Sha256>::new_from_slice(webhook_secret.as_bytes()).expect("hmac");
    mac.update(format!("{t}.{payload}").as_bytes());
    let good_sig = hex::encode(mac.finalize().into_bytes());
    for sig in [good_sig.clone(), random_hex(32)] {
        let req = format!(
            "POST /v1/billing/stripe/webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/json\r\nStripe-Signature: t={t},v1={sig}\r\n\
             Content-Length: {}\r\n\r\n{payload}",
            payload.len()
        );
        let (s, _, b) = exchange(port, req).await;
        assert!(s < 500, "webhook: {s} {b}");
    }
    server.stop().await;

    // Assert: the log is there and talks about the run, and holds none of the secrets.
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.lines().count() > 20, "a debug log of the run:\n{text}");
    assert!(text.contains("DEBUG"), "debug lines are written:\n{text}");
    let seed_b64 = signing_key
        .splitn(5, '+')
        .nth(4)
        .expect("key text")
        .to_owned();
    let session_value = session
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    let anon_value = anon
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    let secrets = [
        ("the database password", db_password.as_str()),
        ("the log signing key", signing_key.as_str()),
        ("the log signing key's seed", seed_b64.as_str()),
        ("the Stripe secret key", stripe_key.as_str()),
        ("the Stripe webhook secret", webhook_secret.as_str()),
        ("the webhook's signature", good_sig.as_str()),
        ("the Chainweb signing key", chainweb_key.as_str()),
        ("the master key", master_key.as_str()),
        ("the S3 secret access key", aws_secret.as_str()),
        ("the S3 session token", aws_token.as_str()),
        ("the Redis password", redis_password.as_str()),
        ("an API key", api_key.as_str()),
        ("a wrong API key", wrong_key.as_str()),
        ("a password", password.as_str()),
        ("a wrong password", wrong_password.as_str()),
        ("a session cookie", session_value.as_str()),
        ("an anonymous CSRF cookie", anon_value.as_str()),
        ("a CSRF token", token.as_str()),
    ];
    for (what, secret) in secrets {
        assert!(
            secret.len() >= 16,
            "{what} is too short to grep for: {secret:?}"
        );
        assert!(
            !text.contains(secret),
            "{what} is in the log ({})",
            log.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
