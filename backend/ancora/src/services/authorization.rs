//! Authorization: one Role × [`Action`] table ([`Action::roles`]) for the API and the portal.
//! [`authorize_key`] decides for an API key ([`Auth`]), [`authorize`] for a signed-in person
//! ([`Actor`]) in a tenant. Every API handler and every portal handler (through
//! `Viewer::require`) calls one of them; the route × role × tenant tests walk them. Row-level
//! security is the second wall behind it.
//!
//! Roles: owner and admin do
//! everything in their tenant (only an owner grants ownership); an auditor reads and verifies
//! everything and downloads reports, and changes nothing; a submitter works through API keys
//! only, so every portal page refuses it; billing sees the dashboard, usage and the billing page
//! (and changes the plan there) only. A platform
//! operator manages tenants and, without a membership, sees no tenant's data.

use uuid::Uuid;

use crate::domain::{Role, TenantId};

/// One membership of the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The tenant.
    pub tenant: TenantId,
    /// Its display name.
    pub tenant_name: String,
    /// The person's role there.
    pub role: Role,
}

/// A signed-in person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// User id.
    pub user_id: Uuid,
    /// Email (shown, and written as `user:<email>` in the audit log).
    pub email: String,
    /// Platform operator.
    pub is_operator: bool,
    /// Every tenant membership.
    pub memberships: Vec<Membership>,
}

impl Actor {
    /// The membership in `tenant`, if any.
    pub fn membership(&self, tenant: TenantId) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.tenant == tenant)
    }

    /// The name written to the audit log.
    pub fn audit_name(&self) -> String {
        format!("user:{}", self.email)
    }
}

/// An authenticated API key: its tenant, id, role and visible prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// The tenant the key belongs to; every query of the request is scoped to it.
    pub tenant: TenantId,
    /// The key's id.
    pub key_id: Uuid,
    /// The key's role.
    pub role: Role,
    /// The visible prefix (`ak_xxxxxxxx`), used as the submitter of events and in audit rows.
    pub prefix: String,
}

impl Auth {
    /// The actor written to the audit log for actions taken with this key.
    pub fn actor(&self) -> String {
        format!("api_key:{}", self.prefix)
    }
}

/// An API key's role may not take an action: the message names the roles that may.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an API key with role {role} may not do this; it needs one of: {allowed}")]
pub struct Denied {
    /// The key's role.
    pub role: Role,
    /// The roles that may, comma-separated.
    pub allowed: String,
}

/// Everything a caller can ask of Ancora: the API's actions (taken with API keys) and the
/// portal's (taken by people). Adding a route means adding (or reusing) one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// API: submit events.
    SubmitEvents,
    /// API: read events, receipts and proofs.
    ReadEvents,
    /// API: verify a proof bundle with this server's trust.
    VerifyProof,
    /// API: list submitter keys and the signature policy.
    ReadSubmitterKeys,
    /// API: register or revoke submitter keys, change the signature policy.
    ManageSubmitterKeys,
    /// Dashboard: counts, events per day, last anchor.
    ViewDashboard,
    /// Catalog, event and batch pages, CSV export, bundles.
    ReadCatalog,
    /// Verification reports (PDF, JSON), single or range.
    DownloadReport,
    /// Verify a pasted or uploaded bundle.
    VerifyBundle,
    /// The tenant's audit log.
    ReadAuditLog,
    /// Members and pending invitations.
    ReadMembers,
    /// Invite a member (any role but owner).
    InviteMember,
    /// Invite an owner.
    GrantOwner,
    /// List API keys.
    ReadApiKeys,
    /// Create, name and revoke API keys.
    ManageApiKeys,
    /// Tenant settings.
    ReadSettings,
    /// Change tenant settings (policies).
    ChangeSettings,
    /// Platform: list and create tenants (operator only; no tenant).
    ManageTenants,
    /// API and portal: the plan, the month's usage and quotas, the invoice estimate.
    ViewUsage,
    /// Portal: subscribe or change plan through Stripe Checkout.
    ManageBilling,
    /// API: read an event's content (decrypted; fetched from the archive when cold).
    ReadContent,
    /// API and portal: read and change the retention policy and the legal hold.
    ManageRetention,
    /// Portal: destroy the tenant's data key (crypto-shredding), owner only.
    ShredContents,
    /// API and portal: list webhook endpoints and their recent deliveries.
    ReadWebhooks,
    /// API and portal: register and delete webhook endpoints.
    ManageWebhooks,
}

impl Action {
    /// The API's actions.
    pub const API: [Action; 11] = [
        Action::SubmitEvents,
        Action::ReadEvents,
        Action::VerifyProof,
        Action::ReadSubmitterKeys,
        Action::ManageSubmitterKeys,
        Action::ViewUsage,
        Action::DownloadReport,
        Action::ReadWebhooks,
        Action::ManageWebhooks,
        Action::ReadContent,
        Action::ManageRetention,
    ];

    /// Every portal action, for tests that walk the matrix.
    pub const ALL: [Action; 20] = [
        Action::ViewDashboard,
        Action::ReadCatalog,
        Action::DownloadReport,
        Action::VerifyBundle,
        Action::ReadAuditLog,
        Action::ReadMembers,
        Action::InviteMember,
        Action::GrantOwner,
        Action::ReadApiKeys,
        Action::ManageApiKeys,
        Action::ReadSettings,
        Action::ChangeSettings,
        Action::ManageTenants,
        Action::ViewUsage,
        Action::ManageBilling,
        Action::ReadContent,
        Action::ManageRetention,
        Action::ShredContents,
        Action::ReadWebhooks,
        Action::ManageWebhooks,
    ];

    /// The roles allowed to take this action in a tenant (empty for platform actions).
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::SubmitEvents => &[Owner, Admin, Submitter],
            Action::ReadEvents | Action::VerifyProof => &[Owner, Admin, Auditor, Submitter],
            Action::ReadSubmitterKeys => &[Owner, Admin, Auditor],
            Action::ManageSubmitterKeys => &[Owner, Admin],
            Action::ViewDashboard => &[Owner, Admin, Auditor, Billing],
            Action::ReadCatalog
            | Action::DownloadReport
            | Action::VerifyBundle
            | Action::ReadAuditLog
            | Action::ReadMembers
            | Action::ReadApiKeys
            | Action::ReadSettings
            | Action::ReadWebhooks => &[Owner, Admin, Auditor],
            Action::InviteMember
            | Action::ManageApiKeys
            | Action::ChangeSettings
            | Action::ManageWebhooks => &[Owner, Admin],
            Action::GrantOwner => &[Owner],
            Action::ViewUsage | Action::ManageBilling => &[Owner, Admin, Billing],
            Action::ManageTenants => &[],
            Action::ReadContent => &[Owner, Admin, Auditor],
            Action::ManageRetention => &[Owner, Admin],
            Action::ShredContents => &[Owner],
        }
    }
}

/// Decides whether `auth`'s role may take `action`.
pub fn authorize_key(auth: &Auth, action: Action) -> Result<(), Denied> {
    let allowed = action.roles();
    if allowed.contains(&auth.role) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    Err(Denied {
        role: auth.role,
        allowed: names.join(", "),
    })
}

/// Why an action is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deny {
    /// Nobody is signed in.
    SignInRequired,
    /// The person has no membership in the tenant, or it does not exist: answered as 404
    /// either way, so nobody learns whether another tenant exists.
    NotFound,
    /// A member whose role does not allow the action: 403.
    Forbidden,
}

/// Decides whether `actor` may take `action` in `tenant` (`None` for platform actions).
/// Returns the role that allowed it (`None` for an operator's platform action).
pub fn authorize(
    actor: Option<&Actor>,
    action: Action,
    tenant: Option<TenantId>,
) -> Result<Option<Role>, Deny> {
    let actor = actor.ok_or(Deny::SignInRequired)?;
    if action == Action::ManageTenants {
        return if actor.is_operator {
            Ok(None)
        } else {
            Err(Deny::Forbidden)
        };
    }
    let tenant = tenant.ok_or(Deny::NotFound)?;
    let m = actor.membership(tenant).ok_or(Deny::NotFound)?;
    // Submitters work through API keys only: the portal refuses them whatever the action.
    if m.role != Role::Submitter && action.roles().contains(&m.role) {
        Ok(Some(m.role))
    } else {
        Err(Deny::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(role: Role) -> Auth {
        Auth {
            tenant: TenantId(Uuid::nil()),
            key_id: Uuid::nil(),
            role,
            prefix: "ak_test0000".into(),
        }
    }

    #[test]
    fn billing_keys_may_neither_submit_nor_read_events() {
        assert!(authorize_key(&key(Role::Billing), Action::SubmitEvents).is_err());
        assert!(authorize_key(&key(Role::Billing), Action::ReadEvents).is_err());
    }

    #[test]
    fn auditors_read_but_do_not_submit_or_manage_keys() {
        assert!(authorize_key(&key(Role::Auditor), Action::ReadEvents).is_ok());
        assert!(authorize_key(&key(Role::Auditor), Action::SubmitEvents).is_err());
        let denied = authorize_key(&key(Role::Auditor), Action::ManageSubmitterKeys);
        assert_eq!(
            denied.map_err(|d| d.to_string()),
            Err(
                "an API key with role auditor may not do this; it needs one of: owner, admin"
                    .into()
            )
        );
    }

    #[test]
    fn submitters_submit_and_read_but_do_not_manage_keys() {
        assert!(authorize_key(&key(Role::Submitter), Action::SubmitEvents).is_ok());
        assert!(authorize_key(&key(Role::Submitter), Action::ReadEvents).is_ok());
        assert!(authorize_key(&key(Role::Submitter), Action::ManageSubmitterKeys).is_err());
    }

    fn actor(role: Role, tenant: TenantId) -> Actor {
        Actor {
            user_id: Uuid::nil(),
            email: "a@example.test".into(),
            is_operator: false,
            memberships: vec![Membership {
                tenant,
                tenant_name: "T".into(),
                role,
            }],
        }
    }

    #[test]
    fn nobody_acts_in_a_tenant_they_do_not_belong_to_whatever_their_role() {
        let (mine, other) = (TenantId::new(), TenantId::new());
        for role in Role::ALL {
            for action in Action::ALL {
                let got = authorize(Some(&actor(role, mine)), action, Some(other));
                if action == Action::ManageTenants {
                    assert_eq!(got, Err(Deny::Forbidden));
                } else {
                    assert_eq!(got, Err(Deny::NotFound), "{role} {action:?}");
                }
            }
        }
    }

    #[test]
    fn submitters_get_nothing_in_the_portal_and_auditors_change_nothing() {
        let t = TenantId::new();
        for action in Action::ALL {
            assert!(authorize(Some(&actor(Role::Submitter, t)), action, Some(t)).is_err());
        }
        for action in [
            Action::InviteMember,
            Action::GrantOwner,
            Action::ManageApiKeys,
            Action::ChangeSettings,
        ] {
            assert_eq!(
                authorize(Some(&actor(Role::Auditor, t)), action, Some(t)),
                Err(Deny::Forbidden)
            );
        }
        assert!(
            authorize(
                Some(&actor(Role::Auditor, t)),
                Action::DownloadReport,
                Some(t)
            )
            .is_ok()
        );
    }

    #[test]
    fn signed_out_visitors_are_sent_to_sign_in_and_only_operators_manage_tenants() {
        assert_eq!(
            authorize(None, Action::ViewDashboard, Some(TenantId::new())),
            Err(Deny::SignInRequired)
        );
        let mut op = actor(Role::Owner, TenantId::new());
        assert_eq!(
            authorize(Some(&op), Action::ManageTenants, None),
            Err(Deny::Forbidden)
        );
        op.is_operator = true;
        assert_eq!(authorize(Some(&op), Action::ManageTenants, None), Ok(None));
    }
}
