//! ModernBERT encoder and sequence-classification head, following transformers'
//! `modeling_modernbert.py` (eager path, f32::MIN additive-mask semantics).
//!
//! Field names are the HF tensor names (`Wqkv`, `Wo`, `Wi`, ...): a parameter's checkpoint name
//! is its path of fields (`params.rs`). The Module derive expands the field names into local
//! variables, so the `non_snake_case` allowance has to cover the whole module.
#![allow(non_snake_case)]

mod config;

pub use config::ModernBertConfig;

use burn::nn::{Dropout, Embedding, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::DType;

use crate::activation::Activation;
use crate::backbone::{Backbone, BackboneOutput};
use crate::encoder::Sequences;
use crate::error::ConfigError;
use crate::execution::Execution;
use crate::nn::{Pooling, dropout, embed, embedding, layer_norm, linear, norm, project};
use crate::ops::{AttentionSpec, ModelBackend, activate_layer, to_dtype};
use crate::packing::Packing;
use crate::rng;
use provence_config::AttentionLayout;

/// A LayerNorm over the hidden size with the config's epsilon and bias.
fn hidden_norm<B: Backend>(cfg: &ModernBertConfig, device: &B::Device) -> LayerNorm<B> {
    layer_norm(cfg.hidden_size, cfg.norm_eps, cfg.norm_bias, device)
}

/// `embeddings`: token embeddings → LayerNorm → dropout.
///
/// Like transformers' `nn.Embedding(padding_idx=pad_token_id)`, the `pad_token_id` row receives
/// no gradient. It matters: upstream's v2 pruning labels can reach padded positions, so the loss
/// does read pad embeddings (found by the trainer's loss-curve parity test).
#[derive(Module, Debug)]
pub struct ModernBertEmbeddings<B: Backend> {
    /// `embeddings.tok_embeddings` [V, H].
    pub tok_embeddings: Embedding<B>,
    /// `embeddings.norm`.
    pub norm: LayerNorm<B>,
    /// `embeddings.drop`.
    pub drop: Dropout,
    /// `padding_idx`: the token whose embedding row gets no gradient (`pad_token_id` < vocab).
    #[module(skip)]
    pub padding_idx: Option<usize>,
}

impl<B: Backend> ModernBertEmbeddings<B> {
    fn new(cfg: &ModernBertConfig, device: &B::Device) -> Self {
        Self {
            tok_embeddings: embedding(cfg.vocab_size, cfg.hidden_size, device),
            norm: hidden_norm(cfg, device),
            drop: dropout(cfg.embedding_dropout),
            padding_idx: cfg.padding_idx(),
        }
    }

    /// The token id of padding (`pad_token_id`, 0 when the config has none).
    fn pad_id(&self) -> i64 {
        self.padding_idx.map_or(0, |id| id as i64)
    }

    /// `[B, T]` ids → `[B, T, H]`.
    pub fn forward(&self, input_ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let embedded = embed(&self.tok_embeddings, input_ids, self.padding_idx);
        rng::apply_dropout(&self.drop, self.norm.forward(embedded))
    }
}

/// `layers.N.attn`: fused `Wqkv`, NeoX RoPE, masked softmax attention, `Wo`.
#[derive(Module, Debug)]
pub struct ModernBertAttention<B: Backend> {
    /// `attn.Wqkv` H → 3H (q, k, v blocks, each head-major).
    pub Wqkv: Linear<B>,
    /// `attn.Wo` H → H.
    pub Wo: Linear<B>,
    /// Dropout on the attention probabilities.
    pub attention_dropout: Dropout,
    /// Dropout after `Wo`.
    pub out_drop: Dropout,
    #[module(skip)]
    num_heads: usize,
}

impl<B: Backend> ModernBertAttention<B> {
    fn new(cfg: &ModernBertConfig, device: &B::Device) -> Self {
        let h = cfg.hidden_size;
        Self {
            Wqkv: linear(h, 3 * h, cfg.attention_bias, device),
            Wo: linear(h, h, cfg.attention_bias, device),
            attention_dropout: dropout(cfg.attention_dropout),
            out_drop: dropout(cfg.attention_dropout),
            num_heads: cfg.num_attention_heads,
        }
    }

    /// `x` [B,T,H] (a packed stream: B = 1); `rope` = (cos, sin) [T, D] at the positions of `x`;
    /// `half_window` for sliding-window layers.
    fn forward(
        &self,
        x: Tensor<B, 3>,
        rope: &RopeTables<B>,
        sequences: &Sequences<B>,
        half_window: Option<usize>,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let [b, t, h] = x.dims();
        let nh = self.num_heads;
        let d = h / nh;
        let heads = B::qkv_rope(project(&self.Wqkv, x), rope.cos.clone(), rope.sin.clone(), nh);
        let part = |i| heads.clone().narrow(0, i, 1).reshape([b, nh, t, d]);
        let (q, k, v) = (part(0), part(1), part(2));
        let spec = AttentionSpec::padded((d as f64).powf(-0.5), half_window);
        let o = sequences.attend(q, k, v, spec, &self.attention_dropout);
        let o = o.swap_dims(1, 2).reshape([b, t, h]);
        rng::apply_dropout(&self.out_drop, project(&self.Wo, o))
    }
}

/// RoPE tables for one base θ.
struct RopeTables<B: Backend> {
    theta: f64,
    /// cos(angle) [T, D].
    cos: Tensor<B, 2>,
    /// sin(angle) [T, D].
    sin: Tensor<B, 2>,
}

/// RoPE tables [T, D] for base θ at `positions`, bit-exact with transformers' f32 recipe (each
/// distinct position is computed once; packed streams repeat positions in every sequence).
fn rope_tables<B: Backend>(theta: f64, head_dim: usize, positions: &[usize], device: &B::Device) -> RopeTables<B> {
    let half = head_dim / 2;
    let inv_freq: Vec<f32> = (0..half)
        .map(|k| {
            let e = (2 * k) as f32 / head_dim as f32;
            let pw = theta.powf(f64::from(e)) as f32;
            1.0f32 / pw
        })
        .collect();
    let distinct = positions.iter().max().map_or(0, |&p| p + 1);
    let mut cos_rows = Vec::with_capacity(distinct * head_dim);
    let mut sin_rows = Vec::with_capacity(distinct * head_dim);
    for p in 0..distinct {
        let angles: Vec<f32> = inv_freq.iter().map(|f| p as f32 * f).collect();
        for _ in 0..2 {
            cos_rows.extend(angles.iter().map(|a| a.cos()));
            sin_rows.extend(angles.iter().map(|a| a.sin()));
        }
    }
    let rows = |table: &[f32]| -> Vec<f32> {
        positions
            .iter()
            .flat_map(|&p| table[p * head_dim..(p + 1) * head_dim].iter().copied())
            .collect()
    };
    let shape = [positions.len(), head_dim];
    RopeTables {
        theta,
        cos: Tensor::from_data(TensorData::new(rows(&cos_rows), shape), device),
        sin: Tensor::from_data(TensorData::new(rows(&sin_rows), shape), device),
    }
}

/// `layers.N.mlp`: GeGLU (`Wi` → chunk → act(input)·gate → dropout → `Wo`).
#[derive(Module, Debug)]
pub struct ModernBertMlp<B: Backend> {
    /// `mlp.Wi` H → 2I.
    pub Wi: Linear<B>,
    /// `mlp.Wo` I → H.
    pub Wo: Linear<B>,
    /// `mlp.drop`.
    pub drop: Dropout,
    #[module(skip)]
    act: Activation,
}

impl<B: Backend> ModernBertMlp<B> {
    fn new(cfg: &ModernBertConfig, act: Activation, device: &B::Device) -> Self {
        Self {
            Wi: linear(cfg.hidden_size, 2 * cfg.intermediate_size, cfg.mlp_bias, device),
            Wo: linear(cfg.intermediate_size, cfg.hidden_size, cfg.mlp_bias, device),
            drop: dropout(cfg.mlp_dropout),
            act,
        }
    }

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let gated = B::geglu(project(&self.Wi, x), self.act);
        project(&self.Wo, rng::apply_dropout(&self.drop, gated))
    }
}

/// One pre-norm encoder layer (`attn_norm` is absent on layer 0).
#[derive(Module, Debug)]
pub struct ModernBertEncoderLayer<B: Backend> {
    /// `attn_norm` (None on layer 0, where it is the identity).
    pub attn_norm: Option<LayerNorm<B>>,
    /// `attn`.
    pub attn: ModernBertAttention<B>,
    /// `mlp_norm`.
    pub mlp_norm: LayerNorm<B>,
    /// `mlp`.
    pub mlp: ModernBertMlp<B>,
    /// Whether this layer attends globally (else sliding window, local θ).
    #[module(skip)]
    is_global: bool,
    /// RoPE base θ of this layer.
    #[module(skip)]
    rope_theta: f64,
    /// Epsilon of both norms.
    #[module(skip)]
    norm_eps: f64,
}

impl<B: Backend> ModernBertEncoderLayer<B> {
    fn new(cfg: &ModernBertConfig, i: usize, act: Activation, device: &B::Device) -> Self {
        Self {
            attn_norm: (i > 0).then(|| hidden_norm(cfg, device)),
            attn: ModernBertAttention::new(cfg, device),
            mlp_norm: hidden_norm(cfg, device),
            mlp: ModernBertMlp::new(cfg, act, device),
            is_global: cfg.is_global_layer(i),
            rope_theta: cfg.rope_theta(i),
            norm_eps: cfg.norm_eps,
        }
    }

    fn forward(
        &self,
        x: Tensor<B, 3>,
        rope: &RopeTables<B>,
        sequences: &Sequences<B>,
        half_window: usize,
        compute: DType,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        // The residual stream and the norms stay in the stream's dtype (f32); attention and the
        // MLP run in `compute`.
        let stream = x.dtype();
        let h = match &self.attn_norm {
            Some(ln) => norm(ln, x.clone(), self.norm_eps),
            None => x.clone(),
        };
        let window = (!self.is_global).then_some(half_window);
        let x = x + to_dtype(self.attn.forward(to_dtype(h, compute), rope, sequences, window), stream);
        let m = self
            .mlp
            .forward(to_dtype(norm(&self.mlp_norm, x.clone(), self.norm_eps), compute));
        x + to_dtype(m, stream)
    }
}

/// Outputs of [`ModernBertModel::forward`].
#[derive(Debug, Clone)]
pub struct ModernBertOutput<B: Backend> {
    /// Output of the last layer **before** `final_norm` (transformers' `hidden_states[-1]`) [B, T, H].
    /// Packed execution leaves exact zeros at pad positions.
    pub hidden_state: Tensor<B, 3>,
    /// `final_norm(hidden_state)` (transformers' `last_hidden_state`) [B, T, H]; zeros at pad
    /// positions under packed execution.
    pub last_hidden_state: Tensor<B, 3>,
}

/// The bare ModernBERT encoder (`model.*` inside task models).
#[derive(Module, Debug)]
pub struct ModernBertModel<B: Backend> {
    /// `embeddings`.
    pub embeddings: ModernBertEmbeddings<B>,
    /// `layers.N`.
    pub layers: Vec<ModernBertEncoderLayer<B>>,
    /// `final_norm`.
    pub final_norm: LayerNorm<B>,
    #[module(skip)]
    half_window: usize,
    #[module(skip)]
    head_dim: usize,
}

impl<B: Backend> ModernBertModel<B> {
    /// Builds the encoder with placeholder (lazy, unmaterialised) parameters; `cfg` must be validated.
    pub(crate) fn new(cfg: &ModernBertConfig, act: Activation, device: &B::Device) -> Self {
        Self {
            embeddings: ModernBertEmbeddings::new(cfg, device),
            layers: (0..cfg.num_hidden_layers)
                .map(|i| ModernBertEncoderLayer::new(cfg, i, act, device))
                .collect(),
            final_norm: hidden_norm(cfg, device),
            half_window: cfg.half_window(),
            head_dim: cfg.head_dim(),
        }
    }

    /// `input_ids` / `attention_mask` [B, T] (mask: 1 = real token, 0 = pad), run as `execution`
    /// says. Packed execution reads the mask back to the host.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        execution: &Execution,
    ) -> ModernBertOutput<B>
    where
        B: ModelBackend,
    {
        match execution.layout {
            AttentionLayout::Padded => self.forward_padded(input_ids, attention_mask, execution),
            AttentionLayout::Packed => {
                let packing = Packing::from_mask_tensor(&attention_mask);
                self.forward_packed(input_ids, &packing, execution)
            }
        }
    }

    /// Every position of `input_ids` [B,T] through the encoder, pad keys masked (eager semantics).
    fn forward_padded(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        execution: &Execution,
    ) -> ModernBertOutput<B>
    where
        B: ModelBackend,
    {
        let t = input_ids.dims()[1];
        let positions: Vec<usize> = (0..t).collect();
        let sequences = Sequences::Padded {
            key_pad: attention_mask.equal_elem(0),
        };
        let x = self.encode(input_ids, &positions, &sequences, execution.compute_dtype.into());
        ModernBertOutput {
            last_hidden_state: self.final_norm.forward(x.clone()),
            hidden_state: x,
        }
    }

    /// Only the real tokens of `input_ids` [P,L] through the encoder, as one stream
    /// (flash-attention semantics): outputs are [P,L,H] with exact zeros at pad positions.
    fn forward_packed(
        &self,
        input_ids: Tensor<B, 2, Int>,
        packing: &Packing,
        execution: &Execution,
    ) -> ModernBertOutput<B>
    where
        B: ModelBackend,
    {
        let device = input_ids.device();
        let dropout = self.layers.iter().any(|l| l.attn.attention_dropout.prob > 0.0);
        let sequences = Sequences::for_stream(packing, execution.packed_kernel, dropout, &device);
        let ids = packing.pack_ids(input_ids, self.embeddings.pad_id());
        let x = self.encode(ids, &packing.positions(), &sequences, execution.compute_dtype.into());
        ModernBertOutput {
            last_hidden_state: packing.unpack(self.final_norm.forward(x.clone())),
            hidden_state: packing.unpack(x),
        }
    }

    /// Embeddings and every layer: `ids` [B,T] at RoPE `positions` [T] → [B,T,H] before
    /// `final_norm`; attention and the MLPs in `compute`.
    fn encode(
        &self,
        ids: Tensor<B, 2, Int>,
        positions: &[usize],
        sequences: &Sequences<B>,
        compute: DType,
    ) -> Tensor<B, 3>
    where
        B: ModelBackend,
    {
        let device = ids.device();
        let mut ropes: Vec<RopeTables<B>> = Vec::new();
        let mut x = self.embeddings.forward(ids);
        for layer in &self.layers {
            let idx = match ropes.iter().position(|r| r.theta == layer.rope_theta) {
                Some(idx) => idx,
                None => {
                    ropes.push(rope_tables(layer.rope_theta, self.head_dim, positions, &device));
                    ropes.len() - 1
                }
            };
            x = layer.forward(x, &ropes[idx], sequences, self.half_window, compute);
        }
        x
    }
}

/// `head`: dense → activation → LayerNorm.
#[derive(Module, Debug)]
pub struct ModernBertPredictionHead<B: Backend> {
    /// `head.dense` H → H (bias iff `classifier_bias`).
    pub dense: Linear<B>,
    /// `head.norm`.
    pub norm: LayerNorm<B>,
    #[module(skip)]
    act: Activation,
}

impl<B: ModelBackend> ModernBertPredictionHead<B> {
    /// `x` in the compute dtype; the norm runs (and returns) f32.
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let h = activate_layer(self.act, project(&self.dense, x));
        self.norm.forward(to_dtype(h, DType::F32))
    }
}

/// Outputs of [`ModernBertForSequenceClassification::forward`].
#[derive(Debug, Clone)]
pub struct SequenceClassifierOutput<B: Backend> {
    /// Classifier logits [B, num_labels].
    pub logits: Tensor<B, 2>,
    /// Encoder outputs.
    pub encoder: ModernBertOutput<B>,
}

/// transformers' `ModernBertForSequenceClassification`.
#[derive(Module, Debug)]
pub struct ModernBertForSequenceClassification<B: Backend> {
    /// `model`.
    pub model: ModernBertModel<B>,
    /// `head`.
    pub head: ModernBertPredictionHead<B>,
    /// `drop` (classifier_dropout).
    pub drop: Dropout,
    /// `classifier` H → num_labels (always with bias).
    pub classifier: Linear<B>,
    #[module(skip)]
    pooling: Pooling,
}

impl<B: Backend> ModernBertForSequenceClassification<B> {
    /// Builds the model with placeholder parameters; errors if the config is invalid.
    pub(crate) fn new(cfg: &ModernBertConfig, device: &B::Device) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let act = Activation::parse("hidden_activation", &cfg.hidden_activation)?;
        let head_act = Activation::parse("classifier_activation", &cfg.classifier_activation)?;
        let h = cfg.hidden_size;
        Ok(Self {
            model: ModernBertModel::new(cfg, act, device),
            head: ModernBertPredictionHead {
                dense: linear(h, h, cfg.classifier_bias, device),
                norm: hidden_norm(cfg, device),
                act: head_act,
            },
            drop: dropout(cfg.classifier_dropout),
            classifier: linear(h, cfg.labels.num_labels(), true, device),
            pooling: cfg.pooling()?,
        })
    }

    /// Logits [B, num_labels] plus the encoder outputs.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        execution: &Execution,
    ) -> SequenceClassifierOutput<B>
    where
        B: ModelBackend,
    {
        let encoder = self.model.forward(input_ids, attention_mask.clone(), execution);
        let pooled = self.pooling.pool(encoder.last_hidden_state.clone(), attention_mask);
        // Under mixed precision the head's linear layers run in the compute dtype, as autocast does.
        let compute: DType = execution.compute_dtype.into();
        let pooled = rng::apply_dropout(&self.drop, self.head.forward(to_dtype(pooled, compute)));
        let logits = to_dtype(project(&self.classifier, to_dtype(pooled, compute)), DType::F32);
        SequenceClassifierOutput { logits, encoder }
    }
}

impl<B: ModelBackend> Backbone<B> for ModernBertForSequenceClassification<B> {
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        _token_type_ids: Option<Tensor<B, 2, Int>>,
        execution: &Execution,
    ) -> BackboneOutput<B> {
        let out = ModernBertForSequenceClassification::forward(self, input_ids, attention_mask, execution);
        BackboneOutput {
            logits: out.logits,
            pruning_hidden: out.encoder.hidden_state,
            last_hidden_state: out.encoder.last_hidden_state,
        }
    }
}
