//! Metering and enforcement in this process: quota checks, usage recorded as it happens,
//! proof reads counted and flushed, per-key token buckets, and each tenant's view of its plan
//! and month (see [`super::limits`]).

use std::sync::Arc;
use std::time::Instant;

use time::OffsetDateTime;

use super::limits::View;
use super::plans::{self, Plan};
use super::{Billing, BillingError, Metric, QuotaExceeded, midnight, month_of};
use crate::db;
use crate::domain::TenantId;

impl Billing {
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
            self.metrics
                .quota_refusals
                .get_or_create(&crate::support::metrics::QuotaLabels {
                    quota: metric.json_key().to_owned(),
                })
                .inc();
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

    /// Counts one unit of a metric that no transaction of its own counts (proof reads,
    /// reports): kept in memory and written to Postgres by the next [`Billing::flush`].
    pub fn count(&self, tenant: TenantId, metric: Metric) {
        if !self.config.enforce {
            return;
        }
        {
            let mut u = self.unflushed.lock().unwrap_or_else(|p| p.into_inner());
            *u.entry((tenant, metric)).or_insert(0) += 1;
        }
        self.record(tenant, metric, 1);
    }

    /// Writes what [`Billing::count`] counted to the usage counters. On failure it is kept
    /// for the next flush.
    pub async fn flush(&self) -> Result<(), BillingError> {
        let pending: Vec<((TenantId, Metric), u64)> = {
            let mut u = self.unflushed.lock().unwrap_or_else(|p| p.into_inner());
            u.drain().collect()
        };
        let day = OffsetDateTime::now_utc().date();
        let mut failed = None;
        for (i, ((tenant, metric), n)) in pending.iter().enumerate() {
            let result = async {
                let mut tx = self.db.tenant_tx(*tenant).await?;
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                db::usage::add(&mut tx, *tenant, day, metric.counter(), n).await?;
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
        taken.map_err(|wait| {
            self.metrics.rate_limited.inc();
            BillingError::RateLimited {
                plan: view.limits.name.clone(),
                rate,
                burst,
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
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
    pub(super) async fn reload(&self, tenant: TenantId) -> Result<View, BillingError> {
        self.flush().await?;
        let now = OffsetDateTime::now_utc();
        let (start, next) = month_of(now);
        let mut tx = self.db.tenant_tx(tenant).await?;
        let row = db::billing::find(&mut tx, tenant).await?;
        let rows = db::billing::usage_between(&mut tx, tenant, start, next).await?;
        tx.commit().await?;
        let mut used = [0u64; Metric::COUNT];
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
    pub(super) fn forget(&self, tenant: TenantId) {
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        views.remove(&tenant);
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
