//! ancora-chainweb's one integration-test binary. Each concern is a module.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used)]

mod it {
    pub mod common;
    mod devnet;
    mod differential_js;
    mod failures;
    mod flow;
    mod vectors;
}
