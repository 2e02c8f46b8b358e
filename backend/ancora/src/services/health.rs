//! The service's health: the gauges that need SQL (pending events, queue depth per job kind,
//! the oldest due job, unproved batches, open anchors), read by [`sample`] every
//! [`SAMPLE_EVERY`] in each worker process and exported as metrics, and the same figures for
//! `ancora admin status` ([`crate::db::health::read`]).

use std::time::Duration;

use crate::db::health::{self, Health};
use crate::services::Services;

/// How often a worker process samples the health gauges.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Reads the health and sets the sampled gauges; `kinds` are every job kind this build runs
/// (a kind with an empty queue then reads 0).
pub async fn sample(svc: &Services, kinds: &[&str]) -> anyhow::Result<Health> {
    let h = health::read(&svc.db).await?;
    svc.metrics.set_sampled(&h.sampled, kinds);
    Ok(h)
}
