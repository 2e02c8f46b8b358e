//! The settings the services run with, one section each (batching, the log, the anchor
//! backend, Chainweb, admission control). Each section's defaults are written once, here: the
//! command line's flags (`crate::config`), [`Settings::default`] and the tests all take them
//! from these constants and `Default` impls.
//!
//! Secrets are [`SecretString`]s: their `Debug` prints `[REDACTED]`, so settings can be logged.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ancora_chainweb::{NodeClient, NodeClientConfig, SecretKey};
use secrecy::{ExposeSecret as _, SecretString};

/// What the services need to know, built once by the process from its configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL people and clients reach this service at (for links and status URLs).
    pub public_url: String,
    /// Batching and anchoring.
    pub batching: BatchingConfig,
    /// The transparency log.
    pub log: LogConfig,
    /// The anchor backend for new anchors.
    pub anchor_backend: AnchorBackendKind,
    /// Chainweb nodes, signing and anchoring settings.
    pub chainweb: ChainwebConfig,
    /// Admission control's proof-lag limit (`None`: off).
    pub max_proof_lag: Option<Duration>,
    /// Plans, quotas, rate limits and Stripe.
    pub billing: BillingConfig,
    /// The log monitor.
    pub monitor: MonitorConfig,
    /// The cold archive, retention and the master key.
    pub archive: crate::services::archive::ArchiveConfig,
    /// Webhook deliveries.
    pub webhooks: WebhookConfig,
    /// Prometheus metrics on (`ANCORA_METRICS`, default on).
    pub metrics: bool,
    /// The memory budget of the cache of final proof bundles, bytes (`ANCORA_PROOF_CACHE_MB`).
    pub proof_cache_bytes: usize,
    /// The memory budget of the proved batches held in memory, bytes
    /// (`ANCORA_PROOF_BATCH_CACHE_MB`).
    pub proof_batch_cache_bytes: usize,
    /// The proof cache shared by the API processes, Redis (`ANCORA_REDIS_URL`); `None`: off.
    pub redis: Option<crate::services::proofs::redis::RedisConfig>,
}

impl Default for Settings {
    /// The embedded defaults: the `tlog` backend, Chainweb unconfigured.
    fn default() -> Self {
        Settings {
            public_url: "http://127.0.0.1:8080".into(),
            batching: BatchingConfig::default(),
            log: LogConfig::default(),
            anchor_backend: AnchorBackendKind::Tlog,
            chainweb: ChainwebConfig::unconfigured(),
            max_proof_lag: Some(Duration::from_millis(DEFAULT_MAX_PROOF_LAG_MS)),
            billing: BillingConfig::default(),
            monitor: MonitorConfig::default(),
            archive: crate::services::archive::ArchiveConfig::default(),
            webhooks: WebhookConfig::default(),
            metrics: true,
            proof_cache_bytes: crate::services::proofs::DEFAULT_CACHE_MB << 20,
            proof_batch_cache_bytes: crate::services::proofs::held::DEFAULT_BATCH_CACHE_MB << 20,
            redis: None,
        }
    }
}

/// Webhook deliveries' settings ([`crate::services::webhooks`]).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Also accept `http://127.0.0.1:PORT` receivers (`ANCORA_WEBHOOKS_ALLOW_LOOPBACK`).
    pub allow_loopback: bool,
    /// How long one delivery attempt may take, connection included.
    pub timeout: Duration,
}

impl WebhookConfig {
    /// Default per-attempt timeout, milliseconds (well under a job's lease).
    pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_loopback: false,
            timeout: Duration::from_millis(Self::DEFAULT_TIMEOUT_MS),
        }
    }
}

/// The log monitor's settings ([`crate::services::monitor`]).
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// How often the monitor looks at the log and the anchors.
    pub interval: Duration,
    /// An anchor not final this long after it was made raises a `late_anchor` alert.
    pub anchor_deadline: Duration,
}

impl MonitorConfig {
    /// Default interval between two runs, ms.
    pub const DEFAULT_INTERVAL_MS: u64 = 10_000;
    /// Default bound on the time an anchor takes to reach its trust point, seconds (Chainweb's
    /// 6 confirmations take about 3 minutes; a quarter of an hour means something is stuck).
    pub const DEFAULT_ANCHOR_DEADLINE_SECS: u64 = 900;

    /// The section from its raw values.
    pub fn new(interval_ms: u64, anchor_deadline_secs: u64) -> Self {
        MonitorConfig {
            interval: Duration::from_millis(interval_ms.max(100)),
            anchor_deadline: Duration::from_secs(anchor_deadline_secs),
        }
    }
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig::new(
            Self::DEFAULT_INTERVAL_MS,
            Self::DEFAULT_ANCHOR_DEADLINE_SECS,
        )
    }
}

/// Admission control's default proof-lag limit, ms (0 turns it off).
pub const DEFAULT_MAX_PROOF_LAG_MS: u64 = 500;

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

impl BatchingConfig {
    /// Default batch window, ms.
    pub const DEFAULT_WINDOW_MS: u64 = 1000;
    /// Default largest batch.
    pub const DEFAULT_MAX_EVENTS: u32 = 1000;
    /// Default anchoring tick, ms.
    pub const DEFAULT_ANCHOR_INTERVAL_MS: u64 = 200;
    /// Default number of chains tenants are routed over.
    pub const DEFAULT_CHAIN_COUNT: u32 = 20;

    /// The section from its raw values, clamped to what works.
    pub fn new(window_ms: u64, max_events: u32, anchor_interval_ms: u64, chain_count: u32) -> Self {
        BatchingConfig {
            window: Duration::from_millis(window_ms),
            max_events: max_events.clamp(1, 100_000),
            anchor_interval: Duration::from_millis(anchor_interval_ms),
            chain_count: chain_count.max(1),
        }
    }
}

impl Default for BatchingConfig {
    fn default() -> Self {
        BatchingConfig::new(
            Self::DEFAULT_WINDOW_MS,
            Self::DEFAULT_MAX_EVENTS,
            Self::DEFAULT_ANCHOR_INTERVAL_MS,
            Self::DEFAULT_CHAIN_COUNT,
        )
    }
}

/// The transparency log's settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Origin line of checkpoints.
    pub origin: String,
    /// Configured signing key, if any.
    pub signing_key: Option<SecretString>,
}

impl LogConfig {
    /// Default origin line.
    pub const DEFAULT_ORIGIN: &'static str = "ancora.local/log";
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            origin: Self::DEFAULT_ORIGIN.into(),
            signing_key: None,
        }
    }
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
    /// Default network id.
    pub const DEFAULT_NETWORK: &'static str = "mainnet01";
    /// Default gas limit of an anchoring transaction.
    pub const DEFAULT_GAS_LIMIT: u64 = 1_000;
    /// Default gas price (KDA per gas unit).
    pub const DEFAULT_GAS_PRICE: f64 = 1e-8;
    /// Default time-to-live of an anchoring transaction, seconds.
    pub const DEFAULT_TTL_SECS: u64 = 600;
    /// Default confirmation depth.
    pub const DEFAULT_CONFIRMATIONS: u32 = 6;
    /// Default contract module name.
    pub const DEFAULT_MODULE: &'static str = "ancora-anchor";
    /// Default wait between two polls of a pending transaction, ms.
    pub const DEFAULT_POLL_MS: u64 = 10_000;
    /// Default timeout of one node request, ms.
    pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;

    /// Chains 0–19, no nodes: Chainweb not configured.
    pub fn unconfigured() -> Self {
        ChainwebConfig {
            nodes: Vec::new(),
            network: Self::DEFAULT_NETWORK.into(),
            chains: (0..20).collect(),
            sender: None,
            key_file: None,
            key: None,
            gas_limit: Self::DEFAULT_GAS_LIMIT,
            gas_price: Self::DEFAULT_GAS_PRICE,
            ttl: Self::DEFAULT_TTL_SECS,
            confirmations: Self::DEFAULT_CONFIRMATIONS,
            write_path: WritePath::Direct,
            module: Self::DEFAULT_MODULE.into(),
            poll_interval: Duration::from_millis(Self::DEFAULT_POLL_MS),
            request_timeout: Duration::from_millis(Self::DEFAULT_REQUEST_TIMEOUT_MS),
            attempts_per_node: 3,
            backoff: Duration::from_millis(250),
            client: Arc::new(OnceLock::new()),
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
            Some(path) => SecretKey::from_file(path)
                .map_err(|e| anyhow::anyhow!("ANCORA_CHAINWEB_KEY_FILE: {e}")),
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

/// Billing's settings: the plans, the default plan, whether limits are enforced, Stripe.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// Every plan (`ANCORA_PLANS_FILE`, or the built-in ones).
    pub plans: Arc<crate::services::billing::plans::Plans>,
    /// The plan of a tenant nobody has set one for.
    pub default_plan: String,
    /// Quotas, rate limits and proof-read counting on (`ANCORA_BILLING=on`, the default).
    pub enforce: bool,
    /// Stripe's secret key (`None`: the local provider, nothing calls out).
    pub stripe_secret_key: Option<SecretString>,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub stripe_webhook_secret: Option<SecretString>,
    /// Stripe's API base (tests point it at a double).
    pub stripe_api_base: String,
    /// How long after a failed payment the plan's limits still apply (then `free`'s).
    pub grace_period: time::Duration,
    /// How far a webhook's signed timestamp may be from now.
    pub webhook_tolerance: Duration,
    /// The meter event names of events, proof reads, SPV requests and reports.
    pub meter_events: [String; crate::services::billing::Metric::COUNT],
    /// How often the worker reports usage.
    pub report_interval: Duration,
}

impl BillingConfig {
    /// Default Stripe API base.
    pub const DEFAULT_STRIPE_API_BASE: &'static str = "https://api.stripe.com/";
    /// Default plan.
    pub const DEFAULT_PLAN: &'static str = "free";
    /// Default grace period after a failed payment, days.
    pub const DEFAULT_GRACE_DAYS: u32 = 7;
    /// Default meter event names.
    pub const DEFAULT_METER_EVENTS: [&'static str; crate::services::billing::Metric::COUNT] = [
        "ancora_events",
        "ancora_proof_reads",
        "ancora_spv_requests",
        "ancora_reports",
    ];
    /// Default reporting interval, seconds.
    pub const DEFAULT_REPORT_INTERVAL_S: u64 = 60;
    /// Webhook timestamp tolerance (Stripe's libraries use the same), seconds.
    pub const WEBHOOK_TOLERANCE_S: u64 = 300;

    /// The Stripe provider when a secret key is configured.
    pub fn stripe_provider(
        &self,
    ) -> Result<
        Option<crate::services::billing::stripe::StripeProvider>,
        crate::services::billing::provider::ProviderError,
    > {
        self.stripe_secret_key
            .as_ref()
            .map(|k| {
                crate::services::billing::stripe::StripeProvider::new(
                    k.expose_secret(),
                    &self.stripe_api_base,
                )
            })
            .transpose()
    }
}

impl Default for BillingConfig {
    /// The embedded default: the built-in plans, everyone on `free`, no Stripe.
    fn default() -> Self {
        BillingConfig {
            plans: Arc::new(crate::services::billing::plans::Plans::builtin()),
            default_plan: Self::DEFAULT_PLAN.into(),
            enforce: true,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: Self::DEFAULT_STRIPE_API_BASE.into(),
            grace_period: time::Duration::days(i64::from(Self::DEFAULT_GRACE_DAYS)),
            webhook_tolerance: Duration::from_secs(Self::WEBHOOK_TOLERANCE_S),
            meter_events: Self::DEFAULT_METER_EVENTS.map(str::to_owned),
            report_interval: Duration::from_secs(Self::DEFAULT_REPORT_INTERVAL_S),
        }
    }
}
