//! Billing: plans ([`plans`]), metering, monthly quotas, per-key rate limits, and the payment
//! provider ([`provider`]: [`stripe`] when a key is configured, else [`local`], which calls
//! nothing). Stripe webhooks are in [`webhook`], usage reporting in [`report`].
//!
//! * **Metering**: events are counted by the ingest insert itself and SPV requests in the
//!   transaction that answers them (`usage_counters`, exactly once per source action); proof
//!   reads and reports are counted here in memory and written every second
//!   ([`Billing::flush`]).
//! * **Quotas**: [`Billing::check`] refuses a request whose units would cross the month's
//!   quota, whole, before anything is done ([`QuotaExceeded`]: 402). Anchoring of accepted
//!   events never asks billing anything.
//! * **Rate limits**: [`Billing::rate_limit`], a token bucket per API key (429), in memory
//!   per process (see [`limits`]).
//! * `ANCORA_BILLING=off` turns quotas, rate limits and proof-read counting off (for
//!   measuring their cost); events and SPV requests are still counted.

mod account;
pub mod limits;
pub mod local;
mod meter;
pub mod plans;
pub mod provider;
pub mod report;
pub mod stripe;
pub mod webhook;

pub use account::check_customer_id;
pub use meter::run_flusher;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::{Date, Month, OffsetDateTime, Time};

use crate::db::{self, Db};
use crate::domain::TenantId;
use crate::services::settings::BillingConfig;
use crate::support::metrics::Metrics;
use limits::{Buckets, View};
use provider::{PaymentProvider, ProviderError};

/// What is metered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Events accepted.
    Events,
    /// Proof bundles read through the API.
    ProofReads,
    /// `POST /v1/spv` requests.
    SpvRequests,
    /// Verification reports (PDF or JSON; event, batch or range) downloaded.
    Reports,
}

impl Metric {
    /// Every metric, in [`Metric::index`] order.
    pub const ALL: [Metric; Metric::COUNT] = [
        Metric::Events,
        Metric::ProofReads,
        Metric::SpvRequests,
        Metric::Reports,
    ];

    /// How many metrics there are.
    pub const COUNT: usize = 4;

    /// Position in per-metric arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The `usage_counters.metric` it is counted under.
    pub fn counter(self) -> &'static str {
        match self {
            Metric::Events => db::usage::EVENTS_INGESTED,
            Metric::ProofReads => db::usage::PROOF_READS,
            Metric::SpvRequests => db::usage::SPV_REQUESTS,
            Metric::Reports => db::usage::REPORTS,
        }
    }

    /// Its key in `GET /v1/usage` (camelCase).
    pub fn json_key(self) -> &'static str {
        match self {
            Metric::Events => "events",
            Metric::ProofReads => "proofReads",
            Metric::SpvRequests => "spvRequests",
            Metric::Reports => "reports",
        }
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Events => "events",
            Metric::ProofReads => "proof reads",
            Metric::SpvRequests => "SPV requests",
            Metric::Reports => "reports",
        }
    }

    fn from_counter(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.counter() == name)
    }
}

/// A request that would cross a monthly quota: refused whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this request would cross the monthly quota of {} of plan {plan}: {used} of {limit} used this month and {requested} more asked; the quota resets at {}",
    metric.label(),
    rfc3339(*resets_at)
)]
pub struct QuotaExceeded {
    /// The quota.
    pub metric: Metric,
    /// The plan whose limits apply.
    pub plan: String,
    /// The quota.
    pub limit: u64,
    /// Used this month.
    pub used: u64,
    /// Units this request needs.
    pub requested: u64,
    /// When the month ends.
    pub resets_at: OffsetDateTime,
}

/// Why billing refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// A monthly quota would be crossed.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// The key's request rate is exhausted.
    #[error(
        "this API key is limited to {rate} requests per second (bursts of {burst}) by plan {plan}; retry in {retry_after} s"
    )]
    RateLimited {
        /// The plan.
        plan: String,
        /// Requests per second.
        rate: u32,
        /// Bucket size.
        burst: u32,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Input billing cannot accept (an unknown plan, a malformed customer id, …).
    #[error("{0}")]
    Invalid(String),
    /// No such tenant.
    #[error("no tenant with id {0}")]
    NoSuchTenant(TenantId),
    /// A Stripe webhook that is not signed right (nothing changed).
    #[error(transparent)]
    Webhook(#[from] webhook::WebhookError),
    /// The payment provider failed or is not configured.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Anything else (the database).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for BillingError {
    fn from(e: sqlx::Error) -> Self {
        BillingError::Internal(e.into())
    }
}

impl BillingError {
    /// This error as another service's internal error. An `Internal` one is unwrapped, not
    /// wrapped again: its cause (say, a database that is away) must stay visible to whoever
    /// classifies it (the API answers 503 for that, not 500). Wrapping it in a transparent
    /// variant would hide it: such a variant forwards `source()` past the wrapped error.
    pub fn into_internal(self) -> anyhow::Error {
        match self {
            BillingError::Internal(e) => e,
            e => e.into(),
        }
    }
}

/// A tenant's month as `GET /v1/usage` and the billing page show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSummary {
    /// The tenant's plan.
    pub plan: String,
    /// The plan whose limits apply (differs after a payment failure's grace period).
    pub limits_plan: String,
    /// The last payment failed.
    pub payment_failed: bool,
    /// First instant of the month (UTC).
    pub period_start: OffsetDateTime,
    /// First instant of the next month: quotas reset then.
    pub period_end: OffsetDateTime,
    /// Month-to-date usage, by [`Metric::index`].
    pub usage: [u64; Metric::COUNT],
    /// Quotas (`None`: unlimited), by [`Metric::index`].
    pub quotas: [Option<u64>; Metric::COUNT],
    /// What the next invoice would be at list prices so far, cents.
    pub estimate_cents: u64,
    /// Linked to a Stripe customer.
    pub has_customer: bool,
    /// Has a Stripe subscription (a plan change goes through Stripe's customer portal).
    pub has_subscription: bool,
}

/// The billing service (one per process).
#[derive(Debug)]
pub struct Billing {
    config: BillingConfig,
    metrics: Arc<Metrics>,
    provider: Box<dyn PaymentProvider>,
    db: Db,
    views: Mutex<HashMap<TenantId, View>>,
    buckets: Mutex<Buckets>,
    unflushed: Mutex<HashMap<(TenantId, Metric), u64>>,
}

/// The month `now` is in: its first day and the next month's.
pub fn month_of(now: OffsetDateTime) -> (Date, Date) {
    let d = now.date();
    let start = d.replace_day(1).unwrap_or(d);
    let next = match start.month() {
        Month::December => Date::from_calendar_date(start.year() + 1, Month::January, 1),
        m => Date::from_calendar_date(start.year(), m.next(), 1),
    }
    .unwrap_or(start);
    (start, next)
}

fn midnight(d: Date) -> OffsetDateTime {
    d.with_time(Time::MIDNIGHT).assume_utc()
}

/// RFC 3339 text of a time.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

impl Billing {
    /// The service over `db` with `config`; the Stripe provider when a key is configured.
    pub fn new(db: Db, config: BillingConfig, metrics: Arc<Metrics>) -> Self {
        let provider: Box<dyn PaymentProvider> = match config.stripe_provider() {
            Ok(Some(p)) => Box::new(p),
            Ok(None) => Box::new(local::LocalProvider),
            Err(e) => {
                // Config::check refuses this at start-up; a process that skipped it bills locally.
                tracing::error!(error = %e, "cannot build the Stripe client; billing stays local");
                Box::new(local::LocalProvider)
            }
        };
        Billing {
            config,
            metrics,
            provider,
            db,
            views: Mutex::default(),
            buckets: Mutex::default(),
            unflushed: Mutex::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BillingConfig {
        &self.config
    }

    /// The payment provider's name (`stripe` or `local`).
    pub fn provider_name(&self) -> &'static str {
        self.provider.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_month_runs_from_its_first_day_to_the_next_months() {
        let (s, n) = month_of(datetime!(2026-12-15 10:00 UTC));
        assert_eq!(
            (s.to_string(), n.to_string()),
            ("2026-12-01".into(), "2027-01-01".into())
        );
        let (s, n) = month_of(datetime!(2027-01-31 23:59 UTC));
        assert_eq!(
            (s.to_string(), n.to_string()),
            ("2027-01-01".into(), "2027-02-01".into())
        );
    }

    #[test]
    fn customer_ids_are_checked() {
        assert!(check_customer_id("cus_NffrFeUfNV2Hib").is_ok());
        for bad in ["", "cus_", "sub_123", "cus_12 3", "cus_x;drop"] {
            assert!(check_customer_id(bad).is_err(), "{bad}");
        }
    }
}
