//! BERT and (XLM-)RoBERTa encoders with their sequence-classification heads, following
//! transformers' `modeling_bert.py` and `modeling_xlm_roberta.py` (post-LayerNorm layers,
//! absolute position and token-type embeddings).
//!
//! Modules and fields are transformers' (`BertModel` with `embeddings`, `encoder.layer.N` and
//! `pooler`; `BertForSequenceClassification` with `bert`; `RobertaForSequenceClassification`
//! with `roberta` and `classifier.{dense,out_proj}`): a parameter's checkpoint name is its path
//! of fields (`params.rs`), `self_` standing for the keyword `self`. The Module derive expands
//! the field names into local variables, so the `non_snake_case` allowance (for `LayerNorm`) has
//! to cover the whole module.
#![allow(non_snake_case)]

mod config;

pub use config::{BertConfig, BertFlavour};

use burn::nn::{Dropout, Embedding, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation::tanh;

use crate::activation::Activation;
use crate::backbone::{Backbone, BackboneOutput};
use crate::encoder::Sequences;
use crate::error::ConfigError;
use crate::execution::Execution;
use crate::nn::{dropout, embed, embedding, layer_norm, linear, norm, project};
use crate::ops::{AttentionSpec, ModelBackend, activate_layer, to_dtype};
use crate::packing::Packing;
use crate::rng;
use provence_config::AttentionLayout;

/// A LayerNorm over the hidden size with the config's epsilon.
fn hidden_norm<B: Backend>(cfg: &BertConfig, device: &B::Device) -> LayerNorm<B> {
    layer_norm(cfg.hidden_size, cfg.layer_norm_eps, true, device)
}

/// `embeddings`: word + position + token-type embeddings → LayerNorm → dropout.
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    /// `word_embeddings` [V, H].
    pub word_embeddings: Embedding<B>,
    /// `position_embeddings` [max_position_embeddings, H].
    pub position_embeddings: Embedding<B>,
    /// `token_type_embeddings` [type_vocab_size, H].
    pub token_type_embeddings: Embedding<B>,
    /// `LayerNorm`.
    pub LayerNorm: LayerNorm<B>,
    /// Dropout after the norm.
    pub dropout: Dropout,
    /// `padding_idx` of the word embeddings.
    #[module(skip)]
    pub padding_idx: Option<usize>,
    /// `padding_idx` of the position embeddings (RoBERTa's: `padding_idx`; BERT's: none).
    #[module(skip)]
    position_padding_idx: Option<usize>,
    /// The position of a sequence's first token ([`BertConfig::first_position`]).
    #[module(skip)]
    first_position: usize,
    #[module(skip)]
    eps: f64,
}

impl<B: Backend> BertEmbeddings<B> {
    fn new(cfg: &BertConfig, device: &B::Device) -> Self {
        let roberta = cfg.flavour() == BertFlavour::Roberta;
        Self {
            word_embeddings: embedding(cfg.vocab_size, cfg.hidden_size, device),
            position_embeddings: embedding(cfg.max_position_embeddings, cfg.hidden_size, device),
            token_type_embeddings: embedding(cfg.type_vocab_size, cfg.hidden_size, device),
            LayerNorm: hidden_norm(cfg, device),
            dropout: dropout(cfg.hidden_dropout_prob),
            padding_idx: cfg.padding_idx(),
            position_padding_idx: cfg.padding_idx().filter(|_| roberta),
            first_position: cfg.first_position(),
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
        let x = embed(&self.word_embeddings, ids, self.padding_idx)
            + embed(&self.position_embeddings, positions, self.position_padding_idx)
            + self.token_type_embeddings.forward(token_types);
        rng::apply_dropout(&self.dropout, norm(&self.LayerNorm, x, self.eps))
    }

    /// The position of every token of `ids` [B, T] in a padded batch: `0..T` for BERT; for
    /// RoBERTa `padding_idx + 1 + (real tokens so far)` on real tokens and `padding_idx` on pads.
    fn padded_positions(&self, ids: &Tensor<B, 2, Int>) -> Tensor<B, 2, Int> {
        let [b, t] = ids.dims();
        let device = ids.device();
        match self.position_padding_idx {
            Some(pad) => {
                let real = ids.clone().not_equal_elem(pad as i64).int();
                (real.clone().cumsum(1) * real).add_scalar(pad as i64)
            }
            None => Tensor::<B, 1, Int>::arange(0..t as i64, &device)
                .unsqueeze::<2>()
                .expand([b, t]),
        }
    }
}

/// `attention.self`: separate `query`, `key`, `value` projections.
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

impl<B: Backend> BertSelfAttention<B> {
    fn new(cfg: &BertConfig, device: &B::Device) -> Self {
        let h = cfg.hidden_size;
        Self {
            query: linear(h, h, true, device),
            key: linear(h, h, true, device),
            value: linear(h, h, true, device),
            dropout: dropout(cfg.attention_probs_dropout_prob),
            num_heads: cfg.num_attention_heads,
        }
    }

    /// The attention context [B, T, H] of `x` [B, T, H] (in the compute dtype).
    fn forward(&self, x: Tensor<B, 3>, sequences: &Sequences<B>) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let [b, t, h] = x.dims();
        let (nh, d) = (self.num_heads, h / self.num_heads);
        let heads = |lin: &Linear<B>| project(lin, x.clone()).reshape([b, t, nh, d]).swap_dims(1, 2);
        let spec = AttentionSpec::padded((d as f64).powf(-0.5), None);
        let context = sequences.attend(
            heads(&self.query),
            heads(&self.key),
            heads(&self.value),
            spec,
            &self.dropout,
        );
        context.swap_dims(1, 2).reshape([b, t, h])
    }
}

/// `dense` → dropout → `LayerNorm(x + residual)`: transformers' `BertSelfOutput`
/// (`attention.output`) and `BertOutput` (`output`), which are the same module.
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
        let h = to_dtype(
            rng::apply_dropout(&self.dropout, project(&self.dense, x)),
            residual.dtype(),
        );
        norm(&self.LayerNorm, h + residual, self.eps)
    }
}

/// `attention`: `self` (the `self_` field) and `output`.
#[derive(Module, Debug)]
pub struct BertAttention<B: Backend> {
    /// `self`.
    pub self_: BertSelfAttention<B>,
    /// `output`.
    pub output: BertResidualOutput<B>,
}

/// `intermediate`: `dense` H → I and the activation.
#[derive(Module, Debug)]
pub struct BertIntermediate<B: Backend> {
    /// `dense`.
    pub dense: Linear<B>,
    #[module(skip)]
    act: Activation,
}

/// `encoder.layer.N`: `attention`, `intermediate`, `output`.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    /// `attention`.
    pub attention: BertAttention<B>,
    /// `intermediate`.
    pub intermediate: BertIntermediate<B>,
    /// `output`.
    pub output: BertResidualOutput<B>,
}

impl<B: Backend> BertLayer<B> {
    fn new(cfg: &BertConfig, act: Activation, device: &B::Device) -> Self {
        let h = cfg.hidden_size;
        Self {
            attention: BertAttention {
                self_: BertSelfAttention::new(cfg, device),
                output: BertResidualOutput::new(h, cfg, device),
            },
            intermediate: BertIntermediate {
                dense: linear(h, cfg.intermediate_size, true, device),
                act,
            },
            output: BertResidualOutput::new(cfg.intermediate_size, cfg, device),
        }
    }

    /// `x` [B, T, H] in the stream's dtype; attention and the feed-forward run in `compute`.
    fn forward(&self, x: Tensor<B, 3>, sequences: &Sequences<B>, compute: DType) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let context = self.attention.self_.forward(to_dtype(x.clone(), compute), sequences);
        let attended = self.attention.output.forward(context, x);
        let i = &self.intermediate;
        let inner = activate_layer(i.act, project(&i.dense, to_dtype(attended.clone(), compute)));
        self.output.forward(inner, attended)
    }
}

/// `encoder`: the layers.
#[derive(Module, Debug)]
pub struct BertEncoder<B: Backend> {
    /// `layer.N`.
    pub layer: Vec<BertLayer<B>>,
}

/// `pooler`: `dense` + tanh on the first token (BERT's classification head reads it).
#[derive(Module, Debug)]
pub struct BertPooler<B: Backend> {
    /// `dense` H → H.
    pub dense: Linear<B>,
}

/// The bare encoder (`bert.*` / `roberta.*` inside task models).
#[derive(Module, Debug)]
pub struct BertModel<B: Backend> {
    /// `embeddings`.
    pub embeddings: BertEmbeddings<B>,
    /// `encoder`.
    pub encoder: BertEncoder<B>,
    /// `pooler` (BERT's task model has one, RoBERTa's none).
    pub pooler: Option<BertPooler<B>>,
}

impl<B: Backend> BertModel<B> {
    fn new(cfg: &BertConfig, pooler: bool, device: &B::Device) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let act = Activation::parse("hidden_act", &cfg.hidden_act)?;
        let h = cfg.hidden_size;
        Ok(Self {
            embeddings: BertEmbeddings::new(cfg, device),
            encoder: BertEncoder {
                layer: (0..cfg.num_hidden_layers)
                    .map(|_| BertLayer::new(cfg, act, device))
                    .collect(),
            },
            pooler: pooler.then(|| BertPooler {
                dense: linear(h, h, true, device),
            }),
        })
    }

    /// `last_hidden_state` [B, T, H] of `input_ids` / `attention_mask` / `token_type_ids` [B, T]
    /// (zeros when absent), run as `execution` says (packed: zeros at pads).
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
        execution: &Execution,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let token_types = token_type_ids.unwrap_or_else(|| input_ids.zeros_like());
        let compute = execution.compute_dtype.into();
        match execution.layout {
            AttentionLayout::Padded => {
                let positions = self.embeddings.padded_positions(&input_ids);
                let sequences = Sequences::Padded {
                    key_pad: attention_mask.equal_elem(0),
                };
                self.encode(input_ids, positions, token_types, &sequences, compute)
            }
            AttentionLayout::Packed => {
                let packing = Packing::from_mask_tensor(&attention_mask);
                self.forward_packed(input_ids, token_types, &packing, execution)
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
        execution: &Execution,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let device = input_ids.device();
        let dropout = self.encoder.layer.iter().any(|l| l.attention.self_.dropout.prob > 0.0);
        let sequences = Sequences::for_stream(packing, execution.packed_kernel, dropout, &device);
        // Each real token keeps its padded position (RoBERTa's skip pad ids even inside the
        // text, as transformers counts them); the bucket filler's tokens are never read.
        let first = self.embeddings.first_position as i64;
        let positions = packing.pack_ids(self.embeddings.padded_positions(&input_ids), first);
        let pad = self.embeddings.padding_idx.map_or(0, |p| p as i64);
        let ids = packing.pack_ids(input_ids, pad);
        let types = packing.pack_ids(token_type_ids, 0);
        let compute = execution.compute_dtype.into();
        packing.unpack(self.encode(ids, positions, types, &sequences, compute))
    }

    fn encode(
        &self,
        ids: Tensor<B, 2, Int>,
        positions: Tensor<B, 2, Int>,
        token_types: Tensor<B, 2, Int>,
        sequences: &Sequences<B>,
        compute: DType,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let mut x = self.embeddings.forward(ids, positions, token_types);
        for layer in &self.encoder.layer {
            x = layer.forward(x, sequences, compute);
        }
        x
    }
}

/// The first token of `last_hidden_state` [B, T, H] as [B, H], in `compute`.
fn first_token<B: Backend>(last_hidden_state: Tensor<B, 3>, compute: DType) -> Tensor<B, 2> {
    let [b, _, h] = last_hidden_state.dims();
    to_dtype(last_hidden_state.narrow(1, 0, 1).reshape([b, h]), compute)
}

/// transformers' `BertForSequenceClassification`: `bert` (with its pooler: dense + tanh on
/// `[CLS]`), dropout, `classifier`.
#[derive(Module, Debug)]
pub struct BertForSequenceClassification<B: Backend> {
    /// `bert`.
    pub bert: BertModel<B>,
    /// `classifier_dropout` (else `hidden_dropout_prob`).
    pub dropout: Dropout,
    /// `classifier` H → num_labels.
    pub classifier: Linear<B>,
}

impl<B: Backend> BertForSequenceClassification<B> {
    /// Builds the model with placeholder parameters; errors if the config is invalid.
    pub(crate) fn new(cfg: &BertConfig, device: &B::Device) -> Result<Self, ConfigError> {
        Ok(Self {
            bert: BertModel::new(cfg, true, device)?,
            dropout: dropout(cfg.classifier_dropout.unwrap_or(cfg.hidden_dropout_prob)),
            classifier: linear(cfg.hidden_size, cfg.labels.num_labels(), true, device),
        })
    }

    /// Logits [B, num_labels] (f32) from `last_hidden_state` [B, T, H], computed in `compute`.
    fn classify(&self, last_hidden_state: Tensor<B, 3>, compute: DType) -> Tensor<B, 2> {
        let first = first_token(last_hidden_state, compute);
        let pooled = match &self.bert.pooler {
            Some(pooler) => tanh(project(&pooler.dense, first)),
            None => first,
        };
        to_dtype(
            project(&self.classifier, rng::apply_dropout(&self.dropout, pooled)),
            DType::F32,
        )
    }
}

/// `classifier` of RoBERTa-style models: dropout, `dense`, tanh, dropout, `out_proj`.
#[derive(Module, Debug)]
pub struct RobertaClassificationHead<B: Backend> {
    /// `dense` H → H.
    pub dense: Linear<B>,
    /// `classifier_dropout` (else `hidden_dropout_prob`).
    pub dropout: Dropout,
    /// `out_proj` H → num_labels.
    pub out_proj: Linear<B>,
}

/// transformers' `XLMRobertaForSequenceClassification` (= `RobertaForSequenceClassification`):
/// `roberta` (no pooler) and a `classifier` head on `<s>`.
#[derive(Module, Debug)]
pub struct RobertaForSequenceClassification<B: Backend> {
    /// `roberta`.
    pub roberta: BertModel<B>,
    /// `classifier`.
    pub classifier: RobertaClassificationHead<B>,
}

impl<B: Backend> RobertaForSequenceClassification<B> {
    /// Builds the model with placeholder parameters; errors if the config is invalid.
    pub(crate) fn new(cfg: &BertConfig, device: &B::Device) -> Result<Self, ConfigError> {
        let h = cfg.hidden_size;
        Ok(Self {
            roberta: BertModel::new(cfg, false, device)?,
            classifier: RobertaClassificationHead {
                dense: linear(h, h, true, device),
                dropout: dropout(cfg.classifier_dropout.unwrap_or(cfg.hidden_dropout_prob)),
                out_proj: linear(h, cfg.labels.num_labels(), true, device),
            },
        })
    }

    /// Logits [B, num_labels] (f32) from `last_hidden_state` [B, T, H], computed in `compute`.
    fn classify(&self, last_hidden_state: Tensor<B, 3>, compute: DType) -> Tensor<B, 2> {
        let c = &self.classifier;
        let x = tanh(project(
            &c.dense,
            rng::apply_dropout(&c.dropout, first_token(last_hidden_state, compute)),
        ));
        to_dtype(project(&c.out_proj, rng::apply_dropout(&c.dropout, x)), DType::F32)
    }
}

impl<B: ModelBackend> Backbone<B> for BertForSequenceClassification<B> {
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
        execution: &Execution,
    ) -> BackboneOutput<B> {
        let hidden = self.bert.forward(input_ids, attention_mask, token_type_ids, execution);
        let logits = self.classify(hidden.clone(), execution.compute_dtype.into());
        BackboneOutput::of_last_hidden_state(logits, hidden)
    }
}

impl<B: ModelBackend> Backbone<B> for RobertaForSequenceClassification<B> {
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
        execution: &Execution,
    ) -> BackboneOutput<B> {
        let hidden = self
            .roberta
            .forward(input_ids, attention_mask, token_type_ids, execution);
        let logits = self.classify(hidden.clone(), execution.compute_dtype.into());
        BackboneOutput::of_last_hidden_state(logits, hidden)
    }
}
