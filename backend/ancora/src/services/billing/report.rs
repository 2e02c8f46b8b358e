//! Usage reporting: each billed tenant's usage counters, as Stripe billing meter events.
//!
//! One cursor per tenant and metric holds what was reported. A report is written as pending
//! (identifier, value, the total it reports through) and committed before it is sent, then
//! settled after; a process killed in between finds it pending and sends the same identifier
//! again, which Stripe ignores. So usage is reported exactly once whatever fails.

use time::OffsetDateTime;

use super::provider::UsageReport;
use super::{Billing, BillingError, Metric};
use crate::db;
use crate::domain::TenantId;

/// What one round of reporting did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportSummary {
    /// Tenants with a Stripe customer.
    pub tenants: usize,
    /// Meter events sent.
    pub reports: usize,
    /// Units they carried.
    pub units: u64,
}

impl Billing {
    /// Whether usage is reported to a payment provider (false with the local default).
    pub fn reports_usage(&self) -> bool {
        self.provider.reports_usage()
    }

    /// Reports every billed tenant's unreported usage. Stops at the first failure (the
    /// caller retries later; what was sent is settled).
    pub async fn report_usage(&self) -> Result<ReportSummary, BillingError> {
        let mut summary = ReportSummary::default();
        if !self.provider.reports_usage() {
            return Ok(summary);
        }
        self.flush().await?;
        let tenants = {
            let mut tx = self.db.system_tx().await?;
            db::billing::billed_tenants(&mut tx).await?
        };
        summary.tenants = tenants.len();
        for (tenant, customer) in tenants {
            for metric in Metric::ALL {
                if let Some(units) = self.report_one(tenant, &customer, metric).await? {
                    summary.reports += 1;
                    summary.units += units;
                }
            }
        }
        Ok(summary)
    }

    async fn report_one(
        &self,
        tenant: TenantId,
        customer: &str,
        metric: Metric,
    ) -> Result<Option<u64>, BillingError> {
        let counter = metric.counter();
        let mut tx = self.db.tenant_tx(tenant).await?;
        let cursor = match db::billing::lock_cursor(&mut tx, tenant, counter).await? {
            Some(c) => c,
            None => {
                // Linked before cursors existed for this metric: start at today's total.
                db::billing::init_cursors(&mut tx, tenant, &[counter.to_owned()]).await?;
                tx.commit().await?;
                return Ok(None);
            }
        };
        let (identifier, value) = match cursor.pending {
            Some((identifier, value, _)) => (identifier, value),
            None => {
                let total = db::billing::usage_total(&mut tx, tenant, counter).await?;
                let value = total - cursor.reported;
                if value <= 0 {
                    return Ok(None);
                }
                let identifier = format!("ancora-{tenant}-{counter}-{total}");
                db::billing::set_pending(&mut tx, tenant, counter, &identifier, value, total)
                    .await?;
                (identifier, value)
            }
        };
        tx.commit().await?;
        let value = u64::try_from(value).unwrap_or(0);
        self.provider
            .report_usage(&UsageReport {
                event_name: self.config.meter_events[metric.index()].clone(),
                customer: customer.to_owned(),
                value,
                identifier: identifier.clone(),
                timestamp: OffsetDateTime::now_utc().unix_timestamp(),
            })
            .await?;
        let mut tx = self.db.tenant_tx(tenant).await?;
        db::billing::settle(&mut tx, tenant, counter, &identifier).await?;
        tx.commit().await?;
        tracing::info!(tenant_id = %tenant, metric = counter, value, identifier, "usage reported");
        Ok(Some(value))
    }
}
