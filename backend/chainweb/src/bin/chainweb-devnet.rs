//! `chainweb-devnet`: a local Chainweb **development** network for running Ancora end to
//! end without a real node.
//!
//! It serves `ancora_chainweb::testkit`'s node double for the `development` network
//! (version code `ancora_proof::chainweb::version::DEVELOPMENT`) on `--listen`, with chains
//! 0–9 linked by the Petersen graph, and mines one round (a block on every chain) every
//! `--block-time-ms`. Paths are chainweb-node's under `/chainweb/0.0/development/…`
//! (`/send`, `/poll`, `/listen`, `/pact/spv`, `/header/{hash}`, `/header`, `/cut`), plus
//! `/info` and `/health-check`. Commands must name the network `development`; others are
//! refused with 400, as a node refuses them.
//!
//! On start it prints one line on stdout, then flushes:
//!
//! ```text
//! chainweb-devnet listening on http://127.0.0.1:PORT network=development chains=0..9
//! ```
//!
//! and runs until SIGINT or SIGTERM, then exits 0.
//!
//! **What it is**: a double with real Chainweb hashing. Every header it serves hashes
//! correctly with `ancora_proof::chainweb` and every SPV proof verifies with
//! `ancora_proof::spv` against its headers.
//!
//! **What it is not**: a Chainweb node. No consensus, no proof of work, no peers, a tiny
//! Pact (string literals and `ancora-anchor.record-anchor`), nothing persisted. It never
//! claims to be `mainnet01` or `testnet04`, and nothing it proves says anything about
//! those networks: the version code is part of every header hash.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use ancora_chainweb::testkit::{Network, Options, TestNode};
use clap::Parser;

/// A local Chainweb development network: a node double with real Chainweb hashing, no
/// consensus and no proof of work; never mainnet01 or testnet04.
///
/// Serves chains 0-9 of the network `development` (version code 1) under
/// /chainweb/0.0/development/chain/{0..9}/ (pact/api/v1/send, poll, listen, pact/spv,
/// header, header/{hash}), /chainweb/0.0/development/cut, /info and /health-check. Prints
/// "chainweb-devnet listening on http://ADDR network=development chains=0..9" on stdout
/// once bound; stops on SIGINT or SIGTERM with exit code 0.
#[derive(Debug, Parser)]
#[command(name = "chainweb-devnet", version)]
struct Args {
    /// Address to serve on. `127.0.0.1:0` picks a free port; the bound address is printed
    /// on stdout in the first line.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,

    /// Mine one round (a block on every chain) every MS milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    block_time_ms: u64,

    /// Fault injection: the first N commands mined fail out of gas (a Pact `GasError`
    /// result, in a block like any other).
    #[arg(long, value_name = "N", default_value_t = 0)]
    gas_error_first: u32,

    /// Fault injection: a command received at height h is mined no earlier than block
    /// h + 1 + N (slow inclusion). 0 mines it in the next block.
    #[arg(long, value_name = "N", default_value_t = 0)]
    confirm_delay_blocks: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chainweb-devnet: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    // Signal handlers first, so that a SIGTERM sent as soon as the address is printed is
    // a clean stop and not the default (killed by the signal).
    let stop = shutdown_signal()?;
    let network = Network::Development;
    let node = TestNode::start_with(Options {
        network,
        listen: args.listen,
        block_time: Some(Duration::from_millis(args.block_time_ms)),
    })
    .await
    .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", args.listen)))?;
    node.gas_error_next(args.gas_error_first);
    node.set_confirm_delay_blocks(args.confirm_delay_blocks);

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "chainweb-devnet listening on {} network={network} chains=0..9",
        node.base_url()
    )?;
    out.flush()?;
    drop(out);
    eprintln!(
        "chainweb-devnet: block time {} ms, gas errors for the first {} commands, confirmation delay {} blocks",
        args.block_time_ms, args.gas_error_first, args.confirm_delay_blocks
    );

    let signal = stop.await;
    eprintln!(
        "chainweb-devnet: {signal}, stopping at height {}",
        node.height()
    );
    drop(node);
    Ok(())
}

/// Resolves with the signal's name on SIGINT or SIGTERM. The handlers are installed before
/// it returns.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    Ok(async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    })
}
