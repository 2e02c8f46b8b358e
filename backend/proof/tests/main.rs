//! The proof core's one integration-test binary. Each concern is a module.
#![forbid(unsafe_code)]

mod chainweb;
mod common;
mod spv;
mod tlog;
mod bundle;
mod merkle_props;
