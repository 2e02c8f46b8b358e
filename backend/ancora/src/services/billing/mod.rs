//! Billing: plans ([`plans`]), metering, monthly quotas, per-key rate limits, and the payment
//! provider ([`provider`]: [`stripe`] when a key is configured, else [`local`], which calls
//! nothing). Stripe webhooks are in [`webhook`], usage reporting in [`report`].
//!
//! * **Metering**: events are counted by the ingest insert itself and SPV requests in the
//!   transaction that answers them (`usage_counters`, exactly once per source action); proof
//!   reads are counted here in memory and written every second ([`Billing::flush`]).
//! * **Quotas**: [`Billing::check`] refuses a request whose units would cross the month's
//!   quota, whole, before anything is done ([`QuotaExceeded`]: 402). Anchoring of accepted
//!   events never asks billing anything.
//! * **Rate limits**: [`Billing::rate_limit`], a token bucket per API key (429), in memory
//!   per process (see [`limits`]).
//! * `ANCORA_BILLING=off` turns quotas, rate limits and proof-read counting off (for
//!   measuring their cost); events and SPV requests are still counted.

pub mod limits;
pub mod local;
pub mod plans;
pub mod provider;
pub mod report;
pub mod stripe;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use time::{Date, Month, OffsetDateTime, Time};

use crate::db::{self, Db};
use crate::domain::TenantId;
use crate::services::settings::BillingConfig;
use limits::{Buckets, View};
use plans::Plan;
use provider::{Checkout, PaymentProvider, ProviderError};

/// What is metered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Events accepted.
    Events,
    /// Proof bundles read through the API.
    ProofReads,
    /// `POST /v1/spv` requests.
    SpvRequests,
}

impl Metric {
    /// Every metric, in [`Metric::index`] order.
    pub const ALL: [Metric; 3] = [Metric::Events, Metric::ProofReads, Metric::SpvRequests];

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
        }
    }

    /// Its key in `GET /v1/usage` (camelCase).
    pub fn json_key(self) -> &'static str {
        match self {
            Metric::Events => "events",
            Metric::ProofReads => "proofReads",
            Metric::SpvRequests => "spvRequests",
        }
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Events => "events",
            Metric::ProofReads => "proof reads",
            Metric::SpvRequests => "SPV requests",
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
    pub usage: [u64; 3],
    /// Quotas (`None`: unlimited), by [`Metric::index`].
    pub quotas: [Option<u64>; 3],
    /// What the next invoice would be at list prices so far, cents.
    pub estimate_cents: u64,
    /// Linked to a Stripe customer.
    pub has_customer: bool,
}

/// The billing service (one per process).
#[derive(Debug)]
pub struct Billing {
    config: BillingConfig,
    provider: Box<dyn PaymentProvider>,
    db: Db,
    views: Mutex<HashMap<TenantId, View>>,
    buckets: Mutex<Buckets>,
    unflushed: Mutex<HashMap<TenantId, u64>>,
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
    pub fn new(db: Db, config: BillingConfig) -> Self {
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

    /// Refuses a request that needs `n` units of `metric` when they would cross the
    /// tenant's monthly quota. Nothing is counted here: the caller counts what it did.
    pub async fn check(
        &self,
        tenant: TenantId,
        metric: Metric,
        n: u64,
    ) -> Result<(), BillingError> {
        if !self.config.enforce {
            return Ok(());
        }
        let view = self.view(tenant).await?;
        let Some(limit) = view.limits.quota(metric) else {
            return Ok(());
        };
        let used = view.used(metric);
        if used.saturating_add(n) > limit {
            return Err(QuotaExceeded {
                metric,
                plan: view.limits.name.clone(),
                limit,
                used,
                requested: n,
                resets_at: midnight(month_of(OffsetDateTime::now_utc()).1),
            }
            .into());
        }
        Ok(())
    }

    /// Adds `n` units the caller has counted in Postgres to this process's view.
    pub fn record(&self, tenant: TenantId, metric: Metric, n: u64) {
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = views.get_mut(&tenant) {
            v.used[metric.index()] = v.used[metric.index()].saturating_add(n);
        }
    }

    /// Counts one proof read (written to Postgres by the next [`Billing::flush`]).
    pub fn count_proof_read(&self, tenant: TenantId) {
        if !self.config.enforce {
            return;
        }
        {
            let mut u = self.unflushed.lock().unwrap_or_else(|p| p.into_inner());
            *u.entry(tenant).or_insert(0) += 1;
        }
        self.record(tenant, Metric::ProofReads, 1);
    }

    /// Writes the proof reads counted in memory to the usage counters. On failure they are
    /// kept for the next flush.
    pub async fn flush(&self) -> Result<(), BillingError> {
        let pending: Vec<(TenantId, u64)> = {
            let mut u = self.unflushed.lock().unwrap_or_else(|p| p.into_inner());
            u.drain().collect()
        };
        let day = OffsetDateTime::now_utc().date();
        let mut failed = None;
        for (i, (tenant, n)) in pending.iter().enumerate() {
            let result = async {
                let mut tx = self.db.tenant_tx(*tenant).await?;
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                db::usage::add(&mut tx, *tenant, day, db::usage::PROOF_READS, n).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = result {
                let mut u = self.unflushed.lock().unwrap_or_else(|p| p.into_inner());
                for (t, n) in &pending[i..] {
                    *u.entry(*t).or_insert(0) += n;
                }
                failed = Some(e);
                break;
            }
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Takes a token from the API key's bucket: [`BillingError::RateLimited`] when empty.
    pub async fn rate_limit(&self, tenant: TenantId, key: uuid::Uuid) -> Result<(), BillingError> {
        if !self.config.enforce {
            return Ok(());
        }
        let view = self.view(tenant).await?;
        let Some((rate, burst)) = view.limits.rate() else {
            return Ok(());
        };
        let taken = {
            let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            b.take(key, rate, burst, Instant::now())
        };
        taken.map_err(|wait| BillingError::RateLimited {
            plan: view.limits.name.clone(),
            rate,
            burst,
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
        })
    }

    /// The tenant's plan and usage: this process's view while fresh, else read again.
    async fn view(&self, tenant: TenantId) -> Result<View, BillingError> {
        let now = Instant::now();
        let (period_start, _) = month_of(OffsetDateTime::now_utc());
        {
            let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = views.get_mut(&tenant) {
                if v.fresh(now, period_start) {
                    return Ok(v.clone());
                }
                // Stale within the month: one caller re-reads it, the others go on with what
                // this process knows meanwhile (no stampede of re-reads under load).
                if v.period_start == period_start && v.refreshing {
                    return Ok(v.clone());
                }
                v.refreshing = true;
            }
        }
        let result = self.reload(tenant).await;
        if result.is_err() {
            let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = views.get_mut(&tenant) {
                v.refreshing = false;
            }
        }
        result
    }

    /// Reads the tenant's plan and month-to-date usage (after flushing this process's proof
    /// reads) and keeps them as its view.
    async fn reload(&self, tenant: TenantId) -> Result<View, BillingError> {
        self.flush().await?;
        let now = OffsetDateTime::now_utc();
        let (start, next) = month_of(now);
        let mut tx = self.db.tenant_tx(tenant).await?;
        let row = db::billing::find(&mut tx, tenant).await?;
        let rows = db::billing::usage_between(&mut tx, tenant, start, next).await?;
        tx.commit().await?;
        let mut used = [0u64; 3];
        for (name, n) in rows {
            if let Some(m) = Metric::from_counter(&name) {
                used[m.index()] = u64::try_from(n).unwrap_or(0);
            }
        }
        let plan_name = row
            .as_ref()
            .map(|r| r.plan.as_str())
            .unwrap_or(&self.config.default_plan);
        let plan = self.plan_or_free(plan_name);
        let failed_at = row.as_ref().and_then(|r| r.payment_failed_at);
        let limits = match failed_at {
            Some(at) if now - at > self.config.grace_period => self.plan_or_free(plans::FREE),
            _ => plan.clone(),
        };
        let view = View {
            plan,
            limits,
            payment_failed: failed_at.is_some(),
            period_start: start,
            used,
            fetched: Instant::now(),
            refreshing: false,
        };
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        views.insert(tenant, view.clone());
        Ok(view)
    }

    /// A plan by name; one that is no longer in the plans file bills with `free`'s limits
    /// (and says so in the log) rather than with none.
    fn plan_or_free(&self, name: &str) -> Arc<Plan> {
        if let Some(p) = self.config.plans.get(name) {
            return p;
        }
        tracing::warn!(
            plan = name,
            "a tenant's plan is not in the plans file; using free's limits"
        );
        self.config
            .plans
            .get(plans::FREE)
            .unwrap_or_else(|| Arc::new(Plan::default()))
    }

    /// Forgets the tenant's view (its plan changed).
    fn forget(&self, tenant: TenantId) {
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        views.remove(&tenant);
    }

    /// The tenant's month: plan, usage, quotas and the next invoice's estimate.
    pub async fn usage(&self, tenant: TenantId) -> Result<UsageSummary, BillingError> {
        let view = self.reload(tenant).await?;
        let (start, next) = month_of(OffsetDateTime::now_utc());
        let has_customer = {
            let mut tx = self.db.tenant_tx(tenant).await?;
            let row = db::billing::find(&mut tx, tenant).await?;
            tx.commit().await?;
            row.is_some_and(|r| r.stripe_customer.is_some())
        };
        let plan = &view.plan;
        let estimate_cents = Metric::ALL.iter().fold(plan.monthly_fee_cents, |acc, m| {
            let units = u128::from(view.used(*m));
            let cost = (units * u128::from(plan.cents_per_1000(*m))).div_ceil(1000);
            acc.saturating_add(u64::try_from(cost).unwrap_or(u64::MAX))
        });
        Ok(UsageSummary {
            plan: plan.name.clone(),
            limits_plan: view.limits.name.clone(),
            payment_failed: view.payment_failed,
            period_start: midnight(start),
            period_end: midnight(next),
            usage: view.used,
            quotas: Metric::ALL.map(|m| view.limits.quota(m)),
            estimate_cents,
            has_customer,
        })
    }

    /// Puts a tenant on `plan` (an operator's decision), linking a Stripe customer when given.
    pub async fn set_plan(
        &self,
        tenant: TenantId,
        plan: &str,
        customer: Option<&str>,
    ) -> Result<(), BillingError> {
        if self.config.plans.get(plan).is_none() {
            return Err(BillingError::Invalid(format!(
                "no plan called {plan:?}; the plans are: {}",
                self.config.plans.names()
            )));
        }
        if let Some(c) = customer {
            check_customer_id(c)?;
        }
        let mut tx = self.db.system_tx().await?;
        if !db::billing::tenant_exists(&mut tx, tenant.0).await? {
            return Err(BillingError::NoSuchTenant(tenant));
        }
        drop(tx);
        let mut tx = self.db.tenant_tx(tenant).await?;
        db::billing::set_plan(&mut tx, tenant, plan, customer)
            .await
            .map_err(customer_taken)?;
        if customer.is_some() {
            db::billing::init_cursors(&mut tx, tenant, &counters()).await?;
        }
        let entry = db::audit::AuditEntry {
            tenant: Some(tenant),
            actor: "cli",
            action: "billing.plan_set",
            subject: Some(plan),
            details: serde_json::json!({ "plan": plan, "stripe_customer": customer }),
        };
        db::audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        self.forget(tenant);
        Ok(())
    }

    /// Opens a Stripe Checkout session that subscribes the tenant to `plan` (creating its
    /// customer first when it has none); returns the URL to send the person to.
    pub async fn start_checkout(
        &self,
        tenant: TenantId,
        tenant_name: &str,
        plan: &str,
        return_url: &str,
    ) -> Result<String, BillingError> {
        let price = self
            .config
            .plans
            .get(plan)
            .and_then(|p| p.stripe_price.clone())
            .ok_or_else(|| {
                BillingError::Invalid(format!("plan {plan:?} cannot be bought through Stripe"))
            })?;
        let mut tx = self.db.tenant_tx(tenant).await?;
        let row = db::billing::find(&mut tx, tenant).await?;
        tx.commit().await?;
        let customer = match row.and_then(|r| r.stripe_customer) {
            Some(c) => c,
            None => {
                let c = self
                    .provider
                    .create_customer(&tenant.to_string(), tenant_name)
                    .await?;
                check_customer_id(&c)?;
                let mut tx = self.db.tenant_tx(tenant).await?;
                db::billing::set_customer(&mut tx, tenant, &c, &self.config.default_plan)
                    .await
                    .map_err(customer_taken)?;
                db::billing::init_cursors(&mut tx, tenant, &counters()).await?;
                tx.commit().await?;
                c
            }
        };
        let url = self
            .provider
            .checkout(&Checkout {
                customer,
                price,
                tenant_id: tenant.to_string(),
                success_url: format!("{return_url}?checkout=done"),
                cancel_url: format!("{return_url}?checkout=cancelled"),
                idempotency_key: format!("ancora-checkout-{}", uuid::Uuid::new_v4()),
            })
            .await?;
        Ok(url)
    }
}

/// Writes counted proof reads every second until shutdown, then once more.
pub async fn run_flusher(billing: Arc<Billing>, shutdown: crate::support::Shutdown) {
    while !shutdown.is_triggered() {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.wait() => {}
        }
        if let Err(e) = billing.flush().await {
            tracing::warn!(error = %e, "cannot write counted proof reads; will retry");
        }
    }
}

/// A Stripe customer linked to another tenant is refused plainly.
fn customer_taken(e: sqlx::Error) -> BillingError {
    if db::is_unique_violation(&e, "tenant_billing_stripe_customer_key") {
        BillingError::Invalid("that Stripe customer is linked to another tenant".into())
    } else {
        e.into()
    }
}

/// Every metric's counter name.
fn counters() -> Vec<String> {
    Metric::ALL.iter().map(|m| m.counter().to_owned()).collect()
}

/// A Stripe customer id: `cus_` and letters or digits.
pub fn check_customer_id(c: &str) -> Result<(), BillingError> {
    let ok = c.strip_prefix("cus_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 250 && rest.chars().all(|ch| ch.is_ascii_alphanumeric())
    });
    if ok {
        Ok(())
    } else {
        Err(BillingError::Invalid(format!(
            "{c:?} is not a Stripe customer id (cus_ followed by letters and digits)"
        )))
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
