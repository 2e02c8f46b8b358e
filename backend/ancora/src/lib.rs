//! # ancora
//!
//! The service: JSON API, portal and workers in one binary, plus the command line.
//!
//! * [`config`] — one typed configuration and the embedded defaults.
//! * [`db`] — the pool, tenant-scoped transactions, all SQL.
//! * [`domain`] — validated newtypes.
//! * [`embedded_pg`] — the private Postgres cluster used when no `DATABASE_URL` is set.
//! * [`http`] — router, API, errors.
//! * [`ingest`] — event ingestion, shared by every endpoint that accepts events.
//! * [`anchor`] — anchor backends (`tlog`; later `chainweb`).
//! * [`workers`] — the job queue and the batch, anchor and prove jobs.
//! * [`metrics`] — Prometheus metrics.
#![forbid(unsafe_code)]

pub mod admin;
pub mod anchor;
pub mod authz;
pub mod backpressure;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod domain;
pub mod embedded_pg;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod password;
pub mod server;
pub mod workers;
