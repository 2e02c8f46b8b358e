//! Proof bundle v1 (being written).
