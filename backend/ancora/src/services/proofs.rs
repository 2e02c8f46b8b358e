//! Proofs: once a batch's anchor is final, every event's bundle is built and stored
//! ([`prove_batch`], run by the prove job), so reading a proof ([`read_bundle`]) is one indexed
//! lookup (and, when hot, a hit in [`ProofCache`]).
//!
//! It runs as the batch's tenant: events and proofs are tenant rows; the anchor queue, the
//! anchor and the log are system rows it can read. Everything is rebuilt from stored hashes
//! and checked on the way ([`Bundle::build`] refuses a proof that does not lead to its root),
//! so a storage fault yields a failed job, never a bundle that does not verify.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use ancora_proof::bundle::{
    BUNDLE_VERSION, BUNDLE_VERSION_V1, Bundle, BundleInput, Trust, TrustPoint,
};
use ancora_proof::chainweb::BlockHeader;
use ancora_proof::event::{ContentDigest, EventLeaf};
use ancora_proof::merkle::{MerkleProof, MerkleTree};
use ancora_proof::{Hash, HashAlgorithm};
use anyhow::Context as _;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{self, anchors, batches, proofs};
use crate::domain::TenantId;
use crate::services::Services;
use crate::services::anchoring::chainweb::Details;
use crate::services::anchoring::tlog::TlogAnchor;
use crate::services::anchoring::{AnchorBackend, Backend};

const ALG: HashAlgorithm = HashAlgorithm::Sha512_256;

/// Why a proof could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// No such thing in this tenant.
    #[error("{0}")]
    NotFound(String),
    /// The tenant's monthly quota of proof reads is used up.
    #[error(transparent)]
    Quota(#[from] crate::services::billing::QuotaExceeded),
    /// Storage or a stored proof that does not check out: an internal error.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ProofError {
    fn from(e: sqlx::Error) -> Self {
        ProofError::Internal(e.into())
    }
}

/// Records how long the proved events waited for their proofs (receipt → now).
pub fn observe_proved(svc: &Services, received: &[OffsetDateTime]) {
    let now = OffsetDateTime::now_utc();
    for at in received {
        svc.metrics
            .time_to_proof
            .observe((now - *at).as_seconds_f64().max(0.0));
    }
}

/// Builds and stores every bundle of `batch`; returns the events' receipt times (empty when
/// the batch was proved already).
pub async fn prove_batch(
    conn: &mut PgConnection,
    svc: &Services,
    tenant: TenantId,
    batch_id: Uuid,
) -> anyhow::Result<Vec<OffsetDateTime>> {
    let batch = batches::get(conn, tenant, batch_id)
        .await?
        .with_context(|| format!("batch {batch_id} does not exist"))?;
    let (anchor_id, anchor_index) = anchors::batch_position(conn, batch_id)
        .await?
        .with_context(|| format!("batch {batch_id} is not anchored"))?;
    let anchor = anchors::get(conn, anchor_id)
        .await?
        .with_context(|| format!("anchor {anchor_id} does not exist"))?;
    let trust_points = trust_points(conn, svc, &anchor).await?;
    anyhow::ensure!(
        !trust_points.is_empty(),
        "anchor {anchor_id} has no trust point yet"
    );
    let trust_point_json = serde_json::to_string(&trust_points)?;
    if batch.state == "proved" {
        // Proved on the fast path already: the final path adds its trust point to the batch's
        // shared proof part (every event's bundle gains it); the events' proofs stay.
        if trust_points.len() > 1 {
            batches::set_trust_points(conn, tenant, batch_id, &trust_point_json).await?;
            crate::services::webhooks::batch_final(conn, svc, tenant, batch_id).await?;
        }
        return Ok(Vec::new());
    }
    let anchor_root = Hash::from_slice(&anchor.root)?;
    let roots = anchors::anchor_leaves(conn, anchor_id)
        .await?
        .iter()
        .map(|r| Hash::from_slice(r))
        .collect::<Result<Vec<_>, _>>()?;
    let anchor_tree = MerkleTree::from_leaf_hashes(ALG, roots);
    anyhow::ensure!(
        anchor_tree.root() == anchor_root,
        "anchor {anchor_id}'s stored roots do not give its root"
    );
    let anchor_proof = anchor_tree.proof(usize::try_from(anchor_index)?)?;

    let events = batches::events_in_order(conn, tenant, batch_id).await?;
    // The tree is built over the stored leaf hashes; each event's fields are checked against
    // its leaf hash when its bundle is assembled (every read), the first one also here.
    let hashes = events
        .iter()
        .map(|e| Hash::from_slice(&e.leaf_hash))
        .collect::<Result<Vec<_>, _>>()?;
    let batch_root = Hash::from_slice(&batch.root)?;
    let batch_tree = MerkleTree::from_leaf_hashes(ALG, hashes);
    anyhow::ensure!(
        batch_tree.root() == batch_root && events.len() == usize::try_from(batch.size)?,
        "batch {batch_id}'s events do not give its root"
    );
    // The shared steps are checked once here (and again on every read, by `Bundle::build`);
    // the first event's bundle is built in full as that check.
    let anchor_proof_bytes = anchor_proof.encode();
    if let Some(e) = events.first() {
        let first = event_leaf(
            tenant,
            &e.id,
            &e.digest_alg,
            &e.digest,
            &e.submitter,
            e.received_at_micros,
            &e.leaf_hash,
        )?;
        Bundle::build(BundleInput {
            event: &first,
            batch_id: Some(batch_id.to_string()),
            batch_proof: &batch_tree.proof(0)?,
            batch_root,
            anchor_id: anchor_id.to_string(),
            anchor_proof: &anchor_proof,
            anchor_root,
            version: BUNDLE_VERSION,
            trust_points,
        })?;
    }
    let mut ids = Vec::with_capacity(events.len());
    let mut proofs_bytes = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        ids.push(e.id.clone());
        proofs_bytes.push(batch_tree.proof(i)?.encode());
    }
    proofs::insert_many(conn, tenant, batch_id, &ids, &proofs_bytes).await?;
    batches::mark_proved(
        conn,
        tenant,
        batch_id,
        &batches::SharedProof {
            anchor_id,
            anchor_index,
            anchor_proof: &anchor_proof_bytes,
            anchor_root: &anchor_root.0,
            trust_point: &trust_point_json,
            anchored_at: anchor.finalized_at,
        },
    )
    .await?;
    crate::services::webhooks::batch_proved(
        conn,
        svc,
        tenant,
        batch_id,
        &ids,
        anchor.state == "final",
    )
    .await?;
    Ok(events.iter().map(|e| e.received_at).collect())
}

/// The trust points an anchor has reached, fast path first: Ancora's log (every anchor since
/// the fast path, and every `tlog` anchor) once the root is in it, then the Chainweb block once
/// the anchor is final there.
pub async fn trust_points(
    conn: &mut PgConnection,
    svc: &Services,
    anchor: &anchors::Anchor,
) -> anyhow::Result<Vec<TrustPoint>> {
    let mut points = Vec::with_capacity(2);
    if anchor.log_index.is_some() {
        let log = Backend::for_kind(&svc.settings, "tlog")?;
        points.push(log.trust_point(conn, anchor).await?);
    }
    if anchor.backend == "chainweb" && anchor.state == "final" {
        let chain = Backend::for_kind(&svc.settings, "chainweb")?;
        points.push(chain.trust_point(conn, anchor).await?);
    }
    Ok(points)
}

/// What this service trusts when it verifies a bundle for someone (the portal, the reports,
/// `POST /v1/proof/verify`): its own log's key, and for a bundle anchored on Chainweb the block
/// header it verified that anchor's SPV proof against (with where and when it was fetched).
#[derive(Clone, Debug)]
pub struct ServerTrust {
    /// The trust handed to `verify_bundle`.
    pub trust: Trust,
    /// Each trusted header, described: `"<block hash> (as fetched from node N at T)"`.
    pub header_notes: Vec<String>,
}

/// [`ServerTrust`] for `bundle`.
pub async fn server_trust(svc: &Services, bundle: Option<&Bundle>) -> anyhow::Result<ServerTrust> {
    let mut tx = svc.db.system_tx().await?;
    let key = TlogAnchor::from_config(&svc.settings.log)
        .verifier(&mut tx)
        .await?;
    let mut trust = Trust {
        log_keys: vec![key],
        chainweb_headers: Vec::new(),
    };
    let mut header_notes = Vec::new();
    if let Some(cw) = bundle.and_then(Bundle::chainweb) {
        let stored = db::chainweb::final_in_block(&mut tx, &cw.block_hash.to_b64url()).await?;
        if let Some(details) = stored {
            let d = Details::from_json(&details)?;
            if let Some(header) = d.header.as_ref() {
                let header = BlockHeader::from_json_value(header)?;
                header_notes.push(match &d.header_source {
                    Some(src) => format!(
                        "{} (block header as fetched from node {} at {})",
                        cw.block_hash.to_b64url(),
                        src.node,
                        src.fetched_at
                    ),
                    None => format!(
                        "{} (block header as fetched when the anchor became final)",
                        cw.block_hash.to_b64url()
                    ),
                });
                trust.chainweb_headers.push(header);
            }
        }
    }
    tx.commit().await?;
    Ok(ServerTrust {
        trust,
        header_notes,
    })
}

/// Rebuilds an event's leaf from its stored fields and checks it against the stored hash.
fn event_leaf(
    tenant: TenantId,
    id: &str,
    digest_alg: &str,
    digest: &[u8],
    submitter: &str,
    received_at_micros: i64,
    leaf_hash: &[u8],
) -> anyhow::Result<EventLeaf> {
    let digest: ContentDigest = format!("{digest_alg}:{}", hex::encode(digest)).parse()?;
    let leaf = EventLeaf {
        tenant_id: tenant.bytes(),
        event_id: id.to_owned(),
        digest,
        submitter: submitter.to_owned(),
        received_at_micros,
    };
    let hash = leaf.leaf_hash()?;
    anyhow::ensure!(
        hash.0[..] == leaf_hash[..],
        "event {id}'s stored leaf hash does not match its fields"
    );
    Ok(leaf)
}

/// Assembles an event's bundle from its stored parts, re-checking every step
/// ([`Bundle::build`]): a storage fault gives an error, never a bundle that does not verify.
pub fn assemble(tenant: TenantId, p: proofs::ProofParts) -> anyhow::Result<serde_json::Value> {
    match p.bundle {
        Some(whole) => Ok(whole),
        None => Ok(serde_json::to_value(assemble_bundle(tenant, p)?)?),
    }
}

/// [`assemble`], as the bundle itself.
pub fn assemble_bundle(tenant: TenantId, p: proofs::ProofParts) -> anyhow::Result<Bundle> {
    let proofs::ProofParts {
        event_id,
        digest_alg,
        digest,
        submitter,
        received_at_micros,
        leaf_hash,
        bundle,
        leaf_index,
        batch_proof,
        batch_id,
        batch_root,
        anchor_id,
        anchor_index: _,
        anchor_proof,
        anchor_root,
        trust_point,
    } = p;
    if let Some(whole) = bundle {
        return Ok(serde_json::from_value(whole)?);
    }
    let missing = || anyhow::anyhow!("the stored proof of event {event_id} is incomplete");
    let leaf = event_leaf(
        tenant,
        &event_id,
        &digest_alg,
        &digest,
        &submitter,
        received_at_micros,
        &leaf_hash,
    )?;
    let batch_proof = MerkleProof::decode(batch_proof.as_deref().ok_or_else(missing)?)?;
    anyhow::ensure!(
        Some(batch_proof.position) == leaf_index.and_then(|i| u64::try_from(i).ok()),
        "the stored proof of event {event_id} is not for its leaf index"
    );
    let anchor_proof = MerkleProof::decode(anchor_proof.as_deref().ok_or_else(missing)?)?;
    // Stored as an array of trust points (bundle version 2, the fast path and later the final
    // path), or as one trust point by earlier versions (served as the version-1 bundle it was).
    let (version, trust_points) = match trust_point.ok_or_else(missing)? {
        serde_json::Value::Array(points) => (
            BUNDLE_VERSION,
            points
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<Vec<TrustPoint>, _>>()?,
        ),
        one => (BUNDLE_VERSION_V1, vec![serde_json::from_value(one)?]),
    };
    let bundle = Bundle::build(BundleInput {
        event: &leaf,
        batch_id: Some(batch_id.to_string()),
        batch_proof: &batch_proof,
        batch_root: Hash::from_slice(&batch_root)?,
        anchor_id: anchor_id.ok_or_else(missing)?.to_string(),
        anchor_proof: &anchor_proof,
        anchor_root: Hash::from_slice(anchor_root.as_deref().ok_or_else(missing)?)?,
        version,
        trust_points,
    })?;
    Ok(bundle)
}

/// Every bundle of a proved batch in tree order, `(event id, bundle)`, at most `limit`.
pub async fn batch_bundles(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
    limit: i64,
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    proofs::for_batch(conn, tenant, batch, limit)
        .await?
        .into_iter()
        .map(|p| Ok((p.event_id.clone(), assemble(tenant, p)?)))
        .collect()
}

/// [`read_bundle`] for the API, metered: refused (402) when the tenant's monthly quota of
/// proof reads is used up, counted as one proof read when a bundle is returned.
pub async fn read_bundle_metered(
    svc: &Services,
    tenant: TenantId,
    event_id: &str,
) -> Result<Option<Arc<serde_json::Value>>, ProofError> {
    use crate::services::billing::{BillingError, Metric};
    match svc.billing.check(tenant, Metric::ProofReads, 1).await {
        Ok(()) => {}
        Err(BillingError::Quota(q)) => return Err(q.into()),
        Err(e) => return Err(ProofError::Internal(e.into())),
    }
    let found = read_bundle(svc, tenant, event_id).await?;
    if found.is_some() {
        svc.billing.count(tenant, Metric::ProofReads);
    }
    Ok(found)
}

/// Reads an event's bundle: from the in-process cache, else one indexed lookup (which then
/// fills the cache). `None` until the event is proved. Not metered: the portal reads with
/// it; the API reads with [`read_bundle_metered`].
pub async fn read_bundle(
    svc: &Services,
    tenant: TenantId,
    event_id: &str,
) -> Result<Option<Arc<serde_json::Value>>, ProofError> {
    let started = std::time::Instant::now();
    let key = (tenant.0, event_id.to_owned());
    if let Some(hit) = CACHE.get(&key) {
        svc.metrics.observe_proof_read(true, started.elapsed());
        return Ok(Some(hit));
    }
    let found = read_stored(svc, tenant, key).await;
    svc.metrics.observe_proof_read(false, started.elapsed());
    found
}

async fn read_stored(
    svc: &Services,
    tenant: TenantId,
    key: Key,
) -> Result<Option<Arc<serde_json::Value>>, ProofError> {
    let event_id = key.1.as_str();
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let found = proofs::get(&mut tx, tenant, event_id).await?;
    tx.commit().await?;
    match found {
        Some(parts) => {
            let bundle = assemble(tenant, parts)?;
            // A bundle that may still gain its Chainweb trust point is not cached: the next
            // read must see it once the anchor is final.
            if is_final(&bundle, &svc.settings) {
                Ok(Some(CACHE.insert(key, bundle)))
            } else {
                Ok(Some(Arc::new(bundle)))
            }
        }
        None => Ok(None),
    }
}

/// How far a stored bundle's proof has come: `log-signed` (Ancora's log only, the Chainweb
/// anchor still on its way) or `final` (nothing more will be added).
pub fn finality(bundle: &serde_json::Value, settings: &crate::services::Settings) -> &'static str {
    if is_final(bundle, settings) {
        "final"
    } else {
        "log-signed"
    }
}

fn is_final(bundle: &serde_json::Value, settings: &crate::services::Settings) -> bool {
    let points = bundle.get("trustPoints").and_then(|t| t.as_array());
    match points {
        // Version 1: one trust point, the backend's own.
        None => true,
        Some(points) => {
            points
                .iter()
                .any(|p| p.get("type").and_then(|t| t.as_str()) == Some("chainweb"))
                || settings.anchor_backend == crate::services::settings::AnchorBackendKind::Tlog
        }
    }
}

/// Entries per generation of the proof cache (two generations are kept).
const CACHE_GENERATION: usize = 4096;

static CACHE: LazyLock<ProofCache> = LazyLock::new(|| ProofCache::new(CACHE_GENERATION));

/// A bounded cache of stored bundles. Bundles never change once stored, so entries need no
/// invalidation. Two generations approximate LRU in O(1): hits in the old one are promoted;
/// when the young one fills, it becomes the old one and the old one is dropped.
#[derive(Debug)]
pub struct ProofCache {
    cap: usize,
    inner: Mutex<Generations>,
}

type Key = (Uuid, String);

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<Key, Arc<serde_json::Value>>,
    old: HashMap<Key, Arc<serde_json::Value>>,
}

impl ProofCache {
    /// A cache keeping between `cap` and `2·cap` entries.
    pub fn new(cap: usize) -> Self {
        ProofCache {
            cap: cap.max(1),
            inner: Mutex::new(Generations::default()),
        }
    }

    /// The cached bundle, if any.
    pub fn get(&self, key: &Key) -> Option<Arc<serde_json::Value>> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = g.young.get(key) {
            return Some(v.clone());
        }
        let v = g.old.remove(key)?;
        self.put(&mut g, key.clone(), v.clone());
        Some(v)
    }

    /// Caches a bundle and returns it shared.
    pub fn insert(&self, key: Key, bundle: serde_json::Value) -> Arc<serde_json::Value> {
        let v = Arc::new(bundle);
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        self.put(&mut g, key, v.clone());
        v
    }

    fn put(&self, g: &mut Generations, key: Key, v: Arc<serde_json::Value>) {
        if g.young.len() >= self.cap {
            g.old = std::mem::take(&mut g.young);
        }
        g.young.insert(key, v);
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.young.len() + g.old.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_recent_entries_and_forgets_the_oldest_generation() {
        let cache = ProofCache::new(2);
        let key = |i: u32| (Uuid::nil(), i.to_string());
        for i in 0..5 {
            cache.insert(key(i), serde_json::json!(i));
        }
        assert_eq!(cache.get(&key(4)).as_deref(), Some(&serde_json::json!(4)));
        assert!(cache.get(&key(0)).is_none());
        assert!(cache.len() <= 4);
    }
}
