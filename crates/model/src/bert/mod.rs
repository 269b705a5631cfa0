//! BERT and (XLM-)RoBERTa encoders with their sequence-classification heads, following
//! transformers' `modeling_bert.py` and `modeling_xlm_roberta.py` (post-LayerNorm layers,
//! absolute position and token-type embeddings). Field names follow the HF tensor names; the
//! HF prefix of the encoder (`bert.` or `roberta.`) depends on the flavour.
// `LayerNorm` is the HF tensor name; the Module derive expands field names into locals.
#![allow(non_snake_case)]

mod config;

pub use config::{BertConfig, BertFlavour};

use burn::nn::{Dropout, Embedding, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::tanh;
use burn::tensor::{DType, FloatDType};

use crate::activation::Activation;
use crate::encoder::Sequences;
use crate::error::ConfigError;
use crate::nn::{dropout, embed, embedding, layer_norm, linear, norm, project};
use crate::ops::{AttentionSpec, ModelBackend, activate, to_dtype};
use crate::packing::{PackedAttention, Packing, index_tensor};
use crate::params::{NamedParams, ParamVisitor};
use provence_config::AttentionLayout;

/// A LayerNorm over the hidden size with the config's epsilon.
fn hidden_norm<B: Backend>(cfg: &BertConfig, device: &B::Device) -> LayerNorm<B> {
    layer_norm(cfg.hidden_size, cfg.layer_norm_eps, true, device)
}

/// `embeddings`: word + position + token-type embeddings → LayerNorm → dropout.
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    /// `embeddings.word_embeddings` [V, H].
    pub word_embeddings: Embedding<B>,
    /// `embeddings.position_embeddings` [max_position_embeddings, H].
    pub position_embeddings: Embedding<B>,
    /// `embeddings.token_type_embeddings` [type_vocab_size, H].
    pub token_type_embeddings: Embedding<B>,
    /// `embeddings.LayerNorm`.
    pub LayerNorm: LayerNorm<B>,
    /// Dropout after the norm.
    pub dropout: Dropout,
    /// `padding_idx` of the word (and, for RoBERTa, position) embeddings.
    #[module(skip)]
    pub padding_idx: Option<usize>,
    #[module(skip)]
    flavour_is_roberta: bool,
    #[module(skip)]
    eps: f64,
}

impl<B: Backend> BertEmbeddings<B> {
    fn new(cfg: &BertConfig, device: &B::Device) -> Self {
        Self {
            word_embeddings: embedding(cfg.vocab_size, cfg.hidden_size, device),
            position_embeddings: embedding(cfg.max_position_embeddings, cfg.hidden_size, device),
            token_type_embeddings: embedding(cfg.type_vocab_size, cfg.hidden_size, device),
            LayerNorm: hidden_norm(cfg, device),
            dropout: dropout(cfg.hidden_dropout_prob),
            padding_idx: cfg.padding_idx(),
            flavour_is_roberta: cfg.flavour() == BertFlavour::Roberta,
            eps: cfg.layer_norm_eps,
        }
    }

    /// `ids`, `positions`, `token_types` [B, T] → [B, T, H].
    fn forward(
        &self,
        ids: Tensor<B, 2, Int>,
        positions: Tensor<B, 2, Int>,
        token_types: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let position_padding = if self.flavour_is_roberta {
            self.padding_idx
        } else {
            None
        };
        let x = embed(&self.word_embeddings, ids, self.padding_idx)
            + embed(&self.position_embeddings, positions, position_padding)
            + self.token_type_embeddings.forward(token_types);
        self.dropout.forward(norm(&self.LayerNorm, x, self.eps))
    }

    /// The position of every token of `ids` [B, T] in a padded batch: `0..T` for BERT; for
    /// RoBERTa `padding_idx + 1 + (real tokens so far)` on real tokens and `padding_idx` on pads.
    fn padded_positions(&self, ids: &Tensor<B, 2, Int>) -> Tensor<B, 2, Int> {
        let [b, t] = ids.dims();
        let device = ids.device();
        match (self.flavour_is_roberta, self.padding_idx) {
            (true, Some(pad)) => {
                let real = ids.clone().not_equal_elem(pad as i64).int();
                (real.clone().cumsum(1) * real).add_scalar(pad as i64)
            }
            _ => Tensor::<B, 1, Int>::arange(0..t as i64, &device)
                .unsqueeze::<2>()
                .expand([b, t]),
        }
    }

    /// The offset of the first position of a sequence (`padding_idx + 1` for RoBERTa, else 0).
    fn position_offset(&self) -> usize {
        match (self.flavour_is_roberta, self.padding_idx) {
            (true, Some(pad)) => pad + 1,
            _ => 0,
        }
    }
}

/// `encoder.layer.N.attention.self`: separate `query`, `key`, `value` projections.
#[derive(Module, Debug)]
pub struct BertSelfAttention<B: Backend> {
    /// `query` H → H.
    pub query: Linear<B>,
    /// `key` H → H.
    pub key: Linear<B>,
    /// `value` H → H.
    pub value: Linear<B>,
    /// Dropout on the attention probabilities.
    pub dropout: Dropout,
    #[module(skip)]
    num_heads: usize,
}

/// `dense` → dropout → `LayerNorm(x + residual)`: the `attention.output` and `output` blocks.
#[derive(Module, Debug)]
pub struct BertResidualOutput<B: Backend> {
    /// `dense`.
    pub dense: Linear<B>,
    /// `LayerNorm`.
    pub LayerNorm: LayerNorm<B>,
    /// Dropout before the residual sum.
    pub dropout: Dropout,
    #[module(skip)]
    eps: f64,
}

impl<B: Backend> BertResidualOutput<B> {
    fn new(d_in: usize, cfg: &BertConfig, device: &B::Device) -> Self {
        Self {
            dense: linear(d_in, cfg.hidden_size, true, device),
            LayerNorm: hidden_norm(cfg, device),
            dropout: dropout(cfg.hidden_dropout_prob),
            eps: cfg.layer_norm_eps,
        }
    }

    /// `x` in the compute dtype, `residual` in the stream's (f32): the sum and norm in f32.
    fn forward(&self, x: Tensor<B, 3>, residual: Tensor<B, 3>) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let h = to_dtype(self.dropout.forward(project(&self.dense, x)), residual.dtype());
        norm(&self.LayerNorm, h + residual, self.eps)
    }
}

/// `encoder.layer.N`: self-attention, `attention.output`, `intermediate`, `output`.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    /// `attention.self`.
    pub attention_self: BertSelfAttention<B>,
    /// `attention.output`.
    pub attention_output: BertResidualOutput<B>,
    /// `intermediate.dense` H → I.
    pub intermediate: Linear<B>,
    /// `output`.
    pub output: BertResidualOutput<B>,
    #[module(skip)]
    act: Activation,
}

impl<B: Backend> BertLayer<B> {
    fn new(cfg: &BertConfig, act: Activation, device: &B::Device) -> Self {
        let h = cfg.hidden_size;
        Self {
            attention_self: BertSelfAttention {
                query: linear(h, h, true, device),
                key: linear(h, h, true, device),
                value: linear(h, h, true, device),
                dropout: dropout(cfg.attention_probs_dropout_prob),
                num_heads: cfg.num_attention_heads,
            },
            attention_output: BertResidualOutput::new(h, cfg, device),
            intermediate: linear(h, cfg.intermediate_size, true, device),
            output: BertResidualOutput::new(cfg.intermediate_size, cfg, device),
            act,
        }
    }

    /// `x` [B, T, H] in the stream's dtype; attention and the feed-forward run in `compute`.
    fn forward(&self, x: Tensor<B, 3>, sequences: &Sequences<B>, compute: DType) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let [b, t, h] = x.dims();
        let a = &self.attention_self;
        let (nh, d) = (a.num_heads, h / a.num_heads);
        let xc = to_dtype(x.clone(), compute);
        let heads = |lin: &Linear<B>| project(lin, xc.clone()).reshape([b, t, nh, d]).swap_dims(1, 2);
        let spec = AttentionSpec::padded((d as f64).powf(-0.5), None);
        let context = sequences.attend(heads(&a.query), heads(&a.key), heads(&a.value), spec, &a.dropout);
        let context = context.swap_dims(1, 2).reshape([b, t, h]);
        let attended = self.attention_output.forward(context, x);
        let inner = activate(
            self.act,
            project(&self.intermediate, to_dtype(attended.clone(), compute)),
        );
        self.output.forward(inner, attended)
    }
}

impl<B: Backend> NamedParams<B> for BertLayer<B> {
    fn visit_params(&mut self, prefix: &str, v: &mut dyn ParamVisitor<B>) {
        let a = &mut self.attention_self;
        a.query.visit_params(&format!("{prefix}attention.self.query."), v);
        a.key.visit_params(&format!("{prefix}attention.self.key."), v);
        a.value.visit_params(&format!("{prefix}attention.self.value."), v);
        let o = &mut self.attention_output;
        o.dense.visit_params(&format!("{prefix}attention.output.dense."), v);
        o.LayerNorm
            .visit_params(&format!("{prefix}attention.output.LayerNorm."), v);
        self.intermediate
            .visit_params(&format!("{prefix}intermediate.dense."), v);
        self.output.dense.visit_params(&format!("{prefix}output.dense."), v);
        self.output
            .LayerNorm
            .visit_params(&format!("{prefix}output.LayerNorm."), v);
    }
}

/// The bare encoder (`bert.*` / `roberta.*` inside task models).
#[derive(Module, Debug)]
pub struct BertModel<B: Backend> {
    /// `embeddings`.
    pub embeddings: BertEmbeddings<B>,
    /// `encoder.layer.N`.
    pub layers: Vec<BertLayer<B>>,
    #[module(skip)]
    compute_dtype: FloatDType,
    #[module(skip)]
    attention: AttentionLayout,
    #[module(skip)]
    packed_attention: Option<PackedAttention>,
}

impl<B: Backend> BertModel<B> {
    fn new(cfg: &BertConfig, act: Activation, device: &B::Device) -> Self {
        Self {
            embeddings: BertEmbeddings::new(cfg, device),
            layers: (0..cfg.num_hidden_layers)
                .map(|_| BertLayer::new(cfg, act, device))
                .collect(),
            compute_dtype: FloatDType::F32,
            attention: AttentionLayout::default(),
            packed_attention: None,
        }
    }

    /// `last_hidden_state` [B, T, H] of `input_ids` / `attention_mask` / `token_type_ids` [B, T],
    /// padded or packed as set by [`crate::Backbone::set_attention`] (packed: zeros at pads).
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        match self.attention {
            AttentionLayout::Padded => {
                let positions = self.embeddings.padded_positions(&input_ids);
                let sequences = Sequences::Padded {
                    key_pad: attention_mask.equal_elem(0),
                };
                self.encode(input_ids, positions, token_type_ids, &sequences)
            }
            AttentionLayout::Packed => {
                let packing = Packing::from_mask_tensor(&attention_mask);
                self.forward_packed(input_ids, token_type_ids, &packing)
            }
        }
    }

    /// Only the real tokens through the encoder, as one stream; positions restart in every
    /// sequence; outputs re-padded with zeros.
    fn forward_packed(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        packing: &Packing,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let device = input_ids.device();
        let dropout = self.layers.iter().any(|l| l.attention_self.dropout.prob > 0.0);
        let sequences = Sequences::for_stream(packing, self.packed_attention, dropout, &device);
        let pad = self.embeddings.padding_idx.map_or(0, |p| p as i64);
        let ids = packing.pack_ids(input_ids, pad);
        let types = packing.pack_ids(token_type_ids, 0);
        // The bucket filler's tokens (after the real ones) are never read: position 0.
        let offset = self.embeddings.position_offset();
        let positions: Vec<usize> = packing
            .positions()
            .into_iter()
            .enumerate()
            .map(|(i, p)| if i < packing.tokens() { p + offset } else { offset })
            .collect();
        let positions = index_tensor::<B>(&positions, &device).unsqueeze::<2>();
        packing.unpack(self.encode(ids, positions, types, &sequences))
    }

    fn encode(
        &self,
        ids: Tensor<B, 2, Int>,
        positions: Tensor<B, 2, Int>,
        token_types: Tensor<B, 2, Int>,
        sequences: &Sequences<B>,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let compute: DType = self.compute_dtype.into();
        let mut x = self.embeddings.forward(ids, positions, token_types);
        for layer in &self.layers {
            x = layer.forward(x, sequences, compute);
        }
        x
    }
}

impl<B: Backend> NamedParams<B> for BertModel<B> {
    fn visit_params(&mut self, prefix: &str, v: &mut dyn ParamVisitor<B>) {
        let e = &mut self.embeddings;
        e.word_embeddings
            .visit_params(&format!("{prefix}embeddings.word_embeddings."), v);
        e.position_embeddings
            .visit_params(&format!("{prefix}embeddings.position_embeddings."), v);
        e.token_type_embeddings
            .visit_params(&format!("{prefix}embeddings.token_type_embeddings."), v);
        e.LayerNorm.visit_params(&format!("{prefix}embeddings.LayerNorm."), v);
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.visit_params(&format!("{prefix}encoder.layer.{i}."), v);
        }
    }
}

/// transformers' `BertForSequenceClassification` (pooler dense + tanh on `[CLS]`, dropout,
/// `classifier`) or `XLMRobertaForSequenceClassification` (on `<s>`: dropout, `classifier.dense`,
/// tanh, dropout, `classifier.out_proj`).
#[derive(Module, Debug)]
pub struct BertForSequenceClassification<B: Backend> {
    /// The encoder (`bert.` or `roberta.`).
    pub encoder: BertModel<B>,
    /// BERT: `bert.pooler.dense`; RoBERTa: `classifier.dense`.
    pub dense: Linear<B>,
    /// BERT: `classifier`; RoBERTa: `classifier.out_proj`.
    pub classifier: Linear<B>,
    /// `classifier_dropout` (else `hidden_dropout_prob`).
    pub dropout: Dropout,
    #[module(skip)]
    flavour_is_roberta: bool,
    #[module(skip)]
    prefix: String,
}

impl<B: Backend> BertForSequenceClassification<B> {
    /// Builds the model with placeholder parameters; errors if the config is invalid.
    pub(crate) fn new(cfg: &BertConfig, device: &B::Device) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let act = Activation::parse("hidden_act", &cfg.hidden_act)?;
        let h = cfg.hidden_size;
        Ok(Self {
            encoder: BertModel::new(cfg, act, device),
            dense: linear(h, h, true, device),
            classifier: linear(h, cfg.labels.num_labels(), true, device),
            dropout: dropout(cfg.classifier_dropout.unwrap_or(cfg.hidden_dropout_prob)),
            flavour_is_roberta: cfg.flavour() == BertFlavour::Roberta,
            prefix: cfg.encoder_prefix().to_owned(),
        })
    }

    /// Logits [B, num_labels] from the first token of `last_hidden_state` [B, T, H].
    pub fn classify(&self, last_hidden_state: Tensor<B, 3>) -> Tensor<B, 2> {
        let [b, _, h] = last_hidden_state.dims();
        let compute: DType = self.encoder.compute_dtype.into();
        let first = to_dtype(last_hidden_state.narrow(1, 0, 1).reshape([b, h]), compute);
        let logits = if self.flavour_is_roberta {
            let x = tanh(project(&self.dense, self.dropout.forward(first)));
            project(&self.classifier, self.dropout.forward(x))
        } else {
            let pooled = tanh(project(&self.dense, first));
            project(&self.classifier, self.dropout.forward(pooled))
        };
        to_dtype(logits, DType::F32)
    }

    /// Runs attention and the feed-forward in `dtype` (bf16: mixed precision).
    pub fn set_compute_dtype(&mut self, dtype: FloatDType) {
        self.encoder.compute_dtype = dtype;
    }

    /// The dtype set by [`Self::set_compute_dtype`].
    pub fn compute_dtype(&self) -> DType {
        self.encoder.compute_dtype.into()
    }

    /// Packed (the default) or padded execution.
    pub fn set_attention(&mut self, layout: AttentionLayout) {
        self.encoder.attention = layout;
    }

    /// The layout set by [`Self::set_attention`].
    pub fn attention(&self) -> AttentionLayout {
        self.encoder.attention
    }

    /// Overrides the backend's choice of packed attention kernel.
    pub fn set_packed_attention(&mut self, kernel: PackedAttention) {
        self.encoder.packed_attention = Some(kernel);
    }
}

impl<B: Backend> NamedParams<B> for BertForSequenceClassification<B> {
    fn visit_params(&mut self, prefix: &str, v: &mut dyn ParamVisitor<B>) {
        let encoder = format!("{prefix}{}", self.prefix);
        self.encoder.visit_params(&encoder, v);
        if self.flavour_is_roberta {
            self.dense.visit_params(&format!("{prefix}classifier.dense."), v);
            self.classifier
                .visit_params(&format!("{prefix}classifier.out_proj."), v);
        } else {
            self.dense.visit_params(&format!("{encoder}pooler.dense."), v);
            self.classifier.visit_params(&format!("{prefix}classifier."), v);
        }
    }
}
