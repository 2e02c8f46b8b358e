//! Prometheus metrics, served at `GET /metrics` in the text exposition format.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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

/// Labels of the failed-job counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The job kind (`batch`, `anchor`, `prove`, `chainweb_anchor`).
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

/// Every metric the service exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Events acknowledged by the API.
    pub events_ingested: Counter,
    /// Events per closed batch.
    pub batch_size: Histogram,
    /// Jobs waiting to run (sampled when /metrics is read).
    pub queue_depth: Gauge,
    /// Seconds from an event's receipt to its stored proof bundle.
    pub time_to_proof: Histogram,
    /// Anchors finalized.
    pub anchors_final: Counter,
    /// Chainweb anchor writes that failed (gas, a rejected command) and were retried.
    pub anchor_retries: Counter,
    /// Chainweb anchors that kept failing and wait for the operator (`ancora admin reanchor`).
    pub anchors_failed: Counter,
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
    /// Seconds a cold read of a content took (fetch from the archive, check, decrypt).
    pub archive_cold_read: Histogram,
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

impl Metrics {
    /// Registers all metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ancora");
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
        let queue_depth = Gauge::default();
        registry.register(
            "job_queue_depth",
            "Jobs waiting to run",
            queue_depth.clone(),
        );
        let time_to_proof = Histogram::new(exponential_buckets(0.05, 1.5, 20));
        registry.register(
            "time_to_proof_seconds",
            "Seconds from an event's receipt to its stored proof bundle",
            time_to_proof.clone(),
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
        let http_latency = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
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
        let archive_cold_read = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "archive_cold_read_seconds",
            "Seconds a cold read of a content took",
            archive_cold_read.clone(),
        );
        Metrics {
            archive_objects,
            archive_bytes,
            archive_errors,
            archive_cold_read,
            registry: Mutex::new(registry),
            log_monitor_alerts,
            log_monitor_checked_size,
            quota_refusals,
            rate_limited,
            ingest_held,
            ingest_refused,
            events_ingested,
            batch_size,
            queue_depth,
            time_to_proof,
            anchors_final,
            anchor_retries,
            anchors_failed,
            job_failures,
            http_latency,
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

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
