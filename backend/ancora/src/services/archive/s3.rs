//! The S3 archive store (`s3://BUCKET/PREFIX`): aws-sdk-s3 through the `ancora-archive-s3`
//! crate (SHA-256 checksums S3 checks on upload, multipart for large objects, Object Lock
//! retention where the bucket has it). `ANCORA_S3_ENDPOINT` points it at an S3-compatible
//! server, `ANCORA_S3_PATH_STYLE=true` for those that need path-style addressing; region and
//! credentials come from the standard `AWS_*` variables.

use ancora_archive_s3::{Retention, S3Config, S3Error, S3Store};
use futures_util::future::BoxFuture;
use time::OffsetDateTime;

use super::store::{ArchiveStore, StoreError, check_key};

/// A bucket and prefix on an S3 server.
#[derive(Debug, Clone)]
pub struct S3 {
    store: S3Store,
    url: String,
    /// Object Lock mode for new objects (`None`: no retention is set).
    lock_compliance: Option<bool>,
}

impl S3 {
    /// The store for `config`; `object_lock`: `Some(true)` COMPLIANCE, `Some(false)`
    /// GOVERNANCE, `None` off.
    pub fn new(config: &S3Config, object_lock: Option<bool>) -> Self {
        let url = if config.prefix.is_empty() {
            format!("s3://{}", config.bucket)
        } else {
            format!("s3://{}/{}", config.bucket, config.prefix)
        };
        S3 {
            store: S3Store::new(config),
            url,
            lock_compliance: object_lock,
        }
    }

    /// The Object Lock of an object, if any: its mode and retain-until date (Unix seconds).
    pub async fn object_lock(&self, key: &str) -> Result<Option<(String, i64)>, StoreError> {
        check_key(key)?;
        self.store.object_lock(key).await.map_err(from_s3)
    }
}

fn from_s3(e: S3Error) -> StoreError {
    match e {
        S3Error::Unavailable(m) => StoreError::Unavailable(m),
        S3Error::NotFound(k) => StoreError::NotFound(k),
        S3Error::NoSuchBucket(b) => StoreError::NoSuchBucket(b),
        S3Error::Denied(m) => StoreError::Denied(m),
        S3Error::ChecksumMismatch(k) => StoreError::ChecksumMismatch(k),
        S3Error::Full(m) => StoreError::Full(m),
        other @ S3Error::Other { .. } => StoreError::Other(other.to_string()),
    }
}

impl ArchiveStore for S3 {
    fn url(&self) -> String {
        self.url.clone()
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        retain_until: Option<OffsetDateTime>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            check_key(key)?;
            let retention = match (self.lock_compliance, retain_until) {
                (Some(compliance), Some(until)) => Some(Retention {
                    compliance,
                    until_unix: until.unix_timestamp(),
                }),
                _ => None,
            };
            self.store.put(key, bytes, retention).await.map_err(from_s3)
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, StoreError>> {
        Box::pin(async move {
            check_key(key)?;
            self.store.get(key).await.map_err(from_s3)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            check_key(key)?;
            self.store.delete(key).await.map_err(from_s3)
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move { self.store.list(prefix).await.map_err(from_s3) })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.store.check().await.map_err(from_s3) })
    }
}
