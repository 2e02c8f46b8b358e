//! A Chainweb node double (feature `testkit`): an axum server that answers `/send`, `/poll`,
//! `/listen`, `/pact/spv`, `/header/{hash}`, `/header`, `/cut`, `/info` and `/health-check`
//! like chainweb-node, with real Chainweb hashing.
//!
//! * **Networks**: [`TestNode::start`] serves mainnet01's chains 0–9 from the real genesis
//!   headers (the network id is `mainnet01`), on `127.0.0.1:0`, for tests.
//!   [`TestNode::start_with`] can instead serve a local **development** network
//!   ([`Network::Development`], version code [`ancora_proof::chainweb::version::DEVELOPMENT`],
//!   paths `/chainweb/0.0/development/…`), whose genesis headers are made here
//!   deterministically ([`chain::genesis_header`]); that is what the `chainweb-devnet`
//!   binary runs. Both use mainnet01's original ten-chain (Petersen) graph.
//! * **Blocks** are mined on demand ([`TestNode::mine`]) or every
//!   [`Options::block_time`]: one round adds a block to every chain, holding the commands
//!   received for it, with payload trees and header hashes computed by `ancora-proof` (see
//!   [`chain`]).
//! * **Commands** are checked as a node does (hash, signatures, network, chain, TTL; 400
//!   with text otherwise) and run by a tiny Pact ([`pact`]).
//! * **SPV**: `/pact/spv` returns real proofs, same-chain or across the graph, that verify
//!   with `ancora_proof::spv` against the headers `/header/{hash}` serves.
//! * **Faults** for tests: [`fail_next`](TestNode::fail_next) (5xx),
//!   [`delay_next`](TestNode::delay_next) (timeouts), [`respond_next`](TestNode::respond_next)
//!   (any canned answer: garbage, forged headers, bad proofs), [`reorg`](TestNode::reorg),
//!   [`advance_time`](TestNode::advance_time) (expire TTLs),
//!   [`gas_error_next`](TestNode::gas_error_next) and
//!   [`set_confirm_delay_blocks`](TestNode::set_confirm_delay_blocks) (slow inclusion).
//!
//! ## What the double is not
//!
//! It is not a Chainweb node and joins no network: there is no consensus, no proof of work
//! (nonces are counters, targets are never met), no peers, no mempool sync, no real Pact
//! (only the forms [`pact`] lists), no gas accounting beyond a fixed price, and no
//! persistence (everything lives in memory and is gone when it stops). Its headers,
//! payloads and SPV proofs are real in the sense that they hash and verify exactly as
//! Chainweb's do; they prove nothing about mainnet or testnet. A development double never
//! answers for `mainnet01` or `testnet04`, and its blocks could not be mistaken for theirs:
//! the version code enters every header hash.
pub mod chain;
pub mod pact;
mod server;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ancora_proof::chainweb::BlockHeader;
use ancora_proof::chainweb::version;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use chain::Chains;

/// The network [`TestNode::start`] serves (`mainnet01`).
pub const NETWORK: &str = "mainnet01";

/// The Chainweb network a double serves: its name in paths and commands, and its version
/// code in headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Network {
    /// `mainnet01` (code 5): the real genesis headers of chains 0–9. For tests only.
    #[default]
    Mainnet01,
    /// `development` (code [`version::DEVELOPMENT`]): genesis headers made by
    /// [`chain::genesis_header`]. What the `chainweb-devnet` binary serves.
    Development,
}

impl Network {
    /// The network id in paths and commands: `mainnet01` or `development`.
    pub fn name(self) -> &'static str {
        match self {
            Network::Mainnet01 => NETWORK,
            Network::Development => "development",
        }
    }

    /// The chainweb version code headers carry.
    pub fn version_code(self) -> u32 {
        match self {
            Network::Mainnet01 => version::MAINNET01,
            Network::Development => version::DEVELOPMENT,
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to start a double ([`TestNode::start_with`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The network (default mainnet01).
    pub network: Network,
    /// Where to listen (default `127.0.0.1:0`, a free port; see [`TestNode::local_addr`]).
    pub listen: SocketAddr,
    /// Mine one round every `block_time` in the background (default `None`: only
    /// [`TestNode::mine`] mines).
    pub block_time: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            network: Network::default(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            block_time: None,
        }
    }
}

/// Injected faults, each for the next N requests.
#[derive(Default)]
pub(crate) struct Faults {
    pub fail: VecDeque<u16>,
    pub delay: VecDeque<Duration>,
    pub canned: VecDeque<(u16, String)>,
}

pub(crate) struct State {
    pub chains: Chains,
    pub clock_offset_secs: i64,
    pub faults: Faults,
    pub gas_errors: u32,
    pub listen_timeout: Duration,
}

impl State {
    pub fn now_secs(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        real.saturating_add_signed(self.clock_offset_secs)
    }

    pub fn now_micros(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_micros())
            .unwrap_or(0);
        self.now_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(real))
    }

    fn mine(&mut self, rounds: u64) {
        for _ in 0..rounds {
            let (micros, secs) = (self.now_micros(), self.now_secs());
            self.chains.mine_round(micros, secs, &mut self.gas_errors);
        }
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    pub mined: Notify,
    pub network: Network,
    /// `nodeBlockDelay` in `/info`, microseconds.
    pub block_delay_micros: u64,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn mine(&self, rounds: u64) {
        self.lock().mine(rounds);
        self.mined.notify_waiters();
    }
}

/// Chainweb's PoW block delay (30 s), which `/info` reports when blocks are mined on demand.
const CHAINWEB_BLOCK_DELAY_MICROS: u64 = 30_000_000;

/// A running node double. Dropping it stops the server and the background miner.
pub struct TestNode {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    miner: Option<JoinHandle<()>>,
}

impl TestNode {
    /// Starts a mainnet01 double on `127.0.0.1:0` with the ten genesis blocks and empty
    /// mempools; blocks are mined only by [`mine`](Self::mine).
    pub async fn start() -> std::io::Result<TestNode> {
        Self::start_with(Options::default()).await
    }

    /// Starts a double for `options.network` on `options.listen`, mining every
    /// `options.block_time` if set. Must be called inside a Tokio runtime. Fails when the
    /// address cannot be bound (or, which the crate's tests rule out, when the genesis
    /// headers cannot be built).
    pub async fn start_with(options: Options) -> std::io::Result<TestNode> {
        let chains = Chains::new(options.network).map_err(std::io::Error::other)?;
        let block_delay_micros = options
            .block_time
            .map(|t| u64::try_from(t.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(CHAINWEB_BLOCK_DELAY_MICROS);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                chains,
                clock_offset_secs: 0,
                faults: Faults::default(),
                gas_errors: 0,
                listen_timeout: Duration::from_secs(30),
            }),
            mined: Notify::new(),
            network: options.network,
            block_delay_micros,
        });
        let listener = tokio::net::TcpListener::bind(options.listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = server::router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let miner = options.block_time.map(|period| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let period = period.max(Duration::from_millis(1));
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    shared.mine(1);
                }
            })
        });
        Ok(TestNode {
            addr,
            shared,
            shutdown: Some(tx),
            miner,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server is bound to (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The network id (`mainnet01` for [`start`](Self::start), `development` for a
    /// development double).
    pub fn network(&self) -> &'static str {
        self.shared.network.name()
    }

    /// The network, as an enum.
    pub fn network_kind(&self) -> Network {
        self.shared.network
    }

    /// Mines `rounds` rounds: one block on every chain per round.
    pub fn mine(&self, rounds: u64) {
        self.shared.mine(rounds);
    }

    /// The current height (all chains have it).
    pub fn height(&self) -> u64 {
        self.shared.lock().chains.height()
    }

    /// The canonical header at `height` on `chain`.
    pub fn header(&self, chain: u32, height: u64) -> Option<BlockHeader> {
        self.shared
            .lock()
            .chains
            .block(chain, height)
            .map(|b| b.header.clone())
    }

    /// The next `k` requests fail with HTTP `status` (a 5xx, normally 503).
    pub fn fail_next(&self, k: usize, status: u16) {
        self.shared
            .lock()
            .faults
            .fail
            .extend(std::iter::repeat_n(status, k));
    }

    /// The next `k` requests are answered only after `delay`.
    pub fn delay_next(&self, k: usize, delay: Duration) {
        self.shared
            .lock()
            .faults
            .delay
            .extend(std::iter::repeat_n(delay, k));
    }

    /// The next request is answered with `status` and `body` (JSON content type), whatever
    /// it asked: garbage, a forged header, a bad proof. Calls queue up.
    pub fn respond_next(&self, status: u16, body: impl Into<String>) {
        self.shared
            .lock()
            .faults
            .canned
            .push_back((status, body.into()));
    }

    /// Orphans the last `depth` blocks (of every chain, since chains are linked) and
    /// re-mines as many: commands mined on `chain` in them are dropped (as if a competing
    /// fork won without them), other chains' commands are mined again.
    pub fn reorg(&self, chain: u32, depth: u64) {
        let mut s = self.shared.lock();
        s.chains.orphan(chain, depth);
        s.mine(depth);
        drop(s);
        self.shared.mined.notify_waiters();
    }

    /// Moves the node's clock (for TTL checks and block times) by `secs` seconds.
    pub fn advance_time(&self, secs: i64) {
        self.shared.lock().clock_offset_secs += secs;
    }

    /// The node's clock, Unix seconds.
    pub fn now_secs(&self) -> u64 {
        self.shared.lock().now_secs()
    }

    /// The next `k` commands mined fail out of gas.
    pub fn gas_error_next(&self, k: u32) {
        self.shared.lock().gas_errors += k;
    }

    /// From now on, a command waits `blocks` more blocks in the mempool before it is mined:
    /// one received at height `h` goes into block `h + 1 + blocks` at the earliest (0, the
    /// default, is the next block). Commands already waiting keep their place.
    pub fn set_confirm_delay_blocks(&self, blocks: u64) {
        self.shared.lock().chains.confirm_delay_blocks = blocks;
    }

    /// How long `/listen` waits before answering 504 (default 30 s).
    pub fn set_listen_timeout(&self, timeout: Duration) {
        self.shared.lock().listen_timeout = timeout;
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(miner) = self.miner.take() {
            miner.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
