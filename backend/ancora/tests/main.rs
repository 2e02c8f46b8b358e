//! The service's one integration-test binary.
#![forbid(unsafe_code)]
mod helpers;

mod admin_cli;
mod api_auth;
mod api_events;
mod api_reports;
mod architecture;
mod archive;
mod audit_api;
mod batch_metadata;
mod billing;
mod chainweb_anchor;
mod chainweb_devnet;
mod cli_offline;
mod crash;
mod e2e_embedded;
mod embedded_auth;
mod log_api;
mod log_monitor;
mod monitor_cli;
mod ops_config;
mod ops_metrics;
mod ops_scale_out;
mod pipeline;
mod portal;
mod request_id;
mod resilience;
mod security;
mod server_basics;
mod shutdown;
mod spv_api;
mod webhooks;
mod worker_ops;
mod workers;
