//! The tenant switcher (`/`): the person's tenants, or straight to the only one.

use askama::Template;
use askama_web::WebTemplate;
use axum::response::{IntoResponse, Redirect, Response};

use super::{Chrome, PortalResult, Viewer};

/// The switcher.
#[derive(Template, WebTemplate)]
#[template(path = "portal/tenants.html")]
pub struct TenantsPage {
    /// Layout (its `switcher` lists the tenants).
    pub chrome: Chrome,
}

/// GET /.
pub async fn page(viewer: Viewer) -> PortalResult<Response> {
    let actor = viewer.signed_in()?;
    if let [only] = actor.memberships.as_slice()
        && !actor.is_operator
    {
        return Ok(Redirect::to(&format!("/t/{}", only.tenant)).into_response());
    }
    Ok(TenantsPage {
        chrome: viewer.chrome("Your tenants", None, ""),
    }
    .into_response())
}
