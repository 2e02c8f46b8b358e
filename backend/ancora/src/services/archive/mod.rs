//! The cold archive: encryption of contents at rest, retention, the archiver, cold reads,
//! crypto-shredding and rebuilding the catalog from the archive.
//!
//! * [`store`] — the [`ArchiveStore`] trait, one backend a file: [`s3`] and [`local_dir`];
//! * [`layout`] — the versioned key layout and object formats;
//! * [`crypto`] — per-tenant data keys (AES-256-GCM) wrapped by the master key;
//! * [`retention`] — hot and keep periods, legal hold;
//! * [`archiver`] — one archiving pass: copy, read back, verify, only then drop the hot copy;
//!   expire what is past its keep period (never under legal hold, never digests, roots,
//!   checkpoints or anchors);
//! * [`content`] — reading an event's content, from the archive when cold;
//! * [`shred`] — destroying a tenant's data key;
//! * [`rebuild`] — filling an empty database from the archive.

pub mod archiver;
pub mod content;
pub mod crypto;
pub mod layout;
pub mod local_dir;
pub mod rebuild;
pub mod retention;
pub mod s3;
pub mod shred;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use crate::db;
use crate::domain::TenantId;
use crate::support::metrics::Metrics;
pub use crypto::{CryptoError, DataKey, Keyring, MasterKey};
pub use store::{ArchiveStore, Store, StoreError};

/// Where the archive is (`ANCORA_ARCHIVE_URL`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveUrl {
    /// `file:///DIR`.
    Local(PathBuf),
    /// `s3://BUCKET/PREFIX`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (may be empty).
        prefix: String,
    },
}

impl std::str::FromStr for ArchiveUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(format!("{s:?}: a file archive URL is file:///ABSOLUTE/DIR"));
            }
            return Ok(ArchiveUrl::Local(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !valid {
                return Err(format!(
                    "{s:?}: the bucket name must be 3–63 lowercase letters, digits, dots or dashes"
                ));
            }
            return Ok(ArchiveUrl::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        Err(format!(
            "{s:?} is not an archive URL: use s3://BUCKET/PREFIX or file:///DIR"
        ))
    }
}

/// How to reach an S3 archive (`ANCORA_S3_…` and the standard `AWS_…` variables).
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    /// An S3-compatible endpoint; `None` for AWS.
    pub endpoint: Option<String>,
    /// Path-style addressing.
    pub path_style: bool,
    /// The region.
    pub region: String,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<SecretString>,
    /// Session token.
    pub session_token: Option<SecretString>,
    /// Object Lock mode for new objects: `Some(true)` COMPLIANCE, `Some(false)` GOVERNANCE.
    pub object_lock: Option<bool>,
}

/// The archive's settings.
#[derive(Clone, Debug)]
pub struct ArchiveConfig {
    /// Where the archive is.
    pub url: ArchiveUrl,
    /// S3 settings (used with an `s3://` URL).
    pub s3: S3Options,
    /// The master key that wraps every tenant's data key.
    pub master_key: MasterKey,
    /// How often the worker runs an archiving pass.
    pub interval: Duration,
    /// How long a content fetched back from the archive stays hot.
    pub restore_ttl: Duration,
}

impl ArchiveConfig {
    /// Default pass interval, seconds.
    pub const DEFAULT_INTERVAL_S: u64 = 60;
    /// Default time a restored content stays hot, seconds.
    pub const DEFAULT_RESTORE_TTL_S: u64 = 3600;

    /// A local archive in `dir` with `master_key` and the default timings.
    pub fn local(dir: PathBuf, master_key: MasterKey) -> Self {
        ArchiveConfig {
            url: ArchiveUrl::Local(dir),
            s3: S3Options::default(),
            master_key,
            interval: Duration::from_secs(Self::DEFAULT_INTERVAL_S),
            restore_ttl: Duration::from_secs(Self::DEFAULT_RESTORE_TTL_S),
        }
    }

    /// Checks what start-up can: an S3 archive needs credentials.
    pub fn check(&self) -> anyhow::Result<()> {
        if matches!(self.url, ArchiveUrl::S3 { .. })
            && (self.s3.access_key_id.is_none() || self.s3.secret_access_key.is_none())
        {
            anyhow::bail!("an s3:// archive needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        }
        Ok(())
    }

    /// The store this configuration names (no request is made; an S3 archive without
    /// credentials, refused by [`ArchiveConfig::check`] at start-up, is refused by S3).
    pub fn open_store(&self) -> Store {
        match &self.url {
            ArchiveUrl::Local(dir) => Arc::new(local_dir::LocalDir::new(dir.clone())),
            ArchiveUrl::S3 { bucket, prefix } => {
                let o = &self.s3;
                let config = ancora_archive_s3::S3Config {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    endpoint: o.endpoint.clone(),
                    path_style: o.path_style,
                    region: if o.region.is_empty() {
                        "us-east-1".into()
                    } else {
                        o.region.clone()
                    },
                    access_key_id: o.access_key_id.clone().unwrap_or_default(),
                    secret_access_key: o
                        .secret_access_key
                        .as_ref()
                        .map(|s| s.expose_secret().to_owned())
                        .unwrap_or_default(),
                    session_token: o
                        .session_token
                        .as_ref()
                        .map(|t| t.expose_secret().to_owned()),
                    operation_timeout: Duration::from_secs(20),
                };
                Arc::new(s3::S3::new(&config, o.object_lock))
            }
        }
    }
}

/// A per-process random master key for configurations built in code (tests): the same for
/// every [`Default`] settings of the process, so in-process services agree.
pub fn process_test_key() -> MasterKey {
    static KEY: std::sync::OnceLock<MasterKey> = std::sync::OnceLock::new();
    KEY.get_or_init(MasterKey::generate).clone()
}

impl Default for ArchiveConfig {
    /// A local archive in the temporary directory with a per-process key (tests).
    fn default() -> Self {
        Self::local(
            std::env::temp_dir().join("ancora-archive"),
            process_test_key(),
        )
    }
}

/// Why an archive operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The store failed (unavailable, missing object, refused credentials, …).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key or a ciphertext could not be used (wrong master key, altered data).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The tenant's data key was destroyed: its contents are gone for good.
    #[error("this tenant's contents were destroyed (its data key was shredded)")]
    Shredded,
    /// The content's retention expired.
    #[error("this event's content expired under the tenant's retention policy")]
    Expired,
    /// The event has no content (only a digest was submitted), or does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Refused by the legal hold.
    #[error("{0}")]
    LegalHold(String),
    /// Storage or anything unexpected.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ArchiveError {
    fn from(e: sqlx::Error) -> Self {
        ArchiveError::Internal(e.into())
    }
}

impl ArchiveError {
    /// The metric label of a failure worth counting (`None` for answers like "expired").
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            ArchiveError::Store(s) => Some(s.kind()),
            ArchiveError::Crypto(CryptoError::WrongMasterKey { .. }) => Some("wrong_master_key"),
            ArchiveError::Crypto(CryptoError::Corrupt(_)) => Some("corrupt"),
            ArchiveError::Internal(_) => Some("internal"),
            _ => None,
        }
    }
}

/// The archive: its store and the keyring.
#[derive(Debug)]
pub struct Archive {
    store: Store,
    keyring: Keyring,
    config: ArchiveConfig,
}

impl Archive {
    /// Opens the archive `config` names (no request is made).
    pub fn open(config: ArchiveConfig) -> Self {
        Archive {
            store: config.open_store(),
            keyring: Keyring::new(config.master_key.clone()),
            config,
        }
    }

    /// The archive over an explicit store (tests, rebuilds).
    pub fn with_store(config: ArchiveConfig, store: Store) -> Self {
        Archive {
            store,
            keyring: Keyring::new(config.master_key.clone()),
            config,
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn ArchiveStore {
        &*self.store
    }

    /// The settings.
    pub fn config(&self) -> &ArchiveConfig {
        &self.config
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Counts a failure in `ancora_archive_errors_total{kind}` and passes it on.
    pub fn count(&self, metrics: &Metrics, e: ArchiveError) -> ArchiveError {
        if let Some(kind) = e.kind() {
            metrics.archive_error(kind);
        }
        e
    }

    /// The tenant's data key for writing, created on first use. Fails with
    /// [`ArchiveError::Shredded`] once the key was destroyed.
    pub async fn data_key_for_write(
        &self,
        conn: &mut sqlx::PgConnection,
        tenant: TenantId,
    ) -> Result<DataKey, ArchiveError> {
        let stored = match db::archive::tenant_key(&mut *conn, tenant).await? {
            Some(k) => k,
            None => {
                let fresh = DataKey::generate();
                let wrapped = fresh.wrap(self.keyring.master(), tenant);
                db::archive::insert_tenant_key(conn, tenant, &wrapped, &self.keyring.master().id())
                    .await?
            }
        };
        let wrapped = stored.wrapped_key.ok_or(ArchiveError::Shredded)?;
        Ok(self
            .keyring
            .data_key(tenant, &wrapped, &stored.master_key_id)?)
    }

    /// The tenant's data key for reading: [`ArchiveError::Shredded`] once destroyed, `None`
    /// when the tenant never stored a content.
    pub async fn data_key_for_read(
        &self,
        conn: &mut sqlx::PgConnection,
        tenant: TenantId,
    ) -> Result<Option<DataKey>, ArchiveError> {
        let Some(stored) = db::archive::tenant_key(conn, tenant).await? else {
            return Ok(None);
        };
        let wrapped = stored.wrapped_key.ok_or(ArchiveError::Shredded)?;
        Ok(Some(self.keyring.data_key(
            tenant,
            &wrapped,
            &stored.master_key_id,
        )?))
    }

    /// Encrypts contents for storage in the caller's transaction (ingest).
    pub async fn seal(
        &self,
        conn: &mut sqlx::PgConnection,
        tenant: TenantId,
        ids: &[String],
        contents: &[Vec<u8>],
    ) -> Result<Vec<Vec<u8>>, ArchiveError> {
        let key = self.data_key_for_write(conn, tenant).await?;
        Ok(ids
            .iter()
            .zip(contents)
            .map(|(id, c)| key.encrypt(tenant, id, c))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_urls_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!(
            "s3://ancora-archive/prod/eu".parse::<ArchiveUrl>(),
            Ok(ArchiveUrl::S3 {
                bucket: "ancora-archive".into(),
                prefix: "prod/eu".into()
            })
        );
        assert_eq!(
            "file:///var/lib/ancora/archive".parse::<ArchiveUrl>(),
            Ok(ArchiveUrl::Local("/var/lib/ancora/archive".into()))
        );
        for bad in ["http://x", "s3://", "s3://UPPER", "file://relative", ""] {
            assert!(bad.parse::<ArchiveUrl>().is_err(), "{bad}");
        }
    }
}
