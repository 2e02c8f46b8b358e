//! Counting toward a full batch in memory: when a tenant's new events reach a batch
//! (`ANCORA_BATCH_MAX_EVENTS`), its batch job is asked to run at once instead of waiting for
//! the window.
//!
//! Each process counts the events it took in for the tenant since it last asked. Counting the
//! tenant's pending rows in the database instead, on every request, scanned up to a batch of
//! index entries and their heap tuples per request: about a tenth of the ingest statement's
//! time. The count here may ask early (a batch the window already took counted too): the
//! batch is then smaller, never later. With several API processes each counts its own share,
//! so a full batch spread over them waits for the window at most, as every batch may.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::domain::TenantId;

/// Events taken in per tenant since the last full batch (see the module documentation).
#[derive(Debug, Default)]
pub struct BatchFill {
    counts: Mutex<HashMap<TenantId, u64>>,
}

impl BatchFill {
    /// Adds `n` new events of `tenant`. True when they bring the count to `cap` or more: a
    /// full batch waits, and the count starts again from what is left over.
    pub fn add(&self, tenant: TenantId, n: u64, cap: u64) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(tenant).or_insert(0);
        *count = count.saturating_add(n);
        if *count < cap.max(1) {
            return false;
        }
        *count %= cap.max(1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_batch_is_reported_once_per_batch_of_events_per_tenant() {
        let fill = BatchFill::default();
        let (a, b) = (
            TenantId(uuid::Uuid::now_v7()),
            TenantId(uuid::Uuid::now_v7()),
        );
        assert!(!fill.add(a, 600, 1000));
        assert!(!fill.add(b, 600, 1000), "tenants count apart");
        assert!(fill.add(a, 600, 1000));
        assert!(!fill.add(a, 300, 1000), "200 were left over: 500 now");
        assert!(fill.add(a, 500, 1000));
        assert!(fill.add(b, 5000, 1000), "one request of more than a batch");
        assert!(!fill.add(b, 0, 1000));
    }
}
