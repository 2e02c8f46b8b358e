//! One typed configuration, read from `ANCORA_…` environment variables and command-line flags
//! (flags win). The embedded defaults are chosen here and nowhere else:
//!
//! * no `DATABASE_URL` → a private Postgres cluster in the data directory;
//! * no anchor settings → the `tlog` backend (Ancora's own signed log), its key kept in the
//!   database unless `ANCORA_LOG_SIGNING_KEY` gives one;
//! * `ANCORA_ANCHOR_BACKEND=chainweb` → anchors on Kadena Chainweb through the nodes of
//!   `ANCORA_CHAINWEB_NODES` ([`ChainwebConfig`], checked by [`Config::check`]).
//!
//! Secrets are [`SecretString`]s: their `Debug` prints `[REDACTED]`, so a config can be logged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ancora_chainweb::{NodeClient, NodeClientConfig, SecretKey};
use secrecy::{ExposeSecret as _, SecretString};

/// Options every subcommand shares.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Postgres connection URL. Without it Ancora runs a private cluster in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Where Ancora keeps its private Postgres cluster and local files.
    #[arg(
        long,
        env = "ANCORA_DATA_DIR",
        default_value = "ancora-data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Batch window: a tenant's batch closes this long after its first pending event.
    #[arg(
        long,
        env = "ANCORA_BATCH_WINDOW_MS",
        default_value_t = 1000,
        global = true
    )]
    pub batch_window_ms: u64,

    /// A batch closes as soon as it holds this many events.
    #[arg(
        long,
        env = "ANCORA_BATCH_MAX_EVENTS",
        default_value_t = 1000,
        global = true
    )]
    pub batch_max_events: u32,

    /// How often the anchorer aggregates closed batch roots into one anchor per target.
    #[arg(
        long,
        env = "ANCORA_ANCHOR_INTERVAL_MS",
        default_value_t = 200,
        global = true
    )]
    pub anchor_interval_ms: u64,

    /// Number of Chainweb chains tenants are routed over (hash of tenant id mod this).
    #[arg(long, env = "ANCORA_CHAIN_COUNT", default_value_t = 20, global = true)]
    pub chain_count: u32,

    /// The transparency log's origin line (its name in checkpoints and keys).
    #[arg(
        long,
        env = "ANCORA_LOG_ORIGIN",
        default_value = "ancora.local/log",
        global = true
    )]
    pub log_origin: String,

    /// The log's signing key, as `PRIVATE+KEY+…` signed-note text. Without it a key is created
    /// once and kept in the database.
    #[arg(
        long,
        env = "ANCORA_LOG_SIGNING_KEY",
        global = true,
        hide_env_values = true
    )]
    pub log_signing_key: Option<SecretString>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ANCORA_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// A request (including reading its body) that takes longer than this is answered 408.
    #[arg(
        long,
        env = "ANCORA_REQUEST_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub request_timeout_ms: u64,

    /// Database connection pool size.
    #[arg(long, env = "ANCORA_DB_POOL", default_value_t = 16, global = true)]
    pub db_pool: u32,

    /// Admission control: while a tenant's oldest batch not proved yet closed longer ago than
    /// this, its new events are held (up to 2 s, then 429 with Retry-After) until the prover
    /// catches up; 0 turns it off.
    #[arg(
        long,
        env = "ANCORA_MAX_PROOF_LAG_MS",
        default_value_t = 500,
        global = true
    )]
    pub max_proof_lag_ms: u64,

    #[command(flatten)]
    pub chainweb: ChainwebArgs,
}

/// Where new anchors go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnchorBackendKind {
    /// Ancora's own signed transparency log (the embedded default).
    Tlog,
    /// A Pact transaction on Kadena Chainweb, proven by SPV.
    Chainweb,
}

/// How the anchor root is written on Chainweb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WritePath {
    /// An `exec` whose code is the root as a string literal: no contract, the result is the root.
    Direct,
    /// `(ancora-anchor.record-anchor "<anchor id>" "<root>")`: write-once per anchor id.
    Contract,
}

/// The Chainweb anchor backend and SPV-as-a-Service settings (`ANCORA_CHAINWEB_…`).
#[derive(Debug, Clone, clap::Args)]
pub struct ChainwebArgs {
    /// Anchor backend for new anchors.
    #[arg(
        long,
        env = "ANCORA_ANCHOR_BACKEND",
        value_enum,
        default_value = "tlog",
        global = true
    )]
    pub anchor_backend: AnchorBackendKind,

    /// Chainweb node base URLs, comma-separated, tried in order (fail-over).
    #[arg(
        long = "chainweb-nodes",
        env = "ANCORA_CHAINWEB_NODES",
        value_delimiter = ',',
        global = true
    )]
    pub nodes: Vec<String>,

    /// Chainweb network id.
    #[arg(
        long = "chainweb-network",
        env = "ANCORA_CHAINWEB_NETWORK",
        default_value = "mainnet01",
        value_parser = ["mainnet01", "testnet04", "development"],
        global = true
    )]
    pub network: String,

    /// Chain ids anchors are written on, comma-separated (default: all 20). A tenant's
    /// routed chain is mapped onto this set.
    #[arg(
        long = "chainweb-chains",
        env = "ANCORA_CHAINWEB_CHAINS",
        value_delimiter = ',',
        global = true
    )]
    pub chains: Vec<u32>,

    /// The gas payer account (`k:<public key>`); default `k:` + the signing key's public key.
    #[arg(
        long = "chainweb-sender",
        env = "ANCORA_CHAINWEB_SENDER",
        global = true
    )]
    pub sender: Option<String>,

    /// File holding the signing key (64 hex characters).
    #[arg(
        long = "chainweb-key-file",
        env = "ANCORA_CHAINWEB_KEY_FILE",
        global = true
    )]
    pub key_file: Option<PathBuf>,

    /// The signing key itself (64 hex characters). Prefer the key file.
    #[arg(
        long = "chainweb-key",
        env = "ANCORA_CHAINWEB_KEY",
        hide_env_values = true,
        global = true
    )]
    pub key: Option<SecretString>,

    /// Gas limit of an anchoring transaction.
    #[arg(
        long = "chainweb-gas-limit",
        env = "ANCORA_CHAINWEB_GAS_LIMIT",
        default_value_t = 1_000,
        global = true
    )]
    pub gas_limit: u64,

    /// Gas price (KDA per gas unit).
    #[arg(
        long = "chainweb-gas-price",
        env = "ANCORA_CHAINWEB_GAS_PRICE",
        default_value_t = 1e-8,
        global = true
    )]
    pub gas_price: f64,

    /// Time-to-live of an anchoring transaction, seconds.
    #[arg(
        long = "chainweb-ttl",
        env = "ANCORA_CHAINWEB_TTL",
        default_value_t = 600,
        global = true
    )]
    pub ttl: u64,

    /// Blocks on top of the anchoring transaction's block before it counts as final.
    #[arg(
        long = "chainweb-confirmations",
        env = "ANCORA_CHAINWEB_CONFIRMATIONS",
        default_value_t = 6,
        global = true
    )]
    pub confirmations: u32,

    /// How the root is written: a bare `exec` or the `ancora-anchor` contract.
    #[arg(
        long = "chainweb-write-path",
        env = "ANCORA_CHAINWEB_WRITE_PATH",
        value_enum,
        default_value = "direct",
        global = true
    )]
    pub write_path: WritePath,

    /// The contract's module name, with its namespace on public chains
    /// (`free.ancora-anchor`).
    #[arg(
        long = "chainweb-module",
        env = "ANCORA_CHAINWEB_MODULE",
        default_value = "ancora-anchor",
        global = true
    )]
    pub module: String,

    /// How long the confirming job waits between two looks at a pending transaction.
    #[arg(
        long = "chainweb-poll-ms",
        env = "ANCORA_CHAINWEB_POLL_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub poll_ms: u64,

    /// Timeout of one node request.
    #[arg(
        long = "chainweb-request-timeout-ms",
        env = "ANCORA_CHAINWEB_REQUEST_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub node_timeout_ms: u64,
}

/// The configuration one process runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Explicit database, or `None` for the embedded cluster.
    pub database_url: Option<SecretString>,
    /// Data directory (embedded cluster, local files).
    pub data_dir: PathBuf,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The URL people and clients reach this server at (for links and status URLs).
    pub public_url: String,
    /// Batching and anchoring.
    pub batching: BatchingConfig,
    /// The transparency log.
    pub log: LogConfig,
    /// HTTP limits.
    pub max_body_bytes: usize,
    /// HTTP request timeout.
    pub request_timeout: Duration,
    /// Database connection pool size.
    pub db_pool: u32,
    /// Admission control's proof-lag limit (`None`: off).
    pub max_proof_lag: Option<Duration>,
    /// The anchor backend for new anchors.
    pub anchor_backend: AnchorBackendKind,
    /// Chainweb nodes, signing and anchoring settings.
    pub chainweb: ChainwebConfig,
}

/// How events become batches and batches become anchors.
#[derive(Debug, Clone)]
pub struct BatchingConfig {
    /// A batch closes this long after its first pending event.
    pub window: Duration,
    /// Or as soon as it holds this many events.
    pub max_events: u32,
    /// Anchoring tick.
    pub anchor_interval: Duration,
    /// Chains tenants are routed over.
    pub chain_count: u32,
}

/// The `tlog` anchor backend's settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Origin line of checkpoints.
    pub origin: String,
    /// Configured signing key, if any.
    pub signing_key: Option<SecretString>,
}

/// The Chainweb settings: the anchor backend's and SPV-as-a-Service's. The signing key is a
/// [`SecretString`] (or a file path) and is read only when a command is signed.
#[derive(Debug, Clone)]
pub struct ChainwebConfig {
    /// Node base URLs, in fail-over order (empty: Chainweb is not configured).
    pub nodes: Vec<String>,
    /// Network id (`mainnet01`, `testnet04`, `development`).
    pub network: String,
    /// Chains anchors are written on (sorted, no duplicates, never empty).
    pub chains: Vec<u32>,
    /// Gas payer; `None` means `k:<public key>`.
    pub sender: Option<String>,
    /// Signing key file.
    pub key_file: Option<PathBuf>,
    /// Signing key text.
    pub key: Option<SecretString>,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas price.
    pub gas_price: f64,
    /// TTL, seconds.
    pub ttl: u64,
    /// Confirmation depth.
    pub confirmations: u32,
    /// Direct `exec` or the contract.
    pub write_path: WritePath,
    /// The contract's module name (`ancora-anchor`, `free.ancora-anchor`).
    pub module: String,
    /// Wait between two polls of a pending transaction.
    pub poll_interval: Duration,
    /// Node client: timeouts, retries and backoff.
    pub request_timeout: Duration,
    /// Tries per node before failing over.
    pub attempts_per_node: u32,
    /// First retry backoff of the node client.
    pub backoff: Duration,
    /// The client, built on first use and shared by clones of this configuration.
    client: Arc<OnceLock<NodeClient>>,
}

impl ChainwebConfig {
    /// Chains 0–19, no nodes: Chainweb not configured.
    pub fn unconfigured() -> Self {
        ChainwebConfig {
            nodes: Vec::new(),
            network: "mainnet01".into(),
            chains: (0..20).collect(),
            sender: None,
            key_file: None,
            key: None,
            gas_limit: 1_000,
            gas_price: 1e-8,
            ttl: 600,
            confirmations: 6,
            write_path: WritePath::Direct,
            module: "ancora-anchor".into(),
            poll_interval: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            attempts_per_node: 3,
            backoff: Duration::from_millis(250),
            client: Arc::new(OnceLock::new()),
        }
    }

    fn from_args(a: &ChainwebArgs) -> Self {
        let mut chains = a.chains.clone();
        chains.sort_unstable();
        chains.dedup();
        if chains.is_empty() {
            chains = (0..20).collect();
        }
        ChainwebConfig {
            nodes: a
                .nodes
                .iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
            network: a.network.clone(),
            chains,
            sender: a.sender.clone().filter(|s| !s.is_empty()),
            key_file: a.key_file.clone(),
            key: a.key.clone(),
            gas_limit: a.gas_limit,
            gas_price: a.gas_price,
            ttl: a.ttl,
            confirmations: a.confirmations,
            write_path: a.write_path,
            module: a.module.clone(),
            poll_interval: Duration::from_millis(a.poll_ms),
            request_timeout: Duration::from_millis(a.node_timeout_ms.max(1)),
            ..Self::unconfigured()
        }
    }

    /// True when nodes are configured (SPV-as-a-Service needs nothing more).
    pub fn has_nodes(&self) -> bool {
        !self.nodes.is_empty()
    }

    /// The node client (built once). Errors name what is wrong with the node settings.
    pub fn client(&self) -> anyhow::Result<&NodeClient> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let mut cfg = NodeClientConfig::new(self.nodes.clone(), self.network.clone());
        cfg.request_timeout = self.request_timeout;
        cfg.attempts_per_node = self.attempts_per_node.max(1);
        cfg.backoff = self.backoff;
        cfg.max_backoff = self.backoff.saturating_mul(16);
        let client = NodeClient::new(cfg)?;
        Ok(self.client.get_or_init(|| client))
    }

    /// The signing key, from the key text or else the key file. The error never quotes it.
    pub fn signing_key(&self) -> anyhow::Result<SecretKey> {
        if let Some(k) = &self.key {
            return SecretKey::from_hex(k.expose_secret())
                .map_err(|e| anyhow::anyhow!("ANCORA_CHAINWEB_KEY: {e}"));
        }
        match &self.key_file {
            Some(path) => Ok(SecretKey::from_file(path)?),
            None => anyhow::bail!(
                "no Chainweb signing key: set ANCORA_CHAINWEB_KEY_FILE (or ANCORA_CHAINWEB_KEY)"
            ),
        }
    }

    /// The chain a routed chain id anchors on: itself when configured, else the configured
    /// chain at `routed mod count` (deterministic, so a tenant always lands on one chain).
    pub fn chain_for(&self, routed: i32) -> u32 {
        let routed = u32::try_from(routed).unwrap_or(0);
        if self.chains.contains(&routed) {
            return routed;
        }
        let n = self.chains.len().max(1) as u32;
        self.chains
            .get((routed % n) as usize)
            .copied()
            .unwrap_or(routed)
    }
}

impl Config {
    /// Checks what cannot be checked per field: with the `chainweb` backend, nodes and a
    /// signing key must be configured and usable. Call it at start-up.
    pub fn check(&self) -> anyhow::Result<()> {
        let cw = &self.chainweb;
        if cw.has_nodes() {
            cw.client()?;
        }
        if self.anchor_backend == AnchorBackendKind::Chainweb {
            anyhow::ensure!(
                cw.has_nodes(),
                "ANCORA_ANCHOR_BACKEND=chainweb needs ANCORA_CHAINWEB_NODES"
            );
            cw.signing_key()?;
            anyhow::ensure!(
                cw.gas_price.is_finite() && cw.gas_price >= 0.0,
                "ANCORA_CHAINWEB_GAS_PRICE must be a non-negative number"
            );
            anyhow::ensure!(cw.ttl > 0, "ANCORA_CHAINWEB_TTL must be positive");
        }
        Ok(())
    }

    /// Builds the configuration from parsed arguments and the listen address.
    pub fn from_args(args: &ConfigArgs, listen: SocketAddr, public_url: Option<String>) -> Self {
        Config {
            database_url: args.database_url.clone(),
            data_dir: args.data_dir.clone(),
            listen,
            public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
            batching: BatchingConfig {
                window: Duration::from_millis(args.batch_window_ms),
                max_events: args.batch_max_events.clamp(1, 100_000),
                anchor_interval: Duration::from_millis(args.anchor_interval_ms),
                chain_count: args.chain_count.max(1),
            },
            log: LogConfig {
                origin: args.log_origin.clone(),
                signing_key: args.log_signing_key.clone(),
            },
            max_body_bytes: args.max_body_bytes,
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            db_pool: args.db_pool.max(2),
            max_proof_lag: (args.max_proof_lag_ms > 0)
                .then(|| Duration::from_millis(args.max_proof_lag_ms)),
            anchor_backend: args.chainweb.anchor_backend,
            chainweb: ChainwebConfig::from_args(&args.chainweb),
        }
    }

    /// A configuration for tests: everything default, the given database.
    pub fn for_tests(listen: SocketAddr) -> Self {
        Config {
            database_url: None,
            data_dir: std::env::temp_dir().join("ancora-test"),
            listen,
            public_url: format!("http://{listen}"),
            batching: BatchingConfig {
                window: Duration::from_millis(1000),
                max_events: 1000,
                anchor_interval: Duration::from_millis(200),
                chain_count: 20,
            },
            log: LogConfig {
                origin: "ancora.test/log".into(),
                signing_key: None,
            },
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            db_pool: 8,
            max_proof_lag: None,
            anchor_backend: AnchorBackendKind::Tlog,
            chainweb: ChainwebConfig::unconfigured(),
        }
    }
}
