//! `ancora admin retention | archive run | shred`, as the real binary.

use std::process::{Command, Output};

use ancora::services::archive::MasterKey;
use axum::http::StatusCode;
use sqlx::PgPool;

use super::*;
use crate::helpers::process::{database_url_of, tempdir};

fn admin(pool: &PgPool, dir: &Path, args: &[&str]) -> Output {
    let key_file = dir.join("master.key");
    Command::new(env!("CARGO_BIN_EXE_ancora"))
        .env("DATABASE_URL", database_url_of(pool))
        .env("ANCORA_LOG", "warn")
        .env("ANCORA_DATA_DIR", dir)
        .env("ANCORA_MASTER_KEY_FILE", &key_file)
        .env(
            "ANCORA_ARCHIVE_URL",
            format!("file://{}", dir.join("archive").display()),
        )
        .arg("admin")
        .args(args)
        .output()
        .expect("run ancora")
}

fn out(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn retention_archive_run_and_shred_work_from_the_command_line(pool: PgPool) {
    // Arrange: the service and the CLI share one master key and one archive directory.
    let dir = tempdir("archive-cli");
    let hex: String = (0..32).map(|i| format!("{:02x}", i * 7 + 3)).collect();
    let key = MasterKey::parse(&hex).expect("key");
    std::fs::write(dir.join("master.key"), &hex).expect("key file");
    let app = app_with_archive(pool.clone(), ArchiveConfig::local(dir.join("archive"), key));
    let (tenant, owner, auditor) = tenant_keys(&app).await;
    let t = tenant.to_string();
    post_contents(&app, &owner, &[("c-1", "from the cli")]).await;
    prove_all(&app).await;

    // Retention: set, show, refused nonsense (one line on stderr, exit 1).
    let set = out(&admin(
        &pool,
        &dir,
        &[
            "retention",
            "set",
            "--tenant",
            &t,
            "--hot",
            "0s",
            "--keep",
            "7y",
        ],
    ));
    assert!(set.contains("hot: 0s") && set.contains("keep: 7y"), "{set}");
    let shown = out(&admin(&pool, &dir, &["retention", "show", "--tenant", &t]));
    assert!(shown.contains("legal hold: off"), "{shown}");
    let bad = err(&admin(
        &pool,
        &dir,
        &["retention", "set", "--tenant", &t, "--keep", "-3d"],
    ));
    assert!(bad.contains("negative"), "{bad}");
    assert_eq!(bad.trim().lines().count(), 1, "{bad}");

    // Archive run prints what moved.
    let ran = out(&admin(&pool, &dir, &["archive", "run"]));
    assert!(
        ran.contains("archived v1/tenants/") && ran.contains("contents.json"),
        "{ran}"
    );
    assert!(
        ran.contains("archived 1 batches") || ran.contains("batches ("),
        "{ran}"
    );
    let (s, source, body, _) = get_content(&app, &auditor, "c-1").await;
    assert_eq!(
        (s, source.as_str(), body.as_slice()),
        (StatusCode::OK, "cold", &b"from the cli"[..])
    );

    // Shred needs --yes, then destroys the key.
    let refused = err(&admin(&pool, &dir, &["shred", "--tenant", &t]));
    assert!(refused.contains("--yes"), "{refused}");
    let shredded = out(&admin(&pool, &dir, &["shred", "--tenant", &t, "--yes"]));
    assert!(shredded.contains("destroyed"), "{shredded}");
    assert_eq!(get_content(&app, &auditor, "c-1").await.0, StatusCode::GONE);
    assert_proof_verifies(&app, &auditor, "c-1").await;
}
