//! `ancora admin …`: tenants, users and API keys from the command line. Reads the same
//! configuration as `serve` and starts or joins the embedded cluster when no DATABASE_URL is set.

use std::process::ExitCode;

use crate::config::Config;

/// Admin subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create a tenant; prints its id.
    CreateTenant {
        /// The tenant's display name.
        name: String,
    },
}

/// Runs an admin command.
pub async fn run(_cmd: AdminCommand, _config: &Config) -> anyhow::Result<ExitCode> {
    anyhow::bail!("admin commands are being written")
}
