//! ModernBERT reranker-pruner model in Burn with Hugging Face checkpoint I/O.
//!
//! * [`ModernBertConfig`]: a ModernBERT `config.json` (transformers 4.48–4.57 and 5.x keys).
//! * [`ModernBertModel`] / [`ModernBertForSequenceClassification`]: transformers'
//!   `modeling_modernbert.py` (same parameter names), generic over the Burn backend.
//! * [`OpenProvenceModel`]: the reranker–pruner (ranking logits + per-token pruning logits read
//!   from the pre-final-norm hidden state), random init ([`OpenProvenceModel::from_scratch`]),
//!   loading ([`OpenProvenceModel::load`]) and saving in upstream's layouts.

mod activation;
mod backbone;
mod bert;
mod config;
mod encoder;
mod error;
mod execution;
mod hf_config;
mod io;
mod modernbert;
mod nn;
mod ops;
mod packing;
mod params;
mod provence;
mod ranking_model;

pub use activation::Activation;
pub use backbone::{Backbone, BackboneOutput};
pub use bert::{
    BertAttention, BertConfig, BertEmbeddings, BertEncoder, BertFlavour, BertForSequenceClassification,
    BertIntermediate, BertLayer, BertModel, BertPooler, BertResidualOutput, BertSelfAttention,
    RobertaClassificationHead, RobertaForSequenceClassification,
};
pub use config::{BackboneConfig, MaxLength, OpenProvenceConfig};
pub use error::ConfigError;
pub use execution::Execution;
pub use hf_config::Labels;
pub use io::{CheckpointLayout, DEFAULT_HUB_REPO, DEFAULT_PRUNING_DROPOUT, LoadError, SaveError, TensorProblem};
pub use modernbert::{
    ModernBertAttention, ModernBertConfig, ModernBertEmbeddings, ModernBertEncoderLayer,
    ModernBertForSequenceClassification, ModernBertMlp, ModernBertModel, ModernBertOutput, ModernBertPredictionHead,
    SequenceClassifierOutput,
};
pub use nn::Pooling;
pub use ops::{
    AttentionSpec, Chunk, ChunkProbs, ModelBackend, attention_backward, attention_forward, attention_with_dropout,
    chunk_score_grad, chunk_softmax, geglu_backward, geglu_forward, layer_norm_backward, layer_norm_forward,
    qkv_rope_backward, qkv_rope_forward,
};
pub use packing::{PACK_BUCKET, PackedAttention, Packing};
pub use provence::{OpenProvenceModel, OpenProvenceOutput, PruningHead};
pub use provence_config::AttentionLayout;
pub use ranking_model::RankingModel;

/// Sizes the CPU worker pool (the rayon pool Burn's `Flex` backend and this crate's CPU kernels
/// share) to `threads`, or leaves it at one thread per core (`RAYON_NUM_THREADS` if set) when
/// `None`; returns the pool's size. Call it once, before any tensor work.
pub fn init_cpu_threads(threads: Option<usize>) -> usize {
    if let Some(threads) = threads.filter(|&n| n > 0)
        && let Err(error) = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global()
    {
        tracing::warn!("--threads {threads} ignored: {error}");
    }
    rayon::current_num_threads()
}
