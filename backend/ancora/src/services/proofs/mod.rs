//! Proofs: once a batch's anchor is final, every event's bundle is built, checked and stored
//! ([`prove_batch`], run by the prove job) as the batch's Merkle tree, once, with nothing
//! written per event: an event is proved when the batch holding it (by its `seq`) stores its
//! tree, and its leaf index is its leaf hash's place in that tree. Reading a proof
//! ([`read_served`]) is one indexed lookup (the event's path is read off the stored tree,
//! [`MerkleTree::from_node_bytes`]), or, once read before and final, a hit in the
//! [`BundleCache`]: the bundle's JSON bytes, kept within a memory budget
//! (`ANCORA_PROOF_CACHE_MB`), with no database round trip.
//! Behind it, optionally, a cache shared by every API process ([`shared`], one backend:
//! [`redis`], `ANCORA_REDIS_URL`): an in-process miss asks it before the database, and a final
//! bundle read from the database is offered to it.
//!
//! A bundle read from the database is checked before it is served or cached: every Merkle
//! step (leaf → batch root → anchor root → log root) is recomputed, and each log checkpoint's
//! signature is verified with the log's key, once per checkpoint (checkpoints are few: one per
//! anchoring tick) rather than once per bundle. A bundle from the shared cache is checked the
//! same way, and must be final and of the event asked for; one that is not is a miss.
//!
//! It runs as the batch's tenant: events and proofs are tenant rows; the anchor queue, the
//! anchor and the log are system rows it can read. Everything is rebuilt from stored hashes
//! and checked on the way ([`Bundle::build`] refuses a proof that does not lead to its root),
//! so a storage fault yields a failed job, never a bundle that does not verify.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha2::Digest as _;

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

pub mod held;
pub mod redis;
pub mod shared;

pub use held::{BatchCache, HeldBatch};
pub use shared::{SharedCache, SharedProofCache};

use crate::db::{self, anchors, batches, proofs};
use crate::domain::TenantId;
use crate::services::Services;
use crate::services::anchoring::chainweb::Details;
use crate::services::anchoring::tlog::TlogAnchor;
use crate::services::anchoring::{AnchorBackend, Backend};
use crate::support::metrics::ProofSource;

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
    // Nothing is stored per event: an event's path up to the batch root is read off the
    // batch's stored tree (one copy per batch), at its leaf hash's place in it. Storing the
    // tree and the shared steps marks every event of the batch proved, in this transaction.
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let tree = batch_tree.node_bytes();
    let stored = batches::mark_proved(
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
            tree: &tree,
        },
    )
    .await?;
    // Two provers of one batch (a job taken over while its first worker still runs): the
    // second's update waits for the first's row lock, then finds the batch proved and writes
    // nothing. It fails, so its transaction rolls back, and its job retries and finds the
    // batch proved: the webhooks below are emitted once.
    anyhow::ensure!(
        stored,
        "batch {batch_id} was proved meanwhile by another prover"
    );
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
pub(crate) fn event_leaf(
    tenant: TenantId,
    id: &str,
    digest_alg: &str,
    digest: &[u8],
    submitter: &str,
    received_at_micros: i64,
    leaf_hash: &[u8],
) -> anyhow::Result<EventLeaf> {
    let algorithm =
        ancora_proof::event::DigestAlgorithm::from_prefix(digest_alg).ok_or_else(|| {
            anyhow::anyhow!("event {id} has a stored digest of unknown algorithm {digest_alg:?}")
        })?;
    let bytes = <[u8; 32]>::try_from(digest)
        .map_err(|_| anyhow::anyhow!("event {id}'s stored digest is not 32 bytes"))?;
    let digest = ContentDigest { algorithm, bytes };
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

/// The stored batch tree a run of [`assemble_bundle`] calls read last. A read returns a
/// batch's tree once, on its first row ([`proofs::ProofParts::batch_tree`]); the batch's later
/// rows take their paths from the tree kept here.
#[derive(Default)]
pub struct BatchTrees {
    last: Option<(Uuid, MerkleTree)>,
    /// Where the leaf found last is in `last`: rows read in `seq` order are consecutive
    /// leaves, so the next one is looked for right after it first.
    found: Option<usize>,
}

impl BatchTrees {
    /// The tree of `batch`: read from `nodes` when given (its root must be the batch root),
    /// else the one read last if it is this batch's.
    fn tree(
        &mut self,
        batch: Uuid,
        nodes: Option<Vec<u8>>,
        root: &[u8],
    ) -> anyhow::Result<Option<&MerkleTree>> {
        if let Some(nodes) = nodes {
            let tree = MerkleTree::from_node_bytes(ALG, &nodes)
                .with_context(|| format!("batch {batch}'s stored tree"))?;
            anyhow::ensure!(
                tree.root().0.as_slice() == root,
                "batch {batch}'s stored tree does not end in its root"
            );
            self.last = Some((batch, tree));
            self.found = None;
        }
        Ok(self
            .last
            .as_ref()
            .filter(|(id, _)| *id == batch)
            .map(|(_, tree)| tree))
    }

    /// The path of the leaf `leaf` in the tree of `batch` ([`BatchTrees::tree`]), found by
    /// its hash: an event's leaf index is its leaf hash's place among the tree's leaves (a
    /// batch's events have distinct ids, so distinct leaf hashes). `None` when the tree is
    /// not known or the leaf is not in it.
    fn path_of(
        &mut self,
        batch: Uuid,
        nodes: Option<Vec<u8>>,
        root: &[u8],
        leaf: &Hash,
    ) -> anyhow::Result<Option<MerkleProof>> {
        let hint = self.found.map(|i| i + 1);
        let Some(tree) = self.tree(batch, nodes, root)? else {
            return Ok(None);
        };
        let at = |i: usize| tree.leaf(i).as_ref() == Some(leaf);
        let Some(index) = hint
            .filter(|&i| at(i))
            .or_else(|| (0..tree.len()).find(|&i| at(i)))
        else {
            return Ok(None);
        };
        let path = tree.proof(index)?;
        self.found = Some(index);
        Ok(Some(path))
    }
}

/// Assembles an event's bundle from its stored parts, re-checking every step
/// ([`Bundle::build`]): a storage fault gives an error, never a bundle that does not verify.
/// `trees` carries a batch's tree from its first row to the next ones of a read.
pub fn assemble(
    tenant: TenantId,
    p: proofs::ProofParts,
    trees: &mut BatchTrees,
) -> anyhow::Result<serde_json::Value> {
    match p.bundle {
        Some(whole) => Ok(whole),
        None => Ok(serde_json::to_value(assemble_bundle(tenant, p, trees)?)?),
    }
}

/// [`assemble`], as the bundle itself.
pub fn assemble_bundle(
    tenant: TenantId,
    p: proofs::ProofParts,
    trees: &mut BatchTrees,
) -> anyhow::Result<Bundle> {
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
        batch_tree,
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
    let batch_proof = match (batch_proof, leaf_index) {
        // A row stored before batches kept their tree.
        (Some(bytes), _) => MerkleProof::decode(&bytes)?,
        // A proof row of a batch proved before its events' proofs were read off its tree
        // alone, or a read that knows the event's rank in its batch.
        (None, Some(index)) => trees
            .tree(batch_id, batch_tree, &batch_root)?
            .ok_or_else(missing)?
            .proof(usize::try_from(index)?)?,
        // The event's place in its batch's tree, by its leaf hash.
        (None, None) => trees
            .path_of(
                batch_id,
                batch_tree,
                &batch_root,
                &Hash::from_slice(&leaf_hash)?,
            )?
            .with_context(|| {
                format!("event {event_id}'s leaf is not in the stored tree of batch {batch_id}")
            })?,
    };
    anyhow::ensure!(
        leaf_index.is_none_or(|i| u64::try_from(i).ok() == Some(batch_proof.position)),
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
    let mut trees = BatchTrees::default();
    proofs::for_batch(conn, tenant, batch, limit)
        .await?
        .into_iter()
        .map(|p| Ok((p.event_id.clone(), assemble(tenant, p, &mut trees)?)))
        .collect()
}

/// [`read_served`] for the API, metered: refused (402) when the tenant's monthly quota of
/// proof reads is used up, counted as one proof read when a bundle is returned.
pub async fn read_served_metered(
    svc: &Services,
    tenant: TenantId,
    event_id: &str,
) -> Result<Option<Arc<Served>>, ProofError> {
    use crate::services::billing::{BillingError, Metric};
    match svc.billing.check(tenant, Metric::ProofReads, 1).await {
        Ok(()) => {}
        Err(BillingError::Quota(q)) => return Err(q.into()),
        Err(e) => return Err(ProofError::Internal(e.into_internal())),
    }
    let found = read_served(svc, tenant, event_id).await?;
    if found.is_some() {
        svc.billing.count(tenant, Metric::ProofReads);
    }
    Ok(found)
}

/// [`read_served_metered`], as a JSON value (the event view embeds it).
pub async fn read_bundle_metered(
    svc: &Services,
    tenant: TenantId,
    event_id: &str,
) -> Result<Option<serde_json::Value>, ProofError> {
    as_value(read_served_metered(svc, tenant, event_id).await?)
}

/// Reads an event's bundle as served: from the in-process cache, else from the shared cache
/// when there is one ([`read_shared`]), else one indexed lookup, checked ([`check_stored`]),
/// which then fills the caches when the bundle is final. `None` until the event is proved.
/// Not metered: the portal reads with it (through [`read_bundle`]); the API reads with
/// [`read_served_metered`].
pub async fn read_served(
    svc: &Services,
    tenant: TenantId,
    event_id: &str,
) -> Result<Option<Arc<Served>>, ProofError> {
    let started = std::time::Instant::now();
    let key = (tenant.0, event_id.to_owned());
    if let Some(hit) = svc.proof_cache.get(&key) {
        svc.metrics
            .observe_proof_read(ProofSource::Cache, started.elapsed());
        return Ok(Some(hit));
    }
    if let Some((held, index)) = svc.batch_cache.get(tenant, event_id) {
        match render_held(&held, index, &svc.settings) {
            Ok(served) => {
                let cached = cache(svc, key, served);
                svc.metrics
                    .observe_proof_read(ProofSource::Batch, started.elapsed());
                return Ok(Some(cached));
            }
            // Checked when it was held, so never expected: the database answers.
            Err(e) => {
                tracing::error!(tenant_id = %tenant.0, event_id, error = %e, "a held batch's bundle did not build");
            }
        }
    }
    if let Some(shared) = &svc.shared_proof_cache
        && let Some((served, batch_id)) = read_shared(svc, shared, tenant, event_id).await
    {
        if let Some(batch_id) = batch_id {
            hold_batch_later(svc, tenant, batch_id);
        }
        let cached = cache(svc, key, served);
        svc.metrics
            .observe_proof_read(ProofSource::Shared, started.elapsed());
        return Ok(Some(cached));
    }
    let found = read_stored(svc, tenant, key).await;
    svc.metrics
        .observe_proof_read(ProofSource::Database, started.elapsed());
    found
}

/// The bundle the shared cache holds for the event, if it passes the stored bundle's check
/// ([`check_stored`]), is this tenant's and this event's, and is final; anything else (absent,
/// unreachable, too slow, not JSON, damaged, another event's, not final) is `None`, and the
/// database answers. A value that fails the check is logged: someone wrote it. With the bundle,
/// the id of its batch (for [`hold_batch_later`]).
async fn read_shared(
    svc: &Services,
    shared: &SharedCache,
    tenant: TenantId,
    event_id: &str,
) -> Option<(Served, Option<Uuid>)> {
    let Some(bytes) = shared.get(tenant.0, event_id).await else {
        shared.miss();
        return None;
    };
    let checked = async {
        let value: serde_json::Value = serde_json::from_slice(&bytes)?;
        let bundle = check_stored(svc, event_id, &value).await?;
        anyhow::ensure!(
            bundle.event.tenant_id == tenant.bytes() && bundle.event.event_id == event_id,
            "it is the bundle of another event"
        );
        check_chainweb_blocks(svc, &bundle).await?;
        let served = Served::new(&value, &svc.settings)?;
        anyhow::ensure!(served.is_final(), "it is not final");
        let batch_id = bundle
            .batch
            .batch_id
            .as_deref()
            .and_then(|b| b.parse().ok());
        anyhow::Ok((served, batch_id))
    };
    match checked.await {
        Ok(served) => {
            shared.hit();
            Some(served)
        }
        Err(e) => {
            tracing::warn!(tenant_id = %tenant.0, event_id, error = %e, "the shared proof cache's entry is not served");
            shared.miss();
            None
        }
    }
}

/// A bundle from the shared cache names Chainweb blocks that one of this service's anchors is
/// final in. [`check_stored`] leaves the block header to the verifier (a bundle from the
/// database was built from a header checked when its anchor became final); a bundle from
/// elsewhere could carry a made-up header and SPV proof, but not a Merkle path from its anchor
/// root to one of our final blocks. Known blocks are remembered (one per anchor), so this is a
/// database lookup once per block, not per read.
async fn check_chainweb_blocks(svc: &Services, bundle: &Bundle) -> anyhow::Result<()> {
    for tp in &bundle.trust_points {
        let TrustPoint::Chainweb(c) = tp else {
            continue;
        };
        let mut seen = sha2::Sha256::new();
        seen.update(b"chainweb block ");
        seen.update(c.block_hash.0);
        let seen: [u8; 32] = seen.finalize().into();
        if svc.proof_cache.checkpoint_verified(&seen) {
            continue;
        }
        let mut tx = svc.db.system_tx().await?;
        let known = db::chainweb::final_in_block(&mut tx, &c.block_hash.to_b64url()).await?;
        tx.commit().await?;
        anyhow::ensure!(
            known.is_some(),
            "it names Chainweb block {} that no anchor of ours is final in",
            c.block_hash.to_b64url()
        );
        svc.proof_cache.remember_checkpoint(seen);
    }
    Ok(())
}

/// A cache key: the tenant and the event id.
type Key = (Uuid, String);

/// Puts a final bundle in the in-process cache; the shared copy.
fn cache(svc: &Services, key: Key, served: Served) -> Arc<Served> {
    let cached = svc.proof_cache.insert(key, served);
    svc.metrics
        .proof_cache_bytes
        .set(i64::try_from(svc.proof_cache.bytes()).unwrap_or(i64::MAX));
    cached
}

/// [`read_served`] as a JSON value.
pub async fn read_bundle(
    svc: &Services,
    tenant: TenantId,
    event_id: &str,
) -> Result<Option<serde_json::Value>, ProofError> {
    as_value(read_served(svc, tenant, event_id).await?)
}

/// A read bundle as a JSON value.
fn as_value(found: Option<Arc<Served>>) -> Result<Option<serde_json::Value>, ProofError> {
    Ok(found.map(|s| s.value()).transpose()?)
}

async fn read_stored(
    svc: &Services,
    tenant: TenantId,
    key: Key,
) -> Result<Option<Arc<Served>>, ProofError> {
    let event_id = key.1.as_str();
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let found = proofs::get(&mut tx, tenant, event_id).await?;
    tx.commit().await?;
    let Some(parts) = found else {
        return Ok(None);
    };
    let batch_id = parts.batch_id;
    let bundle = assemble(tenant, parts, &mut BatchTrees::default())?;
    check_stored(svc, event_id, &bundle).await?;
    let served = Served::new(&bundle, &svc.settings)?;
    // A bundle that may still gain its Chainweb trust point is not cached, here or shared:
    // the next read must see it once the anchor is final.
    if served.is_final() {
        if let Some(shared) = &svc.shared_proof_cache {
            shared.offer(tenant.0, event_id, served.json.clone());
        }
        hold_batch_later(svc, tenant, batch_id);
        Ok(Some(cache(svc, key, served)))
    } else {
        Ok(Some(Arc::new(served)))
    }
}

/// The bundle of the event at `index` of a held batch, rendered as [`read_stored`] renders
/// the same bundle from its row (so the bytes and the `ETag` are the same).
fn render_held(
    held: &HeldBatch,
    index: usize,
    settings: &crate::services::Settings,
) -> anyhow::Result<Served> {
    let value = serde_json::to_value(held.bundle(index)?)?;
    let served = Served::new(&value, settings)?;
    anyhow::ensure!(served.is_final(), "a held batch's bundle is not final");
    Ok(served)
}

/// Loads the final batch `batch_id` into the held batches in the background, unless it is held
/// or being loaded already, or the cache is off or busy ([`BatchCache::start_load`]).
fn hold_batch_later(svc: &Services, tenant: TenantId, batch_id: Uuid) {
    if !svc.batch_cache.start_load(batch_id) {
        return;
    }
    let svc = svc.clone();
    tokio::spawn(async move {
        let held = hold_batch(&svc, tenant, batch_id).await;
        if let Err(e) = &held {
            tracing::warn!(tenant_id = %tenant.0, %batch_id, error = %e, "a proved batch is not held in memory");
        }
        svc.batch_cache.loaded(batch_id, held.is_err());
        svc.metrics
            .proof_batch_cache_bytes
            .set(i64::try_from(svc.batch_cache.bytes()).unwrap_or(i64::MAX));
    });
}

/// Reads a final batch's proofs (one query), checks them ([`HeldBatch::from_parts`], then the
/// first bundle in full as a stored one is checked, its checkpoint's signature included) and
/// holds the batch.
pub async fn hold_batch(svc: &Services, tenant: TenantId, batch_id: Uuid) -> anyhow::Result<()> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let shared = proofs::batch_shared(&mut tx, tenant, batch_id)
        .await?
        .with_context(|| format!("batch {batch_id} does not exist"))?;
    let size = usize::try_from(shared.size)?;
    anyhow::ensure!(
        svc.batch_cache.fits(size),
        "batch {batch_id} of {size} events is larger than the budget of held batches allows"
    );
    let rows = proofs::batch_leaves(&mut tx, tenant, batch_id, i64::from(shared.size) + 1).await?;
    tx.commit().await?;
    anyhow::ensure!(
        rows.len() == size,
        "batch {batch_id} has {} stored proofs for {size} events",
        rows.len()
    );
    // Hashing a batch's leaves is CPU work of milliseconds: off the async threads.
    let held =
        tokio::task::spawn_blocking(move || HeldBatch::from_rows(tenant, shared, rows)).await??;
    let first = held
        .event_id(0)
        .map(str::to_owned)
        .context("an empty batch")?;
    let value = serde_json::to_value(held.bundle(0)?)?;
    check_stored(svc, &first, &value).await?;
    anyhow::ensure!(
        finality(&value, &svc.settings) == "final",
        "batch {batch_id} is not final"
    );
    svc.batch_cache.insert(held);
    Ok(())
}

/// Checks a bundle read from storage before anyone is given it: every Merkle step recomputed
/// (a damaged proof object, leaf or root fails), and each log checkpoint's signature verified
/// with the log's key, once per checkpoint (remembered by the cache). A Chainweb trust point's
/// header is not checked here (the verifier fetches its own); its SPV proof must still lead to
/// the anchor root. Returns the bundle it checked.
async fn check_stored(
    svc: &Services,
    event_id: &str,
    value: &serde_json::Value,
) -> Result<Bundle, ProofError> {
    // Read straight from the value (`&Value` is a deserializer): no copy of the bundle.
    let bundle = <Bundle as serde::Deserialize>::deserialize(value)
        .with_context(|| format!("the stored proof of event {event_id} is not a bundle"))?;
    let v1 = bundle.version == BUNDLE_VERSION_V1;
    let cache = &svc.proof_cache;
    // Version 1 (one trust point, earlier data) is checked with the key in the verifier;
    // version 2 without it, the checkpoints below.
    let trust = Trust {
        log_keys: if v1 {
            vec![log_verifier(svc).await?]
        } else {
            Vec::new()
        },
        chainweb_headers: Vec::new(),
    };
    let report = ancora_proof::bundle::verify_bundle(&bundle, &trust);
    if let Some(bad) = report.steps.iter().find(|s| {
        matches!(
            s.status,
            ancora_proof::bundle::Status::Failed | ancora_proof::bundle::Status::Skipped
        )
    }) {
        return Err(ProofError::Internal(anyhow::anyhow!(
            "the stored proof of event {event_id} does not verify: {}: {}",
            bad.step,
            bad.detail
        )));
    }
    if v1 {
        return Ok(bundle);
    }
    for tp in &bundle.trust_points {
        if let TrustPoint::Tlog(t) = tp {
            let seen: [u8; 32] = sha2::Sha256::digest(t.checkpoint.as_bytes()).into();
            if cache.checkpoint_verified(&seen) {
                continue;
            }
            let verifier = log_verifier(svc).await?;
            let cp = ancora_proof::tlog::checkpoint::open_checkpoint(&t.checkpoint, &verifier)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "the stored proof of event {event_id} has a checkpoint the log did not sign: {e}"
                    )
                })?;
            if cp.origin != t.origin || cp.size != t.log_size {
                return Err(ProofError::Internal(anyhow::anyhow!(
                    "the stored proof of event {event_id} names log {} at size {}, its checkpoint is of {} at {}",
                    t.origin,
                    t.log_size,
                    cp.origin,
                    cp.size
                )));
            }
            cache.remember_checkpoint(seen);
        }
    }
    Ok(bundle)
}

/// A proof bundle as the API serves it: its JSON bytes, a strong `ETag` over them, and how
/// final it is (a final bundle never changes).
#[derive(Debug)]
pub struct Served {
    /// The bundle's JSON.
    pub json: Bytes,
    /// A strong entity tag, quoted: the first 128 bits of the bytes' SHA-256, base64url.
    pub etag: String,
    /// `log-signed` or `final` ([`finality`]).
    pub finality: &'static str,
}

impl Served {
    /// Renders `bundle`.
    pub fn new(
        bundle: &serde_json::Value,
        settings: &crate::services::Settings,
    ) -> anyhow::Result<Self> {
        let json = Bytes::from(serde_json::to_vec(bundle)?);
        let digest = sha2::Sha256::digest(&json);
        Ok(Served {
            etag: format!("\"{}\"", ancora_proof::hash::b64url_encode(&digest[..16])),
            finality: finality(bundle, settings),
            json,
        })
    }

    /// True when nothing more will be added to the bundle.
    pub fn is_final(&self) -> bool {
        self.finality == "final"
    }

    /// The bundle as a JSON value.
    pub fn value(&self) -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::from_slice(&self.json)?)
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

/// The default memory budget of the bundle cache, MiB (`ANCORA_PROOF_CACHE_MB`).
pub const DEFAULT_CACHE_MB: usize = 64;

/// Bytes an entry costs besides its JSON and event id (the key, the `Arc`, the map slot).
const ENTRY_OVERHEAD: usize = 160;

/// Checkpoints remembered as verified before the set is cleared (one per anchoring tick:
/// a day of one-second ticks is 86 400).
const CHECKPOINTS_REMEMBERED: usize = 100_000;

/// The cache of served final bundles, within a memory budget in bytes. Final bundles never
/// change, so entries need no invalidation. Least recently used first out, one entry at a
/// time: an insert over the budget lets go of just enough of the oldest entries, so no read
/// ever waits while a large part of the cache is freed. It also remembers which log
/// checkpoints were verified.
#[derive(Debug)]
pub struct BundleCache {
    budget: usize,
    inner: Mutex<Sized>,
    checkpoints: Mutex<HashSet<[u8; 32]>>,
}

struct Sized {
    /// Least recently used first.
    entries: hashlink::LruCache<Key, Arc<Served>>,
    bytes: usize,
}

impl std::fmt::Debug for Sized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sized")
            .field("entries", &self.entries.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

fn cost(key: &Key, v: &Served) -> usize {
    v.json.len() + key.1.len() + v.etag.len() + ENTRY_OVERHEAD
}

impl BundleCache {
    /// A cache holding at most `budget` bytes (0: caches nothing).
    pub fn new(budget: usize) -> Self {
        BundleCache {
            budget,
            inner: Mutex::new(Sized {
                entries: hashlink::LruCache::new_unbounded(),
                bytes: 0,
            }),
            checkpoints: Mutex::new(HashSet::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sized> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached bundle, if any (now the most recently used).
    pub fn get(&self, key: &Key) -> Option<Arc<Served>> {
        self.lock().entries.get(key).cloned()
    }

    /// Caches a served bundle (unless it alone exceeds half the budget), letting the least
    /// recently used entries go to stay within the budget, and returns it shared.
    pub fn insert(&self, key: Key, served: Served) -> Arc<Served> {
        let v = Arc::new(served);
        let c = cost(&key, &v);
        if c > self.budget / 2 {
            return v;
        }
        // Entries let go are freed after the lock is released (usually one or two).
        let mut let_go = Vec::new();
        {
            let mut g = self.lock();
            g.bytes += c;
            if let Some(prev) = g.entries.insert(key.clone(), v.clone()) {
                g.bytes -= cost(&key, &prev);
                let_go.push(prev);
            }
            while g.bytes > self.budget {
                let Some((k, old)) = g.entries.remove_lru() else {
                    break;
                };
                g.bytes -= cost(&k, &old);
                let_go.push(old);
            }
        }
        drop(let_go);
        v
    }

    /// Bytes held (what the budget bounds).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Number of cached bundles.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn checkpoint_verified(&self, digest: &[u8; 32]) -> bool {
        self.checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(digest)
    }

    fn remember_checkpoint(&self, digest: [u8; 32]) {
        let mut set = self.checkpoints.lock().unwrap_or_else(|p| p.into_inner());
        if set.len() >= CHECKPOINTS_REMEMBERED {
            set.clear();
        }
        set.insert(digest);
    }

    /// How many checkpoints are remembered as verified.
    pub fn checkpoints_verified(&self) -> usize {
        self.checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// The log's verifier key, as stored now (read on a checkpoint the cache has not verified yet,
/// so once per checkpoint).
async fn log_verifier(svc: &Services) -> anyhow::Result<ancora_proof::tlog::NoteVerifier> {
    let mut tx = svc.db.system_tx().await?;
    let key = TlogAnchor::from_config(&svc.settings.log)
        .verifier(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(n: usize) -> Served {
        Served {
            json: Bytes::from(vec![b'x'; n]),
            etag: "\"e\"".into(),
            finality: "final",
        }
    }

    #[test]
    fn the_bundle_cache_stays_within_its_budget_and_keeps_recent_entries() {
        let budget = 64 * 1024;
        let cache = BundleCache::new(budget);
        let key = |i: u32| (Uuid::nil(), format!("event-{i}"));
        for i in 0..1000 {
            cache.insert(key(i), served(1000 + (i as usize % 7) * 100));
            assert!(cache.bytes() <= budget, "{} > {budget}", cache.bytes());
        }
        assert!(cache.get(&key(999)).is_some(), "the newest is kept");
        assert!(cache.get(&key(0)).is_none(), "the oldest was evicted");
        assert!(cache.len() > 20, "the budget is used: {}", cache.len());
        // Least recently used goes first: a read makes an entry the most recent.
        let key = |i: u32| (Uuid::nil(), format!("e-{i:04}"));
        let entry = 1000 + 6 + 3 + ENTRY_OVERHEAD;
        let cache = BundleCache::new(10 * entry);
        for i in 0..10 {
            cache.insert(key(i), served(1000));
        }
        assert_eq!(
            (cache.len(), cache.bytes()),
            (10, 10 * entry),
            "exactly full"
        );
        assert!(cache.get(&key(0)).is_some(), "0 read: now the most recent");
        cache.insert(key(10), served(1000));
        assert_eq!(cache.len(), 10, "one in, one out");
        assert!(
            cache.get(&key(1)).is_none(),
            "1, the least recently used, went"
        );
        assert!(cache.get(&key(0)).is_some(), "0 was read: kept");
        // An entry worth two lets the two oldest go, no more.
        cache.insert(key(11), served(1000 + entry));
        assert!(cache.get(&key(2)).is_none() && cache.get(&key(3)).is_none());
        assert!(cache.get(&key(4)).is_some());
        assert_eq!(cache.len(), 9);
        assert!(cache.bytes() <= 10 * entry);
        // The same key again replaces its entry and its cost.
        cache.insert(key(11), served(1000));
        assert_eq!(cache.len(), 9);
        assert_eq!(cache.bytes(), 9 * entry);
        // Over half the budget: served, not cached; a zero budget caches nothing.
        let big = cache.insert(key(5000), served(5 * entry));
        assert_eq!(big.json.len(), 5 * entry);
        assert!(cache.get(&key(5000)).is_none());
        assert_eq!(cache.len(), 9, "nothing let go for it");
        let none = BundleCache::new(0);
        none.insert(key(1), served(10));
        assert!(none.is_empty() && none.bytes() == 0);
    }
}
