//! The usage report job: sends every billed tenant's unreported usage to Stripe
//! ([`crate::services::billing::Billing::report_usage`], which commits each report's steps
//! itself, so no transaction is held across the call). A failure is retried by the runner
//! with its backoff. [`schedule`] enqueues one every `ANCORA_BILLING_REPORT_INTERVAL_S`
//! while a Stripe key is configured.

use time::OffsetDateTime;

use super::{Job, JobFuture};
use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};
use crate::support::Shutdown;

/// Reports usage.
pub struct BillingReportJob;

impl Job for BillingReportJob {
    fn kind(&self) -> &'static str {
        jobs::KIND_BILLING_REPORT
    }

    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a> {
        Box::pin(async move {
            let summary = state.billing.report_usage().await?;
            let mut tx = state.db.system_tx().await?;
            if jobs::take(&mut tx, job).await? {
                tx.commit().await?;
            }
            if summary.reports > 0 {
                tracing::info!(
                    tenants = summary.tenants,
                    reports = summary.reports,
                    units = summary.units,
                    "usage reported"
                );
            }
            Ok(())
        })
    }
}

/// Enqueues the report job every reporting interval until shutdown (nothing without Stripe).
pub async fn schedule(state: AppState, shutdown: Shutdown) {
    if !state.billing.reports_usage() {
        return;
    }
    let every = state.billing.config().report_interval;
    while !shutdown.is_triggered() {
        let enqueued = async {
            let mut tx = state.db.system_tx().await?;
            jobs::enqueue_billing_report(&mut tx, OffsetDateTime::now_utc()).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = enqueued {
            tracing::warn!(error = %e, "cannot enqueue the usage report");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait() => return,
        }
    }
}
