//! Plans: monthly quotas, the per-key request rate, the Stripe price a subscription uses and
//! list prices for the next-invoice estimate. Read from a TOML file (`ANCORA_PLANS_FILE`):
//!
//! ```toml
//! [plans.team]
//! events_per_month = 1000000      # quotas: absent = unlimited
//! proof_reads_per_month = 10000000
//! spv_requests_per_month = 10000
//! requests_per_second = 200       # per API key, token bucket …
//! burst = 400                     # … holding this many (default: twice the rate)
//! stripe_price = "price_…"        # the Stripe price a subscription to it uses
//! monthly_fee_cents = 4900        # list prices, for the estimate on the billing page
//! cents_per_1000_events = 5
//! ```
//!
//! Without a file: the built-in `free`, `team` and `enterprise` ([`Plans::builtin`]). A file
//! without `free` gets the built-in one: a tenant whose payment failed falls back to it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::Metric;

/// The plan every tenant falls back to when a payment fails past the grace period.
pub const FREE: &str = "free";

/// One plan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Its name (the table's key; filled in after parsing).
    #[serde(skip)]
    pub name: String,
    /// Events accepted per calendar month (UTC); `None`: unlimited.
    pub events_per_month: Option<u64>,
    /// Proofs read per month.
    pub proof_reads_per_month: Option<u64>,
    /// SPV requests per month.
    pub spv_requests_per_month: Option<u64>,
    /// Verification reports per month.
    pub reports_per_month: Option<u64>,
    /// Requests per second per API key; `None`: not limited.
    pub requests_per_second: Option<u32>,
    /// The token bucket's size (default twice the rate).
    pub burst: Option<u32>,
    /// The Stripe price (`price_…`) a subscription to this plan uses.
    pub stripe_price: Option<String>,
    /// Flat monthly fee, cents.
    #[serde(default)]
    pub monthly_fee_cents: u64,
    /// List price per 1000 events, cents.
    #[serde(default)]
    pub cents_per_1000_events: u64,
    /// List price per 1000 proof reads, cents.
    #[serde(default)]
    pub cents_per_1000_proof_reads: u64,
    /// List price per 1000 SPV requests, cents.
    #[serde(default)]
    pub cents_per_1000_spv_requests: u64,
    /// List price per 1000 reports, cents.
    #[serde(default)]
    pub cents_per_1000_reports: u64,
}

impl Plan {
    /// The monthly quota of `metric` (`None`: unlimited).
    pub fn quota(&self, metric: Metric) -> Option<u64> {
        match metric {
            Metric::Events => self.events_per_month,
            Metric::ProofReads => self.proof_reads_per_month,
            Metric::SpvRequests => self.spv_requests_per_month,
            Metric::Reports => self.reports_per_month,
        }
    }

    /// The list price of 1000 units of `metric`, cents.
    pub fn cents_per_1000(&self, metric: Metric) -> u64 {
        match metric {
            Metric::Events => self.cents_per_1000_events,
            Metric::ProofReads => self.cents_per_1000_proof_reads,
            Metric::SpvRequests => self.cents_per_1000_spv_requests,
            Metric::Reports => self.cents_per_1000_reports,
        }
    }

    /// `(rate per second, bucket size)`, when the plan limits keys.
    pub fn rate(&self) -> Option<(u32, u32)> {
        let rps = self.requests_per_second?;
        Some((rps, self.burst.unwrap_or(rps.saturating_mul(2)).max(1)))
    }
}

/// Every plan, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans {
    plans: BTreeMap<String, Arc<Plan>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    plans: BTreeMap<String, Plan>,
}

/// Why a plans file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlansError {
    /// Cannot read the file.
    #[error("cannot read the plans file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not the expected TOML.
    #[error("the plans file is not valid: {0}")]
    Invalid(String),
}

impl Plans {
    /// The built-in plans: `free`, `team` and `enterprise`.
    pub fn builtin() -> Self {
        let free = Plan {
            events_per_month: Some(100_000),
            proof_reads_per_month: Some(1_000_000),
            spv_requests_per_month: Some(1_000),
            reports_per_month: Some(100),
            requests_per_second: Some(50),
            burst: Some(100),
            ..Plan::default()
        };
        let team = Plan {
            events_per_month: Some(1_000_000),
            proof_reads_per_month: Some(10_000_000),
            spv_requests_per_month: Some(10_000),
            reports_per_month: Some(10_000),
            requests_per_second: Some(200),
            burst: Some(400),
            monthly_fee_cents: 4_900,
            cents_per_1000_events: 5,
            cents_per_1000_proof_reads: 1,
            cents_per_1000_spv_requests: 100,
            cents_per_1000_reports: 1_000,
            ..Plan::default()
        };
        // Contracts: no quota, and a per-key rate high enough for bulk submitters.
        let enterprise = Plan {
            requests_per_second: Some(10_000),
            burst: Some(20_000),
            ..Plan::default()
        };
        Self::from_map(BTreeMap::from([
            (FREE.to_owned(), free),
            ("team".to_owned(), team),
            ("enterprise".to_owned(), enterprise),
        ]))
        .unwrap_or_else(|_| unreachable_builtin())
    }

    /// Parses a plans file's text.
    pub fn parse(text: &str) -> Result<Self, PlansError> {
        let file: PlansFile =
            basic_toml::from_str(text).map_err(|e| PlansError::Invalid(e.to_string()))?;
        let mut plans = file.plans;
        if !plans.contains_key(FREE)
            && let Some(free) = Self::builtin().get(FREE)
        {
            plans.insert(FREE.to_owned(), (*free).clone());
        }
        Self::from_map(plans)
    }

    /// The plans of `path`, or the built-in ones when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, PlansError> {
        match path {
            None => Ok(Self::builtin()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| PlansError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                Self::parse(&text)
            }
        }
    }

    fn from_map(map: BTreeMap<String, Plan>) -> Result<Self, PlansError> {
        let mut prices: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, plan) in &map {
            let ok_name = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok_name {
                return Err(PlansError::Invalid(format!(
                    "plan name {name:?}: use 1 to 64 letters, digits, '-' or '_'"
                )));
            }
            if plan.requests_per_second == Some(0) || plan.burst == Some(0) {
                return Err(PlansError::Invalid(format!(
                    "plan {name}: requests_per_second and burst must be positive (leave them out for no limit)"
                )));
            }
            if let Some(price) = &plan.stripe_price
                && let Some(other) = prices.insert(price, name)
            {
                return Err(PlansError::Invalid(format!(
                    "plans {other} and {name} use the same stripe_price {price:?}: the price must decide the plan"
                )));
            }
        }
        Ok(Plans {
            plans: map
                .into_iter()
                .map(|(name, mut plan)| {
                    plan.name = name.clone();
                    (name, Arc::new(plan))
                })
                .collect(),
        })
    }

    /// The plan called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Plan>> {
        self.plans.get(name).cloned()
    }

    /// The plan whose Stripe price is `price`.
    pub fn by_price(&self, price: &str) -> Option<Arc<Plan>> {
        self.plans
            .values()
            .find(|p| p.stripe_price.as_deref() == Some(price))
            .cloned()
    }

    /// Every plan, by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Plan>> {
        self.plans.values()
    }

    /// The names, comma-separated (for error messages).
    pub fn names(&self) -> String {
        self.plans.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// The built-in table is valid by construction (tested below); never reached.
fn unreachable_builtin() -> Plans {
    Plans {
        plans: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_plans_are_free_team_and_enterprise_and_free_is_limited() {
        let p = Plans::builtin();
        assert_eq!(p.names(), "enterprise, free, team");
        let free = p.get(FREE).expect("free");
        assert_eq!(free.quota(Metric::Events), Some(100_000));
        assert_eq!(free.rate(), Some((50, 100)));
        assert_eq!(p.get("enterprise").expect("e").quota(Metric::Events), None);
    }

    #[test]
    fn a_plans_file_is_read_with_absent_quotas_unlimited_and_free_added() {
        let p = Plans::parse(
            r#"
            [plans.team]
            events_per_month = 1000000
            requests_per_second = 200
            stripe_price = "price_team"
            "#,
        )
        .expect("parse");
        let team = p.get("team").expect("team");
        assert_eq!(team.quota(Metric::Events), Some(1_000_000));
        assert_eq!(team.quota(Metric::ProofReads), None);
        assert_eq!(team.rate(), Some((200, 400)));
        assert_eq!(
            p.by_price("price_team").map(|p| p.name.clone()),
            Some("team".into())
        );
        assert!(p.by_price("price_other").is_none());
        assert!(p.get(FREE).is_some());
    }

    #[test]
    fn bad_plans_files_are_refused_with_a_reason() {
        for (text, needle) in [
            ("[plans.team]\nevents_per_mont = 3\n", "unknown field"),
            ("[plans.team]\nevents_per_month = -3\n", "invalid"),
            (
                "[plans.team]\nrequests_per_second = 0\n",
                "must be positive",
            ),
            (
                "[plans.a]\nstripe_price = \"p\"\n[plans.b]\nstripe_price = \"p\"\n",
                "same stripe_price",
            ),
            ("[plans.\"a b\"]\n", "plan name"),
            ("plans = 3", "invalid"),
        ] {
            let err = Plans::parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
