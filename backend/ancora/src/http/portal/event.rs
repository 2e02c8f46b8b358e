//! The event page: status, leaf, and the proof drawn as a path of steps from the event to
//! its trust point, each with this server's verdict; buttons for the bundle and the reports.

use ancora_proof::bundle::{Status, TrustPoint, verify_bundle};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::extract::Path;
use super::fmt::{b64url, digest, seg, ts};
use super::{Chrome, PortalError, PortalResult, Viewer};
use crate::db::events;
use crate::http::AppState;
use crate::services::authorization::Action;
use crate::services::batch_metadata::contents_states;

/// One step of the drawn path.
#[derive(Clone, Debug)]
pub struct Step {
    /// The step's name.
    pub name: String,
    /// `ok`, `failed`, `skipped`.
    pub status: &'static str,
    /// What was checked.
    pub detail: String,
    /// Computed hash.
    pub computed: String,
    /// Expected hash.
    pub expected: String,
}

/// The event page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/event.html")]
pub struct EventPage {
    /// Layout.
    pub chrome: Chrome,
    /// Event id.
    pub id: String,
    /// `pending`, `batched`, `anchored`, `proved`.
    pub status: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Submitter.
    pub submitter: String,
    /// Received.
    pub received: String,
    /// Leaf hash (base64url).
    pub leaf: String,
    /// Batch link, once batched.
    pub batch_href: Option<String>,
    /// Where its batch's contents are: `hot`, `archived`, `expired` or `destroyed`.
    pub contents: &'static str,
    /// Proof path with verdicts, once proved.
    pub steps: Vec<Step>,
    /// Overall verdict, once proved.
    pub verdict: Option<&'static str>,
    /// The trust point, in words.
    pub trust: String,
    /// The command that re-checks the bundle without Ancora.
    pub recheck: Option<String>,
    /// Base of download links (`/t/…/events/…`).
    pub base: String,
    /// May download reports.
    pub can_report: bool,
}

/// GET /t/{tenant}/events/{event}.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, event)): Path<(String, String)>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadCatalog, &tenant)?;
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let e = events::find_status(&mut tx, ctx.tenant, &event)
        .await?
        .ok_or(PortalError::NotFound)?;
    let batch_ids: Vec<_> = e.batch_id.into_iter().collect();
    let contents = contents_states(&mut tx, ctx.tenant, &batch_ids)
        .await?
        .of(e.batch_id)
        .as_str();
    tx.commit().await?;
    let bundle = match e.status.as_str() {
        "proved" => crate::services::proofs::read_bundle(&state, ctx.tenant, &event)
            .await
            .map_err(PortalError::from)?
            .and_then(|v| {
                <ancora_proof::bundle::Bundle as serde::Deserialize>::deserialize(&v).ok()
            }),
        _ => None,
    };
    let recheck = bundle.as_ref().map(|b| {
        ancora_reports::verify_command(b).replace("BUNDLE", &format!("{}.bundle.json", e.id))
    });
    let (steps, verdict, trust) = match &bundle {
        None => (Vec::new(), None, String::new()),
        Some(b) => {
            let report = verify_bundle(b, &super::reports::server_trust(&state, Some(b)).await?);
            let steps = report
                .steps
                .iter()
                .map(|s| Step {
                    name: s.step.clone(),
                    status: match s.status {
                        Status::Ok => "ok",
                        Status::Failed => "failed",
                        Status::Skipped => "skipped",
                        Status::Unchecked => "unchecked",
                    },
                    detail: s.detail.clone(),
                    computed: s.computed.clone().unwrap_or_default(),
                    expected: s.expected.clone().unwrap_or_default(),
                })
                .collect();
            let trust = b
                .trust_points
                .iter()
                .map(|tp| match tp {
                    TrustPoint::Tlog(t) => format!(
                        "Transparency log {} — leaf {} of {}",
                        t.origin, t.leaf_index, t.log_size
                    ),
                    TrustPoint::Chainweb(c) => {
                        let mut text = format!(
                            "Chainweb {} chain {} — block {} at height {}",
                            c.network,
                            c.chain_id,
                            c.block_hash.to_b64url(),
                            c.block_height
                        );
                        if let Some(src) = &c.header_source {
                            text.push_str(&format!(
                                " (block header as fetched from node {} at {})",
                                src.node, src.fetched_at
                            ));
                        }
                        text
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            (
                steps,
                Some(if report.is_verified() {
                    "verified"
                } else {
                    "failed"
                }),
                trust,
            )
        }
    };
    Ok(EventPage {
        chrome: viewer.chrome(&format!("Event {}", e.id), Some(&ctx), "events"),
        base: format!("/t/{}/events/{}", ctx.tenant, seg(&e.id)),
        batch_href: e.batch_id.map(|b| format!("/t/{}/batches/{b}", ctx.tenant)),
        contents,
        id: e.id,
        status: e.status,
        digest: digest(&e.digest_alg, &e.digest),
        submitter: e.submitter,
        received: ts(e.received_at),
        leaf: b64url(&e.leaf_hash),
        steps,
        verdict,
        trust,
        recheck,
        can_report: ctx.can(Action::DownloadReport),
    }
    .into_response())
}
