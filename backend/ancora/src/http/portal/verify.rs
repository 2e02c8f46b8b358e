//! The verify page: paste or upload a bundle; it is verified here with the server's trust and
//! every step's verdict is shown. (When the JS SDK lands, `portal.js` verifies it in the
//! browser too and fills the second column.) Anything that is not a bundle, or is larger than
//! [`MAX_BUNDLE_BYTES`], gets a clear message.

use ancora_proof::bundle::{Bundle, verify_bundle};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::event::Step;
use super::extract::{Form, Multipart, Path};
use super::{Chrome, Ctx, MAX_BUNDLE_BYTES, PortalError, PortalResult, Viewer};
use crate::http::AppState;
use crate::services::authorization::Action;

/// The verify page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/verify.html")]
pub struct VerifyPage {
    /// Layout.
    pub chrome: Chrome,
    /// Form targets.
    pub action: String,
    /// Upload target (carries the CSRF token in its query: multipart bodies are not parsed
    /// by the CSRF middleware).
    pub upload_action: String,
    /// Why the input was refused.
    pub error: Option<String>,
    /// The event id of a verified bundle.
    pub event_id: Option<String>,
    /// Steps.
    pub steps: Vec<Step>,
    /// `verified` or `failed`.
    pub verdict: Option<&'static str>,
    /// The bundle as given (to re-verify in the browser).
    pub bundle_text: String,
}

fn empty(viewer: &Viewer, ctx: &Ctx) -> VerifyPage {
    VerifyPage {
        chrome: viewer.chrome("Verify a bundle", Some(ctx), "verify"),
        action: format!("/t/{}/verify", ctx.tenant),
        upload_action: format!(
            "/t/{}/verify/upload?{}",
            ctx.tenant,
            super::fmt::qs(&[("csrf", viewer.csrf.as_str())])
        ),
        error: None,
        event_id: None,
        steps: Vec::new(),
        verdict: None,
        bundle_text: String::new(),
    }
}

/// GET /t/{tenant}/verify.
pub async fn page(viewer: Viewer, Path(tenant): Path<String>) -> PortalResult<Response> {
    let ctx = viewer.require(Action::VerifyBundle, &tenant)?;
    Ok(empty(&viewer, &ctx).into_response())
}

/// The paste form.
#[derive(Deserialize)]
pub struct PasteForm {
    #[serde(default)]
    bundle: String,
}

/// POST /t/{tenant}/verify (pasted text).
pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(f): Form<PasteForm>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::VerifyBundle, &tenant)?;
    verified(&state, &viewer, &ctx, f.bundle.as_bytes()).await
}

/// POST /t/{tenant}/verify/upload (multipart, field `file`).
pub async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Multipart(mut form): Multipart,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::VerifyBundle, &tenant)?;
    let mut data = Vec::new();
    let bad =
        |_| PortalError::BadRequest("The upload could not be read; choose the file again.".into());
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if data.len() + chunk.len() > MAX_BUNDLE_BYTES {
                return Err(PortalError::TooLarge);
            }
            data.extend_from_slice(&chunk);
        }
    }
    verified(&state, &viewer, &ctx, &data).await
}

async fn verified(
    state: &AppState,
    viewer: &Viewer,
    ctx: &Ctx,
    input: &[u8],
) -> PortalResult<Response> {
    let mut page = empty(viewer, ctx);
    if input.len() > MAX_BUNDLE_BYTES {
        return Err(PortalError::TooLarge);
    }
    if input.iter().all(u8::is_ascii_whitespace) {
        page.error = Some("Paste a bundle or choose a file first.".into());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let bundle = match Bundle::from_json(input) {
        Ok(b) => b,
        Err(e) => {
            page.error = Some(format!("This is not an Ancora proof bundle: {e}."));
            page.bundle_text = String::from_utf8_lossy(input)
                .chars()
                .take(20_000)
                .collect();
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let report = verify_bundle(
        &bundle,
        &super::reports::server_trust(state, Some(&bundle)).await?,
    );
    page.steps = report
        .steps
        .iter()
        .map(|s| Step {
            name: s.step.clone(),
            status: match s.status {
                ancora_proof::bundle::Status::Ok => "ok",
                ancora_proof::bundle::Status::Failed => "failed",
                ancora_proof::bundle::Status::Skipped => "skipped",
                ancora_proof::bundle::Status::Unchecked => "unchecked",
            },
            detail: s.detail.clone(),
            computed: s.computed.clone().unwrap_or_default(),
            expected: s.expected.clone().unwrap_or_default(),
        })
        .collect();
    page.verdict = Some(if report.is_verified() {
        "verified"
    } else {
        "failed"
    });
    page.event_id = Some(bundle.event.event_id.clone());
    page.bundle_text = bundle.to_json_pretty();
    Ok(page.into_response())
}
