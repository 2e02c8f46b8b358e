//! A Chainweb node double for tests (feature `testkit`): an axum server on `127.0.0.1:0`
//! that answers `/send`, `/poll`, `/listen`, `/pact/spv`, `/header/{hash}`, `/header` and
//! `/cut` like chainweb-node, with real Chainweb hashing.
//!
//! * **Chains**: chains 0–9 of mainnet01, starting from the real genesis headers, linked by
//!   mainnet01's original ten-chain (Petersen) graph. The network id is `mainnet01`.
//! * **Blocks** are mined on demand ([`TestNode::mine`]): one round adds a block to every
//!   chain, holding the commands received for it, with payload trees and header hashes
//!   computed by `ancora-proof` (see [`chain`]).
//! * **Commands** are checked as a node does (hash, signatures, network, chain, TTL; 400
//!   with text otherwise) and run by a tiny Pact ([`pact`]).
//! * **SPV**: `/pact/spv` returns real proofs, same-chain or across the graph, that verify
//!   with `ancora_proof::spv` against the headers `/header/{hash}` serves.
//! * **Faults** for tests: [`fail_next`](TestNode::fail_next) (5xx),
//!   [`delay_next`](TestNode::delay_next) (timeouts), [`respond_next`](TestNode::respond_next)
//!   (any canned answer: garbage, forged headers, bad proofs), [`reorg`](TestNode::reorg),
//!   [`advance_time`](TestNode::advance_time) (expire TTLs) and
//!   [`gas_error_next`](TestNode::gas_error_next).

pub mod chain;
pub mod pact;
mod server;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ancora_proof::chainweb::BlockHeader;
use tokio::sync::{Notify, oneshot};

use chain::Chains;

/// The network the double serves.
pub const NETWORK: &str = "mainnet01";

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
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running node double. Dropping it stops the server.
pub struct TestNode {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestNode {
    /// Starts a double on `127.0.0.1:0` with the ten genesis blocks and empty mempools.
    pub async fn start() -> std::io::Result<TestNode> {
        let chains = Chains::genesis().map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                chains,
                clock_offset_secs: 0,
                faults: Faults::default(),
                gas_errors: 0,
                listen_timeout: Duration::from_secs(30),
            }),
            mined: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
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
        Ok(TestNode {
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The network id (`mainnet01`).
    pub fn network(&self) -> &'static str {
        NETWORK
    }

    /// Mines `rounds` rounds: one block on every chain per round.
    pub fn mine(&self, rounds: u64) {
        self.shared.lock().mine(rounds);
        self.shared.mined.notify_waiters();
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

    /// How long `/listen` waits before answering 504 (default 30 s).
    pub fn set_listen_timeout(&self, timeout: Duration) {
        self.shared.lock().listen_timeout = timeout;
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
