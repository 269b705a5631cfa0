//! Train OpenProvence reranker-pruner models from YAML recipes.

fn main() {}
