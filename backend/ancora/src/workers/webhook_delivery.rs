//! The webhook delivery job: one attempt of one delivery ([`webhooks::send::deliver`]), which
//! records the outcome and schedules the next attempt itself. These jobs run on runners of
//! their own (`runner::WEBHOOK_RUNNERS`), so receivers never hold up the other jobs.

use super::{Job, JobFuture, tenant_of, uuid_arg};
use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};
use crate::services::webhooks;

/// Sends one webhook delivery.
pub struct WebhookDeliveryJob;

impl Job for WebhookDeliveryJob {
    fn kind(&self) -> &'static str {
        jobs::KIND_WEBHOOK_DELIVERY
    }

    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a> {
        Box::pin(async move {
            let tenant = tenant_of(job)?;
            let delivery = uuid_arg(job, "delivery_id")?;
            webhooks::send::deliver(state, job, tenant, delivery).await
        })
    }
}
