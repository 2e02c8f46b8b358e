//! First start of the embedded defaults: when the database holds no tenant, create an
//! operator account (`admin@localhost`, random password), a demo tenant it owns, and a
//! submitter API key for it; print how to log in and a curl line that submits an event, and
//! write the same to `DATA_DIR/first-start.txt` (mode 0600).
//!
//! Only with the embedded database: a configured production database never gets a demo
//! tenant and a known login. Two processes starting together do it once (advisory lock).

use std::path::Path;

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use crate::app::AppState;
use crate::db::api_keys;
use crate::db::audit::{AuditEntry, record};
use crate::db::{self, Db};
use crate::domain::{Role, TenantId};

/// The operator account's login.
pub const OPERATOR_EMAIL: &str = "admin@localhost";
/// The file first start writes in the data directory.
pub const FIRST_START_FILE: &str = "first-start.txt";

/// Runs once per database: does nothing when any tenant exists or the database is not the
/// embedded one.
pub async fn first_start(state: &AppState, embedded: bool) -> anyhow::Result<()> {
    if !embedded {
        return Ok(());
    }
    let Some(text) = bootstrap_demo(&state.db, &state.settings.public_url).await? else {
        return Ok(());
    };
    let path = state.config.database.data_dir.join(FIRST_START_FILE);
    write_private(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{text}");
    println!(
        "(This text is also in {}, readable only by you.)",
        path.display()
    );
    Ok(())
}

/// Creates the operator, the demo tenant and its key when no tenant exists, all in one
/// transaction; returns the text to show, or `None` when tenants already exist.
pub async fn bootstrap_demo(db: &Db, public_url: &str) -> anyhow::Result<Option<String>> {
    let tenant = TenantId::new();
    let mut tx = db.tenant_tx(tenant).await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('ancora:first-start', 0)) AS l")
        .fetch_one(&mut *tx)
        .await?;
    if db::tenants::any_exists(&mut tx).await? {
        return Ok(None);
    }
    db::tenants::insert(&mut tx, tenant, "Demo").await?;
    let password = crate::services::passwords::generate_password();
    let hash = crate::services::passwords::hash_password(password.expose_secret())?;
    let user = db::users::insert(&mut tx, OPERATOR_EMAIL, &hash, true).await?;
    db::users::add_membership(&mut tx, tenant, user, Role::Owner).await?;
    let key = api_keys::generate();
    let key_id = api_keys::insert(&mut tx, tenant, "demo", Role::Submitter, &key).await?;
    for (action, subject, details) in [
        (
            "tenant.created",
            tenant.to_string(),
            json!({ "name": "Demo" }),
        ),
        (
            "user.created",
            user.to_string(),
            json!({ "email": OPERATOR_EMAIL, "role": "owner", "operator": true }),
        ),
        (
            "api_key.created",
            key_id.to_string(),
            json!({ "prefix": key.prefix, "role": "submitter", "name": "demo" }),
        ),
    ] {
        record(
            &mut tx,
            AuditEntry {
                tenant: Some(tenant),
                actor: "bootstrap",
                action,
                subject: Some(&subject),
                details,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(first_start_text(
        public_url, tenant, &password, &key.key,
    )))
}

fn first_start_text(
    public_url: &str,
    tenant: TenantId,
    password: &SecretString,
    key: &SecretString,
) -> String {
    let url = public_url.trim_end_matches('/');
    // SHA-256 of "hello, ancora".
    let digest = ancora_proof::event::ContentDigest::sha256_of(b"hello, ancora");
    format!(
        "Ancora is running at {url}\n\
         \n\
         Log in at {url}/login\n\
         \x20 email:    {OPERATOR_EMAIL}\n\
         \x20 password: {password}\n\
         \n\
         Demo tenant {tenant}, API key (role submitter):\n\
         \x20 {key}\n\
         \n\
         Submit an event:\n\
         \x20 curl -sS -X POST {url}/v1/events \\\n\
         \x20   -H 'Authorization: Bearer {key}' \\\n\
         \x20   -H 'Content-Type: application/json' \\\n\
         \x20   -d '{{\"events\":[{{\"id\":\"hello-1\",\"digest\":\"{digest}\"}}]}}'\n\
         \n\
         Then follow it: curl -sS -H 'Authorization: Bearer {key}' {url}/v1/events/hello-1\n",
        password = password.expose_secret(),
        key = key.expose_secret(),
    )
}

/// Writes `text` to `path`, readable and writable by the owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
