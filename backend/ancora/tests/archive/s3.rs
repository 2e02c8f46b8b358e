//! The S3 store against s3s-fs (a real S3-protocol server, SigV4 enforced) on 127.0.0.1:
//! written and verified, read back cold; refused credentials, a missing bucket, a tampered or
//! missing copy; the server stopped in the middle of a pass and started again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ancora::services::archive::archiver::run_pass;
use ancora::services::archive::{
    ArchiveConfig, ArchiveError, ArchiveUrl, MasterKey, S3Options, StoreError,
};
use ancora::workers::{self, Ran};
use axum::http::StatusCode;
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;

use super::*;
use crate::helpers::process::{free_port, tempdir};

const ACCESS_KEY: &str = "ancora-test-access";
pub(super) const SECRET_KEY: &str = "ancora-test-secret-0123456789";
pub(super) const BUCKET: &str = "ancora-archive";

/// The s3s-fs binary: `S3S_FS`, `~/.cargo/bin/s3s-fs` or on the PATH (infra/scripts/test.sh
/// installs it when missing).
fn s3s_fs() -> PathBuf {
    if let Ok(p) = std::env::var("S3S_FS") {
        return p.into();
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = Path::new(&home).join(".cargo/bin/s3s-fs");
        if p.exists() {
            return p;
        }
    }
    "s3s-fs".into()
}

/// A running s3s-fs over a temp dir, killed when dropped.
pub struct S3Server {
    child: Option<tokio::process::Child>,
    /// Its port.
    pub port: u16,
    /// Where it keeps buckets (one folder each) and objects (one file each).
    pub root: PathBuf,
}

impl S3Server {
    /// Starts a server with the bucket [`BUCKET`].
    pub async fn start() -> S3Server {
        S3Server::start_in(tempdir("s3s").join("data")).await
    }

    /// Starts a server keeping its data under `root`, with the bucket [`BUCKET`].
    pub async fn start_in(root: PathBuf) -> S3Server {
        std::fs::create_dir_all(root.join(BUCKET)).expect("bucket dir");
        let mut s = S3Server {
            child: None,
            port: free_port(),
            root,
        };
        s.restart().await;
        s
    }

    /// Starts it (again) on the same port and root.
    pub async fn restart(&mut self) {
        let child = tokio::process::Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&self.root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("s3s-fs runs (cargo install s3s-fs@0.14.1 --features binary --locked)");
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("s3s-fs did not start on port {}", self.port);
    }

    /// Stops it (SIGKILL).
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().await.expect("kill s3s-fs");
        }
    }

    /// An archive configuration for this server.
    pub fn archive(&self, bucket: &str, secret: &str) -> ArchiveConfig {
        ArchiveConfig {
            url: ArchiveUrl::S3 {
                bucket: bucket.into(),
                prefix: "prod".into(),
            },
            s3: S3Options {
                endpoint: Some(format!("http://127.0.0.1:{}", self.port)),
                path_style: true,
                region: "us-east-1".into(),
                access_key_id: Some(ACCESS_KEY.into()),
                secret_access_key: Some(SecretString::from(secret.to_owned())),
                session_token: None,
                object_lock: None,
            },
            ..ArchiveConfig::local(PathBuf::new(), MasterKey::generate())
        }
    }
}

/// The archived objects' files whose names end with `suffix`.
fn objects(server: &S3Server, suffix: &str) -> Vec<PathBuf> {
    files_under(&server.root.join(BUCKET))
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_s3_archive_is_written_verified_and_read_back_cold(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = app_with_archive(pool, s3.archive(BUCKET, SECRET_KEY));
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    post_contents(&app, &owner, &[("s3-1", "cold on s3"), ("s3-2", "second")]).await;
    prove_all(&app).await;
    set_retention(&app, &owner, json!({ "hot": "0s" })).await;

    let report = run_pass(&app.state).await.expect("pass");

    assert_eq!(
        (report.batches_archived, report.contents_dropped),
        (1, 2),
        "{report:?}"
    );
    assert_eq!(objects(&s3, "segment.json").len(), 1);
    assert!(
        objects(&s3, "contents.json")[0]
            .to_string_lossy()
            .contains("/prod/v1/tenants/")
    );
    assert!(hot_rows(&app, tenant).await.is_empty());
    let (s, source, body, p) = get_content(&app, &auditor, "s3-1").await;
    assert_eq!((s, source.as_str()), (StatusCode::OK, "cold"), "{p}");
    assert_eq!(body, b"cold on s3");
    assert_proof_verifies(&app, &auditor, "s3-2").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn refused_credentials_and_a_missing_bucket_are_clear_errors_and_metrics_and_drop_nothing(
    pool: PgPool,
) {
    let s3 = S3Server::start().await;
    for (config, kind) in [
        (s3.archive(BUCKET, "not-the-secret"), "denied"),
        (s3.archive("no-such-bucket", SECRET_KEY), "missing_bucket"),
    ] {
        let app = app_with_archive(pool.clone(), config);
        let (tenant, owner, _) = tenant_keys(&app).await;
        post_contents(&app, &owner, &[(kind, "must survive")]).await;
        prove_all(&app).await;
        set_retention(&app, &owner, json!({ "hot": "0s" })).await;

        let err = run_pass(&app.state).await.expect_err("refused");

        match (&err, kind) {
            (ArchiveError::Store(StoreError::Denied(_)), "denied")
            | (ArchiveError::Store(StoreError::NoSuchBucket(_)), "missing_bucket") => {}
            _ => panic!("{kind}: unexpected {err:?}"),
        }
        assert!(!err.to_string().is_empty());
        assert!(
            app.state.metrics.render().contains(&format!(
                r#"ancora_archive_errors_total{{kind="{kind}"}} 1"#
            )),
            "{}",
            app.state.metrics.render()
        );
        assert_eq!(
            hot_rows(&app, tenant).await.len(),
            1,
            "{kind}: nothing hot dropped"
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_tampered_or_missing_archived_copy_is_reported_and_never_served(pool: PgPool) {
    let s3 = S3Server::start().await;
    let app = app_with_archive(pool, s3.archive(BUCKET, SECRET_KEY));
    let (_, owner, auditor) = tenant_keys(&app).await;
    post_contents(&app, &owner, &[("t-1", "original")]).await;
    prove_all(&app).await;
    set_retention(&app, &owner, json!({ "hot": "0s" })).await;
    run_pass(&app.state).await.expect("pass");
    let file = objects(&s3, "contents.json")
        .pop()
        .expect("contents object");

    let mut bytes = std::fs::read(&file).expect("read");
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&file, &bytes).expect("tamper");
    let (s, _, body, p) = get_content(&app, &auditor, "t-1").await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{p}");
    assert!(
        p["problem"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("checksum")
    );
    assert!(!contains(&body, b"original"));

    std::fs::remove_file(&file).expect("remove");
    let (s, _, _, p) = get_content(&app, &auditor, "t-1").await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{p}");
    assert!(
        p["problem"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("missing")
    );
    let metrics = app.state.metrics.render();
    for kind in ["checksum_mismatch", "missing_object"] {
        assert!(
            metrics.contains(&format!(
                r#"ancora_archive_errors_total{{kind="{kind}"}} 1"#
            )),
            "{metrics}"
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_store_stopping_mid_pass_loses_nothing_and_the_job_retries_with_backoff_until_done(
    pool: PgPool,
) {
    // Arrange: many small batches with contents, hot period zero.
    let mut s3 = S3Server::start().await;
    let app = TestApp::with_config(pool, |c| {
        c.settings.archive = s3.archive(BUCKET, SECRET_KEY);
        c.settings.batching.max_events = 1;
    });
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    let n = 40;
    let items: Vec<(String, String)> = (0..n)
        .map(|i| (format!("f-{i}"), format!("content number {i}")))
        .collect();
    for (id, c) in &items {
        post_contents(&app, &owner, &[(id, c)]).await;
    }
    set_retention(&app, &owner, json!({ "hot": "0s" })).await;
    prove_all(&app).await;

    // Act: the server is killed while the pass runs.
    let pass = {
        let state = app.state.clone();
        tokio::spawn(async move { run_pass(&state).await })
    };
    for _ in 0..2000 {
        if objects(&s3, "segment.json").len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s3.stop().await;
    let first = pass.await.expect("task");

    // Assert: the pass failed as unavailable; every dropped hot copy has a verified cold copy.
    assert!(
        matches!(first, Err(ArchiveError::Store(StoreError::Unavailable(_)))),
        "{first:?}"
    );
    let hot: Vec<String> = hot_rows(&app, tenant)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    let archived = {
        let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM batches WHERE tenant_id = $1 AND archived_at IS NOT NULL"#,
            tenant.0
        )
        .fetch_one(&mut *tx)
        .await
        .expect("count")
    };
    assert!(
        archived < n as i64,
        "the pass was cut short ({archived} archived)"
    );
    assert!(
        hot.len() >= n - archived as usize,
        "{} hot, {archived} archived",
        hot.len()
    );
    // Hot reads keep working; cold reads answer 503 with Retry-After.
    let hot_id = hot.first().expect("a hot content").clone();
    let (s, source, _, _) = get_content(&app, &auditor, &hot_id).await;
    assert_eq!((s, source.as_str()), (StatusCode::OK, "hot"));
    if let Some((cold_id, _)) = items.iter().find(|(id, _)| !hot.contains(id)) {
        let (s, _, _, p) = get_content(&app, &auditor, cold_id).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{p}");
        assert_eq!(p["retryAfter"], "5");
    }

    // The job fails while the server is down and is retried after a backoff.
    {
        let mut tx = app.state.db.system_tx().await.expect("tx");
        ancora::db::jobs::enqueue_archive_job(&mut tx, time::OffsetDateTime::now_utc())
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
    }
    let ran = workers::run_one(&app.state, true).await.expect("run");
    assert!(matches!(ran, Ran::Failed(_)), "{ran:?}");
    let (attempts, later) = {
        let mut tx = app.state.db.system_tx().await.expect("tx");
        let row = sqlx::query!(
            r#"SELECT attempts, run_at > now() AS "later!" FROM jobs WHERE kind = 'archive'"#
        )
        .fetch_one(&mut *tx)
        .await
        .expect("the job is kept for a retry");
        (row.attempts, row.later)
    };
    assert_eq!((attempts, later), (1, true), "retried after a backoff");
    s3.restart().await;
    let back = std::time::Instant::now();
    let mut done = false;
    for _ in 0..100 {
        workers::run_one(&app.state, false).await.expect("run");
        if ancora::db::jobs::count_kind(&app.state.db, ancora::db::jobs::KIND_ARCHIVE)
            .await
            .expect("count")
            == 0
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "the archive job finished once the server was back");

    let recovery = back.elapsed();

    // Nothing lost: every content reads back, cold, as it was.
    assert!(hot_rows(&app, tenant).await.is_empty());
    for (id, c) in &items {
        let (s, _, body, p) = get_content(&app, &auditor, id).await;
        assert_eq!(s, StatusCode::OK, "{id}: {p}");
        assert_eq!(body, c.as_bytes(), "{id}");
    }
    println!(
        "FAULTS archive_s3_stopped acknowledged={n} archived_before_stop={archived}/{n} lost=0 cold_reads_503_with_retry_after=yes recovery_ms={}",
        recovery.as_millis()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_object_over_the_multipart_threshold_goes_up_in_parts_and_reads_back_whole_and_verified(
    _pool: PgPool,
) {
    use ancora::services::archive::store::{get_verified, put_verified, sha256};
    let s3 = S3Server::start().await;
    let store = s3.archive(BUCKET, SECRET_KEY).open_store();
    // 17 MiB + 1 byte: two 8 MiB parts and a short last one (threshold 16 MiB).
    let size = ancora_archive_s3::MULTIPART_THRESHOLD + (1 << 20) + 1;
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 + i / 4093) as u8).collect();
    let key = "v1/tenants/big/2026/12/multipart/contents.json";

    let sum = put_verified(store.as_ref(), key, bytes.clone(), None)
        .await
        .expect("a multipart upload");

    assert_eq!(sum, sha256(&bytes));
    let back = get_verified(store.as_ref(), key, &sum)
        .await
        .expect("read back");
    assert!(back == bytes, "the object reads back whole");
    let on_disk = objects(&s3, "multipart/contents.json");
    assert_eq!(on_disk.len(), 1, "one object, not parts");
    assert_eq!(
        std::fs::metadata(&on_disk[0]).expect("file").len(),
        size as u64
    );
    // No upload is left open (a completed multipart upload leaves no parts behind): besides
    // the object, only s3s-fs's own files about it (`.bucket-….object-….{internal,metadata}.json`).
    let leftovers: Vec<PathBuf> = files_under(&s3.root)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            !(name == "contents.json" || name.starts_with(".bucket-") && name.contains(".object-"))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
