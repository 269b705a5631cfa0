//! Evaluate OpenProvence models and prune contexts.

fn main() {}
