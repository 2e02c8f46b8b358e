//! Retention per tenant: how long contents stay hot (in Postgres), how long they are kept (in
//! the archive) before they expire, and the legal hold that stops every expiry and every
//! shred. Durations read like `0s`, `90m`, `12h`, `30d`, `10y` (a year is 365 days).

use serde::{Deserialize, Serialize};

use crate::db;
use crate::domain::TenantId;

/// The longest `keep`: 100 years. Anything longer is a typo, not a policy.
pub const MAX_SECS: i64 = 100 * 365 * 86_400;

/// A tenant's retention policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Seconds contents stay hot after receipt.
    pub hot_secs: i64,
    /// Seconds contents are kept (hot or archived) after receipt, then expire.
    pub keep_secs: i64,
    /// While on, nothing expires and the data key cannot be shredded.
    pub legal_hold: bool,
}

impl From<db::archive::RetentionRow> for Policy {
    fn from(r: db::archive::RetentionRow) -> Self {
        Policy {
            hot_secs: r.hot_secs,
            keep_secs: r.keep_secs,
            legal_hold: r.legal_hold,
        }
    }
}

impl From<Policy> for db::archive::RetentionRow {
    fn from(p: Policy) -> Self {
        db::archive::RetentionRow {
            hot_secs: p.hot_secs,
            keep_secs: p.keep_secs,
            legal_hold: p.legal_hold,
        }
    }
}

impl Default for Policy {
    /// 30 days hot, 10 years kept, no hold.
    fn default() -> Self {
        Policy {
            hot_secs: 30 * 86_400,
            keep_secs: 10 * 365 * 86_400,
            legal_hold: false,
        }
    }
}

/// Why a retention change is refused.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// A duration or combination that makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// The change would let held contents expire earlier.
    #[error("{0}")]
    LegalHold(String),
    /// No such tenant.
    #[error("no tenant with id {0}")]
    NoTenant(TenantId),
    /// Storage.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Parses `<n><unit>` with unit `s`, `m`, `h`, `d`, `w` or `y` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "{text:?} is not a duration: give a whole number and a unit, like 0s, 90m, 12h, 30d or 10y"
        )
    };
    if t.starts_with('-') {
        return Err(format!("{text:?}: a duration cannot be negative"));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(bad()),
    };
    let secs = n
        .checked_mul(mult)
        .filter(|s| *s <= MAX_SECS)
        .ok_or_else(|| format!("{text:?} is longer than 100 years"))?;
    Ok(secs)
}

/// Prints seconds in the largest unit that divides them (`30d`, `10y`, `0s`).
pub fn format_duration(secs: i64) -> String {
    for (unit, mult) in [("y", 365 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs != 0 && secs % mult == 0 {
            return format!("{}{unit}", secs / mult);
        }
    }
    format!("{secs}s")
}

impl Policy {
    /// Checks the policy alone: both durations within 0..=100 years, kept at least as long as
    /// hot.
    pub fn check(&self) -> Result<(), RetentionError> {
        if !(0..=MAX_SECS).contains(&self.hot_secs) || !(0..=MAX_SECS).contains(&self.keep_secs) {
            return Err(RetentionError::Invalid(
                "durations are between 0s and 100y".into(),
            ));
        }
        if self.keep_secs < self.hot_secs {
            return Err(RetentionError::Invalid(format!(
                "keep ({}) must be at least as long as hot ({})",
                format_duration(self.keep_secs),
                format_duration(self.hot_secs)
            )));
        }
        Ok(())
    }

    /// Checks a change from `self` to `next`: under legal hold (before or after the change)
    /// the keep period cannot shorten.
    pub fn check_change(&self, next: &Policy) -> Result<(), RetentionError> {
        next.check()?;
        if (self.legal_hold || next.legal_hold) && next.keep_secs < self.keep_secs {
            return Err(RetentionError::LegalHold(format!(
                "the tenant is under legal hold: keep cannot shorten from {} to {}; lift the hold first",
                format_duration(self.keep_secs),
                format_duration(next.keep_secs)
            )));
        }
        Ok(())
    }
}

/// The tenant's policy (the defaults when none was set).
pub async fn get(db: &db::Db, tenant: TenantId) -> Result<Policy, RetentionError> {
    let mut tx = db.tenant_tx(tenant).await?;
    if db::tenants::name(&mut tx, tenant).await?.is_none() {
        return Err(RetentionError::NoTenant(tenant));
    }
    let p = db::archive::retention(&mut tx, tenant).await?;
    tx.commit().await?;
    Ok(p.map(Policy::from).unwrap_or_default())
}

/// What a change gives: each field `None` keeps the current value.
#[derive(Clone, Copy, Debug, Default)]
pub struct Change {
    /// New hot period, seconds.
    pub hot_secs: Option<i64>,
    /// New keep period, seconds.
    pub keep_secs: Option<i64>,
    /// New legal hold.
    pub legal_hold: Option<bool>,
}

/// Applies a change and records `retention.changed` in the audit log, in one transaction.
/// Returns the new policy.
pub async fn set(
    db: &db::Db,
    tenant: TenantId,
    change: Change,
    actor: &str,
) -> Result<Policy, RetentionError> {
    let mut tx = db.tenant_tx(tenant).await?;
    if db::tenants::name(&mut tx, tenant).await?.is_none() {
        return Err(RetentionError::NoTenant(tenant));
    }
    let current = db::archive::retention_for_update(&mut tx, tenant)
        .await?
        .map(Policy::from)
        .unwrap_or_default();
    let next = Policy {
        hot_secs: change.hot_secs.unwrap_or(current.hot_secs),
        keep_secs: change.keep_secs.unwrap_or(current.keep_secs),
        legal_hold: change.legal_hold.unwrap_or(current.legal_hold),
    };
    current.check_change(&next)?;
    db::archive::set_retention(&mut tx, tenant, &next.into()).await?;
    db::audit::record(
        &mut tx,
        db::audit::AuditEntry {
            tenant: Some(tenant),
            actor,
            action: "retention.changed",
            subject: Some(&tenant.to_string()),
            details: serde_json::json!({
                "hot": format_duration(next.hot_secs),
                "keep": format_duration(next.keep_secs),
                "legalHold": next.legal_hold,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit_and_refuse_nonsense() {
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("10y"), Ok(10 * 365 * 86_400));
        assert_eq!(parse_duration("90m"), Ok(5400));
        for bad in [
            "",
            "d",
            "10",
            "-1d",
            "1.5d",
            "10x",
            "1000y",
            "99999999999999999999y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(30 * 86_400), "30d");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn keep_shorter_than_hot_and_shortening_under_hold_are_refused() {
        let p = Policy::default();
        let short = Policy {
            keep_secs: 86_400,
            hot_secs: 2 * 86_400,
            legal_hold: false,
        };
        assert!(short.check().is_err());
        let held = Policy {
            legal_hold: true,
            ..p
        };
        let shorter = Policy {
            keep_secs: p.keep_secs - 1,
            ..held
        };
        assert!(matches!(
            held.check_change(&shorter),
            Err(RetentionError::LegalHold(_))
        ));
        let longer = Policy {
            keep_secs: p.keep_secs + 1,
            ..held
        };
        assert!(held.check_change(&longer).is_ok());
    }
}
