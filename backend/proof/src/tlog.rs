//! Ancora transparency log (being written).
