//! The embedded cluster lets nobody in without its password (issue 17, finding 1): no Unix
//! socket, SCRAM on TCP, the generated password kept 0600 in the data directory; a cluster an
//! older Ancora made with `trust` is secured when it next starts.

use std::os::unix::fs::PermissionsExt as _;

use ancora::embedded_pg::EmbeddedPostgres;
use sqlx::Connection as _;

use crate::helpers::process::tempdir;

async fn start(data: &std::path::Path) -> EmbeddedPostgres {
    let data = data.to_owned();
    tokio::task::spawn_blocking(move || EmbeddedPostgres::start_or_join(&data))
        .await
        .expect("task")
        .expect("embedded postgres")
}

async fn stop(pg: EmbeddedPostgres) {
    tokio::task::spawn_blocking(move || drop(pg))
        .await
        .expect("stop");
}

/// Connection attempts that must be refused: no password, a wrong one, another role.
async fn assert_locked(pg: &EmbeddedPostgres) {
    let port = pg.port();
    for url in [
        format!("postgres://ancora@127.0.0.1:{port}/postgres"),
        format!("postgres://ancora:wrong@127.0.0.1:{port}/postgres"),
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        format!("postgres://root@127.0.0.1:{port}/postgres"),
    ] {
        let got = sqlx::PgConnection::connect(&url).await;
        let err = got.err().unwrap_or_else(|| panic!("{url} was let in"));
        assert!(
            err.to_string().contains("password") || err.to_string().contains("authentication"),
            "{url}: {err}"
        );
    }
}

fn hba_of(data: &std::path::Path) -> std::path::PathBuf {
    let cluster = match std::fs::read_to_string(data.join("pg-location")) {
        Ok(p) => std::path::PathBuf::from(p.trim()),
        Err(_) => data.join("pg"),
    };
    cluster.join("pg_hba.conf")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_cluster_refuses_every_connection_without_its_password() {
    // Arrange
    let dir = tempdir("embedded-auth");
    let data = dir.join("data");

    // Act
    let pg = start(&data).await;
    pg.ensure_database().await.expect("database");

    // Assert: locked to everyone without the password, open with it.
    assert_locked(&pg).await;
    let mut conn = sqlx::PgConnection::connect(&pg.url())
        .await
        .expect("with the password");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(one, 1);
    conn.close().await.expect("close");
    let mode = std::fs::metadata(pg.password_file())
        .expect("password file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let hba = std::fs::read_to_string(hba_of(&data)).expect("hba");
    assert!(
        hba.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .all(|l| !l.contains("trust")),
        "{hba}"
    );
    let conf =
        std::fs::read_to_string(hba_of(&data).with_file_name("postgresql.conf")).expect("conf");
    assert!(
        conf.contains("unix_socket_directories = ''"),
        "no Unix socket"
    );
    stop(pg).await;

    // A cluster left trusting everyone (as older versions made it) is secured at its next start.
    let hba_path = hba_of(&data);
    let trusting: String = std::fs::read_to_string(&hba_path)
        .expect("hba")
        .replace("scram-sha-256", "trust");
    std::fs::write(&hba_path, trusting).expect("write hba");
    std::fs::remove_file(data.join(ancora::embedded_pg::PASSWORD_FILE)).expect("rm password");
    let pg = start(&data).await;
    assert_locked(&pg).await;
    sqlx::PgConnection::connect(&pg.url())
        .await
        .expect("the new password works")
        .close()
        .await
        .expect("close");
    stop(pg).await;
}
