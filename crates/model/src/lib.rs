//! The reranker–pruner in Burn on a ModernBERT, BERT or XLM-RoBERTa backbone, with Hugging Face
//! checkpoint I/O.
//!
//! * [`OpenProvenceModel`]: the reranker–pruner (ranking logits + per-token pruning logits),
//!   random init ([`OpenProvenceModel::from_scratch`]), loading ([`OpenProvenceModel::load`]) and
//!   saving in upstream's layouts; it runs as one [`Execution`] says (layout, compute dtype,
//!   packed attention kernel).
//! * Backbones, one folder each with its config next to its modules (transformers' module and
//!   tensor names): `modernbert/` ([`ModernBertConfig`], [`ModernBertForSequenceClassification`])
//!   and `bert/` ([`BertConfig`], [`BertForSequenceClassification`],
//!   [`RobertaForSequenceClassification`]), each implementing [`Backbone`].
//! * What they share imports none of them: `nn.rs` (layers), `activation.rs`, `hf_config.rs`
//!   ([`Labels`], config checks), `encoder.rs` (padded or packed sequences), `ops/`
//!   ([`ModelBackend`]: the hot ops and their backward passes).
//! * `params.rs` names every parameter from its field path; `io.rs` maps those names onto each
//!   checkpoint layout.
//! * `rng.rs` draws initial weights and dropout masks on the host from one seeded generator
//!   ([`seed`]), so a seed gives the same model and masks on every device.

mod activation;
mod backbone;
mod bert;
mod config;
mod device;
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
mod rng;

pub use activation::Activation;
pub use backbone::{Backbone, BackboneOutput};
pub use bert::{
    BertAttention, BertConfig, BertEmbeddings, BertEncoder, BertFlavour, BertForSequenceClassification,
    BertIntermediate, BertLayer, BertModel, BertPooler, BertResidualOutput, BertSelfAttention,
    RobertaClassificationHead, RobertaForSequenceClassification,
};
pub use config::{BackboneConfig, MaxLength, OpenProvenceConfig};
#[cfg(feature = "wgpu")]
pub use device::wgpu;
pub use device::{DeviceChoice, DeviceError, SelectableBackend};
pub use error::ConfigError;
pub use execution::{Execution, ExecutionError};
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
#[cfg(feature = "cube")]
pub use ops::{ChunkWindow, CubeKernels, PackedWindow};
pub use packing::{PACK_BUCKET, PackedAttention, Packing};
pub use provence::{OpenProvenceModel, OpenProvenceOutput, PruningHead};
pub use provence_config::AttentionLayout;
pub use ranking_model::RankingModel;
pub use rng::seed;

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
