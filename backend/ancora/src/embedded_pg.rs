//! The embedded default database: a private Postgres cluster in the data directory, created with
//! the installed Postgres binaries on first use, started on demand and stopped on shutdown.
//!
//! A process that finds the cluster already running joins it and leaves it running; only the
//! process that started it stops it. When run as root the cluster runs as the unprivileged
//! `postgres` user (Postgres refuses to run as root), and if that user cannot reach the data
//! directory (say, under `/root`), the cluster lives under `/var/lib/ancora/clusters/` and the
//! data directory records where.
//!
//! **Nobody else on the machine gets in.** The cluster has no Unix socket
//! (`unix_socket_directories = ''`) and listens on 127.0.0.1 only, and every connection must
//! authenticate with SCRAM-SHA-256 (`pg_hba.conf`, set by `initdb --auth=scram-sha-256`) as the
//! `ancora` superuser, whose password is generated at `initdb` and kept in
//! `DATA_DIR/pg-password` (mode 0600, readable by the user running Ancora only). A cluster made
//! by an older Ancora with `trust` is secured the first time a newer one starts it: a password
//! is generated and set, `pg_hba.conf` is rewritten to `scram-sha-256`, and the server reloads.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Name of the cluster's superuser and of Ancora's database in it.
const DB_NAME: &str = "ancora";

/// The superuser's password file, in the data directory.
pub const PASSWORD_FILE: &str = "pg-password";

/// A private cluster this process started or joined.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    cluster_dir: PathBuf,
    port: u16,
    run_as: Option<String>,
    started_here: bool,
    password_file: PathBuf,
    password: String,
}

impl EmbeddedPostgres {
    /// Creates the cluster if needed, then starts it or joins it when already running.
    pub fn start_or_join(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir().context(
            "no DATABASE_URL is set and the PostgreSQL server binaries (initdb, pg_ctl) were not \
             found on PATH or under /usr/lib/postgresql/*/bin: install them \
             (apt-get install postgresql) or set DATABASE_URL",
        )?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let run_as = running_as_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as
            && !user_exists(user)
        {
            bail!(
                "running as root, Ancora runs its private Postgres as the 'postgres' user, \
                 which does not exist: install postgresql (which creates it) or set DATABASE_URL"
            );
        }
        let cluster_dir = cluster_dir_for(data_dir, run_as.as_deref())?;
        let password_file = data_dir.join(PASSWORD_FILE);
        let mut pg = EmbeddedPostgres {
            bin_dir,
            cluster_dir,
            port: 0,
            run_as,
            started_here: false,
            password: read_or_create_password(&password_file)?,
            password_file,
        };
        if !pg.cluster_dir.join("PG_VERSION").exists() {
            pg.init()?;
        }
        pg.port = read_port(&pg.cluster_dir)?;
        if pg.is_running() {
            tracing::info!(port = pg.port, "joining the running embedded Postgres");
        } else {
            pg.start()?;
            pg.started_here = true;
        }
        if pg.trusts_anyone()? {
            pg.secure_legacy_cluster()?;
        }
        Ok(pg)
    }

    /// The port the cluster listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the superuser's password is kept (mode 0600).
    pub fn password_file(&self) -> &Path {
        &self.password_file
    }

    /// URL of the `ancora` database (created by [`Self::ensure_database`]). It holds the
    /// password: never log it.
    pub fn url(&self) -> String {
        self.url_of(DB_NAME)
    }

    /// URL of the cluster's maintenance database.
    fn admin_url(&self) -> String {
        self.url_of("postgres")
    }

    fn url_of(&self, db: &str) -> String {
        // The password is hex: nothing in it needs escaping in a URL.
        format!(
            "postgres://{DB_NAME}:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    fn hba_path(&self) -> PathBuf {
        self.cluster_dir.join("pg_hba.conf")
    }

    /// True when `pg_hba.conf` lets any connection in without a password.
    fn trusts_anyone(&self) -> anyhow::Result<bool> {
        let hba = std::fs::read_to_string(self.hba_path())
            .context("cannot read the embedded cluster's pg_hba.conf")?;
        Ok(hba_lines(&hba).any(|fields| fields.contains(&"trust")))
    }

    /// Secures a cluster made with `trust` by an older Ancora: sets the generated password
    /// (over the still-trusting connection), requires SCRAM in `pg_hba.conf`, reloads.
    fn secure_legacy_cluster(&self) -> anyhow::Result<()> {
        tracing::warn!(
            "the embedded Postgres trusted local connections; requiring its password now"
        );
        let trusting_url = format!("postgres://{DB_NAME}@127.0.0.1:{}/postgres", self.port);
        let password = self.password.clone();
        let set = async move {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&trusting_url).await?;
            sqlx::query("SET password_encryption = 'scram-sha-256'")
                .execute(&mut conn)
                .await?;
            // The password is hex (checked when read), so quoting it as a literal is safe;
            // ALTER ROLE takes no bind parameters.
            sqlx::query(&format!("ALTER ROLE {DB_NAME} PASSWORD '{password}'"))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
            anyhow::Ok(())
        };
        // Called from a blocking thread (see `server::open_database`) or outside any runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.block_on(set),
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(set),
        }
        .context("cannot set the embedded Postgres password")?;
        let hba = std::fs::read_to_string(self.hba_path())?;
        let secured: String = hba
            .lines()
            .map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                if !l.trim_start().starts_with('#') && fields.last() == Some(&"trust") {
                    format!(
                        "{} scram-sha-256\n",
                        &l[..l.rfind("trust").unwrap_or(l.len())].trim_end()
                    )
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(self.hba_path(), secured)?;
        let dir = self.cluster_dir.display().to_string();
        self.run(&self.bin("pg_ctl"), &["-D", &dir, "reload"])
            .context("pg_ctl reload failed")?;
        Ok(())
    }

    /// Creates the `ancora` database when it does not exist yet.
    pub async fn ensure_database(&self) -> anyhow::Result<()> {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.admin_url())
            .await
            .context("cannot connect to the embedded Postgres")?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DB_NAME)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {DB_NAME}"))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        Ok(())
    }

    /// Stops the cluster if this process started it.
    pub fn stop(&self) {
        if !self.started_here {
            return;
        }
        let dir = self.cluster_dir.display().to_string();
        match self.run(
            &self.bin("pg_ctl"),
            &["-D", &dir, "-m", "fast", "-w", "stop"],
        ) {
            Ok(_) => tracing::info!("embedded Postgres stopped"),
            Err(e) => tracing::warn!(error = %e, "could not stop embedded Postgres"),
        }
    }

    fn bin(&self, name: &str) -> String {
        self.bin_dir.join(name).display().to_string()
    }

    fn init(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.cluster_dir)?;
        self.chown_to_runner(&self.cluster_dir)?;
        let dir = self.cluster_dir.display().to_string();
        tracing::info!(dir = %dir, "creating the embedded Postgres cluster");
        // initdb reads the superuser's password from a file the cluster's user can read: a
        // 0600 copy beside the cluster, removed right after.
        let name = self
            .cluster_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pg".into());
        let pwfile = self
            .cluster_dir
            .with_file_name(format!(".{name}.initdb-password"));
        write_private(&pwfile, &self.password)?;
        self.chown_to_runner(&pwfile)?;
        let pwfile_arg = format!("--pwfile={}", pwfile.display());
        let made = self.run(
            &self.bin("initdb"),
            &[
                "-D",
                &dir,
                "-U",
                DB_NAME,
                "--auth=scram-sha-256",
                &pwfile_arg,
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        let _ = std::fs::remove_file(&pwfile);
        made.context("initdb failed")?;
        let port = free_port()?;
        // Commits stay synchronous (an acknowledged event is on disk); commit_delay lets the
        // commits of concurrent ingest requests share one WAL flush (group commit): +15–20 %
        // events/s in the load benchmark on two cores, with 100 events per request.
        let conf = format!(
            "\n# Ancora embedded defaults\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\nmax_connections = 100\nshared_buffers = 128MB\n\
             fsync = on\nsynchronous_commit = on\ncommit_delay = 200\n"
        );
        let conf_path = self.cluster_dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path)?;
        text.push_str(&conf);
        std::fs::write(&conf_path, text)?;
        Ok(())
    }

    fn start(&self) -> anyhow::Result<()> {
        let dir = self.cluster_dir.display().to_string();
        let log = self.cluster_dir.join("postgres.log").display().to_string();
        tracing::info!(port = self.port, "starting the embedded Postgres");
        self.run(
            &self.bin("pg_ctl"),
            &["-D", &dir, "-l", &log, "-w", "-t", "60", "start"],
        )
        .with_context(|| format!("pg_ctl start failed (see {log})"))?;
        Ok(())
    }

    fn is_running(&self) -> bool {
        let dir = self.cluster_dir.display().to_string();
        self.run(&self.bin("pg_ctl"), &["-D", &dir, "status"])
            .is_ok()
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", program]);
                c
            }
            None => Command::new(program),
        };
        let out = cmd
            .args(args)
            .current_dir("/")
            .output()
            .with_context(|| format!("cannot run {program}"))?;
        if !out.status.success() {
            bail!(
                "{program} exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn chown_to_runner(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(user) = &self.run_as {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(path)
                .status()?;
            if !status.success() {
                bail!("cannot give {} to {user}", path.display());
            }
        }
        Ok(())
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
        self.started_here = false;
    }
}

/// The folder holding `initdb` and `pg_ctl`: `ANCORA_POSTGRES_BIN_DIR` when set (and only it),
/// else the newest `/usr/lib/postgresql/*/bin`, else the first folder on `PATH` with both.
fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("ANCORA_POSTGRES_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return has_both(&dir).then_some(dir);
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|d| has_both(d))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_exists(user: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(user)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// `data_dir/pg`, or — when the cluster's user cannot reach it — a directory under
/// `/var/lib/ancora/clusters` named after the data directory, recorded in `data_dir/pg-location`.
fn cluster_dir_for(data_dir: &Path, run_as: Option<&str>) -> anyhow::Result<PathBuf> {
    let pointer = data_dir.join("pg-location");
    if let Ok(p) = std::fs::read_to_string(&pointer) {
        return Ok(PathBuf::from(p.trim()));
    }
    let data_dir = std::fs::canonicalize(data_dir)?;
    let local = data_dir.join("pg");
    let Some(user) = run_as else {
        return Ok(local);
    };
    let reachable = Command::new("runuser")
        .args(["-u", user, "--", "test", "-x"])
        .arg(&data_dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if reachable {
        return Ok(local);
    }
    use sha2::Digest as _;
    let tag = hex::encode(&sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes())[..8]);
    let dir = PathBuf::from("/var/lib/ancora/clusters").join(tag);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(&pointer, dir.display().to_string())?;
    Ok(dir)
}

/// The non-comment lines of a `pg_hba.conf`, split into fields.
fn hba_lines(hba: &str) -> impl Iterator<Item = Vec<&str>> {
    hba.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| !f.is_empty())
}

/// The password in `path`, or a new random one (32 bytes, hex) written there with mode 0600.
fn read_or_create_password(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let pw = text.trim().to_owned();
            if pw.len() < 32 || !pw.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "{} does not hold an Ancora-generated password (hex)",
                    path.display()
                );
            }
            Ok(pw)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pw = hex::encode(rand::random::<[u8; 32]>());
            write_private(path, &pw)?;
            Ok(pw)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `text` to a new file at `path` readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

fn read_port(cluster_dir: &Path) -> anyhow::Result<u16> {
    let conf = std::fs::read_to_string(cluster_dir.join("postgresql.conf"))
        .context("cannot read the embedded cluster's postgresql.conf")?;
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("port = "))
        .filter_map(|v| v.split_whitespace().next()?.parse::<u16>().ok())
        .next_back()
        .context("the embedded cluster's postgresql.conf sets no port")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
