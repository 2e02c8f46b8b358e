//! Chainweb SPV proofs (being written).
