//! S3 Object Lock against moto's server (s3s-fs has no Object Lock): with
//! `ANCORA_S3_OBJECT_LOCK=compliance|governance`, every archived batch object carries that mode
//! and a retain-until date at the end of the tenant's keep period, and the server refuses to
//! reports that lock back; a bucket without Object Lock is a clear error that
//! drops nothing. moto is installed by infra/scripts/test.sh into `target/moto-venv`.

use std::path::PathBuf;
use std::time::Duration;

use ancora::services::archive::archiver::run_pass;
use ancora::services::archive::s3::S3;
use ancora::services::archive::store::ArchiveStore as _;
use ancora::services::archive::{ArchiveConfig, ArchiveError, ArchiveUrl, MasterKey, S3Options};
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;
use time::OffsetDateTime;

use super::*;
use crate::helpers::process::free_port;

/// moto's server: `MOTO_SERVER`, the test command's venv, or on the PATH.
fn moto_server() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return p.into();
    }
    let venv =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/moto-venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    "moto_server".into()
}

/// A running moto server, killed when dropped.
struct Moto {
    _child: tokio::process::Child,
    port: u16,
}

impl Moto {
    async fn start() -> Moto {
        let port = free_port();
        let child = tokio::process::Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server runs (infra/scripts/test.sh installs it into target/moto-venv)");
        let moto = Moto {
            _child: child,
            port,
        };
        for _ in 0..400 {
            if reqwest::get(moto.url("/")).await.is_ok() {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("moto_server did not start on port {port}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Creates a bucket, with Object Lock enabled or not (moto does not check signatures).
    async fn create_bucket(&self, bucket: &str, object_lock: bool) {
        let mut req = reqwest::Client::new().put(self.url(&format!("/{bucket}")));
        if object_lock {
            req = req.header("x-amz-bucket-object-lock-enabled", "true");
        }
        let resp = req.send().await.expect("create bucket");
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
    }

    fn archive(&self, bucket: &str, lock_compliance: bool) -> ArchiveConfig {
        ArchiveConfig {
            url: ArchiveUrl::S3 {
                bucket: bucket.into(),
                prefix: "locked".into(),
            },
            s3: S3Options {
                endpoint: Some(self.url("")),
                path_style: true,
                region: "us-east-1".into(),
                access_key_id: Some("moto-access".into()),
                secret_access_key: Some(SecretString::from("moto-secret".to_owned())),
                session_token: None,
                object_lock: Some(lock_compliance),
            },
            ..ArchiveConfig::local(PathBuf::new(), MasterKey::generate())
        }
    }

    /// The store's own S3 client for `bucket` (signed requests).
    fn s3(&self, bucket: &str) -> S3 {
        S3::new(
            &ancora_archive_s3::S3Config {
                bucket: bucket.into(),
                prefix: "locked".into(),
                endpoint: Some(self.url("")),
                path_style: true,
                region: "us-east-1".into(),
                access_key_id: "moto-access".into(),
                secret_access_key: "moto-secret".into(),
                session_token: None,
                operation_timeout: Duration::from_secs(20),
            },
            None,
        )
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn archived_batches_are_locked_until_the_keep_period_ends_in_the_configured_mode(
    pool: PgPool,
) {
    let moto = Moto::start().await;
    for (bucket, compliance, mode) in [
        ("locked-compliance", true, "COMPLIANCE"),
        ("locked-governance", false, "GOVERNANCE"),
    ] {
        moto.create_bucket(bucket, true).await;
        let app = app_with_archive(pool.clone(), moto.archive(bucket, compliance));
        let (tenant, owner, auditor) = tenant_keys(&app).await;
        let (s, b) = set_retention(&app, &owner, json!({ "hot": "0s", "keep": "7y" })).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        post_contents(&app, &owner, &[(mode, "kept seven years")]).await;
        prove_all(&app).await;
        let closed: OffsetDateTime = {
            let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
            sqlx::query_scalar("SELECT created_at FROM batches WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_one(&mut *tx)
                .await
                .expect("batch")
        };

        let report = run_pass(&app.state).await.expect("pass");

        assert_eq!(report.batches_archived, 1, "{report:?}");
        let s3 = moto.s3(bucket);
        let keys = s3.list("v1/").await.expect("list");
        let batch_objects: Vec<&String> = keys
            .iter()
            .filter(|k| k.ends_with("segment.json") || k.ends_with("contents.json"))
            .collect();
        assert_eq!(batch_objects.len(), 2, "{keys:?}");
        let keep = b["keepSeconds"].as_i64().expect("keepSeconds");
        assert_eq!(keep, 7 * 365 * 86_400, "{b}");
        let expected = closed + time::Duration::seconds(keep);
        for key in batch_objects {
            let (got_mode, until) = s3
                .object_lock(key)
                .await
                .expect("head")
                .unwrap_or_else(|| panic!("{key}: not locked"));
            assert_eq!(got_mode, mode, "{key}");
            let until = OffsetDateTime::from_unix_timestamp(until).expect("a date");
            // The keep period from the batch's close (S3 keeps whole seconds).
            assert!(
                (until - expected).abs() < time::Duration::seconds(2),
                "{key}: retained until {until}, expected {expected}"
            );
        }
        // The hot copy went only after the locked copy was verified; it reads back cold.
        let (s, source, body, p) = get_content(&app, &auditor, mode).await;
        assert_eq!((s, source.as_str()), (StatusCode::OK, "cold"), "{p}");
        assert_eq!(body, b"kept seven years");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn object_lock_on_a_bucket_without_it_is_a_clear_error_that_drops_nothing(pool: PgPool) {
    let moto = Moto::start().await;
    moto.create_bucket("unlocked", false).await;
    let app = app_with_archive(pool, moto.archive("unlocked", true));
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    set_retention(&app, &owner, json!({ "hot": "0s" })).await;
    post_contents(&app, &owner, &[("no-lock", "stays hot")]).await;
    prove_all(&app).await;

    let err = run_pass(&app.state).await.expect_err("refused");

    assert!(matches!(err, ArchiveError::Store(_)), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("lock"),
        "the error names Object Lock: {err}"
    );
    assert_eq!(hot_rows(&app, tenant).await.len(), 1, "nothing hot dropped");
    let (s, source, body, _) = get_content(&app, &auditor, "no-lock").await;
    assert_eq!((s, source.as_str()), (StatusCode::OK, "hot"));
    assert_eq!(body, b"stays hot");
}
