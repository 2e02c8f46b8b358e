//! Identifiers.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;
use uuid::Uuid;

/// A tenant's id (a UUID).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl TenantId {
    /// A new random (time-ordered) id.
    pub fn new() -> Self {
        TenantId(Uuid::now_v7())
    }

    /// The 16 bytes bound into event leaves.
    pub fn bytes(&self) -> [u8; 16] {
        *self.0.as_bytes()
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TenantId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(TenantId)
    }
}

/// Deterministic routing: the Chainweb chain a tenant anchors on, `SHA-256(tenant id bytes)`
/// read as a big-endian u64, mod `chain_count`, unless the tenant has an explicit assignment.
pub fn chain_for_tenant(tenant: TenantId, explicit: Option<i32>, chain_count: u32) -> i32 {
    if let Some(c) = explicit {
        return c;
    }
    let h = sha2::Sha256::digest(tenant.bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(first) % u64::from(chain_count.max(1))) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_deterministic_and_in_range() {
        let t = TenantId(Uuid::from_u128(42));
        let c = chain_for_tenant(t, None, 20);
        assert_eq!(c, chain_for_tenant(t, None, 20));
        assert!((0..20).contains(&c));
        assert_eq!(chain_for_tenant(t, Some(7), 20), 7);
        let spread: std::collections::BTreeSet<i32> = (0..200u128)
            .map(|i| chain_for_tenant(TenantId(Uuid::from_u128(i)), None, 20))
            .collect();
        assert_eq!(spread.len(), 20, "200 tenants should reach all 20 chains");
    }
}
