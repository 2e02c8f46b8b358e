//! The archive's disk filling up in the middle of an archiving pass (issue 17's dependency
//! faults), on a real file system that runs out of room: a small tmpfs, mounted by the test
//! (so the suite runs as root, as CI does here). Both stores are tried: `file:///DIR` on the
//! tmpfs, and s3s-fs keeping its objects on one. Each prints one `FAULTS archive_disk_full …`
//! line: what was acknowledged, what was lost (must be 0) and how long the archive took to
//! catch up once space was freed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ancora::db::jobs;
use ancora::services::archive::{ArchiveConfig, MasterKey};
use ancora::workers::{self, Ran};
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use super::s3::{BUCKET, S3Server, SECRET_KEY};
use super::*;
use crate::helpers::process::tempdir;

/// A tmpfs of a set size, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(kib: u64) -> Tmpfs {
        let dir = tempdir("tmpfs").join("mnt");
        std::fs::create_dir_all(&dir).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "the disk-full test mounts a small tmpfs and needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    /// Gives the file system `kib` KiB (frees space without touching a file).
    fn resize(&self, kib: u64) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={kib}k")])
            .arg(&self.dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Files whose names say they are temporary (a write that did not finish).
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect()
}

/// Runs due jobs (honouring backoffs) until none is due, for at most `limit`; failures of the
/// archive job are expected while the disk is full.
async fn run_due_jobs(app: &TestApp, limit: Duration) {
    let until = Instant::now() + limit;
    let mut idle = 0;
    while Instant::now() < until && idle < 3 {
        match workers::run_one(&app.state, false).await.expect("run") {
            Ran::Nothing => {
                idle += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ran::Done | Ran::Failed(_) => idle = 0,
        }
    }
}

async fn count(app: &TestApp, tenant: TenantId, sql: &str) -> i64 {
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    let n: i64 = sqlx::query_scalar(sql)
        .bind(tenant.0)
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    tx.commit().await.expect("commit");
    n
}

/// Content `i`: 2 KiB that does not compress.
fn content(i: usize) -> String {
    let mut s = String::with_capacity(2048);
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while s.len() < 2048 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{x:016x}"));
    }
    s
}

enum Kind {
    File,
    S3,
}

async fn disk_full_mid_pass(pool: PgPool, kind: Kind) {
    // Arrange: an archive with 256 KiB of room, twelve batches of contents to copy (about
    // 0.5 MiB of objects), hot period zero so every verified batch loses its hot copy.
    let fs = Tmpfs::mount(256);
    let (label, archive, _s3): (&str, ArchiveConfig, Option<S3Server>) = match kind {
        Kind::File => (
            "file",
            ArchiveConfig::local(fs.dir.join("archive"), MasterKey::generate()),
            None,
        ),
        Kind::S3 => {
            let s3 = S3Server::start_in(fs.dir.join("s3")).await;
            ("s3", s3.archive(BUCKET, SECRET_KEY), Some(s3))
        }
    };
    let app = TestApp::with_config(pool, |c| {
        c.settings.archive = archive;
        c.settings.batching.max_events = 5;
    });
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    set_retention(&app, &owner, json!({ "hot": "0s" })).await;
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for chunk in 0..12 {
        let items: Vec<(String, String)> = (0..5)
            .map(|j| {
                let i = chunk * 5 + j;
                (format!("full-{label}-{i}"), content(i))
            })
            .collect();
        let refs: Vec<(&str, &str)> = items
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        post_contents(&app, &owner, &refs).await;
        acknowledged.extend(items);
    }
    prove_all(&app).await;

    // Act: an archiving pass runs into the full disk.
    {
        let mut tx = app.state.db.system_tx().await.expect("tx");
        jobs::enqueue_archive_job(&mut tx, time::OffsetDateTime::now_utc())
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
    }
    let ran = workers::run_one(&app.state, true).await.expect("run");

    // Assert: the pass failed, was cut short, and is kept for a retry.
    let Ran::Failed(e) = ran else {
        panic!("{label}: the pass should fail on a full disk: {ran:?}")
    };
    let batches = count(
        &app,
        tenant,
        "SELECT count(*) FROM batches WHERE tenant_id = $1",
    )
    .await;
    let archived = count(
        &app,
        tenant,
        "SELECT count(*) FROM batches WHERE tenant_id = $1 AND archived_at IS NOT NULL",
    )
    .await;
    assert!(
        archived < batches,
        "{label}: the disk filled before the pass ended ({archived} of {batches}): {e:#}"
    );
    let metrics = app.state.metrics.render();
    let expected_kind = match kind {
        // A local disk says what it is; s3s-fs answers 500 InternalError for a full disk,
        // which S3 clients treat as the server being unavailable.
        Kind::File => "storage_full",
        Kind::S3 => "unavailable",
    };
    assert!(
        metrics.contains(&format!(
            r#"ancora_archive_errors_total{{kind="{expected_kind}"}} 1"#
        )),
        "{label}: {e:#}\n{metrics}"
    );
    if let Kind::File = kind {
        assert!(format!("{e:#}").contains("full"), "{e:#}");
        // A failed write leaves no partial object and gives its space back.
        assert_eq!(
            temporary_files(&fs.dir),
            Vec::<PathBuf>::new(),
            "{label}: temporary files left"
        );
    }
    // Nothing hot went without its verified copy: every content reads back, hot or cold.
    let hot: Vec<String> = hot_rows(&app, tenant)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert!(
        hot.len() >= 5 * (batches - archived) as usize,
        "{label}: {} hot, {archived} of {batches} batches archived",
        hot.len()
    );
    let mut lost = 0;
    for (id, c) in &acknowledged {
        let (s, _, body, _) = get_content(&app, &auditor, id).await;
        if s != StatusCode::OK || body != c.as_bytes() {
            lost += 1;
        }
    }
    assert_eq!(lost, 0, "{label}: contents lost while the disk is full");

    // Ingest goes on while the archive is full: acknowledged, proved.
    let during: Vec<(String, String)> = (60..70)
        .map(|i| (format!("full-{label}-{i}"), content(i)))
        .collect();
    for pair in during.chunks(5) {
        let refs: Vec<(&str, &str)> = pair.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        post_contents(&app, &owner, &refs).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for (id, _) in &during {
        while Instant::now() < deadline {
            let (s, _, _) = app
                .request(
                    Method::GET,
                    &format!("/v1/events/{id}/proof"),
                    Some(&auditor),
                    None,
                )
                .await;
            if s == StatusCode::OK {
                break;
            }
            run_due_jobs(&app, Duration::from_millis(500)).await;
        }
        assert_proof_verifies(&app, &auditor, id).await;
    }
    acknowledged.extend(during);

    // Space is freed: the job's own retries (with their backoff) finish the archive.
    fs.resize(32 * 1024);
    let freed = Instant::now();
    let mut caught_up = None;
    while freed.elapsed() < Duration::from_secs(60) {
        if let Ran::Nothing = workers::run_one(&app.state, false).await.expect("run") {
            let left = jobs::count_kind(&app.state.db, jobs::KIND_ARCHIVE)
                .await
                .expect("count");
            let unarchived = count(
                &app,
                tenant,
                "SELECT count(*) FROM batches WHERE tenant_id = $1 AND archived_at IS NULL",
            )
            .await;
            if left == 0 && unarchived == 0 {
                caught_up = Some(freed.elapsed());
                break;
            }
            if left == 0 {
                // The failed job finished before the last batches closed: the schedule's next
                // pass.
                let mut tx = app.state.db.system_tx().await.expect("tx");
                jobs::enqueue_archive_job(&mut tx, time::OffsetDateTime::now_utc())
                    .await
                    .expect("enqueue");
                tx.commit().await.expect("commit");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let recovery = caught_up.unwrap_or_else(|| {
        panic!("{label}: the archive did not catch up within 60 s of space being freed")
    });

    // Nothing lost: every acknowledged content reads back as it was, every proof verifies.
    assert!(hot_rows(&app, tenant).await.is_empty(), "{label}: all cold");
    let mut lost = 0;
    for (id, c) in &acknowledged {
        let (s, source, body, p) = get_content(&app, &auditor, id).await;
        if s != StatusCode::OK || body != c.as_bytes() || source != "cold" {
            eprintln!("{label}: {id}: {s} {source} {p}");
            lost += 1;
        }
    }
    for (id, _) in acknowledged.iter().step_by(7) {
        assert_proof_verifies(&app, &auditor, id).await;
    }
    println!(
        "FAULTS archive_disk_full store={label} acknowledged={} archived_before_full={archived}/{batches} lost={lost} error_kind={expected_kind} recovery_ms={}",
        acknowledged.len(),
        recovery.as_millis()
    );
    assert_eq!(lost, 0, "{label}: contents lost");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_file_archive_whose_disk_fills_mid_pass_drops_nothing_unverified_and_catches_up_once_freed(
    pool: PgPool,
) {
    disk_full_mid_pass(pool, Kind::File).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_s3_server_whose_disk_fills_mid_pass_drops_nothing_unverified_and_catches_up_once_freed(
    pool: PgPool,
) {
    disk_full_mid_pass(pool, Kind::S3).await;
}
