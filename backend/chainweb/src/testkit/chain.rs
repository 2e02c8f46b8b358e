//! The node double's block chains: per-chain header chains from the genesis headers of
//! chains 0–9 (mainnet01's real ones, or the development network's made by
//! [`genesis_header`]), a mempool per chain, mining rounds, reorgs and SPV proofs.
//!
//! The chain graph is mainnet01's original ten-chain graph (the Petersen graph,
//! [`PETERSEN`]), read from the genesis headers' adjacents. A mining round adds one block to every chain: block
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
use crate::testkit::{Network, pact};
use crate::types::RequestKey;

/// The real mainnet01 genesis headers of chains 0–9 (the proof core's vendored vector).
const GENESIS: &str = include_str!("../../../proof/tests/vectors/mainnet01-genesis-headers.json");

/// A command waiting in a mempool.
pub(crate) struct Pending {
    pub key: RequestKey,
    pub signed: SignedCommand,
    pub cmd: PactCommand,
    /// The lowest block height that may include it (the confirmation delay).
    pub not_before: u64,
}

/// A mined block and what the double needs to answer about it.
pub(crate) struct Block {
    pub header: BlockHeader,
    /// `None` for mainnet01's genesis blocks, whose payloads the double does not hold.
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
    /// Extra blocks a command waits in the mempool (see `TestNode::set_confirm_delay_blocks`).
    pub confirm_delay_blocks: u64,
}

impl Chains {
    /// The genesis state of `network`: an error string, never a panic, if the genesis
    /// headers cannot be made (which the tests rule out).
    pub fn new(network: Network) -> Result<Self, String> {
        match network {
            Network::Mainnet01 => Self::genesis(),
            Network::Development => Self::development(),
        }
    }

    /// The development network's genesis state: the headers of [`genesis_header`] for
    /// chains 0–9 with the payloads of [`development_genesis_payload`].
    fn development() -> Result<Self, String> {
        let mut blocks = Vec::new();
        for chain in 0..PETERSEN.len() as u32 {
            let payload = development_genesis_payload(chain);
            let header = genesis_header(
                Network::Development.version_code(),
                chain,
                DEVELOPMENT_GENESIS_TIME,
                development_genesis_target(),
                payload.hashes().payload_hash,
            )
            .ok_or_else(|| format!("development genesis: chain {chain} is not in the graph"))?;
            blocks.push((header, Some(payload)));
        }
        Ok(Self::from_genesis(blocks))
    }

    /// The mainnet01 genesis state, from the proof core's vendored vector.
    pub fn genesis() -> Result<Self, String> {
        let v: Value = serde_json::from_str(GENESIS).map_err(|e| format!("genesis vector: {e}"))?;
        let items = v
            .get("headers")
            .and_then(Value::as_array)
            .ok_or("genesis vector: no headers")?;
        let mut blocks = Vec::new();
        for item in items {
            let header =
                BlockHeader::from_json_value(item).map_err(|e| format!("genesis header: {e}"))?;
            header
                .check_hash()
                .map_err(|e| format!("genesis header: {e}"))?;
            blocks.push((header, None));
        }
        Ok(Self::from_genesis(blocks))
    }

    /// Chains starting from these genesis blocks, linked as their adjacents say.
    fn from_genesis(genesis: Vec<(BlockHeader, Option<Payload>)>) -> Self {
        let mut chains = BTreeMap::new();
        let mut headers = HashMap::new();
        for (header, payload) in genesis {
            let neighbors = header.adjacents.keys().copied().collect();
            headers.insert(header.compute_hash(), header.clone());
            chains.insert(
                header.chain_id,
                Chain {
                    neighbors,
                    blocks: vec![Block {
                        header,
                        payload,
                        keys: Vec::new(),
                        outputs: Vec::new(),
                        pending: Vec::new(),
                        anchors: Vec::new(),
                    }],
                    mempool: Vec::new(),
                },
            );
        }
        Chains {
            chains,
            headers,
            next_tx_id: 1,
            nonce_salt: 0,
            confirm_delay_blocks: 0,
        }
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
    /// Commands expired at `now_secs` are dropped from the mempools first; commands whose
    /// confirmation delay has not passed stay. `gas_errors` is decremented for each command
    /// forced to fail out of gas.
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
            let (pending, waiting): (Vec<Pending>, Vec<Pending>) =
                std::mem::take(&mut chain.mempool)
                    .into_iter()
                    .filter(|p| p.cmd.meta.creation_time.saturating_add(p.cmd.meta.ttl) >= now_secs)
                    .partition(|p| p.not_before <= height + 1);
            chain.mempool = waiting;
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

/// The lowest height of a block that may include a command arriving when the chain is at
/// `height` and waiting `delay` blocks more than the next one.
pub(crate) fn not_before(height: u64, delay: u64) -> u64 {
    height.saturating_add(1).saturating_add(delay)
}

/// Chainweb's original ten-chain graph (`petersonChainGraph`, the Petersen graph), as
/// mainnet01's genesis headers name their adjacent parents: `PETERSEN[c]` are chain `c`'s
/// neighbours, ascending.
pub const PETERSEN: [[u32; 3]; 10] = [
    [2, 3, 5],
    [3, 4, 6],
    [0, 4, 7],
    [0, 1, 8],
    [1, 2, 9],
    [0, 6, 9],
    [1, 5, 7],
    [2, 6, 8],
    [3, 7, 9],
    [4, 5, 8],
];

/// The development network's genesis time, chainweb-node's for its development versions:
/// 2019-07-17T18:28:37.613832Z, in microseconds since the Unix epoch.
pub const DEVELOPMENT_GENESIS_TIME: u64 = 1_563_388_117_613_832;

/// The development network's genesis target: chainweb-node's for development,
/// `maxBound `div` 100000` over 256 bits, little-endian.
pub fn development_genesis_target() -> [u8; 32] {
    let mut target = [0xffu8; 32];
    let mut rem = 0u32;
    for b in target.iter_mut().rev() {
        let cur = (rem << 8) | u32::from(*b);
        *b = (cur / 100_000) as u8;
        rem = cur % 100_000;
    }
    target
}

/// The genesis payload of `chain` on the development network: no transactions, chainweb's
/// `NoMiner` miner data and a coinbase output naming the chain's genesis parent. Made here,
/// not chainweb-node's (which deploys the coin contract): only its hash matters, and it
/// is deterministic.
pub fn development_genesis_payload(chain: u32) -> Payload {
    let parent =
        ancora_proof::chainweb::genesis_parent_hash(Network::Development.version_code(), chain);
    Payload {
        miner_data: br#"{"account":"NoMiner","predicate":"<","public-keys":[]}"#.to_vec(),
        coinbase: json!({
            "gas": 0, "result": {"status": "success", "data": "ancora devnet genesis"},
            "reqKey": parent.to_b64url(), "logs": null, "metaData": null,
            "continuation": null, "txId": null, "events": []
        })
        .to_string()
        .into_bytes(),
        transactions: Vec::new(),
    }
}

/// A genesis header as chainweb-node makes one (`genesisBlockHeader'`): height 0, weight 0,
/// feature flags 0, nonce 0, the epoch starting at the creation time, the parent
/// `genesisParentBlockHash(version, chain)` and, for each neighbour `n` of `chain` in
/// [`PETERSEN`], the adjacent parent `genesisParentBlockHash(version, n)`. The claimed hash
/// is the computed one. `None` when `chain` is not in the graph.
pub fn genesis_header(
    version: u32,
    chain: u32,
    creation_time: u64,
    target: [u8; 32],
    payload_hash: Hash,
) -> Option<BlockHeader> {
    use ancora_proof::chainweb::genesis_parent_hash;
    let neighbours = PETERSEN.get(usize::try_from(chain).ok()?)?;
    let mut header = BlockHeader {
        fork_state: 0,
        creation_time,
        parent: genesis_parent_hash(version, chain),
        adjacents: neighbours
            .iter()
            .map(|n| (*n, genesis_parent_hash(version, *n)))
            .collect(),
        target,
        payload_hash,
        chain_id: chain,
        weight: [0; 32],
        height: 0,
        version,
        epoch_start: creation_time,
        nonce: 0,
        hash: None,
    };
    header.hash = Some(header.compute_hash());
    Some(header)
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

#[cfg(test)]
mod tests {
    use super::*;

    use ancora_proof::chainweb::{genesis_parent_hash, version};

    fn mainnet_vector() -> Vec<BlockHeader> {
        let v: Value = serde_json::from_str(GENESIS).unwrap_or_default();
        v["headers"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| BlockHeader::from_json_value(i).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_genesis_rule_rebuilds_the_real_mainnet01_genesis_headers() {
        let real = mainnet_vector();
        assert_eq!(real.len(), 10);
        for h in &real {
            let made = genesis_header(
                version::MAINNET01,
                h.chain_id,
                h.creation_time,
                h.target,
                h.payload_hash,
            )
            .expect("chain in the graph");
            assert_eq!(&made, h, "chain {}", h.chain_id);
            assert_eq!(
                h.adjacents.keys().copied().collect::<Vec<_>>(),
                PETERSEN[h.chain_id as usize].to_vec(),
                "PETERSEN is mainnet01's graph"
            );
        }
        assert!(genesis_header(version::MAINNET01, 10, 0, [0; 32], Hash([0; 32])).is_none());
    }

    #[test]
    fn development_genesis_headers_are_deterministic_and_for_the_development_version() {
        let a = Chains::new(Network::Development).expect("development genesis");
        let b = Chains::new(Network::Development).expect("development genesis");
        let mainnet = Chains::new(Network::Mainnet01).expect("mainnet genesis");
        assert_eq!(a.chains.len(), 10);
        for (id, chain) in &a.chains {
            let g = &chain.blocks[0].header;
            assert_eq!(g, &b.chains[id].blocks[0].header);
            assert_eq!(g.check_hash().ok(), g.hash);
            assert_eq!(g.version, version::DEVELOPMENT);
            assert_eq!(g.height, 0);
            assert_eq!(g.parent, genesis_parent_hash(version::DEVELOPMENT, *id));
            assert_eq!(g.creation_time, DEVELOPMENT_GENESIS_TIME);
            let payload = chain.blocks[0].payload.as_ref().expect("payload held");
            assert_eq!(g.payload_hash, payload.hashes().payload_hash);
            assert_ne!(g.hash, mainnet.chains[id].blocks[0].header.hash);
            assert_eq!(
                chain.neighbors, mainnet.chains[id].neighbors,
                "the same graph as mainnet01"
            );
            for (n, h) in &g.adjacents {
                assert_eq!(*h, genesis_parent_hash(version::DEVELOPMENT, *n));
            }
        }
        let t = development_genesis_target();
        assert_eq!(t[31], 0x00);
        assert_eq!(t[30], 0x00);
        // 0xff…ff / 100000 = 0x0000a7c5ac471b4784230fcf80dc33721d53cddd6e04c059210385c67dfe32a0
        assert_eq!(
            hex::encode(t.iter().rev().copied().collect::<Vec<_>>()),
            "0000a7c5ac471b4784230fcf80dc33721d53cddd6e04c059210385c67dfe32a0"
        );
    }

    #[test]
    fn the_confirmation_delay_holds_a_command_back() {
        assert_eq!(not_before(0, 0), 1);
        assert_eq!(not_before(4, 2), 7);
        assert_eq!(not_before(u64::MAX, 3), u64::MAX);
    }
}
