//! The backbone extension point: an encoder with a sequence-classification head that turns token
//! ids into ranking logits and the hidden states the pruning head reads. Each architecture is a
//! folder with its config next to its modules (`modernbert/`, `bert/`) and implements
//! [`Backbone`]; `RankingModel` holds whichever the config names, and `BackboneConfig` parses it
//! from `model_type`.

use burn::prelude::*;

use crate::execution::Execution;
use crate::ops::ModelBackend;

/// What a backbone computes for one batch.
#[derive(Debug, Clone)]
pub struct BackboneOutput<B: Backend> {
    /// Ranking logits [P, C].
    pub logits: Tensor<B, 2>,
    /// The hidden states the pruning head reads [P, L, H] (ModernBERT: the last layer before
    /// `final_norm`, upstream's `hidden_states[-1]`; BERT-like: `last_hidden_state`).
    pub pruning_hidden: Tensor<B, 3>,
    /// `last_hidden_state` [P, L, H].
    pub last_hidden_state: Tensor<B, 3>,
}

impl<B: Backend> BackboneOutput<B> {
    /// The output of a backbone whose pruning head reads `last_hidden_state` (post-norm encoders).
    pub fn of_last_hidden_state(logits: Tensor<B, 2>, last_hidden_state: Tensor<B, 3>) -> Self {
        Self {
            logits,
            pruning_hidden: last_hidden_state.clone(),
            last_hidden_state,
        }
    }
}

/// An encoder with a sequence-classification head, as the reranker–pruner uses it.
pub trait Backbone<B: ModelBackend> {
    /// Logits and hidden states for `input_ids` / `attention_mask` [P, L] (mask 1 = token) and
    /// optional `token_type_ids` [P, L] (zeros when absent; architectures without token types
    /// ignore them), run as `execution` says (layout, compute dtype, packed kernel). Under packed
    /// execution hidden states are exact zeros at pad positions.
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
        execution: &Execution,
    ) -> BackboneOutput<B>;
}
