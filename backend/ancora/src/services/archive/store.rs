//! The archive's storage: one small trait, [`ArchiveStore`], shaped by what the archiver needs
//! (put, get, delete, list), with one backend a file: [`super::s3`] (`s3://BUCKET/PREFIX`) and
//! [`super::local_dir`] (`file:///DIR`, the embedded default). [`put_verified`] is the only way
//! the archiver writes: the copy is read back and its SHA-256 compared before anyone relies on
//! it.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

/// Why a store operation failed. [`StoreError::kind`] is its metric label.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached now (down, timing out, 5xx): retry later.
    #[error("the archive store is unavailable: {0}")]
    Unavailable(String),
    /// No such object.
    #[error("archived object {0} is missing")]
    NotFound(String),
    /// The credentials were refused.
    #[error("the archive store refused the credentials: {0}")]
    Denied(String),
    /// The bucket does not exist.
    #[error("the archive bucket {0} does not exist")]
    NoSuchBucket(String),
    /// A copy's checksum is not the one written (refused on upload, or read back different).
    #[error("checksum mismatch on archived object {0}")]
    ChecksumMismatch(String),
    /// The store has no room left (a full disk, a quota, `507`): nothing was written; retry
    /// once space is freed.
    #[error("the archive store is full: {0}")]
    Full(String),
    /// Anything else.
    #[error("archive store error: {0}")]
    Other(String),
}

impl StoreError {
    /// The metric label: `unavailable`, `missing_object`, `denied`, `missing_bucket`,
    /// `checksum_mismatch`, `storage_full`, `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::NotFound(_) => "missing_object",
            StoreError::Denied(_) => "denied",
            StoreError::NoSuchBucket(_) => "missing_bucket",
            StoreError::ChecksumMismatch(_) => "checksum_mismatch",
            StoreError::Full(_) => "storage_full",
            StoreError::Other(_) => "other",
        }
    }
}

/// Where archived objects live. Keys are relative (`v1/tenants/…`); a backend adds its own
/// prefix. Implementations are cheap to share.
pub trait ArchiveStore: Send + Sync + fmt::Debug {
    /// The store's URL, for messages (`s3://bucket/prefix`, `file:///dir`); no secrets.
    fn url(&self) -> String;
    /// Writes an object whole (replacing one with the same key); where the store supports
    /// Object Lock, under retention until `retain_until`.
    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        retain_until: Option<OffsetDateTime>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Reads an object.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, StoreError>>;
    /// Deletes an object (a missing one is not an error).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Every key under `prefix`, sorted.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
    /// Checks that the store is there and accepts the credentials (a missing bucket, refused
    /// keys, an unreachable server are errors here, before anything is written).
    fn check(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// A shared store.
pub type Store = Arc<dyn ArchiveStore>;

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Writes `bytes` at `key`, reads the copy back and compares its SHA-256: only then is the
/// copy trusted. Returns the SHA-256.
pub async fn put_verified(
    store: &dyn ArchiveStore,
    key: &str,
    bytes: Vec<u8>,
    retain_until: Option<OffsetDateTime>,
) -> Result<[u8; 32], StoreError> {
    let sum = sha256(&bytes);
    store.put(key, bytes, retain_until).await?;
    get_verified(store, key, &sum).await?;
    Ok(sum)
}

/// Reads `key` and checks its SHA-256 against `expected`: a copy that differs is reported,
/// never returned.
pub async fn get_verified(
    store: &dyn ArchiveStore,
    key: &str,
    expected: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let bytes = store.get(key).await?;
    if sha256(&bytes)[..] != expected[..] {
        return Err(StoreError::ChecksumMismatch(key.to_owned()));
    }
    Ok(bytes)
}

/// Checks a relative key: non-empty segments of `[A-Za-z0-9._-]`, never `.` or `..`.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::Other(format!("invalid archive key {key:?}")))
    }
}
