//! # ancora
//!
//! The service: JSON API, portal and workers in one binary, plus the command line. Imports
//! point one way, top to bottom (the architecture test in `tests/architecture.rs` keeps it so):
//!
//! 1. **process** — `main.rs` (the CLI), [`server`] (start-up and shut-down), [`embedded_pg`],
//!    [`bootstrap`], [`admin`]: they build the state and hand it down;
//! 2. **interfaces** — [`http`] (API and portal) and [`workers`] (job runners): they translate,
//!    hold no business rules, and never import each other;
//! 3. **app** — [`app`] (the one application state) and [`config`] (parsed configuration), the
//!    types the process hands the interfaces;
//! 4. **services** — [`services`]: ingest, batching, anchoring, proofs, admission,
//!    authorization, billing, one module each with its own error type;
//! 5. **storage** — [`db`]: all SQL, one file per aggregate, the job queue's kinds included;
//! 6. **domain** — [`domain`] newtypes and [`support`] plumbing (metrics, shutdown), beside the
//!    pure crates `ancora-proof`, `ancora-reports` and `ancora-chainweb`.
#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod domain;
pub mod embedded_pg;
pub mod http;
pub mod server;
pub mod services;
pub mod support;
pub mod workers;
