//! The `ancora` binary: `serve | worker | migrate | admin | verify | monitor | spv | chainweb`.
#![forbid(unsafe_code)]

mod cli_monitor;
mod cli_offline;

use std::net::SocketAddr;
use std::process::ExitCode;

use ancora::config::{Config, DatabaseArgs, DatabaseConfig, HttpArgs, ServiceArgs};
use ancora::server::{self, Parts};
use clap::{CommandFactory as _, Parser, Subcommand};

/// mimalloc instead of the system allocator: under ingest, glibc's malloc and free (with its
/// consolidation of freed chunks) took about a fifth of the server's CPU time (perf, 100
/// events a request); mimalloc's thread-local free lists make the many short-lived
/// allocations of a request cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "ancora",
    version,
    about = "Ancora: prove a record existed, unaltered, at a point in time"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API, the portal and the workers (the embedded defaults need no configuration).
    Serve(ServeArgs),
    /// Run only the workers.
    Worker(WorkerArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Administer tenants, users and API keys.
    Admin(AdminArgs),
    /// Verify a proof bundle offline (exit 0 verified, 1 a step fails, 2 bad input).
    Verify(cli_offline::VerifyArgs),
    /// Watch a running Ancora's transparency log: checkpoints signed and consistent (exit 0),
    /// a fork or a bad signature (exit 1), unreachable (exit 2).
    Monitor(cli_monitor::MonitorArgs),
    /// Chainweb SPV proofs, offline.
    #[command(subcommand)]
    Spv(cli_offline::SpvCommand),
    /// Chainweb block headers and Pact command signing, offline.
    #[command(subcommand)]
    Chainweb(cli_offline::ChainwebCommand),
}

#[derive(Debug, clap::Args)]
struct WorkerArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    service: ServiceArgs,
}

#[derive(Debug, clap::Args)]
struct AdminArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: ancora::admin::AdminCommand,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    service: ServiceArgs,
    /// Address to listen on.
    #[arg(long, env = "ANCORA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The URL clients reach this server at (defaults to http://LISTEN).
    #[arg(long, env = "ANCORA_PUBLIC_URL")]
    public_url: Option<String>,
    /// Run only the API (no workers).
    #[arg(long, conflicts_with = "workers_only")]
    api_only: bool,
    /// Run only the workers (no HTTP).
    #[arg(long)]
    workers_only: bool,
}

/// Exit code of a configuration that cannot be used (as clap's for a usage error).
const BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let command = Cli::command();
    if let Err(e) = ancora::config::check_environment(&command, std::env::vars_os()) {
        eprintln!("error: {e}");
        return ExitCode::from(BAD_CONFIG);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            eprintln!(
                "error: {}",
                ancora::config::one_line_parse_error(&command, &e)
            );
            return ExitCode::from(BAD_CONFIG);
        }
    };
    // The offline commands need no runtime, configuration or logging.
    let offline = match cli.command {
        Command::Verify(args) => Some(cli_offline::run_verify(args)),
        Command::Monitor(args) => Some(cli_monitor::run(args)),
        Command::Spv(cli_offline::SpvCommand::Verify(args)) => {
            Some(cli_offline::run_spv_verify(args))
        }
        Command::Chainweb(cli_offline::ChainwebCommand::HeaderHash(args)) => {
            Some(cli_offline::run_header_hash(args))
        }
        Command::Chainweb(cli_offline::ChainwebCommand::Sign(args)) => {
            Some(cli_offline::run_sign(args))
        }
        command => return run_online(command),
    };
    ExitCode::from(offline.and_then(|c| u8::try_from(c).ok()).unwrap_or(2))
}

fn run_online(command: Command) -> ExitCode {
    if let Err(e) = init_tracing() {
        eprintln!("error: {e}");
        return ExitCode::from(BAD_CONFIG);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(command));
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line, whatever the causes' messages hold.
            let message = format!("{e:#}").replace(['\n', '\r'], " ");
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let default_listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    match command {
        Command::Serve(args) => {
            let config = Config::from_args(
                &args.database,
                Some(&args.http),
                &args.service,
                args.listen,
                args.public_url,
            )?;
            config.check()?;
            let parts = Parts {
                api: !args.workers_only,
                workers: !args.api_only,
            };
            server::serve(config, parts).await?;
        }
        Command::Worker(args) => {
            let config =
                Config::from_args(&args.database, None, &args.service, default_listen, None)?;
            config.check()?;
            server::serve(
                config,
                Parts {
                    api: false,
                    workers: true,
                },
            )
            .await?;
        }
        Command::Migrate(args) => {
            let database = server::open_database(&DatabaseConfig::from_args(&args)).await?;
            database.db.migrate().await?;
            println!("migrations applied");
        }
        Command::Admin(args) => {
            let config = DatabaseConfig::from_args(&args.database);
            return ancora::admin::run(args.command, &config).await;
        }
        Command::Verify(_) | Command::Monitor(_) | Command::Spv(_) | Command::Chainweb(_) => {
            anyhow::bail!("internal: an offline command reached the service runtime")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Logging from `ANCORA_LOG` (a filter; default `info,sqlx=warn,tower_http=warn`) and
/// `ANCORA_LOG_FORMAT` (`text`, the default, or `json`); a value that cannot be used is an
/// error naming the setting.
fn init_tracing() -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("ANCORA_LOG") {
        Ok(v) => EnvFilter::try_new(&v)
            .map_err(|e| format!("ANCORA_LOG: {v:?} is not a log filter: {e}"))?,
        Err(std::env::VarError::NotPresent) => EnvFilter::new("info,sqlx=warn,tower_http=warn"),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err("ANCORA_LOG: not valid UTF-8".into());
        }
    };
    let json = match std::env::var("ANCORA_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") | Err(std::env::VarError::NotPresent) => false,
        Ok(other) => {
            return Err(format!(
                "ANCORA_LOG_FORMAT: {other:?} is not a log format (text or json)"
            ));
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err("ANCORA_LOG_FORMAT: not valid UTF-8 (text or json)".into());
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}
