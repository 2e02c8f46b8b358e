//! The node double's block chains: per-chain header chains from the real mainnet01 genesis
//! headers of chains 0–9, a mempool per chain, mining rounds, reorgs and SPV proofs.
//!
//! The chain graph is mainnet01's original ten-chain graph (the Petersen graph), read from
//! the genesis headers' adjacents. A mining round adds one block to every chain: block
//! `h + 1` on chain `c` has the parent `c@h`, the adjacent parents `n@h` for each
//! neighbour `n`, the payload hash of the transactions it mined and a creation time after
//! its parent's; its hash is `compute_hash()` of those fields, so every header, payload and
//! proof checks with `ancora-proof` like real Chainweb data.

use std::collections::{BTreeMap, HashMap, VecDeque};

use ancora_proof::Hash;
use ancora_proof::chainweb::{BlockHeader, Payload};
use ancora_proof::spv::{HeaderLink, TransactionOutputProof, build_output_proof};
use serde_json::{Value, json};

use crate::command::{PactCommand, PactPayload, SignedCommand, hash_cmd};
use crate::testkit::pact;
use crate::types::RequestKey;

/// The real mainnet01 genesis headers of chains 0–9 (the proof core's vendored vector).
const GENESIS: &str = include_str!("../../../proof/tests/vectors/mainnet01-genesis-headers.json");

/// A command waiting in a mempool.
pub(crate) struct Pending {
    pub key: RequestKey,
    pub signed: SignedCommand,
    pub cmd: PactCommand,
}

/// A mined block and what the double needs to answer about it.
pub(crate) struct Block {
    pub header: BlockHeader,
    /// `None` for the genesis blocks, whose payloads the double does not hold.
    pub payload: Option<Payload>,
    pub keys: Vec<RequestKey>,
    /// The stored CommandResults (no `metaData`, as in real block outputs).
    pub outputs: Vec<Value>,
    /// The commands, to put back in the mempool when the block is orphaned.
    pub pending: Vec<Pending>,
    /// Anchor ids recorded in this block.
    pub anchors: Vec<String>,
}

pub(crate) struct Chain {
    pub neighbors: Vec<u32>,
    pub blocks: Vec<Block>,
    pub mempool: Vec<Pending>,
}

/// Where a transaction was mined.
pub(crate) struct Found<'a> {
    pub block: &'a Block,
    pub index: usize,
}

pub(crate) struct Chains {
    pub chains: BTreeMap<u32, Chain>,
    /// Every header ever mined, orphans included, by hash (a node's header database).
    pub headers: HashMap<Hash, BlockHeader>,
    next_tx_id: u64,
    /// Mixed into nonces so that re-mined blocks get new hashes.
    nonce_salt: u64,
}

impl Chains {
    /// The genesis state. Panics only if the vendored vector is broken, which the proof
    /// core's own tests rule out; it returns an error string instead.
    pub fn genesis() -> Result<Self, String> {
        let v: Value = serde_json::from_str(GENESIS).map_err(|e| format!("genesis vector: {e}"))?;
        let items = v
            .get("headers")
            .and_then(Value::as_array)
            .ok_or("genesis vector: no headers")?;
        let mut chains = BTreeMap::new();
        let mut headers = HashMap::new();
        for item in items {
            let header =
                BlockHeader::from_json_value(item).map_err(|e| format!("genesis header: {e}"))?;
            header
                .check_hash()
                .map_err(|e| format!("genesis header: {e}"))?;
            let neighbors = header.adjacents.keys().copied().collect();
            headers.insert(header.compute_hash(), header.clone());
            chains.insert(
                header.chain_id,
                Chain {
                    neighbors,
                    blocks: vec![Block {
                        header,
                        payload: None,
                        keys: Vec::new(),
                        outputs: Vec::new(),
                        pending: Vec::new(),
                        anchors: Vec::new(),
                    }],
                    mempool: Vec::new(),
                },
            );
        }
        Ok(Chains {
            chains,
            headers,
            next_tx_id: 1,
            nonce_salt: 0,
        })
    }

    /// The height of the chains (all chains advance together).
    pub fn height(&self) -> u64 {
        self.chains
            .values()
            .map(|c| c.blocks.len() as u64 - 1)
            .min()
            .unwrap_or(0)
    }

    /// The canonical block at `height` on `chain`.
    pub fn block(&self, chain: u32, height: u64) -> Option<&Block> {
        self.chains
            .get(&chain)?
            .blocks
            .get(usize::try_from(height).ok()?)
    }

    /// A canonical transaction by request key.
    pub fn find(&self, chain: u32, key: &RequestKey) -> Option<Found<'_>> {
        self.chains.get(&chain)?.blocks.iter().find_map(|block| {
            block
                .keys
                .iter()
                .position(|k| k == key)
                .map(|index| Found { block, index })
        })
    }

    /// One mining round: a block on every chain at `now_micros` (or just after the parent).
    /// Commands expired at `now_secs` are dropped from the mempools first. `gas_errors`
    /// is decremented for each command forced to fail out of gas.
    pub fn mine_round(&mut self, now_micros: u64, now_secs: u64, gas_errors: &mut u32) {
        let height = self.height();
        let parents: BTreeMap<u32, Hash> = self
            .chains
            .iter()
            .filter_map(|(id, c)| {
                c.blocks
                    .get(height as usize)
                    .map(|b| (*id, b.header.compute_hash()))
            })
            .collect();
        let ids: Vec<u32> = self.chains.keys().copied().collect();
        for id in ids {
            let Some(chain) = self.chains.get_mut(&id) else {
                continue;
            };
            let Some(parent) = chain.blocks.last() else {
                continue;
            };
            let parent_header = parent.header.clone();
            let recorded: Vec<String> = chain
                .blocks
                .iter()
                .flat_map(|b| b.anchors.iter().cloned())
                .collect();
            let pending: Vec<Pending> = std::mem::take(&mut chain.mempool)
                .into_iter()
                .filter(|p| p.cmd.meta.creation_time.saturating_add(p.cmd.meta.ttl) >= now_secs)
                .collect();
            let mut block = Block {
                header: parent_header.clone(),
                payload: None,
                keys: Vec::new(),
                outputs: Vec::new(),
                pending: Vec::new(),
                anchors: Vec::new(),
            };
            let mut transactions = Vec::new();
            for p in pending {
                let code = match &p.cmd.payload {
                    PactPayload::Exec(e) => e.code.clone(),
                    PactPayload::Cont(_) => "(continuation)".to_owned(),
                };
                let force = *gas_errors > 0;
                if force {
                    *gas_errors -= 1;
                }
                let outcome = pact::run(&code, p.cmd.meta.gas_limit, force, |aid| {
                    recorded.iter().chain(&block.anchors).any(|r| r == aid)
                });
                if let Some(a) = outcome.anchored {
                    block.anchors.push(a);
                }
                let output = json!({
                    "gas": outcome.gas,
                    "result": outcome.result,
                    "reqKey": p.key.to_string(),
                    "logs": hash_cmd(&outcome.events.len().to_string()).to_string(),
                    "events": outcome.events,
                    "metaData": null,
                    "continuation": null,
                    "txId": self.next_tx_id,
                });
                self.next_tx_id += 1;
                transactions.push((
                    p.signed.to_json().into_bytes(),
                    output.to_string().into_bytes(),
                ));
                block.keys.push(p.key);
                block.outputs.push(output);
                block.pending.push(p);
            }
            let parent_hash = parent_header.compute_hash();
            let payload = Payload {
                miner_data:
                    br#"{"account":"ancora-testkit","predicate":"keys-all","public-keys":[]}"#
                        .to_vec(),
                coinbase: json!({
                    "gas": 0, "result": {"status": "success", "data": "Write succeeded"},
                    "reqKey": parent_hash.to_b64url(), "logs": null, "metaData": null,
                    "continuation": null, "txId": null, "events": []
                })
                .to_string()
                .into_bytes(),
                transactions,
            };
            let mut header = parent_header;
            header.height += 1;
            header.parent = parent_hash;
            header.adjacents = chain
                .neighbors
                .iter()
                .filter_map(|n| parents.get(n).map(|h| (*n, *h)))
                .collect();
            header.payload_hash = payload.hashes().payload_hash;
            header.creation_time = now_micros.max(header.creation_time + 1);
            header.weight = add_one(header.weight);
            header.nonce = self
                .nonce_salt
                .wrapping_mul(1_000_003)
                .wrapping_add(header.height);
            header.hash = None;
            header.hash = Some(header.compute_hash());
            block.header = header;
            block.payload = Some(payload);
            if let Some(h) = block.header.hash {
                self.headers.insert(h, block.header.clone());
            }
            chain.blocks.push(block);
        }
    }

    /// Orphans the last `depth` rounds (never the genesis blocks). Commands mined on
    /// `chain` in them are dropped; those of other chains go back to their mempools. The
    /// caller re-mines.
    pub fn orphan(&mut self, chain: u32, depth: u64) {
        self.nonce_salt += 1;
        let keep = self.height().saturating_sub(depth) as usize + 1;
        for (id, c) in self.chains.iter_mut() {
            let orphaned = c.blocks.split_off(keep.min(c.blocks.len()));
            if *id != chain {
                let mut back: Vec<Pending> = orphaned.into_iter().flat_map(|b| b.pending).collect();
                back.append(&mut c.mempool);
                c.mempool = back;
            }
        }
    }

    /// A `/pact/spv` proof of `key`'s output on `source`, leading to a block on `target`:
    /// outputs → payload → header, then one hop per height along a shortest path in the
    /// graph (the header at height `h + k` on the k-th chain of the path names the previous
    /// one as an adjacent parent). Errors are the node's 400 texts.
    pub fn spv(
        &self,
        source: u32,
        key: &RequestKey,
        target: u32,
    ) -> Result<TransactionOutputProof, String> {
        let found = self
            .find(source, key)
            .ok_or_else(|| format!("Transaction with request key {key} not found"))?;
        let payload = found
            .block
            .payload
            .as_ref()
            .ok_or("no payload for the block")?;
        let mut proof = build_output_proof(payload, found.index, &found.block.header)
            .map_err(|e| e.to_string())?;
        let path = self
            .path(source, target)
            .ok_or_else(|| format!("chain {target} is not in the graph"))?;
        let mut height = found.block.header.height;
        for hop in path.windows(2) {
            height += 1;
            let child = self.block(hop[1], height).ok_or(
                "SPV target not reachable: target chain not reachable. Chainweb instance is too young",
            )?;
            proof
                .extend(&child.header, HeaderLink::Adjacent(hop[0]))
                .map_err(|e| e.to_string())?;
        }
        Ok(proof)
    }

    /// A shortest path from `from` to `to` (both included), by breadth-first search.
    fn path(&self, from: u32, to: u32) -> Option<Vec<u32>> {
        let mut prev: HashMap<u32, u32> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        let mut seen = vec![from];
        while let Some(c) = queue.pop_front() {
            if c == to {
                let mut path = vec![to];
                let mut cur = to;
                while let Some(p) = prev.get(&cur) {
                    path.push(*p);
                    cur = *p;
                }
                path.reverse();
                return Some(path);
            }
            for n in self
                .chains
                .get(&c)
                .map(|ch| ch.neighbors.as_slice())
                .unwrap_or_default()
            {
                if !seen.contains(n) {
                    seen.push(*n);
                    prev.insert(*n, c);
                    queue.push_back(*n);
                }
            }
        }
        None
    }
}

/// A 256-bit little-endian number plus one (block weight).
fn add_one(mut w: [u8; 32]) -> [u8; 32] {
    for b in w.iter_mut() {
        let (v, carry) = b.overflowing_add(1);
        *b = v;
        if !carry {
            break;
        }
    }
    w
}
