//! Idempotent writes: every `POST` that creates something takes an `Idempotency-Key`.
//!
//! * The first request with a key *claims* it ([`begin`] → [`Begin::Run`]), does its work and
//!   stores its answer on the claim ([`Claim::finish`], or [`Claim::finish_in`] inside the
//!   work's own transaction when the work is one transaction, so the answer commits with what
//!   it answers for). A failed request ([`Claim::release`]) leaves nothing: a retry runs again.
//! * A retry within 24 hours with the same request gets the first answer, status and body
//!   ([`Begin::Replay`]), and changes nothing.
//! * The same key with another request (another body, or another endpoint) is refused
//!   ([`IdempotencyError::Mismatch`]).
//! * Concurrent requests with one key produce one effect: one claims the key, the others wait
//!   for its answer (up to `wait`, then [`IdempotencyError::InProgress`]). A claim whose
//!   request died is taken over once its lease ends.
//!
//! Keys are per tenant, 1–255 visible ASCII characters. A request is identified by a scope
//! (`"POST /v1/events"`) and the canonical JSON of its parsed body, so a retry that only
//! reformats its body is the same request.

use std::time::Duration;

use serde::Serialize;
use sha2::Digest as _;
use uuid::Uuid;

use crate::db::{self, Db};
use crate::domain::TenantId;

/// Longest key, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// How long a key keeps its first answer.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Expired keys of the tenant deleted by each new claim, at most.
const CLEANUP_BATCH: i64 = 100;

/// Why a keyed request cannot run or be answered from its key.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key is empty, longer than [`MAX_KEY_LEN`] or not visible ASCII.
    #[error(
        "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces); this one is {0} bytes"
    )]
    BadKey(usize),
    /// The key was used with another request.
    #[error(
        "this Idempotency-Key was already used with a different request body (or on another \
         endpoint); use a new key for a new request"
    )]
    Mismatch,
    /// Another request with this key is still running.
    #[error("a request with this Idempotency-Key is still being handled; retry in a moment")]
    InProgress,
    /// The database.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for IdempotencyError {
    fn from(e: sqlx::Error) -> Self {
        IdempotencyError::Internal(e.into())
    }
}

/// Checks a key's form.
pub fn check_key(key: &str) -> Result<(), IdempotencyError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(IdempotencyError::BadKey(key.len()));
    }
    Ok(())
}

/// SHA-256 of `scope`, a newline and the canonical JSON of `body` (struct fields in
/// declaration order, object keys sorted).
pub fn request_hash(scope: &str, body: &impl Serialize) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    h.update(scope.as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(body).unwrap_or_default());
    h.finalize().to_vec()
}

/// A first answer, stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// Its HTTP status.
    pub status: u16,
    /// Its JSON body.
    pub body: serde_json::Value,
}

/// This request's hold on a key.
#[derive(Clone, Debug)]
pub struct Claim {
    tenant: TenantId,
    key: String,
    id: Uuid,
}

/// What [`begin`] decided.
#[derive(Debug)]
pub enum Begin {
    /// This request holds the key: run the work, then [`Claim::finish`] or [`Claim::release`].
    Run(Claim),
    /// The key holds this request's first answer: answer it again.
    Replay(Stored),
}

/// Claims `key` for the request `hash` of `tenant`, or finds its first answer. A claim is
/// held for `lease` at most (then another request may take it over); a concurrent request's
/// answer is awaited for `wait` at most.
pub async fn begin(
    db: &Db,
    tenant: TenantId,
    key: &str,
    hash: &[u8],
    lease: Duration,
    wait: Duration,
) -> Result<Begin, IdempotencyError> {
    check_key(key)?;
    let claim = Claim {
        tenant,
        key: key.to_owned(),
        id: Uuid::now_v7(),
    };
    let lease_secs = i64::try_from(lease.as_secs().max(1)).unwrap_or(i64::MAX);
    let deadline = tokio::time::Instant::now() + wait;
    let mut pause = Duration::from_millis(10);
    loop {
        let mut tx = db.tenant_tx(tenant).await?;
        if db::idempotency::claim(&mut tx, tenant, key, hash, claim.id, lease_secs).await? {
            db::idempotency::delete_expired(&mut tx, tenant, CLEANUP_BATCH).await?;
            tx.commit().await?;
            return Ok(Begin::Run(claim));
        }
        let found = db::idempotency::find(&mut tx, tenant, key).await?;
        tx.commit().await?;
        // Gone between the two statements (released): claim again at once.
        let Some(row) = found else { continue };
        if row.request_hash != hash {
            return Err(IdempotencyError::Mismatch);
        }
        if row.status != 0 {
            return Ok(Begin::Replay(Stored {
                status: u16::try_from(row.status).unwrap_or(200),
                body: row.response,
            }));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(IdempotencyError::InProgress);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

impl Claim {
    /// Stores the answer in the caller's transaction (tenant-scoped); it commits with the work.
    pub async fn finish_in(
        &self,
        conn: &mut sqlx::PgConnection,
        status: u16,
        body: &serde_json::Value,
    ) -> sqlx::Result<()> {
        db::idempotency::finish(conn, self.tenant, &self.key, self.id, status, body).await?;
        Ok(())
    }

    /// Stores the answer (nothing changes when [`Claim::finish_in`] stored it already).
    pub async fn finish(
        &self,
        db: &Db,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), IdempotencyError> {
        let mut tx = db.tenant_tx(self.tenant).await?;
        self.finish_in(&mut tx, status, body).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives the key up: the work failed and changed nothing, so a retry may run it again.
    pub async fn release(&self, db: &Db) -> Result<(), IdempotencyError> {
        let mut tx = db.tenant_tx(self.tenant).await?;
        db::idempotency::release(&mut tx, self.tenant, &self.key, self.id).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(check_key("retry-1").is_ok());
        assert!(check_key(&"k".repeat(255)).is_ok());
        assert!(matches!(
            check_key(&"k".repeat(256)),
            Err(IdempotencyError::BadKey(256))
        ));
        assert!(check_key("").is_err());
        assert!(check_key("a b").is_err());
        assert!(check_key("é").is_err());
    }

    #[test]
    fn the_hash_names_the_scope_and_ignores_formatting() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":[2]}"#).expect("json");
        let b: serde_json::Value = serde_json::from_str("{ \"a\": [2], \"b\": 1 }").expect("json");
        assert_eq!(request_hash("POST /x", &a), request_hash("POST /x", &b));
        assert_ne!(request_hash("POST /x", &a), request_hash("POST /y", &a));
    }
}
