//! Domain newtypes that parse, don't validate: holding one means its text was checked once,
//! where it entered.

mod ids;
mod role;

pub use ids::{AnchorId, BatchId, Digest, EventId, EventIdError, TenantId, chain_for_tenant};
pub use role::Role;
