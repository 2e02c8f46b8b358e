//! The optional shared proof cache behind each process's [`super::BundleCache`]: one small
//! trait, [`SharedProofCache`], shaped by what a proof read needs (get and put a final
//! bundle's JSON), with one backend a file: [`super::redis`] (`ANCORA_REDIS_URL`). Without
//! that setting there is none, and a miss in memory goes to the database as before.
//!
//! [`SharedCache`] is what reads use: it bounds every call by a short timeout, counts hits,
//! misses and errors, and after an error leaves the backend alone for [`PAUSE_AFTER_ERROR`]
//! (the reads then go straight to the database), so a Redis that is down or slow costs a read
//! at most one timeout, never a failure. What it returns is bytes, trusted for nothing: the
//! caller checks them as it checks a stored bundle before they are served or cached.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::support::metrics::Metrics;

/// A cache of final bundles' JSON shared by every API process, keyed by tenant and event.
/// Entries are immutable (only final bundles are put) and may disappear at any time.
pub trait SharedProofCache: Send + Sync + fmt::Debug {
    /// The bytes put for `(tenant, event_id)`, `None` when there are none.
    fn get<'a>(
        &'a self,
        tenant: Uuid,
        event_id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<Bytes>>>;
    /// Puts a final bundle's JSON for `(tenant, event_id)` (replacing what was there).
    fn put<'a>(
        &'a self,
        tenant: Uuid,
        event_id: &'a str,
        json: Bytes,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// How long a backend is left alone after an error (a timeout included).
pub const PAUSE_AFTER_ERROR: Duration = Duration::from_secs(1);

/// A [`SharedProofCache`] as reads use it: bounded by `timeout`, counted, paused after errors.
#[derive(Debug)]
pub struct SharedCache {
    backend: Arc<dyn SharedProofCache>,
    timeout: Duration,
    metrics: Arc<Metrics>,
    epoch: Instant,
    /// Milliseconds since `epoch` before which the backend is not called (0: call it).
    paused_until_ms: AtomicU64,
}

impl SharedCache {
    /// Wraps `backend`; each call waits at most `timeout`.
    pub fn new(
        backend: Arc<dyn SharedProofCache>,
        timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        SharedCache {
            backend,
            timeout,
            metrics,
            epoch: Instant::now(),
            paused_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn paused(&self) -> bool {
        self.now_ms() < self.paused_until_ms.load(Ordering::Relaxed)
    }

    fn failed(&self, what: &str, e: &anyhow::Error) {
        self.metrics.proof_cache_redis_errors.inc();
        let until = self.now_ms() + u64::try_from(PAUSE_AFTER_ERROR.as_millis()).unwrap_or(1000);
        // Log once per pause, not once per read.
        if self.paused_until_ms.swap(until, Ordering::Relaxed) <= self.now_ms() {
            tracing::warn!(error = %e, "shared proof cache {what} failed; reading from the database for {PAUSE_AFTER_ERROR:?}");
        }
    }

    /// The bytes for `(tenant, event_id)`, or `None` (absent, paused, failed or too slow: the
    /// caller reads the database). Counts an error, not a miss, when the call fails.
    pub async fn get(&self, tenant: Uuid, event_id: &str) -> Option<Bytes> {
        if self.paused() {
            return None;
        }
        match tokio::time::timeout(self.timeout, self.backend.get(tenant, event_id)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                self.failed("read", &e);
                None
            }
            Err(_) => {
                self.failed(
                    "read",
                    &anyhow::anyhow!("timed out after {:?}", self.timeout),
                );
                None
            }
        }
    }

    /// Counts a bundle the cache answered with that verified.
    pub fn hit(&self) {
        self.metrics.proof_cache_redis_hits.inc();
    }

    /// Counts an in-process miss the cache did not answer usefully.
    pub fn miss(&self) {
        self.metrics.proof_cache_redis_misses.inc();
    }

    /// Puts a final bundle's JSON in the background: the read that found it does not wait.
    pub fn offer(self: &Arc<Self>, tenant: Uuid, event_id: &str, json: Bytes) {
        if self.paused() {
            return;
        }
        let this = self.clone();
        let event_id = event_id.to_owned();
        tokio::spawn(async move {
            let put = this.backend.put(tenant, &event_id, json);
            match tokio::time::timeout(this.timeout, put).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => this.failed("write", &e),
                Err(_) => this.failed(
                    "write",
                    &anyhow::anyhow!("timed out after {:?}", this.timeout),
                ),
            }
        });
    }
}
