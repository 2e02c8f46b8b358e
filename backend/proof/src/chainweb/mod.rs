//! Chainweb typed leaves, block headers and payload trees (being written).
