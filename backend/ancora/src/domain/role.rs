//! Roles a tenant membership or an API key carries.

use std::fmt;
use std::str::FromStr;

/// A role within one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including members and billing.
    Owner,
    /// Everything but ownership transfer.
    Admin,
    /// Reads and verifies everything, downloads reports; changes nothing.
    Auditor,
    /// Submits events (API keys); reads its receipts and proofs.
    Submitter,
    /// Billing and usage only.
    Billing,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Auditor,
        Role::Submitter,
        Role::Billing,
    ];

    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Submitter => "submitter",
            Role::Billing => "billing",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?} (owner, admin, auditor, submitter, billing)")
            })
    }
}
