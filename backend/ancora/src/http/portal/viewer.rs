//! Who is looking: the [`Viewer`] extractor loads the signed-in person (if any) and their
//! memberships on every request (so a removed membership takes effect at once), and
//! [`Viewer::require`] is the one door every page goes through to [`authorize`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tower_sessions::Session;

use super::error::PortalError;
use crate::db::portal as q;
use crate::domain::{Role, TenantId};
use crate::http::{AppState, session};
use crate::services::authorization::{Action, Actor, Membership, authorize};

/// The person behind a request, with the session and its CSRF token.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The signed-in person, or `None`.
    pub actor: Option<Actor>,
    /// The session.
    pub session: Session,
    /// The token forms must carry.
    pub csrf: String,
    /// The request path (for "sign in, then come back").
    pub path: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PortalError> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, m)| PortalError::Internal(anyhow::anyhow!("session layer: {m}")))?;
        let csrf = match session::existing_csrf_token(&session).await? {
            Some(t) => t,
            None => parts
                .extensions
                .get::<super::csrf::AnonToken>()
                .map(|t| t.0.clone())
                .unwrap_or_default(),
        };
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let actor = match session::user_id(&session).await? {
            None => None,
            Some(uid) => load_actor(state, uid).await?,
        };
        Ok(Viewer {
            actor,
            session,
            csrf,
            path,
        })
    }
}

async fn load_actor(state: &AppState, uid: uuid::Uuid) -> Result<Option<Actor>, PortalError> {
    let mut tx = state.db.system_tx().await?;
    let Some(user) = q::user_by_id(&mut tx, uid).await? else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    let memberships = q::memberships(&mut tx, uid)
        .await?
        .into_iter()
        .filter_map(|(t, name, role)| {
            Some(Membership {
                tenant: TenantId(t),
                tenant_name: name,
                role: role.parse::<Role>().ok()?,
            })
        })
        .collect();
    tx.commit().await?;
    Ok(Some(Actor {
        user_id: user.id,
        email: user.email,
        is_operator: user.is_operator,
        memberships,
    }))
}

/// A request authorized for one tenant.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The tenant.
    pub tenant: TenantId,
    /// Its name.
    pub tenant_name: String,
    /// The person's role there.
    pub role: Role,
    /// The person.
    pub actor: Actor,
}

impl Ctx {
    /// True when the role may take `action` here (to show or hide links and buttons).
    pub fn can(&self, action: Action) -> bool {
        action.roles().contains(&self.role)
    }
}

impl Viewer {
    /// Authorizes `action` in the tenant named by the path segment `tenant`; an unparsable id
    /// is "not found" like any tenant the person does not belong to.
    pub fn require(&self, action: Action, tenant: &str) -> Result<Ctx, PortalError> {
        let id = tenant.parse::<TenantId>().ok();
        if id.is_none() && self.actor.is_some() {
            return Err(PortalError::NotFound);
        }
        let role = authorize(self.actor.as_ref(), action, id)
            .map_err(|d| PortalError::from_deny(d, &self.path))?;
        let (Some(actor), Some(tenant), Some(role)) = (self.actor.clone(), id, role) else {
            return Err(PortalError::NotFound);
        };
        let tenant_name = actor
            .membership(tenant)
            .map(|m| m.tenant_name.clone())
            .unwrap_or_default();
        Ok(Ctx {
            tenant,
            tenant_name,
            role,
            actor,
        })
    }

    /// Authorizes a platform action (operators).
    pub fn require_platform(&self, action: Action) -> Result<Actor, PortalError> {
        authorize(self.actor.as_ref(), action, None)
            .map_err(|d| PortalError::from_deny(d, &self.path))?;
        self.actor.clone().ok_or(PortalError::NotFound)
    }

    /// The signed-in person, or a redirect to sign in.
    pub fn signed_in(&self) -> Result<&Actor, PortalError> {
        self.actor.as_ref().ok_or_else(|| PortalError::SignIn {
            next: self.path.clone(),
        })
    }

    /// The layout for a page titled `title`, in `ctx`'s tenant when given, with `active` the
    /// current navigation entry.
    pub fn chrome(&self, title: &str, ctx: Option<&Ctx>, active: &str) -> Chrome {
        let nav = ctx.map(|c| nav_links(c, active)).unwrap_or_default();
        Chrome {
            title: title.to_owned(),
            email: self.actor.as_ref().map(|a| a.email.clone()),
            is_operator: self.actor.as_ref().is_some_and(|a| a.is_operator),
            csrf: self.csrf.clone(),
            tenant: ctx.map(|c| TenantNav {
                id: c.tenant.to_string(),
                name: c.tenant_name.clone(),
                role: c.role.to_string(),
            }),
            switcher: self
                .actor
                .as_ref()
                .map(|a| {
                    a.memberships
                        .iter()
                        .map(|m| TenantNav {
                            id: m.tenant.to_string(),
                            name: m.tenant_name.clone(),
                            role: m.role.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            nav,
        }
    }
}

fn nav_links(c: &Ctx, active: &str) -> Vec<NavLink> {
    let base = format!("/t/{}", c.tenant);
    let entries: [(&str, &str, Action, &str); 9] = [
        ("dashboard", "Dashboard", Action::ViewDashboard, ""),
        ("events", "Events", Action::ReadCatalog, "/events"),
        ("verify", "Verify", Action::VerifyBundle, "/verify"),
        ("audit", "Audit log", Action::ReadAuditLog, "/audit"),
        ("members", "Members", Action::ReadMembers, "/members"),
        ("keys", "API keys", Action::ReadApiKeys, "/keys"),
        ("settings", "Settings", Action::ReadSettings, "/settings"),
        ("webhooks", "Webhooks", Action::ReadWebhooks, "/webhooks"),
        ("billing", "Billing", Action::ViewUsage, "/billing"),
    ];
    entries
        .into_iter()
        .filter(|(_, _, a, _)| c.can(*a))
        .map(|(key, label, _, path)| NavLink {
            href: format!("{base}{path}"),
            label,
            active: key == active,
        })
        .collect()
}

/// A tenant in the navigation.
#[derive(Clone, Debug)]
pub struct TenantNav {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The person's role.
    pub role: String,
}

/// A navigation link.
#[derive(Clone, Debug)]
pub struct NavLink {
    /// Target.
    pub href: String,
    /// Text.
    pub label: &'static str,
    /// The current page.
    pub active: bool,
}

/// What the layout (`base.html`) needs on every page.
#[derive(Clone, Debug)]
pub struct Chrome {
    /// The page title.
    pub title: String,
    /// The signed-in person's email.
    pub email: Option<String>,
    /// Platform operator.
    pub is_operator: bool,
    /// The token forms carry (sign-out, every POST).
    pub csrf: String,
    /// The current tenant.
    pub tenant: Option<TenantNav>,
    /// Every tenant of the person (the switcher).
    pub switcher: Vec<TenantNav>,
    /// Navigation within the tenant, filtered by role.
    pub nav: Vec<NavLink>,
}

impl Chrome {
    /// A layout with no person and no tenant (error pages).
    pub fn bare(title: &str) -> Self {
        Chrome {
            title: title.to_owned(),
            email: None,
            is_operator: false,
            csrf: String::new(),
            tenant: None,
            switcher: Vec::new(),
            nav: Vec::new(),
        }
    }
}
