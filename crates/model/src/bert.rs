//! BERT and (XLM-)RoBERTa encoders with their sequence-classification heads, following
//! transformers' `modeling_bert.py` and `modeling_xlm_roberta.py` (post-LayerNorm layers,
//! absolute position and token-type embeddings). Field names follow the HF tensor names; the
//! HF prefix of the encoder (`bert.` or `roberta.`) depends on the flavour.
// `LayerNorm` is the HF tensor name; the Module derive expands field names into locals.
#![allow(non_snake_case)]

use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::prelude::*;
use burn::tensor::activation::tanh;
use burn::tensor::{DType, FloatDType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{Activation, ConfigError, check_sizes, label_maps};
use crate::encoder::{Sequences, embed};
use crate::modernbert::project;
use crate::ops::{AttentionSpec, ModelBackend, activate, to_dtype};
use crate::packing::{PackedAttention, Packing, index_tensor};
use crate::params::{NamedParams, ParamVisitor};
use provence_config::AttentionLayout;

/// Which model family a [`BertConfig`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BertFlavour {
    /// `bert`: positions from 0, pooler (dense + tanh on `[CLS]`) then `classifier`.
    Bert,
    /// `xlm-roberta` / `roberta`: positions from `pad_token_id + 1`, counted over non-pad tokens;
    /// head `classifier.dense` + tanh + `classifier.out_proj` on `<s>`; no pooler.
    Roberta,
}

/// A BERT-family `config.json` (`model_type` `bert`, `roberta` or `xlm-roberta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// `bert`, `roberta` or `xlm-roberta`.
    pub model_type: String,
    /// Vocabulary size V.
    pub vocab_size: usize,
    /// Hidden size H.
    #[serde(default = "d::hidden_size")]
    pub hidden_size: usize,
    /// Number of encoder layers.
    #[serde(default = "d::num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    #[serde(default = "d::num_attention_heads")]
    pub num_attention_heads: usize,
    /// Feed-forward size.
    #[serde(default = "d::intermediate_size")]
    pub intermediate_size: usize,
    /// Feed-forward activation (`ACT2FN` name).
    #[serde(default = "d::gelu")]
    pub hidden_act: String,
    /// Dropout on embeddings and after each sub-layer.
    #[serde(default = "d::dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities.
    #[serde(default = "d::dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Rows of the position embedding table.
    #[serde(default = "d::max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Rows of the token-type embedding table (1 for XLM-R).
    #[serde(default = "d::type_vocab_size")]
    pub type_vocab_size: usize,
    /// Standard deviation of the normal init.
    #[serde(default = "d::initializer_range")]
    pub initializer_range: f64,
    /// LayerNorm epsilon.
    #[serde(default = "d::layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id (`padding_idx` of the embeddings).
    #[serde(default)]
    pub pad_token_id: Option<i64>,
    /// Only `absolute` is supported.
    #[serde(default = "d::absolute")]
    pub position_embedding_type: String,
    /// Dropout before the classifier (`null`: `hidden_dropout_prob`).
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    /// Explicit number of labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<usize>,
    /// Label names; their count is the number of labels when `num_labels` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id2label: Option<Map<String, Value>>,
    /// Every other key of the file, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Defaults of transformers' `BertConfig`.
mod d {
    pub fn hidden_size() -> usize {
        768
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        12
    }
    pub fn intermediate_size() -> usize {
        3072
    }
    pub fn gelu() -> String {
        "gelu".to_owned()
    }
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn max_position_embeddings() -> usize {
        512
    }
    pub fn type_vocab_size() -> usize {
        2
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
    pub fn layer_norm_eps() -> f64 {
        1e-12
    }
    pub fn absolute() -> String {
        "absolute".to_owned()
    }
}

impl BertConfig {
    /// The `model_type` values this config reads.
    pub const MODEL_TYPES: [&'static str; 3] = ["bert", "roberta", "xlm-roberta"];

    /// Parses and validates a config from its JSON value.
    pub fn from_json(value: Value) -> Result<Self, ConfigError> {
        let cfg: Self =
            serde_json::from_value(value).map_err(|e| ConfigError::invalid("config.json", e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The family: BERT or RoBERTa-style.
    pub fn flavour(&self) -> BertFlavour {
        if self.model_type == "bert" {
            BertFlavour::Bert
        } else {
            BertFlavour::Roberta
        }
    }

    /// The HF prefix of the encoder inside task models: `bert.` or `roberta.`.
    pub fn encoder_prefix(&self) -> &'static str {
        match self.flavour() {
            BertFlavour::Bert => "bert.",
            BertFlavour::Roberta => "roberta.",
        }
    }

    /// Checks every value the model depends on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !Self::MODEL_TYPES.contains(&self.model_type.as_str()) {
            return Err(ConfigError::invalid(
                "model_type",
                format!("expected one of {:?}, found {:?}", Self::MODEL_TYPES, self.model_type),
            ));
        }
        check_sizes(
            &[
                ("vocab_size", self.vocab_size),
                ("num_hidden_layers", self.num_hidden_layers),
                ("intermediate_size", self.intermediate_size),
                ("max_position_embeddings", self.max_position_embeddings),
                ("type_vocab_size", self.type_vocab_size),
            ],
            self.hidden_size,
            self.num_attention_heads,
        )?;
        if self.position_embedding_type != "absolute" {
            return Err(ConfigError::invalid(
                "position_embedding_type",
                format!(
                    "only \"absolute\" is supported, found {:?}",
                    self.position_embedding_type
                ),
            ));
        }
        Activation::parse("hidden_act", &self.hidden_act)?;
        let dropouts = [
            ("hidden_dropout_prob", Some(self.hidden_dropout_prob)),
            ("attention_probs_dropout_prob", Some(self.attention_probs_dropout_prob)),
            ("classifier_dropout", self.classifier_dropout),
        ];
        for (key, p) in dropouts {
            if let Some(p) = p
                && !(0.0..1.0).contains(&p)
            {
                return Err(ConfigError::invalid(key, format!("{p} is not in [0, 1)")));
            }
        }
        if self.flavour() == BertFlavour::Roberta && self.padding_idx().is_none() {
            return Err(ConfigError::invalid(
                "pad_token_id",
                "RoBERTa-style positions start after pad_token_id: it must be set and below vocab_size",
            ));
        }
        Ok(())
    }

    /// `padding_idx` of the embeddings: `pad_token_id` when it is a row of the vocabulary.
    pub fn padding_idx(&self) -> Option<usize> {
        self.pad_token_id
            .and_then(|id| usize::try_from(id).ok())
            .filter(|&id| id < self.vocab_size)
    }

    /// Number of labels: `num_labels`, else `len(id2label)`, else 2.
    pub fn num_labels(&self) -> usize {
        self.num_labels
            .or_else(|| self.id2label.as_ref().map(Map::len))
            .unwrap_or(2)
    }

    /// Sets the number of labels (also rewriting `id2label` / `label2id`).
    pub fn set_num_labels(&mut self, n: usize) {
        let (id2label, label2id) = label_maps(n);
        self.id2label = Some(id2label);
        self.extra.insert("label2id".to_owned(), Value::Object(label2id));
        self.num_labels = Some(n);
    }

    /// The config as `config.json` writes it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The longest sequence the position table holds: its rows past the first position
    /// (`padding_idx + 1` for RoBERTa, 0 for BERT).
    pub fn max_sequence_length(&self) -> usize {
        let first = match (self.flavour(), self.padding_idx()) {
            (BertFlavour::Roberta, Some(pad)) => pad + 1,
            _ => 0,
        };
        self.max_position_embeddings.saturating_sub(first)
    }

    /// Head dimension.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

/// Parameters are created lazily with this placeholder and then overwritten by an initialiser
/// or a checkpoint.
const PLACEHOLDER: Initializer = Initializer::Zeros;

fn linear<B: Backend>(d_in: usize, d_out: usize, device: &B::Device) -> Linear<B> {
    LinearConfig::new(d_in, d_out)
        .with_initializer(PLACEHOLDER)
        .init(device)
}

fn layer_norm<B: Backend>(cfg: &BertConfig, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(cfg.hidden_size)
        .with_epsilon(cfg.layer_norm_eps)
        .init(device)
}

fn embedding<B: Backend>(rows: usize, cfg: &BertConfig, device: &B::Device) -> Embedding<B> {
    EmbeddingConfig::new(rows, cfg.hidden_size)
        .with_initializer(PLACEHOLDER)
        .init(device)
}

/// The normalised LayerNorm of `x`, computed in f32 with the memory-efficient op.
fn norm<B: ModelBackend>(ln: &LayerNorm<B>, x: Tensor<B, 3>, eps: f64) -> Tensor<B, 3> {
    B::layer_norm_recompute(x, ln.gamma.val(), ln.beta.as_ref().map(|b| b.val()), eps)
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
            word_embeddings: embedding(cfg.vocab_size, cfg, device),
            position_embeddings: embedding(cfg.max_position_embeddings, cfg, device),
            token_type_embeddings: embedding(cfg.type_vocab_size, cfg, device),
            LayerNorm: layer_norm(cfg, device),
            dropout: DropoutConfig::new(cfg.hidden_dropout_prob).init(),
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
            dense: linear(d_in, cfg.hidden_size, device),
            LayerNorm: layer_norm(cfg, device),
            dropout: DropoutConfig::new(cfg.hidden_dropout_prob).init(),
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
                query: linear(h, h, device),
                key: linear(h, h, device),
                value: linear(h, h, device),
                dropout: DropoutConfig::new(cfg.attention_probs_dropout_prob).init(),
                num_heads: cfg.num_attention_heads,
            },
            attention_output: BertResidualOutput::new(h, cfg, device),
            intermediate: linear(h, cfg.intermediate_size, device),
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
            dense: linear(h, h, device),
            classifier: linear(h, cfg.num_labels(), device),
            dropout: DropoutConfig::new(cfg.classifier_dropout.unwrap_or(cfg.hidden_dropout_prob)).init(),
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
