//! Prometheus metrics, served at `GET /metrics` in the text exposition format.
//!
//! Three kinds, by who updates them:
//!
//! * counters and histograms the code updates as things happen (ingest, batches, anchors,
//!   proofs, HTTP requests, jobs, the archive);
//! * the database pool's gauges, set from the pool just before each scrape
//!   ([`Metrics::set_pool`]);
//! * gauges that need SQL (pending events, queue depth per job kind, the oldest due job, …):
//!   sampled every few seconds by the worker processes ([`Metrics::set_sampled`]); a process
//!   that never sampled (`serve --api-only`) leaves them out rather than report zeros.
//!
//! `ANCORA_METRICS=off` builds [`Metrics::disabled`]: updates still compile to the same calls
//! (atomics), the per-request histogram is skipped, nothing is sampled and `/metrics` answers
//! 404.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Where a proof read was answered from (`source` of `ancora_proof_read_duration_seconds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofSource {
    /// The in-process cache (`cache`).
    Cache,
    /// The shared cache, Redis (`redis`).
    Shared,
    /// The database (`database`).
    Database,
    /// A batch held in memory (`batch`): rendered without the database.
    Batch,
}

/// Labels of the HTTP latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The matched route pattern (never the raw path, which may carry ids).
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Status class, e.g. `2xx`.
    pub status: String,
}

/// Labels of the per-kind job metrics (failures, queue depth).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The job kind (`batch`, `anchor`, `prove`, `chainweb_anchor`, …).
    pub kind: String,
}

/// Labels of the log monitor's alert counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    /// `fork`, `bad_signature` or `late_anchor`.
    pub kind: String,
}

/// Labels of the quota refusals counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct QuotaLabels {
    /// The quota (`events`, `proofReads`, `spvRequests`, `reports`).
    pub quota: String,
}

/// Labels of the archive's error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ArchiveErrorLabels {
    /// `unavailable`, `missing_object`, `denied`, `missing_bucket`, `checksum_mismatch`,
    /// `wrong_master_key`, `corrupt`, `internal`, `other`.
    pub kind: String,
}

/// Labels of the anchor latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnchorLabels {
    /// `tlog` or `chainweb`.
    pub backend: String,
    /// The anchor's target chain.
    pub chain: String,
}

/// Labels of per-backend anchor gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    /// `tlog` or `chainweb`.
    pub backend: String,
}

/// Labels of the proof-read histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProofReadLabels {
    /// `cache` (the in-process cache) or `database`.
    pub source: String,
}

/// Labels of the pool gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `in_use` or `idle`.
    pub state: String,
}

/// A gauge holding a float (seconds).
pub type FloatGauge = Gauge<f64, AtomicU64>;

/// What the worker's sampler reads from the database ([`Metrics::set_sampled`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sampled {
    /// Events acknowledged but not in a batch yet, all tenants.
    pub pending_events: i64,
    /// Jobs waiting to run (not leased), by kind; kinds with none may be left out.
    pub queue_depth: Vec<(String, i64)>,
    /// Seconds the oldest due, unleased job has been due (0 when none is).
    pub oldest_due_job_age: f64,
    /// Batches closed but not proved yet.
    pub unproved_batches: i64,
    /// Seconds since the oldest unproved batch closed (0 when none).
    pub oldest_unproved_batch_age: f64,
    /// Anchors not final yet (nor failed), by backend.
    pub open_anchors: Vec<(String, i64)>,
    /// Chainweb anchors that failed and wait for the operator.
    pub failed_anchors: i64,
}

/// Every metric the service exports.
pub struct Metrics {
    enabled: bool,
    registry: Mutex<Registry>,
    sampled_registry: Mutex<Registry>,
    sampled_once: AtomicBool,
    /// Events acknowledged by the API.
    pub events_ingested: Counter,
    /// Events per closed batch.
    pub batch_size: Histogram,
    /// Jobs waiting to run (not leased), by kind (sampled).
    pub queue_depth: Family<JobLabels, Gauge>,
    /// Events acknowledged but not batched yet (sampled).
    pub pending_events: Gauge,
    /// Age of the oldest job that is due and not leased, seconds (sampled).
    pub oldest_due_job_age: FloatGauge,
    /// Batches not proved yet (sampled).
    pub unproved_batches: Gauge,
    /// Age of the oldest unproved batch, seconds (sampled).
    pub oldest_unproved_batch_age: FloatGauge,
    /// Anchors not final yet, by backend (sampled).
    pub open_anchors: Family<BackendLabels, Gauge>,
    /// Chainweb anchors failed and waiting for the operator (sampled).
    pub failed_anchors_open: Gauge,
    /// Seconds from an event's receipt to its stored proof bundle.
    pub time_to_proof: Histogram,
    /// Seconds from an anchor's creation to its trust point, by backend and chain.
    pub anchor_latency: Family<AnchorLabels, Histogram>,
    /// Anchors finalized.
    pub anchors_final: Counter,
    /// Chainweb anchor writes that failed (gas, a rejected command) and were retried.
    pub anchor_retries: Counter,
    /// Chainweb anchors that kept failing and wait for the operator (`ancora admin reanchor`).
    pub anchors_failed: Counter,
    /// Proof reads (API and portal) and their latency, by source.
    pub proof_reads: Family<ProofReadLabels, Histogram>,
    proof_read_cache: Histogram,
    proof_read_shared: Histogram,
    proof_read_database: Histogram,
    proof_read_batch: Histogram,
    /// Seconds to archive one unit of cold data to object storage.
    pub archive_latency: Histogram,
    /// Seconds to read one item back from the archive (a cold read).
    pub cold_read_latency: Histogram,
    /// HTTP request latency in seconds.
    pub http_latency: Family<HttpLabels, Histogram>,
    /// Job runs that failed and will be retried, by kind (a node's garbage, forged header or
    /// wrong SPV proof fails a `chainweb_anchor` run: nothing is trusted, the run is retried).
    pub job_failures: Family<JobLabels, Counter>,
    /// Ingest requests held by admission control (their tenant's proofs were behind).
    pub ingest_held: Counter,
    /// Ingest requests refused with 429 by admission control.
    pub ingest_refused: Counter,
    /// Requests refused with 402 because they would cross a monthly quota, by quota.
    pub quota_refusals: Family<QuotaLabels, Counter>,
    /// Requests refused with 429 by an API key's rate limit.
    pub rate_limited: Counter,
    /// Problems the log monitor found, by kind (each counted once).
    pub log_monitor_alerts: Family<AlertLabels, Counter>,
    /// Size of the last checkpoint the log monitor found consistent with every earlier one.
    pub log_monitor_checked_size: Gauge,
    /// Objects the archiver wrote and verified.
    pub archive_objects: Counter,
    /// Bytes the archiver wrote.
    pub archive_bytes: Counter,
    /// Archive failures by kind (store unavailable, missing object, refused credentials,
    /// missing bucket, checksum mismatch, wrong master key, …).
    pub archive_errors: Family<ArchiveErrorLabels, Counter>,
    /// API keys authenticated from the in-process cache.
    pub api_key_cache_hits: Counter,
    /// API keys looked up in the database (not cached, expired, or the cache out of use).
    pub api_key_cache_misses: Counter,
    /// Bytes of rendered bundles in the proof cache.
    pub proof_cache_bytes: Gauge,
    /// Estimated bytes of the proved batches held in memory.
    pub proof_batch_cache_bytes: Gauge,
    /// In-process misses answered by the shared (Redis) proof cache, with a bundle that
    /// verified.
    pub proof_cache_redis_hits: Counter,
    /// In-process misses the shared cache did not answer (absent, or a value that did not
    /// verify): the database answered.
    pub proof_cache_redis_misses: Counter,
    /// Shared-cache calls that failed or timed out (the database answered).
    pub proof_cache_redis_errors: Counter,
    /// Database pool connections by state (set before each scrape).
    pub db_pool_connections: Family<PoolLabels, Gauge>,
    /// The pool's maximum size.
    pub db_pool_max: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Latency buckets from 0.5 ms to ~16 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0005, 2.0, 16)
}

impl Metrics {
    /// Registers all metrics (`ANCORA_METRICS=on`).
    pub fn new() -> Self {
        Self::build(true)
    }

    /// `ANCORA_METRICS=off`: nothing is rendered, sampled or measured per request.
    pub fn disabled() -> Self {
        Self::build(false)
    }

    /// [`Metrics::new`] or [`Metrics::disabled`].
    pub fn with_enabled(enabled: bool) -> Self {
        Self::build(enabled)
    }

    fn build(enabled: bool) -> Self {
        let mut registry = Registry::with_prefix("ancora");
        let mut sampled = Registry::with_prefix("ancora");
        let events_ingested = Counter::default();
        registry.register(
            "events_ingested",
            "Events acknowledged by the API",
            events_ingested.clone(),
        );
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 15));
        registry.register(
            "batch_size_events",
            "Events per closed batch",
            batch_size.clone(),
        );
        let time_to_proof = Histogram::new(exponential_buckets(0.05, 1.5, 20));
        registry.register(
            "time_to_proof_seconds",
            "Seconds from an event's receipt to its stored proof bundle",
            time_to_proof.clone(),
        );
        let anchor_latency = Family::<AnchorLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 20))
        });
        registry.register(
            "anchor_latency_seconds",
            "Seconds from an anchor's creation to its trust point (tlog: signed into the log; chainweb: final), by backend and chain",
            anchor_latency.clone(),
        );
        let anchors_final = Counter::default();
        registry.register("anchors_final", "Anchors finalized", anchors_final.clone());
        let job_failures = Family::<JobLabels, Counter>::default();
        registry.register(
            "job_failures",
            "Job runs that failed and will be retried, by kind",
            job_failures.clone(),
        );
        let anchor_retries = Counter::default();
        registry.register(
            "anchor_retries",
            "Chainweb anchor writes retried with a fresh command after a failure",
            anchor_retries.clone(),
        );
        let anchors_failed = Counter::default();
        registry.register(
            "anchors_failed",
            "Chainweb anchors flagged for the operator after repeated failures",
            anchors_failed.clone(),
        );
        let proof_reads = Family::<ProofReadLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        registry.register(
            "proof_read_duration_seconds",
            "Proof bundle reads (API and portal) and their latency, by source (cache, batch, redis, database); the count is the read rate",
            proof_reads.clone(),
        );
        let proof_read_cache = proof_reads
            .get_or_create(&ProofReadLabels {
                source: "cache".into(),
            })
            .clone();
        let proof_read_shared = proof_reads
            .get_or_create(&ProofReadLabels {
                source: "redis".into(),
            })
            .clone();
        let proof_read_batch = proof_reads
            .get_or_create(&ProofReadLabels {
                source: "batch".into(),
            })
            .clone();
        let proof_read_database = proof_reads
            .get_or_create(&ProofReadLabels {
                source: "database".into(),
            })
            .clone();
        let archive_latency = Histogram::new(exponential_buckets(0.001, 2.0, 18));
        registry.register(
            "archive_duration_seconds",
            "Seconds to archive one unit of cold data to object storage",
            archive_latency.clone(),
        );
        let cold_read_latency = Histogram::new(latency_buckets());
        registry.register(
            "cold_read_duration_seconds",
            "Seconds to read one item back from the archive (a cold read)",
            cold_read_latency.clone(),
        );
        let http_latency = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_latency.clone(),
        );
        let ingest_held = Counter::default();
        registry.register(
            "ingest_held",
            "Ingest requests held by admission control while their tenant's proofs were behind",
            ingest_held.clone(),
        );
        let ingest_refused = Counter::default();
        registry.register(
            "ingest_refused",
            "Ingest requests refused with 429 by admission control",
            ingest_refused.clone(),
        );
        let quota_refusals = Family::<QuotaLabels, Counter>::default();
        registry.register(
            "quota_refusals",
            "Requests refused with 402 because they would cross a monthly quota, by quota",
            quota_refusals.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limited",
            "Requests refused with 429 by an API key's rate limit",
            rate_limited.clone(),
        );
        let log_monitor_alerts = Family::<AlertLabels, Counter>::default();
        registry.register(
            "log_monitor_alerts",
            "Problems the log monitor found (fork, bad_signature, late_anchor), each once",
            log_monitor_alerts.clone(),
        );
        let log_monitor_checked_size = Gauge::default();
        registry.register(
            "log_monitor_checked_size",
            "Size of the last checkpoint the log monitor found consistent",
            log_monitor_checked_size.clone(),
        );
        let archive_objects = Counter::default();
        registry.register(
            "archive_objects",
            "Objects the archiver wrote and verified",
            archive_objects.clone(),
        );
        let archive_bytes = Counter::default();
        registry.register(
            "archive_bytes",
            "Bytes the archiver wrote",
            archive_bytes.clone(),
        );
        let archive_errors = Family::<ArchiveErrorLabels, Counter>::default();
        registry.register(
            "archive_errors",
            "Archive failures by kind",
            archive_errors.clone(),
        );
        let api_key_cache_hits = Counter::default();
        registry.register(
            "api_key_cache_hits",
            "API keys authenticated from the in-process cache",
            api_key_cache_hits.clone(),
        );
        let api_key_cache_misses = Counter::default();
        registry.register(
            "api_key_cache_misses",
            "API keys looked up in the database",
            api_key_cache_misses.clone(),
        );
        let proof_cache_bytes = Gauge::default();
        registry.register(
            "proof_cache_bytes",
            "Bytes of rendered bundles in the proof cache",
            proof_cache_bytes.clone(),
        );
        let proof_batch_cache_bytes = Gauge::default();
        registry.register(
            "proof_batch_cache_bytes",
            "Estimated bytes of the proved batches held in memory",
            proof_batch_cache_bytes.clone(),
        );
        let proof_cache_redis_hits = Counter::default();
        registry.register(
            "proof_cache_redis_hits",
            "Proof bundles read from the shared Redis cache on an in-process miss, verified",
            proof_cache_redis_hits.clone(),
        );
        let proof_cache_redis_misses = Counter::default();
        registry.register(
            "proof_cache_redis_misses",
            "In-process proof cache misses the shared Redis cache did not answer with a bundle that verified",
            proof_cache_redis_misses.clone(),
        );
        let proof_cache_redis_errors = Counter::default();
        registry.register(
            "proof_cache_redis_errors",
            "Shared Redis proof cache calls that failed or timed out",
            proof_cache_redis_errors.clone(),
        );
        let db_pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "This process's Postgres pool connections, by state (in_use, idle)",
            db_pool_connections.clone(),
        );
        let db_pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "This process's Postgres pool size limit (ANCORA_DB_POOL)",
            db_pool_max.clone(),
        );

        // Sampled by the workers.
        let pending_events = Gauge::default();
        sampled.register(
            "pending_events",
            "Events acknowledged and not in a batch yet, all tenants",
            pending_events.clone(),
        );
        let queue_depth = Family::<JobLabels, Gauge>::default();
        sampled.register(
            "job_queue_depth",
            "Jobs waiting to run (not leased), by kind",
            queue_depth.clone(),
        );
        let oldest_due_job_age = FloatGauge::default();
        sampled.register(
            "job_oldest_due_age_seconds",
            "Seconds the oldest due, unleased job has been waiting for a worker",
            oldest_due_job_age.clone(),
        );
        let unproved_batches = Gauge::default();
        sampled.register(
            "unproved_batches",
            "Batches closed and not proved yet",
            unproved_batches.clone(),
        );
        let oldest_unproved_batch_age = FloatGauge::default();
        sampled.register(
            "oldest_unproved_batch_age_seconds",
            "Seconds since the oldest batch not proved yet closed (what admission control limits)",
            oldest_unproved_batch_age.clone(),
        );
        let open_anchors = Family::<BackendLabels, Gauge>::default();
        sampled.register(
            "open_anchors",
            "Anchors not final yet, by backend",
            open_anchors.clone(),
        );
        let failed_anchors_open = Gauge::default();
        sampled.register(
            "failed_anchors",
            "Chainweb anchors failed and waiting for the operator (ancora admin reanchor)",
            failed_anchors_open.clone(),
        );
        Metrics {
            archive_objects,
            archive_bytes,
            archive_errors,
            enabled,
            registry: Mutex::new(registry),
            api_key_cache_hits,
            api_key_cache_misses,
            proof_cache_bytes,
            proof_batch_cache_bytes,
            proof_cache_redis_hits,
            proof_cache_redis_misses,
            proof_cache_redis_errors,
            sampled_registry: Mutex::new(sampled),
            sampled_once: AtomicBool::new(false),
            log_monitor_alerts,
            log_monitor_checked_size,
            quota_refusals,
            rate_limited,
            ingest_held,
            ingest_refused,
            events_ingested,
            batch_size,
            queue_depth,
            pending_events,
            oldest_due_job_age,
            unproved_batches,
            oldest_unproved_batch_age,
            open_anchors,
            failed_anchors_open,
            time_to_proof,
            anchor_latency,
            anchors_final,
            anchor_retries,
            anchors_failed,
            proof_reads,
            proof_read_cache,
            proof_read_shared,
            proof_read_database,
            proof_read_batch,
            archive_latency,
            cold_read_latency,
            job_failures,
            http_latency,
            db_pool_connections,
            db_pool_max,
        }
    }

    /// Counts one archive failure of `kind`.
    pub fn archive_error(&self, kind: &str) {
        self.archive_errors
            .get_or_create(&ArchiveErrorLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// False with `ANCORA_METRICS=off`.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records how long archiving one unit (a partition, a batch of proofs, …) to object
    /// storage took.
    pub fn observe_archive(&self, took: Duration) {
        self.archive_latency.observe(took.as_secs_f64());
    }

    /// Records how long reading one item back from the archive took.
    pub fn observe_cold_read(&self, took: Duration) {
        self.cold_read_latency.observe(took.as_secs_f64());
    }

    /// Records one proof read: where it was served from, and how long it took.
    pub fn observe_proof_read(&self, source: ProofSource, took: Duration) {
        let h = match source {
            ProofSource::Cache => &self.proof_read_cache,
            ProofSource::Shared => &self.proof_read_shared,
            ProofSource::Database => &self.proof_read_database,
            ProofSource::Batch => &self.proof_read_batch,
        };
        h.observe(took.as_secs_f64());
    }

    /// Records an anchor that reached its trust point `took` after it was made.
    pub fn observe_anchor(&self, backend: &str, chain: i32, took: Duration) {
        self.anchor_latency
            .get_or_create(&AnchorLabels {
                backend: backend.to_owned(),
                chain: chain.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Sets the pool gauges: `size` open connections of which `idle` are idle, at most `max`.
    pub fn set_pool(&self, size: u32, idle: usize, max: u32) {
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        let size = i64::from(size);
        for (state, v) in [("in_use", (size - idle).max(0)), ("idle", idle)] {
            self.db_pool_connections
                .get_or_create(&PoolLabels {
                    state: state.into(),
                })
                .set(v);
        }
        self.db_pool_max.set(i64::from(max));
    }

    /// Sets the sampled gauges (the worker's sampler); from then on they are rendered.
    /// `kinds` are every job kind, so a kind whose queue emptied reads 0, not its last value.
    pub fn set_sampled(&self, s: &Sampled, kinds: &[&str]) {
        self.pending_events.set(s.pending_events);
        for kind in kinds {
            let n = s
                .queue_depth
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(0, |(_, n)| *n);
            self.queue_depth
                .get_or_create(&JobLabels {
                    kind: (*kind).to_owned(),
                })
                .set(n);
        }
        for (kind, n) in &s.queue_depth {
            if !kinds.contains(&kind.as_str()) {
                self.queue_depth
                    .get_or_create(&JobLabels { kind: kind.clone() })
                    .set(*n);
            }
        }
        self.oldest_due_job_age.set(s.oldest_due_job_age);
        self.unproved_batches.set(s.unproved_batches);
        self.oldest_unproved_batch_age
            .set(s.oldest_unproved_batch_age);
        for backend in ["tlog", "chainweb"] {
            let n = s
                .open_anchors
                .iter()
                .find(|(b, _)| b == backend)
                .map_or(0, |(_, n)| *n);
            self.open_anchors
                .get_or_create(&BackendLabels {
                    backend: backend.into(),
                })
                .set(n);
        }
        self.failed_anchors_open.set(s.failed_anchors);
        self.sampled_once.store(true, Ordering::Release);
    }

    /// The text exposition (empty when metrics are off).
    pub fn render(&self) -> String {
        if !self.enabled {
            return String::new();
        }
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        let mut ok = {
            let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
            encode_registry(&mut out, &registry).is_ok()
        };
        if self.sampled_once.load(Ordering::Acquire) {
            let sampled = self
                .sampled_registry
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            ok &= encode_registry(&mut out, &sampled).is_ok();
        }
        ok &= encode_eof(&mut out).is_ok();
        if !ok {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_gauges_appear_once_sampled_and_every_kind_reads_zero_when_empty() {
        let m = Metrics::new();
        let before = m.render();
        assert!(!before.contains("ancora_pending_events"));
        assert!(before.contains("ancora_db_pool_max_connections"));
        m.set_sampled(
            &Sampled {
                pending_events: 7,
                queue_depth: vec![("batch".into(), 2)],
                ..Sampled::default()
            },
            &["batch", "prove"],
        );
        let after = m.render();
        assert!(after.contains("ancora_pending_events 7"), "{after}");
        assert!(after.contains(r#"ancora_job_queue_depth{kind="batch"} 2"#));
        assert!(after.contains(r#"ancora_job_queue_depth{kind="prove"} 0"#));
        assert_eq!(after.matches("# EOF").count(), 1);
        assert!(after.trim_end().ends_with("# EOF"));
    }

    #[test]
    fn disabled_metrics_render_nothing() {
        let m = Metrics::disabled();
        m.events_ingested.inc();
        assert!(m.render().is_empty());
        assert!(!m.enabled());
    }
}
