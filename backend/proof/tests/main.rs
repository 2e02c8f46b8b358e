//! The proof core's one integration-test binary. Each concern is a module.
#![forbid(unsafe_code)]

mod bundle;
mod bundle_v2;
mod chainweb;
mod common;
mod fixtures;
mod merkle_props;
mod spv;
mod tlog;
