//! Proved batches held in memory, compactly: what every event of a final batch shares (its
//! root, the anchor step, the trust points, the submitters) once, and per event only its leaf
//! fields and two tree nodes: about 200 bytes, a tenth of its rendered bundle. A read that misses the cache of rendered
//! bundles ([`super::BundleCache`]) but finds its batch here renders the bundle from memory
//! ([`HeldBatch::bundle`], every step re-checked by [`Bundle::build`]), with no database round
//! trip. A catalog of a million events fits in a few hundred MiB, so random reads over it stay
//! in memory (issue 13).
//!
//! A batch is held after one of its final bundles was read from the database: the read is
//! answered at once and the whole batch is loaded beside it ([`super::hold_batch_later`]), one
//! query, checked before it is held (every leaf against its fields, the tree against the stored
//! root, the first bundle in full with its checkpoint's signature). Final batches never change,
//! so entries need no invalidation. The budget (`ANCORA_PROOF_BATCH_CACHE_MB`) bounds the
//! estimated bytes held; over it, the least recently read batches are let go.
//! Events are found through a keyed 64-bit hash of `(tenant, event id)`: a collision is a
//! miss (the event id is compared), never another event's bundle.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex};

use ancora_proof::bundle::{BUNDLE_VERSION, Bundle, BundleInput, TrustPoint};
use ancora_proof::event::{ContentDigest, EventLeaf};
use ancora_proof::merkle::{MerkleProof, MerkleTree};
use ancora_proof::{Hash, HashAlgorithm};
use uuid::Uuid;

use crate::db::proofs::{BatchShared, LeafRow};
use crate::domain::TenantId;

/// The default memory budget of the held batches, MiB (`ANCORA_PROOF_BATCH_CACHE_MB`):
/// about a million events at the sizes this service writes.
pub const DEFAULT_BATCH_CACHE_MB: usize = 256;

/// Batches loaded at the same time, at most (each holds a pool connection for one query).
const LOADS_AT_ONCE: usize = 4;

/// Batches that failed their check, remembered (not loaded again) before the set is cleared.
const REFUSED_REMEMBERED: usize = 10_000;

/// Estimated bytes of one event in the index (slot, control byte, spare capacity).
const INDEX_ENTRY: usize = 32;

/// Estimated bytes of one heap allocation besides its contents.
const ALLOCATION: usize = 16;

/// A proved, final batch: everything its events' bundles are made of.
#[derive(Debug)]
pub struct HeldBatch {
    tenant: TenantId,
    batch_id: Uuid,
    batch_root: Hash,
    anchor_id: String,
    anchor_proof: MerkleProof,
    anchor_root: Hash,
    trust_points: Vec<TrustPoint>,
    tree: MerkleTree,
    leaves: Vec<HeldLeaf>,
    /// The distinct submitters of its events (API key prefixes, device ids).
    submitters: Vec<String>,
    bytes: usize,
}

/// An event's leaf fields, its tenant and submitter held once per batch.
#[derive(Debug)]
struct HeldLeaf {
    event_id: Box<str>,
    digest: ContentDigest,
    submitter: u32,
    received_at_micros: i64,
}

impl HeldBatch {
    /// The batch made of its shared proof part and its events' stored leaves in tree order
    /// (`db::proofs::batch_shared`, `batch_leaves`), checked: every row a compact version-2
    /// proof at its index, every leaf hash its fields' (as on every read), and the tree over
    /// them giving the stored root.
    pub fn from_rows(
        tenant: TenantId,
        shared: BatchShared,
        rows: Vec<LeafRow>,
    ) -> anyhow::Result<Self> {
        const ALG: HashAlgorithm = HashAlgorithm::Sha512_256;
        let batch_id = shared.batch_id;
        anyhow::ensure!(!rows.is_empty(), "batch {batch_id} has no proofs");
        let batch_root = Hash::from_slice(&shared.batch_root)?;
        let incomplete = || anyhow::anyhow!("batch {batch_id}'s stored proof is incomplete");
        let anchor_id = shared.anchor_id.ok_or_else(incomplete)?.to_string();
        let anchor_proof =
            MerkleProof::decode(shared.anchor_proof.as_deref().ok_or_else(incomplete)?)?;
        let anchor_root = Hash::from_slice(shared.anchor_root.as_deref().ok_or_else(incomplete)?)?;
        let trust_points = match shared.trust_point.ok_or_else(incomplete)? {
            serde_json::Value::Array(points) => points
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<Vec<TrustPoint>, _>>()?,
            _ => anyhow::bail!("batch {batch_id} has version-1 proofs, served from their rows"),
        };
        let mut leaves = Vec::with_capacity(rows.len());
        let mut hashes = Vec::with_capacity(rows.len());
        let mut submitters: Vec<String> = Vec::new();
        let mut submitter_index: HashMap<String, u32> = HashMap::new();
        let mut bytes = 0;
        for (i, row) in rows.into_iter().enumerate() {
            anyhow::ensure!(
                row.compact && row.leaf_index.and_then(|x| usize::try_from(x).ok()) == Some(i),
                "the stored proof of event {} is not leaf {i} of batch {batch_id}",
                row.event_id
            );
            let leaf = super::event_leaf(
                tenant,
                &row.event_id,
                &row.digest_alg,
                &row.digest,
                &row.submitter,
                row.received_at_micros,
                &row.leaf_hash,
            )?;
            hashes.push(Hash::from_slice(&row.leaf_hash)?);
            let submitter = match submitter_index.get(&leaf.submitter) {
                Some(&n) => n,
                None => {
                    let n = u32::try_from(submitters.len())?;
                    bytes += leaf.submitter.len() + std::mem::size_of::<String>() + ALLOCATION;
                    submitter_index.insert(leaf.submitter.clone(), n);
                    submitters.push(leaf.submitter);
                    n
                }
            };
            bytes += std::mem::size_of::<HeldLeaf>()
                + leaf.event_id.len()
                + ALLOCATION
                + 2 * std::mem::size_of::<Hash>()
                + INDEX_ENTRY;
            leaves.push(HeldLeaf {
                event_id: leaf.event_id.into_boxed_str(),
                digest: leaf.digest,
                submitter,
                received_at_micros: leaf.received_at_micros,
            });
        }
        let tree = MerkleTree::from_leaf_hashes(ALG, hashes);
        anyhow::ensure!(
            tree.root() == batch_root,
            "batch {batch_id}'s events do not give its root"
        );
        bytes += std::mem::size_of::<Self>()
            + anchor_id.len()
            + anchor_proof.steps.len() * std::mem::size_of::<ancora_proof::merkle::ProofStep>()
            + trust_points.len() * std::mem::size_of::<TrustPoint>()
            + serde_json::to_vec(&trust_points).map_or(0, |v| v.len());
        Ok(HeldBatch {
            tenant,
            batch_id,
            batch_root,
            anchor_id,
            anchor_proof,
            anchor_root,
            trust_points,
            tree,
            leaves,
            submitters,
            bytes,
        })
    }

    /// The batch's id.
    pub fn id(&self) -> Uuid {
        self.batch_id
    }

    /// Its events.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// True when it has no events (never, once checked).
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Estimated bytes it takes in memory, index included (what the budget bounds).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The id of the event at `index`.
    pub fn event_id(&self, index: usize) -> Option<&str> {
        self.leaves.get(index).map(|l| &*l.event_id)
    }

    /// The bundle of the event at `index`, built as from its stored row (the same bundle,
    /// byte for byte, once rendered) and re-checked step by step.
    pub fn bundle(&self, index: usize) -> anyhow::Result<Bundle> {
        let held = self
            .leaves
            .get(index)
            .ok_or_else(|| anyhow::anyhow!("no leaf {index} in batch {}", self.batch_id))?;
        let leaf = EventLeaf {
            tenant_id: self.tenant.bytes(),
            event_id: held.event_id.to_string(),
            digest: held.digest,
            submitter: self
                .submitters
                .get(usize::try_from(held.submitter)?)
                .cloned()
                .unwrap_or_default(),
            received_at_micros: held.received_at_micros,
        };
        Ok(Bundle::build(BundleInput {
            event: &leaf,
            batch_id: Some(self.batch_id.to_string()),
            batch_proof: &self.tree.proof(index)?,
            batch_root: self.batch_root,
            anchor_id: self.anchor_id.clone(),
            anchor_proof: &self.anchor_proof,
            anchor_root: self.anchor_root,
            version: BUNDLE_VERSION,
            trust_points: self.trust_points.clone(),
        })?)
    }
}

/// The held batches, within a memory budget in bytes, and which are being loaded. Eviction is
/// least recently used, by batch: batches are few (a thousand per million events), so finding
/// the oldest is a scan of them, and letting one go removes its events from the index.
#[derive(Debug)]
pub struct BatchCache {
    budget: usize,
    keys: RandomState,
    inner: Mutex<Held>,
    loads: Mutex<Loads>,
}

#[derive(Debug, Default)]
struct Held {
    /// Keyed hash of `(tenant, event id)` → (slot, leaf index).
    index: HashMap<u64, (u32, u32)>,
    /// The batches by slot (`None`: a free slot, reused), with when each was last read.
    slots: Vec<Option<(Arc<HeldBatch>, u64)>>,
    free: Vec<u32>,
    by_id: HashMap<Uuid, u32>,
    bytes: usize,
    clock: u64,
}

#[derive(Debug, Default)]
struct Loads {
    running: HashSet<Uuid>,
    refused: HashSet<Uuid>,
}

impl BatchCache {
    /// A cache holding at most `budget` bytes (0: holds nothing, loads nothing).
    pub fn new(budget: usize) -> Self {
        BatchCache {
            budget,
            keys: RandomState::new(),
            inner: Mutex::new(Held::default()),
            loads: Mutex::new(Loads::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_loads(&self) -> std::sync::MutexGuard<'_, Loads> {
        self.loads.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self, tenant: TenantId, event_id: &str) -> u64 {
        self.keys.hash_one((tenant.0, event_id))
    }

    /// The held batch of the tenant's event and the event's index in it, if held.
    pub fn get(&self, tenant: TenantId, event_id: &str) -> Option<(Arc<HeldBatch>, usize)> {
        let key = self.key(tenant, event_id);
        let (batch, index) = {
            let mut g = self.lock();
            let &(slot, leaf) = g.index.get(&key)?;
            g.clock += 1;
            let now = g.clock;
            let (batch, used) = g.slots.get_mut(usize::try_from(slot).ok()?)?.as_mut()?;
            *used = now;
            (batch.clone(), usize::try_from(leaf).ok()?)
        };
        // Another event with the same key is a miss, never its bundle.
        (batch.tenant == tenant && batch.event_id(index) == Some(event_id))
            .then_some((batch, index))
    }

    /// Holds a checked batch (unless it alone exceeds the budget), letting the least recently
    /// read ones go to stay within the budget.
    pub fn insert(&self, batch: HeldBatch) {
        if batch.bytes > self.budget {
            return;
        }
        let batch = Arc::new(batch);
        let keys: Vec<u64> = batch
            .leaves
            .iter()
            .map(|l| self.key(batch.tenant, &l.event_id))
            .collect();
        let mut let_go = Vec::new();
        {
            let mut g = self.lock();
            if g.by_id.contains_key(&batch.batch_id) {
                return;
            }
            while g.bytes + batch.bytes > self.budget {
                let Some(gone) = self.evict_oldest(&mut g) else {
                    break;
                };
                let_go.push(gone);
            }
            g.clock += 1;
            let entry = Some((batch.clone(), g.clock));
            let slot = match g.free.pop() {
                Some(slot) => {
                    if let Some(s) = g.slots.get_mut(slot as usize) {
                        *s = entry;
                    }
                    slot
                }
                None => {
                    let Ok(slot) = u32::try_from(g.slots.len()) else {
                        return;
                    };
                    g.slots.push(entry);
                    slot
                }
            };
            g.index.reserve(keys.len());
            for (i, key) in keys.into_iter().enumerate() {
                let Ok(i) = u32::try_from(i) else { break };
                g.index.insert(key, (slot, i));
            }
            g.by_id.insert(batch.batch_id, slot);
            g.bytes += batch.bytes;
        }
        // Batches let go are freed outside the lock.
        drop(let_go);
    }

    /// Removes the least recently read batch; returns it (to be dropped outside the lock).
    fn evict_oldest(&self, g: &mut Held) -> Option<Arc<HeldBatch>> {
        let (slot, _) = g
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|(_, used)| (i, *used)))
            .min_by_key(|&(_, used)| used)?;
        let (batch, _) = g.slots.get_mut(slot)?.take()?;
        let slot = u32::try_from(slot).ok()?;
        for leaf in &batch.leaves {
            let key = self.key(batch.tenant, &leaf.event_id);
            // Only this batch's entries: a colliding key may name another batch's event.
            if g.index.get(&key).is_some_and(|&(s, _)| s == slot) {
                g.index.remove(&key);
            }
        }
        g.by_id.remove(&batch.batch_id);
        g.free.push(slot);
        g.bytes -= batch.bytes;
        Some(batch)
    }

    /// True when a batch of `events` events could be held at all.
    pub fn fits(&self, events: usize) -> bool {
        events.saturating_mul(std::mem::size_of::<HeldLeaf>() + INDEX_ENTRY) <= self.budget
    }

    /// Whether to load `batch` now: not held, not being loaded, not refused, and fewer than
    /// [`LOADS_AT_ONCE`] loads running. `true` marks it as being loaded; the loader calls
    /// [`BatchCache::loaded`] when done.
    pub fn start_load(&self, batch: Uuid) -> bool {
        if self.budget == 0 || self.lock().by_id.contains_key(&batch) {
            return false;
        }
        let mut l = self.lock_loads();
        if l.running.len() >= LOADS_AT_ONCE
            || l.running.contains(&batch)
            || l.refused.contains(&batch)
        {
            return false;
        }
        l.running.insert(batch)
    }

    /// A load of `batch` ended; `refused`: it did not check out (or cannot be held), so it is
    /// not loaded again.
    pub fn loaded(&self, batch: Uuid, refused: bool) {
        let mut l = self.lock_loads();
        l.running.remove(&batch);
        if refused {
            if l.refused.len() >= REFUSED_REMEMBERED {
                l.refused.clear();
            }
            l.refused.insert(batch);
        }
    }

    /// Estimated bytes held (what the budget bounds).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Batch loads running.
    pub fn loads_running(&self) -> usize {
        self.lock_loads().running.len()
    }

    /// Batches held.
    pub fn batches(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Events that can be found (the index's entries).
    pub fn events(&self) -> usize {
        self.lock().index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = (BatchShared, Vec<LeafRow>);

    /// The stored rows of a batch of `n` events (`{prefix}-{i}`), as `db::proofs::batch_shared`
    /// and `batch_leaves` return them; the anchor step is a placeholder (holding does not run
    /// it; every read does, through `Bundle::build`).
    fn rows(tenant: TenantId, prefix: &str, n: usize) -> Rows {
        let leaves: Vec<EventLeaf> = (0..n)
            .map(|i| EventLeaf {
                tenant_id: tenant.bytes(),
                event_id: format!("{prefix}-{i}"),
                digest: ContentDigest::sha256_of(format!("c{i}").as_bytes()),
                submitter: "ak_test_1234".into(),
                received_at_micros: 1_767_225_600_000_000 + i64::try_from(i).expect("i"),
            })
            .collect();
        let hashes: Vec<Hash> = leaves
            .iter()
            .map(|l| l.leaf_hash().expect("leaf"))
            .collect();
        let root = MerkleTree::from_leaf_hashes(HashAlgorithm::Sha512_256, hashes.clone()).root();
        let trust: serde_json::Value = serde_json::from_str(
            r#"[{"type":"tlog","origin":"log.ancora.test/v1","leaf_index":6,"log_size":10,"proof":"AAAABAAAAAAAAAAGAVli8Dm4HYrhZq9gW_4HGjsQWomnK-99Sa0wuGDIhXd_AJTDx3VmbeHGknfL0THmPfFALXJBb-Ohbx4hqKCX441eAEPchPBg4bXTcFx7v_WTahRYTxXZ0AT99cIkaLiFTYuUAZRqaUpEXzabV_epGtqWGfgBNUogCEHk-YG0bcfCU1Ce","checkpoint":"log.ancora.test/v1\n10\nsAhnaGxMeMAiXn/JwkpvBR6TbuMc9HE39SePBY4g8mM=\n\n\u2014 log.ancora.test/v1 lba10fcKS/7Wo9YLQnbFMDAfiYMqyofJEpnaDd2DSNrpRyUllafMYfjMsBkhamQsQiAkSU7QrHYiqR0XIJS3d54V6AI=\n"}]"#,
        )
        .expect("trust point");
        let shared = BatchShared {
            batch_id: Uuid::now_v7(),
            size: i32::try_from(n).expect("n"),
            batch_root: root.0.to_vec(),
            anchor_id: Some(Uuid::now_v7()),
            anchor_proof: Some(
                MerkleProof {
                    position: 0,
                    steps: Vec::new(),
                }
                .encode(),
            ),
            anchor_root: Some(root.0.to_vec()),
            trust_point: Some(trust),
        };
        let rows = leaves
            .iter()
            .zip(hashes)
            .enumerate()
            .map(|(i, (l, h))| LeafRow {
                event_id: l.event_id.clone(),
                digest_alg: "sha256".into(),
                digest: l.digest.bytes.to_vec(),
                submitter: l.submitter.clone(),
                received_at_micros: l.received_at_micros,
                leaf_hash: h.0.to_vec(),
                leaf_index: Some(i32::try_from(i).expect("i")),
                compact: true,
            })
            .collect();
        (shared, rows)
    }

    fn held(tenant: TenantId, prefix: &str, n: usize) -> HeldBatch {
        let (shared, leaves) = rows(tenant, prefix, n);
        HeldBatch::from_rows(tenant, shared, leaves).expect("held")
    }

    #[test]
    fn a_batch_is_held_only_when_every_leaf_and_the_root_check_out() {
        let tenant = TenantId(Uuid::now_v7());
        let ok = held(tenant, "ok", 7);
        assert_eq!((ok.len(), ok.event_id(6)), (7, Some("ok-6")));
        assert!(ok.bytes() > 7 * INDEX_ENTRY);

        let refused = |mut r: Rows, damage: &dyn Fn(&mut Rows), why: &str| {
            damage(&mut r);
            let e = HeldBatch::from_rows(tenant, r.0, r.1).expect_err(why);
            e.to_string()
        };
        // A leaf whose fields changed.
        let e = refused(
            rows(tenant, "a", 5),
            &|r| r.1[2].submitter = "ak_other".into(),
            "leaf",
        );
        assert!(e.contains("leaf hash does not match"), "{e}");
        // A leaf missing: the root does not come out.
        let e = refused(
            rows(tenant, "b", 5),
            &|r| {
                r.1.pop();
            },
            "root",
        );
        assert!(e.contains("do not give its root"), "{e}");
        // Rows out of tree order.
        let e = refused(rows(tenant, "c", 5), &|r| r.1.swap(1, 3), "order");
        assert!(e.contains("is not leaf 1"), "{e}");
        // A whole bundle stored before compact proofs.
        let e = refused(rows(tenant, "d", 5), &|r| r.1[4].compact = false, "whole");
        assert!(e.contains("is not leaf 4"), "{e}");
        // Version-1 proofs (one trust point) stay on their rows.
        let e = refused(
            rows(tenant, "e", 5),
            &|r| r.0.trust_point = Some(serde_json::json!({"type": "tlog"})),
            "v1",
        );
        assert!(e.contains("version-1"), "{e}");
        // Another tenant's rows: their leaves do not hash as this tenant's.
        let (shared, leaves) = rows(tenant, "f", 3);
        assert!(HeldBatch::from_rows(TenantId(Uuid::now_v7()), shared.clone(), leaves).is_err());
        assert!(HeldBatch::from_rows(tenant, shared, Vec::new()).is_err());
    }

    #[test]
    fn held_batches_stay_within_the_budget_and_are_found_only_by_their_own_tenant_and_id() {
        let tenant = TenantId(Uuid::now_v7());
        let one = held(tenant, "x0", 100);
        let budget = one.bytes() * 8;
        let cache = BatchCache::new(budget);
        assert!(cache.get(tenant, "x0-5").is_none());
        cache.insert(one);
        let (b, i) = cache.get(tenant, "x0-5").expect("held");
        assert_eq!((b.event_id(i), b.len()), (Some("x0-5"), 100));
        // Another tenant's event of the same id, and an id not held, are misses.
        assert!(cache.get(TenantId(Uuid::now_v7()), "x0-5").is_none());
        assert!(cache.get(tenant, "x0-100").is_none());

        for n in 1..40 {
            cache.insert(held(tenant, &format!("x{n}"), 100));
            assert!(cache.bytes() <= budget, "{} > {budget}", cache.bytes());
            // The batch just held is found, and so is the first, read after every insert:
            // the least recently read batch goes first.
            assert!(cache.get(tenant, &format!("x{n}-99")).is_some());
            assert!(cache.get(tenant, "x0-5").is_some(), "after x{n}");
        }
        assert!(
            cache.batches() >= 6,
            "the budget is used: {}",
            cache.batches()
        );
        assert_eq!(cache.events(), cache.batches() * 100);
        assert!(
            cache.get(tenant, "x1-0").is_none(),
            "the least recently read are let go"
        );
        assert!(cache.get(tenant, "x39-0").is_some());

        // A batch larger than the budget is not held; a zero budget holds and loads nothing.
        let big = held(tenant, "big", 1000);
        assert!(big.bytes() > budget);
        assert!(!cache.fits(5_000));
        cache.insert(big);
        assert!(cache.get(tenant, "big-0").is_none());
        assert!(
            cache.get(tenant, "x39-0").is_some(),
            "nothing let go for it"
        );
        let off = BatchCache::new(0);
        assert!(!off.start_load(Uuid::now_v7()));
    }

    #[test]
    fn loads_run_once_per_batch_a_few_at_a_time_and_a_refused_batch_is_not_loaded_again() {
        let cache = BatchCache::new(1 << 20);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert!(cache.start_load(a));
        assert!(!cache.start_load(a), "already loading");
        assert!(cache.start_load(b));
        for _ in 2..LOADS_AT_ONCE {
            assert!(cache.start_load(Uuid::now_v7()));
        }
        assert_eq!(cache.loads_running(), LOADS_AT_ONCE);
        assert!(!cache.start_load(c), "{LOADS_AT_ONCE} at once at most");
        cache.loaded(a, true);
        assert!(cache.start_load(c));
        assert!(!cache.start_load(a), "refused: not again");
        cache.loaded(b, false);
        cache.loaded(c, false);
        assert!(
            cache.start_load(b),
            "ended without being held: may load again"
        );
        // A held batch is not loaded again.
        let tenant = TenantId(Uuid::now_v7());
        let h = held(tenant, "h", 3);
        let id = h.id();
        cache.insert(h);
        assert!(!cache.start_load(id));
    }
}
