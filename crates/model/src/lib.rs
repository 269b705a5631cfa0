//! ModernBERT reranker-pruner model in Burn with Hugging Face checkpoint I/O.
