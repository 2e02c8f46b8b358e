//! Plumbing with no business rules, shared by every layer above: the Prometheus registry and
//! the process's shutdown signal.

pub mod metrics;
pub mod shutdown;

pub use shutdown::Shutdown;
