//! Pruning inference, sentence splitting and dataset evaluation for open-provence-rs.
