//! SPV-as-a-Service: Chainweb SPV proofs fetched from the configured nodes, verified with
//! `ancora-proof`, kept per tenant (Postgres, `spv_proofs`) and held in a bounded in-process
//! cache, and any `/pact/spv` proof checked against a header.
//!
//! [`fetch`] answers a proof from the cache, else from the store, else from a node: the proof
//! is fetched (`/pact/spv`), the header it leads to is fetched by hash, the header must hash to
//! its hash and the proof must lead to it, and the proof must be about the transaction asked
//! for; only then is it stored. Nothing unverified is ever stored. Each `fetch` and [`verify`]
//! counts one `spv_requests` in the tenant's usage, after the month's quota is checked.

use std::sync::{Arc, Mutex};

use ancora_chainweb::{ChainId, Error as NodeError, RequestKey};
use ancora_proof::chainweb::BlockHeader;
use ancora_proof::spv::{SpvVerification, TransactionOutputProof, verify_against_header};
use hashlink::LruCache;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{self, spv::SpvProof};
use crate::domain::TenantId;
use crate::services::Services;
use crate::services::billing::{BillingError, Metric, QuotaExceeded};

/// Chains of Chainweb's 20-chain graph (mainnet01, testnet04 and development alike).
pub const CHAINS: u32 = 20;

/// How many stored proofs the in-process cache holds (each under two keys).
pub const CACHE_ENTRIES: usize = 4096;

/// Why an SPV request was not answered.
#[derive(Debug, thiserror::Error)]
pub enum SpvError {
    /// Bad input, or a node refused the request (its words are in the message).
    #[error("{0}")]
    Invalid(String),
    /// The month's SPV quota is used up.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// No Chainweb node is configured.
    #[error("no Chainweb node is configured on this server (ANCORA_CHAINWEB_NODES)")]
    NoNodes,
    /// The nodes failed or answered something unusable.
    #[error("{0}")]
    BadGateway(String),
    /// Anything else (the database).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SpvError {
    fn from(e: sqlx::Error) -> Self {
        SpvError::Internal(e.into())
    }
}

/// A stored, verified proof as [`fetch`] answers it.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The proof.
    pub proof: Arc<SpvProof>,
    /// True when answered from the cache or the store, without a node.
    pub cached: bool,
}

/// A bounded cache of stored proofs by `(tenant, "id:<id>" | "rk:<chain>:<target>:<key>")`,
/// least recently used first out. Proofs never change once stored, so entries need no
/// invalidation; an insert into a full cache lets go of its least recently used entry, so
/// the cache never grows past its bound.
#[derive(Debug)]
pub struct SpvCache {
    inner: Mutex<LruCache<(Uuid, String), Arc<SpvProof>>>,
}

impl SpvCache {
    /// A cache of at most `cap` entries (at least one).
    pub fn new(cap: usize) -> Self {
        SpvCache {
            inner: Mutex::new(LruCache::new(cap.max(1))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<(Uuid, String), Arc<SpvProof>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached proof, made the most recent.
    pub fn get(&self, tenant: TenantId, key: String) -> Option<Arc<SpvProof>> {
        self.lock().get(&(tenant.0, key)).cloned()
    }

    /// Caches a stored proof under both its keys; returns it shared.
    pub fn remember(&self, tenant: TenantId, p: SpvProof) -> Arc<SpvProof> {
        let p = Arc::new(p);
        let (id, rk) = (
            id_key(p.id),
            request_key(p.chain_id, p.target_chain_id, &p.request_key),
        );
        let mut c = self.lock();
        c.insert((tenant.0, id), p.clone());
        c.insert((tenant.0, rk), p.clone());
        drop(c);
        p
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SpvCache {
    fn default() -> Self {
        SpvCache::new(CACHE_ENTRIES)
    }
}

fn id_key(id: Uuid) -> String {
    format!("id:{id}")
}

fn request_key(chain: i32, target: i32, key: &str) -> String {
    format!("rk:{chain}:{target}:{key}")
}

/// The proof that the transaction `key` on `chain` is in a block of `target`: cached,
/// stored, or fetched from a node, verified and stored. Counts one SPV request.
pub async fn fetch(
    svc: &Services,
    tenant: TenantId,
    chain: u32,
    target: u32,
    key: RequestKey,
) -> Result<Fetched, SpvError> {
    check_quota(svc, tenant).await?;
    for c in [chain, target] {
        check_chain(c)?;
    }
    let rk = request_key(chain as i32, target as i32, &key.to_string());
    if let Some(proof) = svc.spv_cache.get(tenant, rk) {
        count_usage(svc, tenant).await?;
        return Ok(Fetched {
            proof,
            cached: true,
        });
    }
    let stored = {
        let mut tx = svc.db.tenant_tx(tenant).await?;
        let found = db::spv::find(
            &mut tx,
            tenant,
            chain as i32,
            &key.to_string(),
            target as i32,
        )
        .await?;
        tx.commit().await?;
        found
    };
    if let Some(p) = stored {
        let proof = svc.spv_cache.remember(tenant, p);
        count_usage(svc, tenant).await?;
        return Ok(Fetched {
            proof,
            cached: true,
        });
    }

    let cw = &svc.settings.chainweb;
    if !cw.has_nodes() {
        return Err(SpvError::NoNodes);
    }
    let client = cw.client()?;
    let spv = client
        .spv(ChainId(chain), key, ChainId(target))
        .await
        .map_err(|e| node_error("fetching the SPV proof", &e))?;
    let root = spv.proof.run();
    let header = match client.header(ChainId(target), &root).await {
        Ok(h) => h,
        Err(NodeError::Rejected { status, .. }) => {
            return Err(SpvError::BadGateway(format!(
                "the node's SPV proof leads to block {root}, which the node does not know (HTTP {status})"
            )));
        }
        Err(e) => {
            return Err(node_error(
                "fetching the block header the proof leads to",
                &e,
            ));
        }
    };
    let verified = verify_against_header(&spv.proof, target, &header)
        .map_err(|e| SpvError::BadGateway(format!("the node's SPV proof does not verify: {e}")))?;
    if verified.output.req_key() != Some(key.to_string().as_str()) {
        return Err(SpvError::BadGateway(
            "the node's SPV proof is about another transaction".into(),
        ));
    }
    let new = SpvProof {
        id: Uuid::now_v7(),
        chain_id: chain as i32,
        target_chain_id: target as i32,
        request_key: key.to_string(),
        proof: spv.text,
        header: header.to_json_value(),
        block_hash: verified.header_hash.to_b64url(),
        block_height: i64::try_from(verified.header_height)
            .map_err(|e| SpvError::Internal(e.into()))?,
        subject: verified.output.json().clone(),
        verified_at: OffsetDateTime::now_utc(),
    };
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let stored = db::spv::insert_verified(&mut tx, tenant, &new).await?;
    let day = OffsetDateTime::now_utc().date();
    db::usage::add(&mut tx, tenant, day, db::usage::SPV_REQUESTS, 1).await?;
    tx.commit().await?;
    svc.billing.record(tenant, Metric::SpvRequests, 1);
    Ok(Fetched {
        proof: svc.spv_cache.remember(tenant, stored),
        cached: false,
    })
}

/// A stored proof of `tenant`: the cache, else one indexed lookup.
pub async fn read(
    svc: &Services,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Arc<SpvProof>>, SpvError> {
    if let Some(hit) = svc.spv_cache.get(tenant, id_key(id)) {
        return Ok(Some(hit));
    }
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let found = db::spv::get(&mut tx, tenant, id).await?;
    tx.commit().await?;
    Ok(found.map(|p| svc.spv_cache.remember(tenant, p)))
}

/// Where the header a proof was checked against came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderSource {
    /// The request.
    Request,
    /// A node, by the hash the proof leads to.
    Node,
}

impl HeaderSource {
    /// `request` or `node`.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderSource::Request => "request",
            HeaderSource::Node => "node",
        }
    }
}

/// A proof checked against a header.
#[derive(Debug)]
pub struct Checked {
    /// The proof.
    pub proof: TransactionOutputProof,
    /// The header.
    pub header: BlockHeader,
    /// Where the header came from.
    pub source: HeaderSource,
    /// What the check found.
    pub outcome: Result<SpvVerification, ancora_proof::Error>,
}

/// What [`verify`] found.
#[derive(Debug)]
pub enum Verdict {
    /// The proof was checked against a header.
    Checked(Box<Checked>),
    /// The proof leads to a block no node knows.
    UnknownBlock {
        /// The proof's chain.
        chain: u32,
        /// The block hash it leads to.
        root: ancora_proof::Hash,
    },
}

/// Checks any `/pact/spv` proof (`proof`) against `header` (Chainweb's JSON), or, without
/// one, against the header of the block it leads to fetched from a node; `chain` is the chain
/// the proof must target (default: the one it names). Counts one SPV request.
pub async fn verify(
    svc: &Services,
    tenant: TenantId,
    proof: &str,
    header: Option<&serde_json::Value>,
    chain: Option<u32>,
) -> Result<Verdict, SpvError> {
    check_quota(svc, tenant).await?;
    let proof = TransactionOutputProof::decode_response(proof)
        .map_err(|e| SpvError::Invalid(format!("proof: not a /pact/spv proof: {e}")))?;
    if proof.chain >= CHAINS {
        return Err(SpvError::Invalid(format!(
            "proof: it targets unknown chain id {}; Chainweb has chains 0 to {}",
            proof.chain,
            CHAINS - 1
        )));
    }
    let expected = match chain {
        Some(c) => {
            check_chain(c)?;
            c
        }
        None => proof.chain,
    };
    let (header, source) = match header {
        Some(h) => {
            let header = BlockHeader::from_json_value(h)
                .map_err(|e| SpvError::Invalid(format!("header: {e}")))?;
            header
                .verified_hash()
                .map_err(|e| SpvError::Invalid(format!("header: {e}")))?;
            (header, HeaderSource::Request)
        }
        None => {
            let cw = &svc.settings.chainweb;
            if !cw.has_nodes() {
                return Err(SpvError::NoNodes);
            }
            let client = cw.client()?;
            let root = proof.run();
            match client.header(ChainId(proof.chain), &root).await {
                Ok(h) => (h, HeaderSource::Node),
                Err(NodeError::Rejected { status: 404, .. }) => {
                    count_usage(svc, tenant).await?;
                    return Ok(Verdict::UnknownBlock {
                        chain: proof.chain,
                        root,
                    });
                }
                Err(e) => {
                    return Err(node_error(
                        "fetching the block header the proof leads to",
                        &e,
                    ));
                }
            }
        }
    };
    let outcome = verify_against_header(&proof, expected, &header);
    count_usage(svc, tenant).await?;
    Ok(Verdict::Checked(Box::new(Checked {
        proof,
        header,
        source,
        outcome,
    })))
}

/// A chain id of Chainweb's graph, or why not.
pub fn check_chain(c: u32) -> Result<(), SpvError> {
    if c < CHAINS {
        return Ok(());
    }
    Err(SpvError::Invalid(format!(
        "unknown chain id {c}; Chainweb has chains 0 to {}",
        CHAINS - 1
    )))
}

async fn count_usage(svc: &Services, tenant: TenantId) -> Result<(), SpvError> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let day = OffsetDateTime::now_utc().date();
    db::usage::add(&mut tx, tenant, day, db::usage::SPV_REQUESTS, 1).await?;
    tx.commit().await?;
    svc.billing.record(tenant, Metric::SpvRequests, 1);
    Ok(())
}

/// Refused when one more SPV request would cross the tenant's monthly quota.
async fn check_quota(svc: &Services, tenant: TenantId) -> Result<(), SpvError> {
    match svc.billing.check(tenant, Metric::SpvRequests, 1).await {
        Ok(()) => Ok(()),
        Err(BillingError::Quota(q)) => Err(q.into()),
        Err(e) => Err(SpvError::Internal(e.into_internal())),
    }
}

/// A node error in words fit for a tenant: what went wrong, never the node's URL.
fn node_error(context: &str, e: &NodeError) -> SpvError {
    tracing::warn!(error = %e, "{context}");
    let why = match e.last() {
        NodeError::Rejected { status, body, .. } => {
            return SpvError::Invalid(format!(
                "{context}: the Chainweb node refused (HTTP {status}): {body}"
            ));
        }
        NodeError::Malformed { what, message, .. } => {
            format!("a node sent a malformed {what}: {message}")
        }
        NodeError::ServerError { status, .. } => format!("a node failed with HTTP {status}"),
        NodeError::Timeout { timeout_ms, .. } => {
            format!("a node did not answer within {timeout_ms} ms")
        }
        NodeError::Transport { .. } => "a node was unreachable".to_owned(),
        NodeError::Proof(p) => format!("a node sent proof material that does not check out: {p}"),
        other => other.to_string(),
    };
    SpvError::BadGateway(format!(
        "{context}: no Chainweb node gave a usable answer; {why}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(i: u32) -> SpvProof {
        SpvProof {
            id: Uuid::from_u128(u128::from(i) + 1),
            chain_id: 0,
            target_chain_id: 0,
            request_key: format!("rk{i}"),
            proof: String::new(),
            header: serde_json::Value::Null,
            block_hash: String::new(),
            block_height: 0,
            subject: serde_json::Value::Null,
            verified_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_cache_holds_at_most_its_bound_and_lets_the_least_recently_used_go() {
        let tenant = TenantId(Uuid::nil());
        let other = TenantId(Uuid::max());
        // Each proof takes two entries: 3 proofs fit in 6.
        let cache = SpvCache::new(6);
        for i in 0..3 {
            cache.remember(tenant, proof(i));
        }
        assert_eq!(cache.len(), 6);
        // Reading proof 0 (by id) makes it recent; proof 1's entries are now the oldest.
        assert!(cache.get(tenant, id_key(proof(0).id)).is_some());
        assert!(cache.get(tenant, request_key(0, 0, "rk0")).is_some());
        cache.remember(tenant, proof(3));
        assert_eq!(cache.len(), 6, "over its bound it evicts, never grows");
        assert!(cache.get(tenant, id_key(proof(1).id)).is_none());
        assert!(cache.get(tenant, request_key(0, 0, "rk1")).is_none());
        for i in [0, 2, 3] {
            let hit = cache.get(tenant, id_key(proof(i).id)).expect("kept");
            assert_eq!(hit.request_key, format!("rk{i}"));
        }
        // Keys are per tenant.
        assert!(cache.get(other, id_key(proof(0).id)).is_none());
    }
}
