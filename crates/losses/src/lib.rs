//! Ranking and token-pruning losses for open-provence-rs.
