//! The `chainweb` anchor backend: writes an anchor root in a Pact transaction on a Chainweb
//! chain and, once the transaction is deep enough, keeps the node's SPV proof and the block
//! header it leads to as the anchor's trust point.
//!
//! [`ChainwebAnchor::record`] makes no network call: inside the anchorer's transaction it
//! notes the chain and write path in `anchors.details` and enqueues the confirming job
//! ([`super::confirm`]), which does the network work one committed step at
//! a time. This module also builds the Pact command (pure, given the time and attempt) and
//! the trust point from what the job stored.
//!
//! Two write paths ([`WritePath`]):
//! * `direct`: an `exec` whose code is the root as a Pact string literal, so the result data
//!   is the root and no contract is needed;
//! * `contract`: `(<module>.record-anchor "<anchor id>" "<root>")`, which the chain accepts
//!   once per anchor id, so a resubmitted anchor can never be written twice.
//!
//! The root is written as base64url, the form the bundle's `anchor_root_location`
//! (`result.data`) holds.

use std::sync::Arc;

use ancora_chainweb::{Cap, ChainId, PactCommand, SecretKey, SignedCommand, Signer};
use ancora_proof::Hash;
use ancora_proof::bundle::{ANCHOR_ROOT_LOCATION, ChainwebTrustPoint, HeaderSource, TrustPoint};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{AnchorBackend, AnchorRequest, Outcome};
use crate::db;
use crate::db::anchors::Anchor;
use crate::services::settings::{ChainwebConfig, WritePath};

/// The `chainweb` backend.
#[derive(Clone, Debug)]
pub struct ChainwebAnchor {
    config: Arc<ChainwebConfig>,
}

/// What the backend and its job keep in `anchors.details` (JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// The Chainweb chain the anchor is written on.
    pub chain: u32,
    /// The network id.
    pub network: String,
    /// `direct` or `contract`.
    pub write_path: String,
    /// Commands built so far (the current one is number `attempt`).
    #[serde(default)]
    pub attempt: u32,
    /// The current signed command, stored before it is sent.
    #[serde(default)]
    pub command: Option<SignedCommand>,
    /// Unix seconds after which the current command can no longer be mined.
    #[serde(default)]
    pub expires_at: u64,
    /// True once a node accepted the current command.
    #[serde(default)]
    pub sent: bool,
    /// Every request key ever submitted for this anchor, oldest first.
    #[serde(default)]
    pub submissions: Vec<String>,
    /// Where the current command was last seen mined (not yet deep enough).
    #[serde(default)]
    pub seen: Option<Seen>,
    /// Polls in a row since the current command was last sent that found it nowhere (not
    /// mined, never seen): after [`super::confirm::RESEND_AFTER_POLLS`] it is sent again.
    #[serde(default)]
    pub unseen_polls: u32,
    /// The latest block time seen on the chain, Unix seconds.
    #[serde(default)]
    pub chain_time: u64,
    /// The CommandResult at the confirmation depth.
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    /// The verified `/pact/spv` proof string.
    #[serde(default)]
    pub spv_proof: Option<String>,
    /// The block header the proof leads to (object encoding).
    #[serde(default)]
    pub header: Option<serde_json::Value>,
    /// The transaction's ttl in seconds when a client asked for one (`ttl` on
    /// `POST /v1/events/batch`; the shortest of the anchor's batches); `None`: the configured
    /// `ANCORA_CHAINWEB_TTL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// Failed writes so far (a Pact failure or a rejected command), each retried with a fresh
    /// command until [`super::confirm::MAX_FAILURES`].
    #[serde(default)]
    pub failures: u32,
    /// Where and when the header was fetched (shown to auditors with the bundle).
    #[serde(default)]
    pub header_source: Option<HeaderSource>,
}

/// A block a transaction was seen in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The block hash, base64url.
    pub block_hash: String,
    /// Its height.
    pub block_height: u64,
}

impl Details {
    /// Parses stored details.
    pub fn from_json(v: &serde_json::Value) -> anyhow::Result<Self> {
        serde_json::from_value(v.clone()).context("anchors.details is not a chainweb record")
    }

    /// As JSON for storage.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl ChainwebAnchor {
    /// From the Chainweb configuration.
    pub fn from_config(config: &ChainwebConfig) -> Self {
        ChainwebAnchor {
            config: Arc::new(config.clone()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ChainwebConfig {
        &self.config
    }

    /// Builds and signs the anchoring command number `attempt` for `anchor` on `chain`,
    /// created at `creation_time` (Unix seconds), with the configured ttl. A new attempt gets
    /// a new nonce, hence a new request key.
    pub fn build_command(
        &self,
        key: &SecretKey,
        anchor: Uuid,
        chain: u32,
        root: &Hash,
        attempt: u32,
        creation_time: u64,
    ) -> anyhow::Result<SignedCommand> {
        let ttl = self.config.ttl;
        self.build_command_with_ttl(key, anchor, chain, root, attempt, creation_time, ttl)
    }

    /// [`Self::build_command`] with the transaction's ttl (seconds it may wait to be mined)
    /// given: the shortest `ttl` a client asked for on `POST /v1/events/batch` among the
    /// anchor's batches, or the configured one.
    #[allow(clippy::too_many_arguments)]
    pub fn build_command_with_ttl(
        &self,
        key: &SecretKey,
        anchor: Uuid,
        chain: u32,
        root: &Hash,
        attempt: u32,
        creation_time: u64,
        ttl: u64,
    ) -> anyhow::Result<SignedCommand> {
        let cfg = &self.config;
        let root = root.to_b64url();
        let gas = Cap::new("coin.GAS", Vec::new());
        let signer = Signer::of(key);
        let (code, signer) = match cfg.write_path {
            WritePath::Direct => (format!("\"{root}\""), signer.with_cap(gas)),
            WritePath::Contract => (
                format!("({}.record-anchor \"{anchor}\" \"{root}\")", cfg.module),
                signer
                    .with_cap(Cap::new(format!("{}.OPERATOR", cfg.module), Vec::new()))
                    .with_cap(gas),
            ),
        };
        let sender = cfg
            .sender
            .clone()
            .unwrap_or_else(|| format!("k:{}", key.public_key_hex()));
        Ok(PactCommand::exec(code)
            .network(cfg.network.clone())
            .chain(ChainId(chain))
            .sender(sender)
            .gas_limit(cfg.gas_limit)
            .gas_price(cfg.gas_price)
            .ttl(ttl)
            .creation_time(creation_time)
            .nonce(format!("ancora:{anchor}:{attempt}"))
            .signer(signer)
            .sign(&[key])?)
    }
}

/// The name of a write path as stored in details.
pub fn write_path_name(w: WritePath) -> &'static str {
    match w {
        WritePath::Direct => "direct",
        WritePath::Contract => "contract",
    }
}

impl AnchorBackend for ChainwebAnchor {
    fn kind(&self) -> &'static str {
        "chainweb"
    }

    async fn record(
        &self,
        conn: &mut PgConnection,
        request: &AnchorRequest,
    ) -> anyhow::Result<Outcome> {
        let ttl = db::anchors::requested_chain_ttl(conn, request.id).await?;
        let details = Details {
            ttl: ttl.and_then(|t| u64::try_from(t).ok()),
            chain: self.config.chain_for(request.target_chain),
            network: self.config.network.clone(),
            write_path: write_path_name(self.config.write_path).to_owned(),
            ..Details::default()
        };
        db::chainweb::start(conn, request.id, &details.to_json()).await?;
        crate::db::jobs::enqueue_chainweb_job(conn, request.id).await?;
        Ok(Outcome::Pending)
    }

    async fn trust_point(
        &self,
        conn: &mut PgConnection,
        anchor: &Anchor,
    ) -> anyhow::Result<TrustPoint> {
        let row = db::chainweb::get(conn, anchor.id)
            .await?
            .with_context(|| format!("anchor {} does not exist", anchor.id))?;
        let d = Details::from_json(&row.details)?;
        let (Some(spv_proof), Some(header), Some(hash), Some(height)) = (
            d.spv_proof,
            d.header,
            row.block_hash.as_deref(),
            row.block_height,
        ) else {
            anyhow::bail!("chainweb anchor {} has no verified proof yet", anchor.id);
        };
        Ok(TrustPoint::Chainweb(ChainwebTrustPoint {
            network: d.network,
            chain_id: d.chain,
            block_height: u64::try_from(height)?,
            block_hash: Hash::from_b64url(hash)?,
            spv_proof,
            header,
            anchor_root_location: ANCHOR_ROOT_LOCATION.to_owned(),
            request_key: row.tx_ref,
            header_source: d.header_source,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(write_path: WritePath) -> ChainwebAnchor {
        let mut cfg = ChainwebConfig::unconfigured();
        cfg.write_path = write_path;
        cfg.module = "free.ancora-anchor".into();
        ChainwebAnchor::from_config(&cfg)
    }

    #[test]
    fn the_direct_path_writes_the_root_as_a_string_literal_and_the_contract_path_calls_record_anchor()
     {
        let key = SecretKey::from_bytes(&[3; 32]);
        let id = Uuid::nil();
        let root = Hash([1; 32]);
        let direct = anchor(WritePath::Direct)
            .build_command(&key, id, 4, &root, 0, 1_000)
            .expect("signs");
        let cmd: serde_json::Value = serde_json::from_str(&direct.cmd).expect("json");
        assert_eq!(
            cmd["payload"]["exec"]["code"],
            format!("\"{}\"", root.to_b64url())
        );
        assert_eq!(cmd["meta"]["chainId"], "4");
        assert_eq!(cmd["meta"]["creationTime"], 1_000);

        let contract = anchor(WritePath::Contract)
            .build_command(&key, id, 4, &root, 1, 1_000)
            .expect("signs");
        let cmd: serde_json::Value = serde_json::from_str(&contract.cmd).expect("json");
        assert_eq!(
            cmd["payload"]["exec"]["code"],
            format!(
                "(free.ancora-anchor.record-anchor \"{id}\" \"{}\")",
                root.to_b64url()
            )
        );
        assert_eq!(
            cmd["signers"][0]["clist"][0]["name"],
            "free.ancora-anchor.OPERATOR"
        );
        assert_ne!(direct.request_key(), contract.request_key());
    }

    #[test]
    fn a_new_attempt_is_a_new_request_key() {
        let key = SecretKey::from_bytes(&[3; 32]);
        let a = anchor(WritePath::Direct);
        let first = a
            .build_command(&key, Uuid::nil(), 0, &Hash([1; 32]), 0, 5)
            .expect("signs");
        let second = a
            .build_command(&key, Uuid::nil(), 0, &Hash([1; 32]), 1, 5)
            .expect("signs");
        assert_ne!(first.request_key(), second.request_key());
    }
}
