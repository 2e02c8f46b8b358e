//! Admission control: a tenant whose proofs are falling behind is slowed down, and if that
//! does not help, answered `429 Too Many Requests` (with `Retry-After`), instead of being
//! given more events to prove: what Ancora acknowledges it also proves in time, and one
//! tenant's flood cannot grow a backlog without bound.
//!
//! Slowing down comes first: a request of a tenant over the limit is held (no database
//! connection, nothing stored yet) until the lag is back under the limit, for up to
//! [`MAX_HOLD`]; only then is it refused. A client that sends its next request when the last
//! is answered thereby submits at the rate the prover keeps up with, with no idle second
//! after a `Retry-After` (a 429 every time the lag crossed the limit left the pipeline idle
//! while every client waited out its second).
//!
//! The measure is the tenant's *proof lag*: how long ago its oldest batch that is not proved
//! yet was closed (batches wait for the next anchoring tick and then for the prover; in a
//! healthy pipeline that is a few hundred milliseconds). Pending events that wait for their
//! batch window do not count: waiting for the window is by design. A background task reads
//! every tenant's lag from Postgres a few times a second (one small query, whatever the
//! request rate), and each ingest consults the in-memory copy, so the check costs a request
//! nothing. Several API processes each poll the same figures.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use uuid::Uuid;

use crate::db::Db;
use crate::domain::TenantId;
use crate::support::Shutdown;

/// How often the lags are read.
pub const REFRESH_EVERY: Duration = Duration::from_millis(100);

/// How long a request of a tenant over the limit is held before it is refused.
pub const MAX_HOLD: Duration = Duration::from_secs(2);

/// Why a request is not admitted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdmissionError {
    /// The tenant's proofs are behind: retry after `retry_after` seconds; nothing was stored.
    #[error(
        "proofs for this tenant are {lag_ms} ms behind (the limit is {limit_ms} ms); nothing of \
         this request was stored: retry after the indicated delay"
    )]
    Lagging {
        /// The tenant's proof lag, ms.
        lag_ms: u128,
        /// The limit, ms.
        limit_ms: u128,
        /// Seconds to wait.
        retry_after: u64,
    },
}

/// The proof lag of every tenant that has one, as last read.
#[derive(Debug, Default)]
pub struct Admission {
    lags: RwLock<HashMap<Uuid, Duration>>,
}

impl Admission {
    /// Admits a request of `tenant`: at once when its proof lag is within `limit` (`None`:
    /// always), else once it is back within it, or `Err(429)` after [`MAX_HOLD`]. `Ok(true)`
    /// when the request was held.
    pub async fn admit(
        &self,
        tenant: TenantId,
        limit: Option<Duration>,
    ) -> Result<bool, AdmissionError> {
        let started = std::time::Instant::now();
        let mut held = false;
        loop {
            match self.check(tenant, limit) {
                Ok(()) => return Ok(held),
                Err(e) if started.elapsed() >= MAX_HOLD => return Err(e),
                Err(_) => {
                    held = true;
                    tokio::time::sleep(REFRESH_EVERY / 2).await;
                }
            }
        }
    }

    /// `Err(429)` when the tenant's proof lag exceeds `limit` (`None`: never).
    pub fn check(&self, tenant: TenantId, limit: Option<Duration>) -> Result<(), AdmissionError> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let lag = self
            .lags
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&tenant.0)
            .copied();
        match lag {
            Some(lag) if lag > limit => Err(AdmissionError::Lagging {
                lag_ms: lag.as_millis(),
                limit_ms: limit.as_millis(),
                retry_after: 1,
            }),
            _ => Ok(()),
        }
    }

    /// Reads every tenant's proof lag.
    pub async fn refresh(&self, db: &Db) -> anyhow::Result<()> {
        let rows = crate::db::batches::proof_lags(db).await?;
        let lags = rows
            .into_iter()
            .map(|(t, secs)| (t, Duration::from_secs_f64(secs.max(0.0))))
            .collect();
        *self.lags.write().unwrap_or_else(|p| p.into_inner()) = lags;
        Ok(())
    }
}

/// Refreshes `bp` every [`REFRESH_EVERY`] until shutdown.
pub async fn run(bp: std::sync::Arc<Admission>, db: Db, shutdown: Shutdown) {
    let mut warned = false;
    while !shutdown.is_triggered() {
        match bp.refresh(&db).await {
            Ok(()) => warned = false,
            Err(e) if !warned => {
                tracing::warn!(error = %format!("{e:#}"), "reading proof lags failed");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH_EVERY) => {}
            _ = shutdown.wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_over_the_limit_is_refused_with_retry_after_and_others_are_not() {
        let bp = Admission::default();
        let slow = TenantId(Uuid::now_v7());
        let fine = TenantId(Uuid::now_v7());
        bp.lags.write().expect("lock").extend([
            (slow.0, Duration::from_secs(3)),
            (fine.0, Duration::from_millis(200)),
        ]);
        let limit = Some(Duration::from_secs(1));
        assert!(matches!(
            bp.check(slow, limit),
            Err(AdmissionError::Lagging { retry_after: 1, .. })
        ));
        assert!(bp.check(fine, limit).is_ok());
        assert!(bp.check(TenantId(Uuid::now_v7()), limit).is_ok());
        assert!(bp.check(slow, None).is_ok(), "no limit, no refusal");
    }
}
