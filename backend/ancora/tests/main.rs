//! The service's one integration-test binary.
#![forbid(unsafe_code)]
mod helpers;

mod admin_cli;
mod api_auth;
mod api_events;
mod workers;
mod log_api;
mod audit_api;
mod portal;
mod crash;
mod e2e_embedded;
mod chainweb_anchor;
mod spv_api;
