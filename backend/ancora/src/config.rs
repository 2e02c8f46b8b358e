//! Configuration parsing: `ANCORA_…` environment variables and command-line flags (flags win),
//! grouped by what uses them so that each subcommand's `--help` lists only its own options:
//! [`DatabaseArgs`] (every command that touches the database), [`HttpArgs`] (`serve`) and
//! [`ServiceArgs`] (`serve`, `worker`). Defaults are written once, as constants of the
//! sections in [`crate::services::settings`] and here; the embedded defaults:
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
use std::time::Duration;

use secrecy::SecretString;

pub use crate::services::settings::{
    AnchorBackendKind, BatchingConfig, BillingConfig, ChainwebConfig, DEFAULT_MAX_PROOF_LAG_MS,
    LogConfig, MonitorConfig, Settings, WebhookConfig, WritePath,
};

/// Where the database is.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Postgres connection URL. Without it Ancora runs a private cluster in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// Where Ancora keeps its private Postgres cluster and local files.
    #[arg(
        long,
        env = "ANCORA_DATA_DIR",
        default_value = DatabaseConfig::DEFAULT_DATA_DIR
    )]
    pub data_dir: PathBuf,
    /// Database connection pool size.
    #[arg(long, env = "ANCORA_DB_POOL", default_value_t = DatabaseConfig::DEFAULT_POOL)]
    pub db_pool: u32,
    /// How long a request waits for a database connection before it answers 503 (with
    /// `Retry-After`): while the database is away, every request fails this fast.
    #[arg(
        long,
        env = "ANCORA_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = DatabaseConfig::DEFAULT_ACQUIRE_TIMEOUT_MS
    )]
    pub db_acquire_timeout_ms: u64,
}

/// The HTTP server's limits (`serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ANCORA_MAX_BODY_BYTES", default_value_t = HttpConfig::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// A request (including reading its body) that takes longer than this is answered 408.
    #[arg(
        long,
        env = "ANCORA_REQUEST_TIMEOUT_MS",
        default_value_t = HttpConfig::DEFAULT_REQUEST_TIMEOUT_MS
    )]
    pub request_timeout_ms: u64,
    /// A connection that has not sent a complete request head this long after it opened, or
    /// after its previous answer (an idle keep-alive connection), is closed.
    #[arg(
        long,
        env = "ANCORA_HEADER_READ_TIMEOUT_MS",
        default_value_t = HttpConfig::DEFAULT_HEADER_READ_TIMEOUT_MS
    )]
    pub header_read_timeout_ms: u64,
    /// Most client connections served at once; further clients wait in the listen backlog
    /// until one closes. Keep it below the process's open-file limit.
    #[arg(
        long,
        env = "ANCORA_MAX_CONNECTIONS",
        default_value_t = HttpConfig::DEFAULT_MAX_CONNECTIONS
    )]
    pub max_connections: usize,
}

/// What the services run with (`serve`, `worker`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Batch window: a tenant's batch closes this long after its first pending event.
    #[arg(
        long,
        env = "ANCORA_BATCH_WINDOW_MS",
        default_value_t = BatchingConfig::DEFAULT_WINDOW_MS
    )]
    pub batch_window_ms: u64,
    /// A batch closes as soon as it holds this many events.
    #[arg(
        long,
        env = "ANCORA_BATCH_MAX_EVENTS",
        default_value_t = BatchingConfig::DEFAULT_MAX_EVENTS
    )]
    pub batch_max_events: u32,
    /// How often the anchorer aggregates closed batch roots into one anchor per target.
    #[arg(
        long,
        env = "ANCORA_ANCHOR_INTERVAL_MS",
        default_value_t = BatchingConfig::DEFAULT_ANCHOR_INTERVAL_MS
    )]
    pub anchor_interval_ms: u64,
    /// Number of Chainweb chains tenants are routed over (hash of tenant id mod this).
    #[arg(long, env = "ANCORA_CHAIN_COUNT", default_value_t = BatchingConfig::DEFAULT_CHAIN_COUNT)]
    pub chain_count: u32,
    /// The transparency log's origin line (its name in checkpoints and keys).
    #[arg(
        long,
        env = "ANCORA_LOG_ORIGIN",
        default_value = LogConfig::DEFAULT_ORIGIN
    )]
    pub log_origin: String,
    /// The log's signing key, as `PRIVATE+KEY+…` signed-note text. Without it a key is created
    /// once and kept in the database.
    #[arg(long, env = "ANCORA_LOG_SIGNING_KEY", hide_env_values = true)]
    pub log_signing_key: Option<SecretString>,
    /// Admission control: while a tenant's oldest batch not proved yet closed longer ago than
    /// this, its new events are held (up to 2 s, then 429 with Retry-After) until the prover
    /// catches up; 0 turns it off.
    #[arg(
        long,
        env = "ANCORA_MAX_PROOF_LAG_MS",
        default_value_t = DEFAULT_MAX_PROOF_LAG_MS
    )]
    pub max_proof_lag_ms: u64,
    /// Memory budget of the in-process cache of final proof bundles, MiB (their JSON bytes
    /// and keys); 0 turns it off. Each API process has its own.
    #[arg(
        long,
        env = "ANCORA_PROOF_CACHE_MB",
        default_value_t = crate::services::proofs::DEFAULT_CACHE_MB
    )]
    pub proof_cache_mb: usize,
    /// Memory budget of the proved batches held in memory, MiB: once one of a final batch's
    /// bundles is read from the database, the whole batch is loaded and held compactly (about
    /// 250 bytes an event), so later reads of any of its events render from memory; 0 turns it
    /// off. Each API process has its own.
    #[arg(
        long,
        env = "ANCORA_PROOF_BATCH_CACHE_MB",
        default_value_t = crate::services::proofs::held::DEFAULT_BATCH_CACHE_MB
    )]
    pub proof_batch_cache_mb: usize,
    /// A Redis that the API processes share final proof bundles through, behind their own
    /// caches (`redis://HOST:PORT[/DB]`): a miss in memory asks it before the database, and
    /// what it answers is verified like a stored bundle. Off by default.
    #[arg(long, env = "ANCORA_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<SecretString>,
    /// How long a bundle stays in the shared Redis cache, seconds.
    #[arg(
        long,
        env = "ANCORA_REDIS_TTL_S",
        default_value_t = crate::services::proofs::redis::RedisConfig::DEFAULT_TTL_S
    )]
    pub redis_ttl_s: u64,
    /// How long a proof read waits for the shared Redis cache before it reads the database.
    #[arg(
        long,
        env = "ANCORA_REDIS_TIMEOUT_MS",
        default_value_t = crate::services::proofs::redis::RedisConfig::DEFAULT_TIMEOUT_MS
    )]
    pub redis_timeout_ms: u64,
    /// How often the log monitor checks new checkpoints and late anchors.
    #[arg(
        long,
        env = "ANCORA_MONITOR_INTERVAL_MS",
        default_value_t = MonitorConfig::DEFAULT_INTERVAL_MS
    )]
    pub monitor_interval_ms: u64,
    /// An anchor that has not reached its trust point (Chainweb finality) this many seconds
    /// after it was made raises a `late_anchor` alert.
    #[arg(
        long,
        env = "ANCORA_MONITOR_ANCHOR_DEADLINE_SECS",
        default_value_t = MonitorConfig::DEFAULT_ANCHOR_DEADLINE_SECS
    )]
    pub monitor_anchor_deadline_secs: u64,
    /// On SIGTERM or SIGINT: how long running jobs and requests may take to finish before
    /// they are abandoned (a job's lease is then released for another process).
    #[arg(
        long,
        env = "ANCORA_SHUTDOWN_GRACE_MS",
        default_value_t = Config::DEFAULT_SHUTDOWN_GRACE_MS
    )]
    pub shutdown_grace_ms: u64,
    /// In a process that serves no API (`worker`, `serve --workers-only`): where to serve
    /// `/healthz`, `/readyz` and `/metrics` (its job and log-monitor metrics). Off by default.
    #[arg(long, env = "ANCORA_OPS_LISTEN", value_name = "ADDR")]
    pub ops_listen: Option<SocketAddr>,
    /// Webhooks: also accept `http://127.0.0.1:PORT` receivers (development and tests). Off by
    /// default: only https URLs whose addresses are public.
    #[arg(
        long,
        env = "ANCORA_WEBHOOKS_ALLOW_LOOPBACK",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_name = "true|false",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub webhooks_allow_loopback: bool,
    /// Prometheus metrics at `/metrics` and the workers' health sampling (off: `/metrics`
    /// answers 404 and requests are not timed).
    #[arg(long, env = "ANCORA_METRICS", value_enum, default_value = "on")]
    pub metrics: OnOff,

    #[command(flatten)]
    pub chainweb: ChainwebArgs,

    #[command(flatten)]
    pub billing: BillingArgs,

    #[command(flatten)]
    pub archive: ArchiveArgs,
}

/// Object Lock mode for archived objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectLockMode {
    /// No retention date is set on objects.
    Off,
    /// GOVERNANCE: privileged users can shorten it.
    Governance,
    /// COMPLIANCE: nobody can shorten it, not even the account's root.
    Compliance,
}

/// The cold archive and the master key (`ANCORA_ARCHIVE_…`, `ANCORA_S3_…`, `AWS_…`,
/// `ANCORA_MASTER_KEY…`).
#[derive(Debug, Clone, clap::Args)]
pub struct ArchiveArgs {
    /// Where archived objects go: `s3://BUCKET/PREFIX` or `file:///DIR` (default: the
    /// `archive` folder of the data directory).
    #[arg(long, env = "ANCORA_ARCHIVE_URL")]
    pub archive_url: Option<String>,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); without it, AWS.
    #[arg(long, env = "ANCORA_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Path-style S3 addressing (`ENDPOINT/BUCKET/KEY`), which most S3-compatible servers need.
    #[arg(long, env = "ANCORA_S3_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_path_style: bool,
    /// Object Lock retention on archived batch objects (until the tenant's keep period ends),
    /// for buckets created with Object Lock.
    #[arg(long, env = "ANCORA_S3_OBJECT_LOCK", value_enum, default_value = "off")]
    pub s3_object_lock: ObjectLockMode,
    /// The S3 region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub aws_region: String,
    /// S3 access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub aws_access_key_id: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub aws_secret_access_key: Option<SecretString>,
    /// S3 session token (temporary credentials).
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    pub aws_session_token: Option<SecretString>,
    /// The master key that wraps every tenant's data key: 64 hex digits (or base64 of 32
    /// bytes). Prefer the key file.
    #[arg(long, env = "ANCORA_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<SecretString>,
    /// A file holding the master key. Without this and ANCORA_MASTER_KEY, `master.key` in the
    /// data directory, generated (0600) on first start.
    #[arg(long, env = "ANCORA_MASTER_KEY_FILE", conflicts_with = "master_key")]
    pub master_key_file: Option<PathBuf>,
    /// How often the worker runs an archiving pass, seconds.
    #[arg(long, env = "ANCORA_ARCHIVE_INTERVAL_S", default_value_t = crate::services::archive::ArchiveConfig::DEFAULT_INTERVAL_S)]
    pub archive_interval_s: u64,
    /// How long a content read back from the archive stays hot, seconds.
    #[arg(long, env = "ANCORA_ARCHIVE_RESTORE_TTL_S", default_value_t = crate::services::archive::ArchiveConfig::DEFAULT_RESTORE_TTL_S)]
    pub archive_restore_ttl_s: u64,
}

impl ArchiveArgs {
    /// The archive settings; reads (or on first start creates) the master key.
    pub fn to_config(
        &self,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<crate::services::archive::ArchiveConfig> {
        use crate::services::archive::{ArchiveConfig, ArchiveUrl, MasterKey, S3Options};
        use secrecy::ExposeSecret as _;
        let url = match &self.archive_url {
            Some(u) => u
                .parse::<ArchiveUrl>()
                .map_err(|e| anyhow::anyhow!("ANCORA_ARCHIVE_URL: {e}"))?,
            None => ArchiveUrl::Local(absolute(&data_dir.join("archive"))),
        };
        let master_key = match (&self.master_key, &self.master_key_file) {
            (Some(k), _) => MasterKey::parse(k.expose_secret())
                .map_err(|e| anyhow::anyhow!("ANCORA_MASTER_KEY: {e}"))?,
            (None, Some(file)) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    anyhow::anyhow!("ANCORA_MASTER_KEY_FILE {}: {e}", file.display())
                })?;
                MasterKey::parse(&text).map_err(|e| {
                    anyhow::anyhow!("ANCORA_MASTER_KEY_FILE {}: {e}", file.display())
                })?
            }
            (None, None) => MasterKey::load_or_create(&data_dir.join("master.key"))?,
        };
        let config = ArchiveConfig {
            url,
            s3: S3Options {
                endpoint: self.s3_endpoint.clone().filter(|e| !e.is_empty()),
                path_style: self.s3_path_style,
                region: self.aws_region.clone(),
                access_key_id: self.aws_access_key_id.clone().filter(|k| !k.is_empty()),
                secret_access_key: self.aws_secret_access_key.clone(),
                session_token: self.aws_session_token.clone(),
                object_lock: match self.s3_object_lock {
                    ObjectLockMode::Off => None,
                    ObjectLockMode::Governance => Some(false),
                    ObjectLockMode::Compliance => Some(true),
                },
            },
            master_key,
            interval: Duration::from_secs(self.archive_interval_s.max(1)),
            restore_ttl: Duration::from_secs(self.archive_restore_ttl_s),
        };
        config.check()?;
        Ok(config)
    }
}

fn absolute(p: &std::path::Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// Plans, quotas, rate limits and Stripe (`ANCORA_PLANS_FILE`, `ANCORA_STRIPE_…`).
#[derive(Debug, Clone, clap::Args)]
pub struct BillingArgs {
    /// A TOML file of plans (`[plans.NAME]` tables); without it the built-in free, team and
    /// enterprise plans.
    #[arg(long, env = "ANCORA_PLANS_FILE")]
    pub plans_file: Option<PathBuf>,
    /// The plan of tenants nobody has set one for.
    #[arg(long, env = "ANCORA_DEFAULT_PLAN", default_value = BillingConfig::DEFAULT_PLAN)]
    pub default_plan: String,
    /// Quotas, per-key rate limits and proof-read metering (off: for measuring their cost).
    #[arg(long, env = "ANCORA_BILLING", value_enum, default_value = "on")]
    pub billing: OnOff,
    /// Stripe secret key (test-mode `sk_test_…` or live); without it nothing calls Stripe.
    #[arg(long, env = "ANCORA_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<SecretString>,
    /// The Stripe webhook endpoint's signing secret (`whsec_…`).
    #[arg(long, env = "ANCORA_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<SecretString>,
    /// Stripe's API base URL.
    #[arg(long, env = "ANCORA_STRIPE_API_BASE", default_value = BillingConfig::DEFAULT_STRIPE_API_BASE)]
    pub stripe_api_base: String,
    /// The four meter event names: events, proof reads, SPV requests, reports (comma-separated).
    #[arg(
        long,
        env = "ANCORA_STRIPE_METER_EVENTS",
        value_delimiter = ',',
        default_value = "ancora_events,ancora_proof_reads,ancora_spv_requests,ancora_reports"
    )]
    pub stripe_meter_events: Vec<String>,
    /// Days a tenant keeps its plan's limits after a failed payment (then free's).
    #[arg(long, env = "ANCORA_BILLING_GRACE_DAYS", default_value_t = BillingConfig::DEFAULT_GRACE_DAYS)]
    pub billing_grace_days: u32,
    /// How often the worker reports usage to Stripe, seconds.
    #[arg(long, env = "ANCORA_BILLING_REPORT_INTERVAL_S", default_value_t = BillingConfig::DEFAULT_REPORT_INTERVAL_S)]
    pub billing_report_interval_s: u64,
}

impl BillingArgs {
    /// The billing settings: reads and checks the plans file.
    pub fn to_config(&self) -> anyhow::Result<BillingConfig> {
        let plans = crate::services::billing::plans::Plans::load(self.plans_file.as_deref())?;
        anyhow::ensure!(
            plans.get(&self.default_plan).is_some(),
            "ANCORA_DEFAULT_PLAN {:?} is not a plan; the plans are: {}",
            self.default_plan,
            plans.names()
        );
        let names: Vec<String> = self
            .stripe_meter_events
            .iter()
            .map(|n| n.trim().to_owned())
            .collect();
        let meter_events: [String; crate::services::billing::Metric::COUNT] =
            names.try_into().map_err(|_| {
                anyhow::anyhow!(
                    "ANCORA_STRIPE_METER_EVENTS needs four names: events, proof reads, SPV requests, reports"
                )
            })?;
        anyhow::ensure!(
            meter_events.iter().all(|n| !n.is_empty()),
            "ANCORA_STRIPE_METER_EVENTS: a meter event name is empty"
        );
        let config = BillingConfig {
            plans: std::sync::Arc::new(plans),
            default_plan: self.default_plan.clone(),
            enforce: self.billing == OnOff::On,
            stripe_secret_key: self.stripe_secret_key.clone(),
            stripe_webhook_secret: self.stripe_webhook_secret.clone(),
            stripe_api_base: self.stripe_api_base.clone(),
            grace_period: time::Duration::days(i64::from(self.billing_grace_days)),
            meter_events,
            report_interval: Duration::from_secs(self.billing_report_interval_s.max(1)),
            ..BillingConfig::default()
        };
        config.stripe_provider()?;
        Ok(config)
    }
}

/// The Chainweb anchor backend and SPV-as-a-Service settings (`ANCORA_CHAINWEB_…`).
#[derive(Debug, Clone, clap::Args)]
pub struct ChainwebArgs {
    /// Anchor backend for new anchors.
    #[arg(
        long,
        env = "ANCORA_ANCHOR_BACKEND",
        value_enum,
        default_value = "tlog"
    )]
    pub anchor_backend: AnchorBackendKind,

    /// Chainweb node base URLs, comma-separated, tried in order (fail-over).
    #[arg(
        long = "chainweb-nodes",
        env = "ANCORA_CHAINWEB_NODES",
        value_delimiter = ','
    )]
    pub nodes: Vec<String>,

    /// Chainweb network id.
    #[arg(
        long = "chainweb-network",
        env = "ANCORA_CHAINWEB_NETWORK",
        default_value = ChainwebConfig::DEFAULT_NETWORK,
        value_parser = ["mainnet01", "testnet04", "development"]
    )]
    pub network: String,

    /// Chain ids anchors are written on, comma-separated (default: all 20). A tenant's
    /// routed chain is mapped onto this set.
    #[arg(
        long = "chainweb-chains",
        env = "ANCORA_CHAINWEB_CHAINS",
        value_delimiter = ','
    )]
    pub chains: Vec<u32>,

    /// The gas payer account (`k:<public key>`); default `k:` + the signing key's public key.
    #[arg(long = "chainweb-sender", env = "ANCORA_CHAINWEB_SENDER")]
    pub sender: Option<String>,

    /// File holding the signing key (64 hex characters).
    #[arg(long = "chainweb-key-file", env = "ANCORA_CHAINWEB_KEY_FILE")]
    pub key_file: Option<PathBuf>,

    /// The signing key itself (64 hex characters). Prefer the key file.
    #[arg(
        long = "chainweb-key",
        env = "ANCORA_CHAINWEB_KEY",
        hide_env_values = true
    )]
    pub key: Option<SecretString>,

    /// Gas limit of an anchoring transaction.
    #[arg(
        long = "chainweb-gas-limit",
        env = "ANCORA_CHAINWEB_GAS_LIMIT",
        default_value_t = ChainwebConfig::DEFAULT_GAS_LIMIT
    )]
    pub gas_limit: u64,

    /// Gas price (KDA per gas unit).
    #[arg(
        long = "chainweb-gas-price",
        env = "ANCORA_CHAINWEB_GAS_PRICE",
        default_value_t = ChainwebConfig::DEFAULT_GAS_PRICE
    )]
    pub gas_price: f64,

    /// Time-to-live of an anchoring transaction, seconds.
    #[arg(
        long = "chainweb-ttl",
        env = "ANCORA_CHAINWEB_TTL",
        default_value_t = ChainwebConfig::DEFAULT_TTL_SECS
    )]
    pub ttl: u64,

    /// Blocks on top of the anchoring transaction's block before it counts as final.
    #[arg(
        long = "chainweb-confirmations",
        env = "ANCORA_CHAINWEB_CONFIRMATIONS",
        default_value_t = ChainwebConfig::DEFAULT_CONFIRMATIONS
    )]
    pub confirmations: u32,

    /// How the root is written: a bare `exec` or the `ancora-anchor` contract.
    #[arg(
        long = "chainweb-write-path",
        env = "ANCORA_CHAINWEB_WRITE_PATH",
        value_enum,
        default_value = "direct"
    )]
    pub write_path: WritePath,

    /// The contract's module name, with its namespace on public chains
    /// (`free.ancora-anchor`).
    #[arg(
        long = "chainweb-module",
        env = "ANCORA_CHAINWEB_MODULE",
        default_value = ChainwebConfig::DEFAULT_MODULE
    )]
    pub module: String,

    /// How long the confirming job waits between two looks at a pending transaction.
    #[arg(
        long = "chainweb-poll-ms",
        env = "ANCORA_CHAINWEB_POLL_MS",
        default_value_t = ChainwebConfig::DEFAULT_POLL_MS
    )]
    pub poll_ms: u64,

    /// Timeout of one node request.
    #[arg(
        long = "chainweb-request-timeout-ms",
        env = "ANCORA_CHAINWEB_REQUEST_TIMEOUT_MS",
        default_value_t = ChainwebConfig::DEFAULT_REQUEST_TIMEOUT_MS
    )]
    pub node_timeout_ms: u64,
}

/// Where the database is, parsed.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Explicit database, or `None` for the embedded cluster.
    pub url: Option<SecretString>,
    /// Data directory (embedded cluster, local files).
    pub data_dir: PathBuf,
    /// Database connection pool size.
    pub pool: u32,
    /// Longest wait for a pooled connection.
    pub acquire_timeout: Duration,
}

impl DatabaseConfig {
    /// Default pool size.
    pub const DEFAULT_POOL: u32 = 16;
    /// Default acquire timeout, ms.
    pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 1500;
    /// Default data directory.
    pub const DEFAULT_DATA_DIR: &'static str = "ancora-data";

    /// From the parsed flags.
    pub fn from_args(a: &DatabaseArgs) -> Self {
        DatabaseConfig {
            url: a.database_url.clone(),
            data_dir: a.data_dir.clone(),
            pool: a.db_pool.max(2),
            acquire_timeout: Duration::from_millis(a.db_acquire_timeout_ms.max(1)),
        }
    }
}

/// The HTTP server's settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// A request (body included) that takes longer is answered 408.
    pub request_timeout: Duration,
    /// Longest wait for a complete request head (also bounds idle keep-alive connections).
    pub header_read_timeout: Duration,
    /// Most client connections served at once.
    pub max_connections: usize,
}

impl HttpConfig {
    /// Default largest body.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
    /// Default request timeout, ms.
    pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
    /// Default header-read (and keep-alive idle) timeout, ms.
    pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
    /// Default cap on concurrent connections (below the usual 1024 open files).
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        HttpConfig {
            listen,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            request_timeout: Duration::from_millis(Self::DEFAULT_REQUEST_TIMEOUT_MS),
            header_read_timeout: Duration::from_millis(Self::DEFAULT_HEADER_READ_TIMEOUT_MS),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The configuration one process runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The database.
    pub database: DatabaseConfig,
    /// The HTTP server.
    pub http: HttpConfig,
    /// What the services run with.
    pub settings: Settings,
    /// How long a shutdown waits for running jobs and requests (see [`ServiceArgs`]).
    pub shutdown_grace: Duration,
    /// Where a process without the API serves its health and metrics endpoints, if anywhere.
    pub ops_listen: Option<SocketAddr>,
}

impl Config {
    /// Default shutdown grace period, ms (Kubernetes waits 30 s before SIGKILL).
    pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 20_000;

    /// Checks what cannot be checked per field: a configured log signing key must parse; with
    /// the `chainweb` backend, nodes and a signing key must be configured and usable. Call it
    /// at start-up.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(key) = &self.settings.log.signing_key {
            use secrecy::ExposeSecret as _;
            ancora_proof::tlog::LogSigner::from_key_text(key.expose_secret()).map_err(|e| {
                anyhow::anyhow!(
                    "ANCORA_LOG_SIGNING_KEY: not a signed-note private key (PRIVATE+KEY+…): {e}"
                )
            })?;
        }
        let cw = &self.settings.chainweb;
        if cw.has_nodes() {
            cw.client()?;
        }
        if self.settings.anchor_backend == AnchorBackendKind::Chainweb {
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

    /// Builds the configuration from parsed arguments (fails on an unreadable plans file). `http` is `None` for processes that
    /// serve no HTTP (their limits stay at the defaults, unused).
    pub fn from_args(
        db: &DatabaseArgs,
        http: Option<&HttpArgs>,
        svc: &ServiceArgs,
        listen: SocketAddr,
        public_url: Option<String>,
    ) -> anyhow::Result<Self> {
        let mut http_config = HttpConfig::new(listen);
        if let Some(h) = http {
            http_config.max_body_bytes = h.max_body_bytes;
            http_config.request_timeout = Duration::from_millis(h.request_timeout_ms);
            http_config.header_read_timeout =
                Duration::from_millis(h.header_read_timeout_ms.max(1));
            http_config.max_connections = h.max_connections.max(1);
        }
        Ok(Config {
            database: DatabaseConfig::from_args(db),
            http: http_config,
            settings: Settings {
                public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
                batching: BatchingConfig::new(
                    svc.batch_window_ms,
                    svc.batch_max_events,
                    svc.anchor_interval_ms,
                    svc.chain_count,
                ),
                log: LogConfig {
                    origin: svc.log_origin.clone(),
                    signing_key: svc.log_signing_key.clone(),
                },
                max_proof_lag: (svc.max_proof_lag_ms > 0)
                    .then(|| Duration::from_millis(svc.max_proof_lag_ms)),
                anchor_backend: svc.chainweb.anchor_backend,
                chainweb: chainweb_from_args(&svc.chainweb),
                billing: svc.billing.to_config()?,
                monitor: MonitorConfig::new(
                    svc.monitor_interval_ms,
                    svc.monitor_anchor_deadline_secs,
                ),
                archive: svc.archive.to_config(&db.data_dir)?,
                webhooks: WebhookConfig {
                    allow_loopback: svc.webhooks_allow_loopback,
                    ..WebhookConfig::default()
                },
                metrics: svc.metrics == OnOff::On,
                proof_cache_bytes: svc.proof_cache_mb.saturating_mul(1 << 20),
                proof_batch_cache_bytes: svc.proof_batch_cache_mb.saturating_mul(1 << 20),
                redis: redis_from_args(svc)?,
            },
            shutdown_grace: Duration::from_millis(svc.shutdown_grace_ms),
            ops_listen: svc.ops_listen,
        })
    }

    /// A configuration for tests: the embedded defaults, a test log origin, admission
    /// control off, listening on `listen`.
    pub fn for_tests(listen: SocketAddr) -> Self {
        Config {
            database: DatabaseConfig {
                url: None,
                data_dir: std::env::temp_dir().join("ancora-test"),
                pool: 8,
                acquire_timeout: crate::db::ACQUIRE_TIMEOUT,
            },
            http: HttpConfig::new(listen),
            settings: Settings {
                public_url: format!("http://{listen}"),
                log: LogConfig {
                    origin: "ancora.test/log".into(),
                    signing_key: None,
                },
                max_proof_lag: None,
                // Unlimited quotas and a generous rate: tests that are not about billing are
                // not limited by it; billing's tests choose their plans.
                billing: BillingConfig {
                    default_plan: "enterprise".into(),
                    ..BillingConfig::default()
                },
                ..Settings::default()
            },
            shutdown_grace: Duration::from_secs(5),
            ops_listen: None,
        }
    }
}

/// The shared proof cache's section: `None` without `ANCORA_REDIS_URL` (or with it empty); an
/// unusable URL is refused here, at start-up.
fn redis_from_args(
    svc: &ServiceArgs,
) -> anyhow::Result<Option<crate::services::proofs::redis::RedisConfig>> {
    use secrecy::ExposeSecret as _;
    let Some(url) = svc
        .redis_url
        .as_ref()
        .filter(|u| !u.expose_secret().trim().is_empty())
    else {
        return Ok(None);
    };
    let mut config = crate::services::proofs::redis::RedisConfig::new(url.clone());
    config.ttl = Duration::from_secs(svc.redis_ttl_s.max(1));
    config.timeout = Duration::from_millis(svc.redis_timeout_ms.max(1));
    config.check()?;
    Ok(Some(config))
}

fn chainweb_from_args(a: &ChainwebArgs) -> ChainwebConfig {
    let mut chains = a.chains.clone();
    chains.sort_unstable();
    chains.dedup();
    let mut c = ChainwebConfig::unconfigured();
    if !chains.is_empty() {
        c.chains = chains;
    }
    c.nodes = a
        .nodes
        .iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    c.network = a.network.clone();
    c.sender = a.sender.clone().filter(|s| !s.is_empty());
    c.key_file = a.key_file.clone();
    c.key = a.key.clone();
    c.gas_limit = a.gas_limit;
    c.gas_price = a.gas_price;
    c.ttl = a.ttl;
    c.confirmations = a.confirmations;
    c.write_path = a.write_path;
    c.module = a.module.clone();
    c.poll_interval = Duration::from_millis(a.poll_ms);
    c.request_timeout = Duration::from_millis(a.node_timeout_ms.max(1));
    c
}

/// Settings read from the environment outside the command-line definitions (by `main` and
/// `admin`); every other `ANCORA_…` setting is a flag's `env`, found by [`known_settings`].
pub const SETTINGS_OUTSIDE_FLAGS: &[&str] = &[
    "ANCORA_LOG",
    "ANCORA_LOG_FORMAT",
    "ANCORA_ADMIN_PASSWORD",
    "ANCORA_POSTGRES_BIN_DIR",
];

/// `ANCORA_…` variables of the tools around the binary (test harnesses, the SDK's tests,
/// scripts) that may be in its environment and mean nothing to it; names starting with one of
/// [`TOOLING_PREFIXES`] too.
pub const TOOLING_VARIABLES: &[&str] = &[
    "ANCORA_BIN",
    "ANCORA_URL",
    "ANCORA_API_KEY",
    "ANCORA_SHARED_DIR",
    "ANCORA_CRASH_KILLS",
    "ANCORA_REGENERATE_FIXTURES",
    "ANCORA_REPORT_SAMPLES",
    "ANCORA_CHAINWEB_TEST_KEY_ENV",
];

/// Prefixes of tooling variables (the browser end-to-end harness's `ANCORA_E2E_…`; the
/// reliability suite's `ANCORA_FAULT_…` and `ANCORA_FUZZ_…`).
pub const TOOLING_PREFIXES: &[&str] = &[
    "ANCORA_E2E_",
    "ANCORA_TEST_",
    "ANCORA_FAULT_",
    "ANCORA_FUZZ_",
];

/// Every `ANCORA_…` setting: each flag's `env` in `cli` and its subcommands, plus
/// [`SETTINGS_OUTSIDE_FLAGS`]. Sorted, no repeats.
pub fn known_settings(cli: &clap::Command) -> Vec<String> {
    fn walk(cmd: &clap::Command, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env().and_then(|e| e.to_str())
                && env.starts_with("ANCORA_")
            {
                out.push(env.to_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out: Vec<String> = SETTINGS_OUTSIDE_FLAGS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    walk(cli, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Refuses an `ANCORA_…` variable in `vars` that is no setting (a typo would otherwise be
/// ignored and the default silently used): the message names the variable and the closest
/// known setting, on one line.
pub fn check_environment(
    cli: &clap::Command,
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<(), String> {
    let known = known_settings(cli);
    let mut unknown: Vec<String> = vars
        .into_iter()
        .filter_map(|(k, _)| {
            let name = k.to_string_lossy().into_owned();
            let relevant = name.starts_with("ANCORA_")
                && !known.contains(&name)
                && !TOOLING_VARIABLES.contains(&name.as_str())
                && !TOOLING_PREFIXES.iter().any(|p| name.starts_with(p));
            relevant.then_some(name)
        })
        .collect();
    unknown.sort();
    let Some(name) = unknown.first() else {
        return Ok(());
    };
    let closest = known
        .iter()
        .min_by_key(|k| (edit_distance(name, k), k.len()))
        .map(String::as_str)
        .unwrap_or("none");
    let more = match unknown.len() {
        1 => String::new(),
        n => format!(" ({} more unknown: {})", n - 1, unknown[1..].join(", ")),
    };
    Err(format!(
        "unknown setting {name} in the environment; the closest known setting is {closest}{more}"
    ))
}

/// Levenshtein distance over bytes (setting names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A command-line parse error as one line, naming the setting: for a bad value, its
/// environment variable (when the flag has one) and its flag.
pub fn one_line_parse_error(cli: &clap::Command, e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let rendered = e.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() {
            parts.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    let message = parts.join(" ");
    let flag = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.split_whitespace().next().map(str::to_owned),
        _ => None,
    };
    let env = flag
        .as_deref()
        .and_then(|f| f.strip_prefix("--"))
        .and_then(|long| env_of_flag(cli, long));
    match env {
        Some(env) => format!("{env}: {message}"),
        None => message,
    }
}

fn env_of_flag(cmd: &clap::Command, long: &str) -> Option<String> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .or_else(|| cmd.get_subcommands().find_map(|s| env_of_flag(s, long)))
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("ANCORA_DB_POOL", "ANCORA_DB_POOL"), 0);
        assert_eq!(edit_distance("ANCORA_DB_POLL", "ANCORA_DB_POOL"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
