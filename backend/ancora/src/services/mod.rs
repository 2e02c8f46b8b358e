//! What the product does, one module a capability. Services speak in their own error types
//! and never know about HTTP or job runners: `http/` and `workers/` (above) translate; `db/`
//! and `domain/` (below) store and name things.
//!
//! * [`idempotency`] — `Idempotency-Key`: one effect per key, the first answer replayed;
//! * [`ingest`] — validate, check signatures, store durably, answer with receipts;
//! * [`batch_metadata`] — the seed's batch metadata (root, chain, block, proof URL);
//! * [`batching`] — close a tenant's pending events into Merkle batches;
//! * [`anchoring`] — aggregate batch roots into anchors and bind them to trust points, one
//!   backend a file (`tlog`, `chainweb`);
//! * [`proofs`] — build, store and read every event's proof bundle, with its cache (and,
//!   optionally, a cache shared by the API processes: Redis);
//! * [`reports`] — verification reports (PDF, JSON; an event, a batch, a range), for the
//!   portal and the API alike;
//! * [`monitor`] — check the log's checkpoints stay consistent and anchors reach their trust
//!   point in time;
//! * [`archive`] — encryption of contents at rest, retention, the archiver (S3 or a local
//!   directory), cold reads, crypto-shredding, rebuilding the catalog from the archive;
//! * [`health`] — the gauges that need SQL, sampled by the workers, and `admin status`;
//! * [`admission`] — hold or refuse a tenant's writes while its proofs lag;
//! * [`authentication`] — API keys, through a cache that key changes invalidate at once;
//! * [`authorization`] — the one Role × Action table, for the API and the portal;
//! * [`billing`] — plans, metering, quotas, per-key rate limits, Stripe;
//! * [`passwords`] — argon2id hashing;
//! * [`webhooks`] — tenants' endpoints, signed deliveries with retries, SSRF checks;
//! * [`settings`] — what they run with, one section each.

pub mod admission;
pub mod anchoring;
pub mod archive;
pub mod authentication;
pub mod authorization;
pub mod batch_metadata;
pub mod batching;
pub mod billing;
pub mod health;
pub mod idempotency;
pub mod ingest;
pub mod monitor;
pub mod passwords;
pub mod proofs;
pub mod reports;
pub mod settings;
pub mod spv;
pub mod webhooks;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::db::Db;
use crate::support::metrics::Metrics;

pub use settings::Settings;

/// What every service call needs: the database, the settings, the metrics, the in-process
/// wake-up of the workers and admission control's view of every tenant's proof lag. Cheap to
/// clone; built once per process.
#[derive(Clone, Debug)]
pub struct Services {
    /// The database.
    pub db: Db,
    /// The settings.
    pub settings: Arc<Settings>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Wakes in-process workers when new work is committed (LISTEN/NOTIFY wakes the others).
    pub wake: Arc<Notify>,
    /// Every tenant's proof lag, for admission control.
    pub admission: Arc<admission::Admission>,
    /// Plans, metering, quotas and rate limits.
    pub billing: Arc<billing::Billing>,
    /// The cold archive and the keyring of contents at rest.
    pub archive: Arc<archive::Archive>,
    /// The cache of authenticated API keys.
    pub keys: Arc<authentication::KeyCache>,
    /// The cache of final proof bundles (and of verified log checkpoints).
    pub proof_cache: Arc<proofs::BundleCache>,
    /// Proved final batches held in memory, compactly (behind `proof_cache`).
    pub batch_cache: Arc<proofs::BatchCache>,
    /// The cache of final proof bundles shared by the API processes (`ANCORA_REDIS_URL`), if
    /// any.
    pub shared_proof_cache: Option<Arc<proofs::SharedCache>>,
    /// Each tenant's new events counted toward a full batch (see [`ingest::BatchFill`]).
    pub batch_fill: Arc<ingest::BatchFill>,
    /// Stored SPV proofs held in process (bounded, least recently used out).
    pub spv_cache: Arc<spv::SpvCache>,
}

impl Services {
    /// The services over `db` with `settings`.
    pub fn new(db: Db, settings: Settings) -> Self {
        let metrics = Arc::new(Metrics::with_enabled(settings.metrics));
        Services {
            billing: Arc::new(billing::Billing::new(
                db.clone(),
                settings.billing.clone(),
                metrics.clone(),
            )),
            archive: Arc::new(archive::Archive::open(settings.archive.clone())),
            proof_cache: Arc::new(proofs::BundleCache::new(settings.proof_cache_bytes)),
            batch_cache: Arc::new(proofs::BatchCache::new(settings.proof_batch_cache_bytes)),
            shared_proof_cache: shared_proof_cache(&settings, &metrics),
            db,
            settings: Arc::new(settings),
            metrics,
            wake: Arc::new(Notify::new()),
            admission: Arc::default(),
            keys: Arc::default(),
            batch_fill: Arc::default(),
            spv_cache: Arc::default(),
        }
    }
}

/// The shared proof cache `settings` ask for. The configuration checked its URL at start-up;
/// a URL refused here (settings built by hand) is logged and the process runs without one.
fn shared_proof_cache(
    settings: &Settings,
    metrics: &Arc<Metrics>,
) -> Option<Arc<proofs::SharedCache>> {
    let config = settings.redis.as_ref()?;
    match proofs::redis::RedisProofCache::new(config) {
        Ok(backend) => Some(Arc::new(proofs::SharedCache::new(
            Arc::new(backend),
            config.timeout,
            metrics.clone(),
        ))),
        Err(e) => {
            tracing::error!(error = %e, "no shared proof cache");
            None
        }
    }
}
