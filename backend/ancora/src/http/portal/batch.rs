//! The batch page: root, size, state, its anchor (backend, chain, transaction or checkpoint,
//! block hash and height with an explorer link on Chainweb) and its events, paged by leaf.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Path, Query};
use super::fmt::{b64url, seg, ts, ts_opt};
use super::{Chrome, PortalError, PortalResult, Viewer};
use crate::db::{batches, portal_pages as q};
use crate::http::AppState;
use crate::services::authorization::Action;
use crate::services::batch_metadata::contents_states;

const PAGE: i64 = 100;

/// One event of the batch.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// Leaf index.
    pub index: i32,
    /// Event id.
    pub id: String,
    /// Link.
    pub href: String,
    /// Digest, hex.
    pub digest: String,
}

/// The anchor as shown.
#[derive(Clone, Debug)]
pub struct AnchorInfo {
    /// `tlog` or `chainweb`.
    pub backend: String,
    /// Chain.
    pub chain: i32,
    /// State.
    pub state: String,
    /// Root.
    pub root: String,
    /// Transaction request key or checkpoint description.
    pub reference: String,
    /// Block hash.
    pub block_hash: String,
    /// Block height.
    pub block_height: String,
    /// Explorer link (Chainweb).
    pub explorer: Option<String>,
    /// Why the anchor failed, when it did.
    pub error: Option<String>,
}

/// The batch page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/batch.html")]
pub struct BatchPage {
    /// Layout.
    pub chrome: Chrome,
    /// Id.
    pub id: String,
    /// State.
    pub state: String,
    /// Size.
    pub size: i32,
    /// Root (base64url).
    pub root: String,
    /// Chain.
    pub chain: i32,
    /// Closed at.
    pub created: String,
    /// Anchored at.
    pub anchored: String,
    /// Where its contents are: `hot`, `archived`, `expired` or `destroyed`.
    pub contents: &'static str,
    /// The anchor.
    pub anchor: Option<AnchorInfo>,
    /// Events.
    pub leaves: Vec<Leaf>,
    /// Next page of events.
    pub next: Option<String>,
    /// Report links base.
    pub base: String,
    /// May download reports.
    pub can_report: bool,
}

/// `?after=`.
#[derive(Deserialize)]
pub struct After {
    #[serde(default)]
    after: Option<i32>,
}

/// The block explorer for a Chainweb network.
pub fn explorer(
    network: &str,
    chain: i32,
    height: Option<i64>,
    tx: Option<&str>,
) -> Option<String> {
    let net = match network {
        "mainnet01" => "mainnet",
        "testnet04" | "testnet05" => "testnet",
        _ => return None,
    };
    match (tx, height) {
        (Some(rk), _) => Some(format!(
            "https://explorer.chainweb.com/{net}/tx/{}",
            seg(rk)
        )),
        (None, Some(h)) => Some(format!(
            "https://explorer.chainweb.com/{net}/chain/{chain}/height/{h}"
        )),
        _ => None,
    }
}

/// GET /t/{tenant}/batches/{batch}.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, batch)): Path<(String, String)>,
    Query(a): Query<After>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadCatalog, &tenant)?;
    let id: Uuid = batch.parse().map_err(|_| PortalError::NotFound)?;
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let b = batches::get(&mut tx, ctx.tenant, id)
        .await?
        .ok_or(PortalError::NotFound)?;
    let anchor = q::batch_anchor(&mut tx, ctx.tenant, id).await?;
    let contents = contents_states(&mut tx, ctx.tenant, &[id])
        .await?
        .of(Some(id))
        .as_str();
    let after = a.after.unwrap_or(-1);
    let rows = q::batch_events(&mut tx, ctx.tenant, id, after, PAGE + 1).await?;
    tx.commit().await?;
    let next = (rows.len() as i64 > PAGE)
        .then(|| {
            rows.get(PAGE as usize - 1)
                .map(|r| format!("/t/{}/batches/{id}?after={}", ctx.tenant, r.0))
        })
        .flatten();
    let leaves = rows
        .into_iter()
        .take(PAGE as usize)
        .map(|(index, eid, d)| Leaf {
            index,
            href: format!("/t/{}/events/{}", ctx.tenant, seg(&eid)),
            id: eid,
            digest: hex::encode(d),
        })
        .collect();
    let anchor = anchor.map(|a| {
        let network = a.network.clone().unwrap_or_else(|| "mainnet01".into());
        AnchorInfo {
            explorer: (a.backend == "chainweb")
                .then(|| {
                    explorer(
                        &network,
                        a.target_chain,
                        a.block_height,
                        a.tx_ref.as_deref(),
                    )
                })
                .flatten(),
            reference: match a.backend.as_str() {
                "tlog" => format!(
                    "log index {} in checkpoint of size {}",
                    a.log_index
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "—".into()),
                    a.checkpoint_size
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "—".into())
                ),
                _ => a.tx_ref.clone().unwrap_or_else(|| "—".into()),
            },
            error: a.error,
            backend: a.backend,
            chain: a.target_chain,
            state: a.state,
            root: b64url(&a.root),
            block_hash: a.block_hash.unwrap_or_else(|| "—".into()),
            block_height: a
                .block_height
                .map(|h| h.to_string())
                .unwrap_or_else(|| "—".into()),
        }
    });
    Ok(BatchPage {
        chrome: viewer.chrome(&format!("Batch {id}"), Some(&ctx), "events"),
        base: format!("/t/{}/batches/{id}", ctx.tenant),
        id: id.to_string(),
        state: b.state,
        size: b.size,
        root: b64url(&b.root),
        chain: b.target_chain,
        created: ts(b.created_at),
        anchored: ts_opt(b.anchored_at),
        contents,
        anchor,
        leaves,
        next,
        can_report: ctx.can(Action::DownloadReport),
    }
    .into_response())
}
