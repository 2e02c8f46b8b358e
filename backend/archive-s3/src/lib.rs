//! # ancora-archive-s3
//!
//! The S3 edge of Ancora's archive: one bucket and a key prefix, through aws-sdk-s3, with the
//! few operations the archiver needs. Every object is written with its SHA-256 checksum
//! (`x-amz-checksum-sha256`), which S3 checks before it stores anything; objects larger than
//! [`MULTIPART_THRESHOLD`] go up in parts, each checksummed. Reads return the bytes; the caller
//! compares them with the digest it recorded (a copy is trusted only once it was read back).
//!
//! Errors are classified ([`S3Error`]) so that the service can tell "try again later" (the
//! server is down, slow or answers 5xx) from "this will not work" (wrong credentials, no such
//! bucket) and from "this object is gone".
#![forbid(unsafe_code)]

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectLockMode,
};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// Objects at least this large are uploaded in parts.
pub const MULTIPART_THRESHOLD: usize = 16 * 1024 * 1024;
/// The size of one part of a multipart upload.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// How to reach the bucket.
#[derive(Clone)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// Key prefix (no leading or trailing slash; may be empty).
    pub prefix: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); `None` for AWS.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need.
    pub path_style: bool,
    /// The region (`AWS_REGION`).
    pub region: String,
    /// Access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// Secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: String,
    /// Session token (`AWS_SESSION_TOKEN`), if any.
    pub session_token: Option<String>,
    /// Longest time one request may take, retries included.
    pub operation_timeout: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .finish()
    }
}

/// Object Lock retention for a new object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// `true`: COMPLIANCE (nobody can shorten it), `false`: GOVERNANCE.
    pub compliance: bool,
    /// Retain until this time (Unix seconds).
    pub until_unix: i64,
}

/// Why an S3 operation failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The server cannot be reached, timed out or answered 5xx: retry later.
    #[error("the S3 server is unavailable ({0})")]
    Unavailable(String),
    /// The object does not exist.
    #[error("object {0} does not exist")]
    NotFound(String),
    /// The bucket does not exist.
    #[error("bucket {0} does not exist")]
    NoSuchBucket(String),
    /// The credentials were refused (unknown key, bad signature, no permission).
    #[error("the S3 server refused the credentials ({0})")]
    Denied(String),
    /// The server computed another checksum than the one sent.
    #[error("the S3 server refused object {0}: checksum mismatch")]
    ChecksumMismatch(String),
    /// The server has no room for the object (`507 Insufficient Storage`, MinIO's
    /// `XMinioStorageFull`, a quota): retry once space is freed.
    #[error("the S3 server is out of storage ({0})")]
    Full(String),
    /// Anything else.
    #[error("S3 {op} failed: {detail}")]
    Other {
        /// The operation.
        op: &'static str,
        /// What the server or the SDK said.
        detail: String,
    },
}

impl S3Error {
    /// True when trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, S3Error::Unavailable(_) | S3Error::Full(_))
    }
}

/// A bucket and a prefix.
#[derive(Clone, Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// A store for `config` (no request is made).
    pub fn new(config: &S3Config) -> Self {
        let creds = Credentials::new(
            config.access_key_id.clone(),
            config.secret_access_key.clone(),
            config.session_token.clone(),
            None,
            "ancora",
        );
        let mut b = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(creds)
            .force_path_style(config.path_style)
            // The archiver retries whole passes with its own backoff; the SDK tries twice.
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_timeout(config.operation_timeout)
                    .build(),
            );
        if let Some(ep) = &config.endpoint {
            b = b.endpoint_url(ep.clone());
        }
        S3Store {
            client: Client::from_conf(b.build()),
            bucket: config.bucket.clone(),
            prefix: config.prefix.trim_matches('/').to_owned(),
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn full(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// Stores `bytes` at `key` with its SHA-256 checksum (S3 refuses the upload when its own
    /// differs), in parts when large, optionally under Object Lock retention.
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        retention: Option<Retention>,
    ) -> Result<(), S3Error> {
        if bytes.len() >= MULTIPART_THRESHOLD {
            return self.put_multipart(key, bytes, retention).await;
        }
        let full = self.full(key);
        let sum = b64_sha256(&bytes);
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(sum)
            .body(ByteStream::from(bytes));
        if let Some(r) = retention {
            req = req
                .object_lock_mode(lock_mode(r))
                .object_lock_retain_until_date(DateTime::from_secs(r.until_unix));
        }
        req.send()
            .await
            .map_err(|e| classify("PutObject", &self.bucket, &full, e))?;
        Ok(())
    }

    async fn put_multipart(
        &self,
        key: &str,
        bytes: Vec<u8>,
        retention: Option<Retention>,
    ) -> Result<(), S3Error> {
        let full = self.full(key);
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&full)
            .checksum_algorithm(ChecksumAlgorithm::Sha256);
        if let Some(r) = retention {
            req = req
                .object_lock_mode(lock_mode(r))
                .object_lock_retain_until_date(DateTime::from_secs(r.until_unix));
        }
        let created = req
            .send()
            .await
            .map_err(|e| classify("CreateMultipartUpload", &self.bucket, &full, e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let uploaded = self.upload_parts(&full, &upload_id, &bytes).await;
        let parts = match uploaded {
            Ok(p) => p,
            Err(e) => {
                // Best effort: an abandoned upload would only cost storage.
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&full)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return Err(e);
            }
        };
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&full)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify("CompleteMultipartUpload", &self.bucket, &full, e))?;
        Ok(())
    }

    async fn upload_parts(
        &self,
        full: &str,
        upload_id: &str,
        bytes: &[u8],
    ) -> Result<Vec<CompletedPart>, S3Error> {
        let mut parts = Vec::new();
        for (i, chunk) in bytes.chunks(PART_SIZE).enumerate() {
            let n = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let sum = b64_sha256(chunk);
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(upload_id)
                .part_number(n)
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .checksum_sha256(&sum)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify("UploadPart", &self.bucket, full, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .checksum_sha256(sum)
                    .build(),
            );
        }
        Ok(parts)
    }

    /// The object's bytes.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let full = self.full(key);
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| classify("GetObject", &self.bucket, &full, e))?;
        let body = out.body.collect().await.map_err(|e| {
            let detail = source_chain(&e);
            // The SDK checks the object's stored checksum while it reads the body.
            if detail.to_ascii_lowercase().contains("checksum") {
                S3Error::ChecksumMismatch(full.clone())
            } else {
                S3Error::Unavailable(format!("reading {full}: {detail}"))
            }
        })?;
        Ok(body.into_bytes().to_vec())
    }

    /// Deletes the object (deleting a missing object succeeds, as S3 does).
    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        let full = self.full(key);
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| classify("DeleteObject", &self.bucket, &full, e))?;
        Ok(())
    }

    /// Every key under `prefix` (relative to the store's prefix), in order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        let full = self.full(prefix);
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify("ListObjectsV2", &self.bucket, &full, e))?;
            for o in out.contents() {
                if let Some(k) = o.key() {
                    keys.push(k.get(strip..).unwrap_or(k).to_owned());
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Checks that the bucket exists and the credentials are accepted.
    pub async fn check(&self) -> Result<(), S3Error> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| classify("HeadBucket", &self.bucket, "", e))?;
        Ok(())
    }

    /// The Object Lock of an object, if it has one: its mode (`COMPLIANCE`, `GOVERNANCE`) and
    /// retain-until date (Unix seconds).
    pub async fn object_lock(&self, key: &str) -> Result<Option<(String, i64)>, S3Error> {
        let full = self.full(key);
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| classify("HeadObject", &self.bucket, &full, e))?;
        Ok(out
            .object_lock_mode()
            .zip(out.object_lock_retain_until_date())
            .map(|(m, d)| (m.as_str().to_owned(), d.secs())))
    }
}

fn lock_mode(r: Retention) -> ObjectLockMode {
    if r.compliance {
        ObjectLockMode::Compliance
    } else {
        ObjectLockMode::Governance
    }
}

/// Base64 of the SHA-256 of `bytes` (the form of `x-amz-checksum-sha256`).
pub fn b64_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn classify<E, R>(op: &'static str, bucket: &str, key: &str, e: SdkError<E, R>) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            S3Error::Unavailable(format!("{op}: {}", source_chain(&e)))
        }
        SdkError::ResponseError(_) => S3Error::Unavailable(format!("{op}: {}", source_chain(&e))),
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or_default();
            let status = format!("{:?}", se.raw());
            match code {
                "NoSuchBucket" => S3Error::NoSuchBucket(bucket.to_owned()),
                "NoSuchKey" | "NotFound" if op == "HeadBucket" => {
                    S3Error::NoSuchBucket(bucket.to_owned())
                }
                "NoSuchKey" | "NotFound" => S3Error::NotFound(key.to_owned()),
                "AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "InvalidToken"
                | "ExpiredToken" => S3Error::Denied(format!("{op}: {code}")),
                "BadDigest"
                | "InvalidDigest"
                | "XAmzContentChecksumMismatch"
                | "XAmzContentSHA256Mismatch" => S3Error::ChecksumMismatch(key.to_owned()),
                "XMinioStorageFull" | "InsufficientStorage" | "QuotaExceeded" => {
                    S3Error::Full(format!("{op}: {code}"))
                }
                "" if status.contains("StatusCode(507)") => S3Error::Full(format!("{op}: 507")),
                "InternalError" | "ServiceUnavailable" | "SlowDown" | "RequestTimeout" => {
                    S3Error::Unavailable(format!("{op}: {code}"))
                }
                // HEAD answers carry no error code: go by the status.
                "" if status.contains("StatusCode(404)") => {
                    if op == "HeadBucket" {
                        S3Error::NoSuchBucket(bucket.to_owned())
                    } else {
                        S3Error::NotFound(key.to_owned())
                    }
                }
                "" if status.contains("StatusCode(403)") => S3Error::Denied(format!("{op}: 403")),
                "" if status.contains("StatusCode(5") => {
                    S3Error::Unavailable(format!("{op}: server error"))
                }
                _ => S3Error::Other {
                    op,
                    detail: format!("{code}: {}", err.message().unwrap_or_default()),
                },
            }
        }
        _ => S3Error::Other {
            op,
            detail: source_chain(&e),
        },
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_base64_of_sha256() {
        assert_eq!(
            b64_sha256(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn the_secret_key_never_prints() {
        let c = S3Config {
            bucket: "b".into(),
            prefix: String::new(),
            endpoint: None,
            path_style: true,
            region: "us-east-1".into(),
            access_key_id: "AK".into(),
            secret_access_key: "very-secret".into(),
            session_token: None,
            operation_timeout: Duration::from_secs(1),
        };
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
