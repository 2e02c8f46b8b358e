//! # ancora-chainweb
//!
//! Ancora's edge to Kadena Chainweb. The pure parts do no I/O:
//!
//! * [`key`] — Ed25519 secret keys whose `Debug` redacts, loaded from a file or the environment.
//! * [`command`] — the Pact command builder: the exact `cmd` string, its BLAKE2b-256 hash
//!   (the request key), Ed25519 signatures over the raw hash, the signed `Command`, and the
//!   checks a node makes on one ([`command::verify_command`]).
//! * [`types`] — request keys, typed `CommandResult`s, cuts: everything a node answers,
//!   parsed with errors instead of panics.
//! * [`cli`] — `ancora chainweb sign CMD_FILE --key-file KEY`.
//!
//! The I/O part is [`client::NodeClient`], an HTTP client for several Chainweb nodes with
//! retries and fail-over. With the `testkit` feature, [`testkit`] is a Chainweb node double
//! that hashes, chains and proves like the real thing (mainnet01 for tests, or a local
//! `development` network, which the `chainweb-devnet` binary serves).
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod command;
mod error;
pub mod key;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod types;

pub use client::{NodeClient, NodeClientConfig};
pub use command::{
    Cap, ContPayload, ExecPayload, Meta, PactCommand, PactPayload, SignedCommand, Signer, hash_cmd,
    sign_cmd_string,
};
pub use error::Error;
pub use key::SecretKey;
pub use types::{ChainId, CommandResult, Cut, PactOutcome, RequestKey};
