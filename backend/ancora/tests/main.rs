//! The service's one integration-test binary.
#![forbid(unsafe_code)]
mod workers;
mod log_api;
mod audit_api;
