//! The portal's one authorization decision: [`authorize`] says whether an actor may take an
//! action in a tenant. Every portal handler calls it (through `Viewer::require`); the route ×
//! role × tenant test walks it. Row-level security is the second wall behind it.
//!
//! Role semantics match the API's table (`http::auth::authorize`): owner and admin do
//! everything in their tenant (only an owner grants ownership); an auditor reads and verifies
//! everything and downloads reports, and changes nothing; a submitter works through API keys
//! only, so every portal page refuses it; billing sees the dashboard (usage) only. A platform
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

/// Everything a person can ask of the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
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
}

impl Action {
    /// Every action, for tests that walk the matrix.
    pub const ALL: [Action; 13] = [
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
    ];

    /// The roles allowed to take this action in a tenant (empty for platform actions).
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::ViewDashboard => &[Owner, Admin, Auditor, Billing],
            Action::ReadCatalog
            | Action::DownloadReport
            | Action::VerifyBundle
            | Action::ReadAuditLog
            | Action::ReadMembers
            | Action::ReadApiKeys
            | Action::ReadSettings => &[Owner, Admin, Auditor],
            Action::InviteMember | Action::ManageApiKeys | Action::ChangeSettings => {
                &[Owner, Admin]
            }
            Action::GrantOwner => &[Owner],
            Action::ManageTenants => &[],
        }
    }
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
    if action.roles().contains(&m.role) {
        Ok(Some(m.role))
    } else {
        Err(Deny::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
