//! The prove job: builds and stores every bundle of one batch ([`proofs::prove_batch`]) in a
//! transaction that takes the job, then records the time to proof.

use super::{Job, JobFuture, tenant_of, uuid_arg};
use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};
use crate::services::proofs;

/// Proves one batch whose anchor is final.
pub struct ProveJob;

impl Job for ProveJob {
    fn kind(&self) -> &'static str {
        jobs::KIND_PROVE
    }

    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a> {
        Box::pin(async move {
            let tenant = tenant_of(job)?;
            let batch = uuid_arg(job, "batch_id")?;
            let mut tx = state.db.tenant_tx(tenant).await?;
            if !jobs::take(&mut tx, job).await? {
                return Ok(());
            }
            let received = proofs::prove_batch(&mut tx, state, tenant, batch).await?;
            tx.commit().await?;
            proofs::observe_proved(state, &received);
            tracing::debug!(tenant_id = %tenant, batch_id = %batch, events = received.len(), "batch proved");
            Ok(())
        })
    }
}
