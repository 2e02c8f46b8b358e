//! Portal errors: each becomes a page that says what happened in words, with the right status.
//! 5xx pages stay generic and the detail goes to the log. "Not found" never says whether the
//! thing exists in another tenant.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::viewer::Chrome;
use crate::services::authorization::Deny;

/// Everything a portal request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// Not signed in: redirect to the sign-in page, then back to `next`.
    #[error("sign in required")]
    SignIn {
        /// Where to return after signing in.
        next: String,
    },
    /// 404, the same for "absent" and "another tenant's".
    #[error("not found")]
    NotFound,
    /// 403: the role does not allow this.
    #[error("forbidden")]
    Forbidden,
    /// 403: the CSRF token is missing or wrong.
    #[error("csrf")]
    Csrf,
    /// 400 with a sentence for the person.
    #[error("{0}")]
    BadRequest(String),
    /// 410: an invitation or reset link that is unknown, expired or used.
    #[error("link not usable")]
    LinkGone,
    /// 413.
    #[error("too large")]
    TooLarge,
    /// 503 with Retry-After: the database is away; try again shortly.
    #[error("unavailable")]
    Unavailable,
    /// 500, logged.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::services::proofs::ProofError> for PortalError {
    fn from(e: crate::services::proofs::ProofError) -> Self {
        match e {
            crate::services::proofs::ProofError::NotFound(_) => PortalError::NotFound,
            crate::services::proofs::ProofError::Internal(e) => PortalError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for PortalError {
    fn from(e: sqlx::Error) -> Self {
        PortalError::Internal(e.into())
    }
}

impl From<tower_sessions::session::Error> for PortalError {
    fn from(e: tower_sessions::session::Error) -> Self {
        use tower_sessions::session::Error as S;
        use tower_sessions::session_store::Error as Store;
        match e {
            // The Postgres store reports its database's failures as text; they are outages.
            S::Store(Store::Backend(m)) => {
                tracing::warn!(error = %m, "session store unavailable; answering 503");
                PortalError::Unavailable
            }
            e => PortalError::Internal(anyhow::anyhow!("session store: {e}")),
        }
    }
}

impl PortalError {
    /// The error for an authorization refusal.
    pub fn from_deny(d: Deny, next: &str) -> Self {
        match d {
            Deny::SignInRequired => PortalError::SignIn {
                next: next.to_owned(),
            },
            Deny::NotFound => PortalError::NotFound,
            Deny::Forbidden => PortalError::Forbidden,
        }
    }
}

/// Result alias for portal handlers.
pub type PortalResult<T> = Result<T, PortalError>;

/// The error page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/error.html")]
pub struct ErrorPage {
    /// Layout.
    pub chrome: Chrome,
    /// HTTP status.
    pub status: u16,
    /// Heading.
    pub heading: &'static str,
    /// What happened and what to do.
    pub message: String,
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            PortalError::SignIn { next } => {
                let to = format!("/login?{}", super::fmt::qs(&[("next", next.as_str())]));
                return Redirect::to(&to).into_response();
            }
            PortalError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or you do not have access to it.".to_owned(),
            ),
            PortalError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your role in this tenant does not allow this page or action. Ask an owner or admin if you need it.".to_owned(),
            ),
            PortalError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form has expired or did not come from this site (its security token is missing or wrong). Go back, reload the page and try again.".to_owned(),
            ),
            PortalError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Cannot do that", m),
            PortalError::LinkGone => (
                StatusCode::GONE,
                "Link not valid",
                "This link has expired or has already been used. Ask for a new invitation, or request a new password reset.".to_owned(),
            ),
            PortalError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                format!("That is larger than the {} KiB this page accepts. A proof bundle is a few kilobytes: check that you chose the right file.", super::MAX_BUNDLE_BYTES / 1024),
            ),
            PortalError::Unavailable => {
                return unavailable_page();
            }
            PortalError::Internal(e) => {
                match crate::db::sqlx_cause(&e) {
                    Some(s) if crate::db::is_unavailable(s) => {
                        tracing::warn!(error = %s, "database unavailable; answering 503");
                        return unavailable_page();
                    }
                    Some(s) if crate::db::is_unstorable_text(s) => {
                        return PortalError::BadRequest(
                            "A field holds a NUL character or text that cannot be stored.".into(),
                        )
                        .into_response();
                    }
                    _ => {}
                }
                tracing::error!(error = ?e, "portal internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "An internal error occurred; it has been logged. Try again in a moment.".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            chrome: Chrome::bare(heading),
            status: status.as_u16(),
            heading,
            message,
        };
        (status, page).into_response()
    }
}

/// The 503 page, with `Retry-After`.
fn unavailable_page() -> Response {
    let heading = "Temporarily unavailable";
    let page = ErrorPage {
        chrome: Chrome::bare(heading),
        status: 503,
        heading,
        message: "The service cannot reach its database at the moment. Nothing was changed; try again in a few seconds.".to_owned(),
    };
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, page).into_response();
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(crate::http::error::UNAVAILABLE_RETRY_AFTER),
    );
    resp
}
