//! One typed configuration, read from `ANCORA_…` environment variables and command-line flags
//! (flags win). The embedded defaults are chosen here and nowhere else:
//!
//! * no `DATABASE_URL` → a private Postgres cluster in the data directory;
//! * no anchor settings → the `tlog` backend (Ancora's own signed log), its key kept in the
//!   database unless `ANCORA_LOG_SIGNING_KEY` gives one.
//!
//! Secrets are [`SecretString`]s: their `Debug` prints `[REDACTED]`, so a config can be logged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

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

impl Config {
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
        }
    }
}
