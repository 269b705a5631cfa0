//! Training loop, optimizers, checkpoints and logging for open-provence-rs.
