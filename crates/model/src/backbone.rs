//! The backbone extension point: an encoder with a sequence-classification head that turns token
//! ids into ranking logits and the hidden states the pruning head reads. Each architecture is one
//! file with HF tensor names as field names (`modernbert.rs`, `bert.rs`); [`RankingModel`] holds
//! whichever the config names, and [`crate::BackboneConfig`] parses it from `model_type`.

use burn::prelude::*;
use burn::tensor::{DType, FloatDType};

use crate::bert::BertForSequenceClassification;
use crate::modernbert::ModernBertForSequenceClassification;
use crate::ops::ModelBackend;
use crate::packing::PackedAttention;
use crate::params::{NamedParams, ParamVisitor};
use provence_config::AttentionLayout;

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

/// An encoder with a sequence-classification head, as the reranker–pruner uses it.
pub trait Backbone<B: Backend> {
    /// Logits and hidden states for `input_ids` / `attention_mask` [P, L] (mask 1 = token) and
    /// optional `token_type_ids` [P, L] (zeros when absent; architectures without token types
    /// ignore them). Under packed execution hidden states are exact zeros at pad positions.
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> BackboneOutput<B>
    where
        B: ModelBackend;

    /// Runs attention and the feed-forward blocks in `dtype` (bf16: mixed precision with f32
    /// parameters, residual stream, norms and softmax).
    fn set_compute_dtype(&mut self, dtype: FloatDType);

    /// The dtype set by [`Self::set_compute_dtype`].
    fn compute_dtype(&self) -> DType;

    /// Packed (only real tokens; the default) or padded execution.
    fn set_attention(&mut self, layout: AttentionLayout);

    /// The layout set by [`Self::set_attention`].
    fn attention(&self) -> AttentionLayout;

    /// Overrides the backend's choice of packed attention kernel (benchmarks, tests).
    fn set_packed_attention(&mut self, kernel: PackedAttention);
}

impl<B: Backend> Backbone<B> for ModernBertForSequenceClassification<B> {
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        _token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> BackboneOutput<B>
    where
        B: ModelBackend,
    {
        let out = ModernBertForSequenceClassification::forward(self, input_ids, attention_mask);
        BackboneOutput {
            logits: out.logits,
            pruning_hidden: out.encoder.hidden_state,
            last_hidden_state: out.encoder.last_hidden_state,
        }
    }

    fn set_compute_dtype(&mut self, dtype: FloatDType) {
        self.model.set_compute_dtype(dtype);
    }

    fn compute_dtype(&self) -> DType {
        self.model.compute_dtype()
    }

    fn set_attention(&mut self, layout: AttentionLayout) {
        self.model.set_attention(layout);
    }

    fn attention(&self) -> AttentionLayout {
        self.model.attention()
    }

    fn set_packed_attention(&mut self, kernel: PackedAttention) {
        self.model.set_packed_attention(kernel);
    }
}

impl<B: Backend> Backbone<B> for BertForSequenceClassification<B> {
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> BackboneOutput<B>
    where
        B: ModelBackend,
    {
        let types = token_type_ids.unwrap_or_else(|| input_ids.zeros_like());
        let last_hidden_state = self.encoder.forward(input_ids, attention_mask, types);
        BackboneOutput {
            logits: self.classify(last_hidden_state.clone()),
            pruning_hidden: last_hidden_state.clone(),
            last_hidden_state,
        }
    }

    fn set_compute_dtype(&mut self, dtype: FloatDType) {
        BertForSequenceClassification::set_compute_dtype(self, dtype);
    }

    fn compute_dtype(&self) -> DType {
        BertForSequenceClassification::compute_dtype(self)
    }

    fn set_attention(&mut self, layout: AttentionLayout) {
        BertForSequenceClassification::set_attention(self, layout);
    }

    fn attention(&self) -> AttentionLayout {
        BertForSequenceClassification::attention(self)
    }

    fn set_packed_attention(&mut self, kernel: PackedAttention) {
        BertForSequenceClassification::set_packed_attention(self, kernel);
    }
}

/// The `ranking_model` of the reranker–pruner: one of the supported backbones.
// One value per model, moved only when the model is: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum RankingModel<B: Backend> {
    /// `ModernBertForSequenceClassification` (`ranking_model.model.*`).
    ModernBert(ModernBertForSequenceClassification<B>),
    /// `BertForSequenceClassification` / `XLMRobertaForSequenceClassification`
    /// (`ranking_model.bert.*` / `ranking_model.roberta.*`).
    Bert(BertForSequenceClassification<B>),
}

impl<B: Backend> RankingModel<B> {
    /// The ModernBERT backbone, if it is one.
    pub fn as_modernbert(&self) -> Option<&ModernBertForSequenceClassification<B>> {
        match self {
            Self::ModernBert(m) => Some(m),
            Self::Bert(_) => None,
        }
    }

    /// The ModernBERT backbone, mutably, if it is one.
    pub fn as_modernbert_mut(&mut self) -> Option<&mut ModernBertForSequenceClassification<B>> {
        match self {
            Self::ModernBert(m) => Some(m),
            Self::Bert(_) => None,
        }
    }
}

/// Calls `$body` with the backbone inside `$model`, whatever its architecture.
macro_rules! each_backbone {
    ($model:expr, $inner:ident => $body:expr) => {
        match $model {
            RankingModel::ModernBert($inner) => $body,
            RankingModel::Bert($inner) => $body,
        }
    };
}

impl<B: Backend> Backbone<B> for RankingModel<B> {
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> BackboneOutput<B>
    where
        B: ModelBackend,
    {
        each_backbone!(self, m => Backbone::forward(m, input_ids, attention_mask, token_type_ids))
    }

    fn set_compute_dtype(&mut self, dtype: FloatDType) {
        each_backbone!(self, m => Backbone::set_compute_dtype(m, dtype));
    }

    fn compute_dtype(&self) -> DType {
        each_backbone!(self, m => Backbone::compute_dtype(m))
    }

    fn set_attention(&mut self, layout: AttentionLayout) {
        each_backbone!(self, m => Backbone::set_attention(m, layout));
    }

    fn attention(&self) -> AttentionLayout {
        each_backbone!(self, m => Backbone::attention(m))
    }

    fn set_packed_attention(&mut self, kernel: PackedAttention) {
        each_backbone!(self, m => Backbone::set_packed_attention(m, kernel));
    }
}

impl<B: Backend> NamedParams<B> for RankingModel<B> {
    fn visit_params(&mut self, prefix: &str, v: &mut dyn ParamVisitor<B>) {
        each_backbone!(self, m => m.visit_params(prefix, v));
    }
}
