//! Snapshots of the rendered pages over fixed data: one tenant with a proved batch of five
//! events (the reports fixture, whose log key is installed as this server's), a pending event,
//! two API keys and a few audit entries. Ids and times are fixed; what the test cannot fix
//! (the CSRF token, the times of rows written now, the last fourteen days on the dashboard)
//! is redacted.

use ancora::db::audit::{self, AuditEntry};
use ancora::domain::TenantId;
use serde_json::json;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::{Uuid, uuid};

use super::{Browser, PASSWORD, fixture};
use crate::helpers::TestApp;

/// The fixture events' tenant.
const TENANT: Uuid = uuid!("018f3c2a-7b10-7c00-8000-123456789abc");
const BATCH: Uuid = uuid!("0190a1b2-0000-7000-8000-000000000042");
const ANCHOR: Uuid = uuid!("0190a1b2-0000-7000-8000-0000000000a7");
const OWNER: Uuid = uuid!("0190a1b2-0000-7000-8000-0000000000e1");
const EMAIL: &str = "owner@acme.test";

async fn seed(app: &TestApp) -> TenantId {
    let pool = app.state.db.pool();
    let t = TenantId(TENANT);
    let bundles = fixture::bundles(5);
    let first = &bundles[0];
    sqlx::query!(
        "INSERT INTO tenants (id, name, created_at) VALUES ($1, 'Acme Audits', $2)",
        TENANT,
        datetime!(2025-12-01 09:00 UTC)
    )
    .execute(pool)
    .await
    .expect("tenant");
    sqlx::query!(
        "INSERT INTO tlog_signer (id, origin, secret_key) VALUES (1, $1, $2)",
        fixture::ORIGIN,
        [7u8; 32].as_slice()
    )
    .execute(pool)
    .await
    .expect("the fixture's log key is this server's");
    sqlx::query!(
        "INSERT INTO anchors (id, backend, target_chain, state, root, size, created_at, finalized_at, log_index, checkpoint_size) \
         VALUES ($1, 'tlog', 3, 'final', $2, 3, $3, $3, 6, 10)",
        ANCHOR,
        first.anchor.root.as_bytes().as_slice(),
        datetime!(2026-01-01 00:00:20 UTC)
    )
    .execute(pool)
    .await
    .expect("anchor");
    sqlx::query!(
        "INSERT INTO batches (id, tenant_id, state, size, root, target_chain, first_seq, last_seq, created_at, anchor_id, anchor_index, anchored_at, proved_at) \
         VALUES ($1, $2, 'proved', 5, $3, 3, 1, 5, $4, $5, 1, $6, $7)",
        BATCH,
        TENANT,
        first.batch.root.as_bytes().as_slice(),
        datetime!(2026-01-01 00:00:10 UTC),
        ANCHOR,
        datetime!(2026-01-01 00:00:20 UTC),
        datetime!(2026-01-01 00:00:30 UTC)
    )
    .execute(pool)
    .await
    .expect("batch");
    for (i, b) in bundles.iter().enumerate() {
        let e = b.event.fields();
        let received =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.received_at_micros) * 1000)
                .expect("time");
        let leaf = e.leaf_hash().expect("leaf");
        sqlx::query!(
            "INSERT INTO events (tenant_id, id, digest_alg, digest, submitter, received_at, received_at_micros, leaf_hash) \
             VALUES ($1, $2, 'sha256', $3, $4, $5, $6, $7)",
            TENANT,
            e.event_id,
            e.digest.bytes.as_slice(),
            e.submitter,
            received,
            e.received_at_micros,
            leaf.as_bytes().as_slice()
        )
        .execute(pool)
        .await
        .expect("event");
        sqlx::query!(
            "INSERT INTO proofs (tenant_id, event_id, batch_id, bundle, leaf_index) VALUES ($1, $2, $3, $4, $5)",
            TENANT,
            e.event_id,
            BATCH,
            serde_json::to_value(b).expect("json"),
            i as i32
        )
        .execute(pool)
        .await
        .expect("proof");
    }
    // The batch is seq 1..=5 (the fixture's events are the database's first); the cursor says so.
    sqlx::query!(
        "INSERT INTO batch_cursors (tenant_id, last_seq) VALUES ($1, 5)",
        TENANT
    )
    .execute(pool)
    .await
    .expect("cursor");
    sqlx::query!(
        "INSERT INTO events (tenant_id, id, digest_alg, digest, submitter, received_at, received_at_micros, leaf_hash) \
         VALUES ($1, 'inv-2026-0005', 'sha256', $2, 'ak_live_ab12', $3, 1767229200000000, $4)",
        TENANT,
        [5u8; 32].as_slice(),
        datetime!(2026-01-01 01:00 UTC),
        [6u8; 32].as_slice()
    )
    .execute(pool)
    .await
    .expect("pending event");
    // Distinct creation times: the page lists keys newest first.
    for (id, name, prefix, role, created, revoked) in [
        (
            0xb1u8,
            "ci",
            "ak_fixed001",
            "submitter",
            datetime!(2026-01-01 09:00 UTC),
            None,
        ),
        (
            0xb2,
            "old laptop",
            "ak_fixed002",
            "auditor",
            datetime!(2025-12-15 09:00 UTC),
            Some(datetime!(2026-01-03 12:00 UTC)),
        ),
    ] {
        let hash = [id; 32];
        sqlx::query!(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role, created_at, last_used_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            Uuid::from_u128(0x0190a1b2_0000_7000_8000_000000000000 | u128::from(id)),
            TENANT,
            name,
            prefix,
            hash.as_slice(),
            role,
            created,
            Some(datetime!(2026-01-02 08:30 UTC)),
            revoked
        )
        .execute(pool)
        .await
        .expect("key");
    }
    let hash = ancora::services::passwords::hash_password(PASSWORD).expect("hash");
    sqlx::query!(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)",
        OWNER,
        EMAIL,
        hash
    )
    .execute(pool)
    .await
    .expect("user");
    sqlx::query!(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
        TENANT,
        OWNER,
        datetime!(2025-12-01 09:00 UTC)
    )
    .execute(pool)
    .await
    .expect("membership");
    let mut tx = app.state.db.tenant_tx(t).await.expect("tx");
    audit::record(
        &mut tx,
        AuditEntry {
            tenant: Some(t),
            actor: "user:owner@acme.test",
            action: "api_key.created",
            subject: Some("0190a1b2-0000-7000-8000-0000000000b1"),
            details: json!({ "prefix": "ak_fixed001", "role": "submitter", "name": "ci" }),
        },
    )
    .await
    .expect("audit");
    tx.commit().await.expect("commit");
    t
}

/// Replaces what cannot be fixed: the CSRF token, times of today (rows written by the test),
/// and the dashboard's last fourteen days (`[day-0]` is today).
fn redact(html: &str, csrf: &str) -> String {
    let mut s = html.replace(csrf, "[csrf]");
    let today = OffsetDateTime::now_utc().date();
    s = redact_times_of(&s, &today.to_string());
    for k in 0..14 {
        let d = (today - time::Duration::days(k)).to_string();
        s = s.replace(&d, &format!("[day-{k}]"));
        let md = d.get(5..).unwrap_or_default();
        s = s.replace(&format!(">{md}</text>"), &format!(">[md-{k}]</text>"));
    }
    s
}

/// `<date> HH:MM:SS UTC` → `[now]`.
fn redact_times_of(s: &str, date: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(date) {
        out.push_str(&rest[..at]);
        let tail = &rest[at + date.len()..];
        let time_part = tail.get(..13).unwrap_or_default();
        let is_time = time_part.len() == 13
            && time_part.starts_with(' ')
            && time_part.ends_with(" UTC")
            && time_part[1..9].chars().enumerate().all(|(i, c)| {
                if i % 3 == 2 {
                    c == ':'
                } else {
                    c.is_ascii_digit()
                }
            });
        if is_time {
            out.push_str("[now]");
            rest = &tail[13..];
        } else {
            out.push_str(date);
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_main_pages_render_stably_over_fixed_data(pool: PgPool) {
    let app = TestApp::new(pool);
    let t = seed(&app).await;
    let mut b = Browser::new(&app);
    let signed = b.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(signed.status, axum::http::StatusCode::SEE_OTHER);
    let csrf = b.csrf.clone().expect("a token");
    let pages = [
        ("dashboard", format!("/t/{t}")),
        (
            "catalog",
            format!("/t/{t}/events?from=2026-01-01&to=2026-01-02"),
        ),
        ("event", format!("/t/{t}/events/inv-2026-0003")),
        ("pending_event", format!("/t/{t}/events/inv-2026-0005")),
        ("batch", format!("/t/{t}/batches/{BATCH}")),
        ("audit", format!("/t/{t}/audit")),
        ("keys", format!("/t/{t}/keys")),
    ];
    for (name, path) in pages {
        let page = b.get(&path).await;
        assert_eq!(page.status, axum::http::StatusCode::OK, "{path}");
        insta::assert_snapshot!(format!("page_{name}"), redact(&page.text(), &csrf));
    }
    b.get(&format!("/t/{t}/verify")).await;
    let bundle = serde_json::to_string(&fixture::bundle()).expect("json");
    let verified = b
        .post(&format!("/t/{t}/verify"), &[("bundle", &bundle)])
        .await;
    assert_eq!(verified.status, axum::http::StatusCode::OK);
    insta::assert_snapshot!("page_verify_result", redact(&verified.text(), &csrf));
}
