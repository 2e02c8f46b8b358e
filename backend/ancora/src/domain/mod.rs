//! Domain newtypes that validate on construction.

mod ids;
mod role;

pub use ids::{TenantId, chain_for_tenant};
pub use role::Role;
