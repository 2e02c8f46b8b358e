//! Anchor backends: what binds an anchor root to a trust point.
//!
//! The anchorer builds one anchor tree per tick and target, writes the anchor row and binds
//! the batch roots to it, then hands the root to the configured backend **in the same
//! transaction**. A backend answers in one of two ways:
//!
//! * [`Outcome::Final`]: the trust point exists once this transaction commits (the `tlog`
//!   backend appends to Ancora's own log and signs a checkpoint, all in Postgres);
//! * [`Outcome::Pending`]: network work remains (the `chainweb` backend). The
//!   backend enqueues its own follow-up job in the transaction; that job commits each step's
//!   outcome (say, the request key) before the next network call, and calls
//!   [`tick::finalize`] when the anchor is final.
//!
//! For the prover a backend also builds the [`TrustPoint`] of a final anchor.

pub mod chainweb;
pub mod confirm;
pub mod tick;
pub mod tlog;

use std::future::Future;

use ancora_proof::Hash;
use ancora_proof::bundle::TrustPoint;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::anchors::Anchor;
use crate::services::settings::AnchorBackendKind;
use crate::services::settings::Settings;

/// An anchor root handed to a backend.
#[derive(Clone, Debug)]
pub struct AnchorRequest {
    /// The anchor row's id (already inserted, state `pending`).
    pub id: Uuid,
    /// The target chain (routing is recorded whatever the backend).
    pub target_chain: i32,
    /// The anchor tree root.
    pub root: Hash,
    /// Number of batch roots in the tree.
    pub size: usize,
}

/// What a backend did with an anchor root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The trust point exists when the transaction commits.
    Final,
    /// A follow-up job of the backend will finish it.
    Pending,
}

/// One anchoring backend, shaped by what the anchorer and the prover need.
pub trait AnchorBackend: Send + Sync {
    /// The name stored in `anchors.backend` (`tlog`, `chainweb`).
    fn kind(&self) -> &'static str;

    /// Takes over a new anchor inside the anchorer's transaction. Must not make network
    /// calls here: enqueue a job for them instead.
    fn record(
        &self,
        conn: &mut PgConnection,
        request: &AnchorRequest,
    ) -> impl Future<Output = anyhow::Result<Outcome>> + Send;

    /// The trust point of a final anchor, for the prover's bundles.
    fn trust_point(
        &self,
        conn: &mut PgConnection,
        anchor: &Anchor,
    ) -> impl Future<Output = anyhow::Result<TrustPoint>> + Send;
}

/// The backends this build knows, dispatched statically.
#[derive(Clone, Debug)]
pub enum Backend {
    /// Ancora's own signed log.
    Tlog(tlog::TlogAnchor),
    /// A Pact transaction on Chainweb, proven by SPV.
    Chainweb(chainweb::ChainwebAnchor),
}

impl Backend {
    /// The backend new anchors go to: `tlog` unless `ANCORA_ANCHOR_BACKEND=chainweb`.
    pub fn configured(settings: &Settings) -> Self {
        match settings.anchor_backend {
            AnchorBackendKind::Tlog => Backend::Tlog(tlog::TlogAnchor::from_config(&settings.log)),
            AnchorBackendKind::Chainweb => {
                Backend::Chainweb(chainweb::ChainwebAnchor::from_config(&settings.chainweb))
            }
        }
    }

    /// The backend that made an anchor stored with `kind`.
    pub fn for_kind(settings: &Settings, kind: &str) -> anyhow::Result<Self> {
        match kind {
            "tlog" => Ok(Backend::Tlog(tlog::TlogAnchor::from_config(&settings.log))),
            "chainweb" => Ok(Backend::Chainweb(chainweb::ChainwebAnchor::from_config(
                &settings.chainweb,
            ))),
            other => anyhow::bail!("no anchor backend {other:?} in this build"),
        }
    }
}

impl AnchorBackend for Backend {
    fn kind(&self) -> &'static str {
        match self {
            Backend::Tlog(b) => b.kind(),
            Backend::Chainweb(b) => b.kind(),
        }
    }

    async fn record(
        &self,
        conn: &mut PgConnection,
        request: &AnchorRequest,
    ) -> anyhow::Result<Outcome> {
        match self {
            Backend::Tlog(b) => b.record(conn, request).await,
            Backend::Chainweb(b) => b.record(conn, request).await,
        }
    }

    async fn trust_point(
        &self,
        conn: &mut PgConnection,
        anchor: &Anchor,
    ) -> anyhow::Result<TrustPoint> {
        match self {
            Backend::Tlog(b) => b.trust_point(conn, anchor).await,
            Backend::Chainweb(b) => b.trust_point(conn, anchor).await,
        }
    }
}

/// Where a batch's root went on Chainweb: the chain actually written and the current request
/// key (`txHash`), once its Chainweb anchor exists; `None` before that, or under `tlog`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainWrite {
    /// The chain the transaction is on.
    pub chain: u32,
    /// The request key of the current (or confirmed) transaction, once built.
    pub tx_hash: Option<String>,
}

/// [`ChainWrite`] of `batch` (in the caller's transaction).
pub async fn chain_write(
    conn: &mut PgConnection,
    batch: Uuid,
) -> anyhow::Result<Option<ChainWrite>> {
    let Some((anchor, _)) = crate::db::anchors::batch_position(conn, batch).await? else {
        return Ok(None);
    };
    let Some(row) = crate::db::chainweb::get(conn, anchor).await? else {
        return Ok(None);
    };
    let details = chainweb::Details::from_json(&row.details)?;
    Ok(Some(ChainWrite {
        chain: details.chain,
        tx_hash: row.tx_ref,
    }))
}
