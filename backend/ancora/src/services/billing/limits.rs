//! What billing keeps in memory, per process: each tenant's plan and month-to-date usage
//! (re-read from Postgres at most every [`REFRESH`], with this process's own usage added as
//! it happens), proof reads counted but not written yet, and one token bucket per API key.
//!
//! Rate limits are per process: a deployment with N API processes lets a key through up to
//! N times its rate. Quotas are exact within a process and, across processes, may be
//! overshot by what the others accepted in the last [`REFRESH`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::Date;

use super::Metric;
use super::plans::Plan;

/// How long a tenant's usage read from Postgres is trusted.
pub const REFRESH: Duration = Duration::from_secs(1);

/// A tenant's plan and usage as this process knows it.
#[derive(Debug, Clone)]
pub struct View {
    /// The tenant's plan.
    pub plan: Arc<Plan>,
    /// The plan whose limits apply (`free` after a payment failure's grace period).
    pub limits: Arc<Plan>,
    /// Whether the last payment failed (within or past the grace period).
    pub payment_failed: bool,
    /// The first day of the month the usage is of.
    pub period_start: Date,
    /// Month-to-date usage, by [`Metric::index`].
    pub used: [u64; Metric::COUNT],
    /// When it was read.
    pub fetched: Instant,
    /// A caller is reading it again.
    pub refreshing: bool,
}

impl View {
    /// Still fresh at `now` for the month starting `period_start`.
    pub fn fresh(&self, now: Instant, period_start: Date) -> bool {
        self.period_start == period_start && now.duration_since(self.fetched) < REFRESH
    }

    /// Usage of `metric`.
    pub fn used(&self, metric: Metric) -> u64 {
        self.used[metric.index()]
    }
}

/// A token bucket: `rate` tokens a second up to `size`.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(size: u32, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(size),
            last: now,
        }
    }

    /// Takes one token at `now`; `Err(wait)` when none is left, with the time until one is.
    pub fn take(&mut self, rate: u32, size: u32, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(rate.max(1));
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(size));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// Token buckets by API key, dropping idle ones when the map grows.
#[derive(Debug, Default)]
pub struct Buckets {
    map: HashMap<uuid::Uuid, Bucket>,
}

impl Buckets {
    /// Takes a token from `key`'s bucket.
    pub fn take(
        &mut self,
        key: uuid::Uuid,
        rate: u32,
        size: u32,
        now: Instant,
    ) -> Result<(), Duration> {
        if self.map.len() > 100_000 {
            self.map
                .retain(|_, b| now.saturating_duration_since(b.last) < Duration::from_secs(60));
        }
        self.map
            .entry(key)
            .or_insert_with(|| Bucket::full(size, now))
            .take(rate, size, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_a_burst_through_then_one_request_per_token() {
        let t0 = Instant::now();
        let mut b = Bucket::full(3, t0);
        for _ in 0..3 {
            assert!(b.take(2, 3, t0).is_ok());
        }
        let wait = b.take(2, 3, t0).expect_err("empty");
        assert!(wait <= Duration::from_millis(500) && wait > Duration::from_millis(400));
        // Half a second later one token (rate 2/s) has come back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.take(2, 3, t1).is_ok());
        assert!(b.take(2, 3, t1).is_err());
        // A long pause refills up to the size, never past it.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(b.take(2, 3, t2).is_ok());
        }
        assert!(b.take(2, 3, t2).is_err());
    }
}
