//! Named parameter traversal (HF dotted names), transformers-style initialisation and the
//! (ParamId, name) list the trainer uses for its name-based weight-decay rule.

use burn::module::{Param, ParamId};
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::bert::{BertConfig, BertFlavour};
use crate::config::BackboneConfig;
use crate::modernbert::ModernBertConfig;

/// One parameter handed to a [`ParamVisitor`].
pub(crate) enum ParamSlot<'a, B: Backend> {
    /// A vector (bias, LayerNorm weight).
    Vector(&'a mut Param<Tensor<B, 1>>),
    /// A matrix. `linear == true`: a Burn `Linear` weight stored `[in, out]`, which is
    /// `[out, in]` in PyTorch checkpoints; otherwise (embedding) the layout is the same.
    Matrix {
        /// The parameter.
        param: &'a mut Param<Tensor<B, 2>>,
        /// Whether the checkpoint layout is the transpose.
        linear: bool,
    },
}

impl<B: Backend> ParamSlot<'_, B> {
    /// The parameter's shape in PyTorch (checkpoint) layout, without initialising it.
    pub(crate) fn torch_shape(&self) -> Vec<usize> {
        match self {
            Self::Vector(p) => p.lazy_shape().to_vec(),
            Self::Matrix { param, linear } => {
                let dims = param.lazy_shape().to_vec();
                if *linear {
                    vec![dims[1], dims[0]]
                } else {
                    vec![dims[0], dims[1]]
                }
            }
        }
    }

    /// The parameter id.
    pub(crate) fn id(&self) -> ParamId {
        match self {
            Self::Vector(p) => p.id,
            Self::Matrix { param, .. } => param.id,
        }
    }

    /// The device the parameter lives on.
    pub(crate) fn device(&self) -> B::Device {
        match self {
            Self::Vector(p) => p.lazy_device(),
            Self::Matrix { param, .. } => param.lazy_device(),
        }
    }

    /// Replaces the value with `values` given in PyTorch layout (flat, row-major, f32),
    /// keeping the id, device and gradient requirement.
    pub(crate) fn set_torch_values(&mut self, data: TensorData) {
        let device = self.device();
        match self {
            Self::Vector(p) => {
                let t = Tensor::<B, 1>::from_data(data, &device);
                **p = (*p).clone().transform_for_load(t, p.id);
            }
            Self::Matrix { param, linear } => {
                let mut t = Tensor::<B, 2>::from_data(data, &device);
                if *linear {
                    t = t.transpose();
                }
                **param = (*param).clone().transform_for_load(t, param.id);
            }
        }
    }

    /// The value in PyTorch layout as f32 data.
    pub(crate) fn torch_values(&self) -> TensorData {
        match self {
            Self::Vector(p) => p.val().into_data(),
            Self::Matrix { param, linear } => {
                let t = param.val();
                if *linear { t.transpose() } else { t }.into_data()
            }
        }
        .convert::<f32>()
    }
}

/// Receives every parameter with its HF dotted name.
pub(crate) trait ParamVisitor<B: Backend> {
    /// Called once per parameter.
    fn visit(&mut self, name: &str, slot: ParamSlot<'_, B>);
}

/// Modules whose parameters have HF names.
pub(crate) trait NamedParams<B: Backend> {
    /// Visits every parameter, names prefixed with `prefix` (which ends with '.' or is empty).
    fn visit_params(&mut self, prefix: &str, v: &mut dyn ParamVisitor<B>);
}

impl<B: Backend> NamedParams<B> for Linear<B> {
    fn visit_params(&mut self, prefix: &str, v: &mut dyn ParamVisitor<B>) {
        v.visit(
            &format!("{prefix}weight"),
            ParamSlot::Matrix {
                param: &mut self.weight,
                linear: true,
            },
        );
        if let Some(b) = &mut self.bias {
            v.visit(&format!("{prefix}bias"), ParamSlot::Vector(b));
        }
    }
}

impl<B: Backend> NamedParams<B> for LayerNorm<B> {
    fn visit_params(&mut self, prefix: &str, v: &mut dyn ParamVisitor<B>) {
        v.visit(&format!("{prefix}weight"), ParamSlot::Vector(&mut self.gamma));
        if let Some(b) = &mut self.beta {
            v.visit(&format!("{prefix}bias"), ParamSlot::Vector(b));
        }
    }
}

impl<B: Backend> NamedParams<B> for Embedding<B> {
    fn visit_params(&mut self, prefix: &str, v: &mut dyn ParamVisitor<B>) {
        v.visit(
            &format!("{prefix}weight"),
            ParamSlot::Matrix {
                param: &mut self.weight,
                linear: false,
            },
        );
    }
}

/// How transformers' `_init_weights` initialises a parameter, decided from its HF name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum InitRule {
    /// Truncated normal N(0, σ²) cut at ±c·σ.
    TruncNormal {
        /// Standard deviation.
        std: f64,
    },
    /// Normal N(0, σ²) (the pruning head, initialised by the generic `_init_weights`).
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// Normal N(0, σ²) with one row zeroed (an embedding's `padding_idx`).
    NormalZeroRow {
        /// Standard deviation.
        std: f64,
        /// The row set to zero.
        row: usize,
    },
    /// All ones (LayerNorm weight).
    Ones,
    /// All zeros (biases).
    Zeros,
}

/// The init rule of the parameter named `name` (final_model naming), as the backbone's
/// transformers class initialises it.
pub(crate) fn init_rule(cfg: &BackboneConfig, name: &str) -> InitRule {
    match cfg {
        BackboneConfig::ModernBert(cfg) => modernbert_init_rule(cfg, name),
        BackboneConfig::Bert(cfg) => bert_init_rule(cfg, name),
    }
}

/// `BertPreTrainedModel._init_weights`: normals for weights and embeddings (their
/// `padding_idx` row zeroed), zeros for biases, ones for LayerNorm weights.
fn bert_init_rule(cfg: &BertConfig, name: &str) -> InitRule {
    let std = cfg.initializer_range;
    let roberta = cfg.flavour() == BertFlavour::Roberta;
    let pad_row = |padded: bool| match cfg.padding_idx() {
        Some(row) if padded => InitRule::NormalZeroRow { std, row },
        _ => InitRule::Normal { std },
    };
    if name.ends_with(".bias") {
        InitRule::Zeros
    } else if name.ends_with("LayerNorm.weight") {
        InitRule::Ones
    } else if name.ends_with("word_embeddings.weight") {
        pad_row(true)
    } else if name.ends_with("position_embeddings.weight") {
        pad_row(roberta)
    } else {
        InitRule::Normal { std }
    }
}

/// ModernBERT's `_init_weights`.
fn modernbert_init_rule(cfg: &ModernBertConfig, name: &str) -> InitRule {
    let range = cfg.initializer_range;
    if name.ends_with(".bias") {
        InitRule::Zeros
    } else if name.ends_with("norm.weight") {
        InitRule::Ones
    } else if name.starts_with("pruning_head.") {
        InitRule::Normal { std: range }
    } else if name.ends_with("classifier.weight") {
        InitRule::TruncNormal {
            std: (cfg.hidden_size as f64).powf(-0.5),
        }
    } else if name.ends_with("attn.Wo.weight") || name.ends_with("mlp.Wo.weight") || name.ends_with("head.dense.weight")
    {
        InitRule::TruncNormal {
            std: range / (2.0 * cfg.num_hidden_layers as f64).sqrt(),
        }
    } else {
        // tok_embeddings, Wqkv, Wi
        InitRule::TruncNormal { std: range }
    }
}

/// Samples a truncated normal by rejection: entries outside ±c·σ are redrawn until none is left.
fn trunc_normal<B: Backend>(shape: Vec<usize>, std: f64, cutoff: f64, device: &B::Device) -> Tensor<B, 2> {
    let n: usize = shape.iter().product();
    let normal = Distribution::Normal(0.0, 1.0);
    let mut x = Tensor::<B, 2>::random([1, n], normal, device);
    loop {
        let outside = x.clone().abs().greater_elem(cutoff);
        if !outside.clone().any().into_scalar().to_bool() {
            break;
        }
        let fresh = Tensor::<B, 2>::random([1, n], normal, device);
        x = x.mask_where(outside, fresh);
    }
    x.mul_scalar(std)
}

/// Initialises `slot` according to `rule`, with the backend's (seedable) RNG.
pub(crate) fn apply_init<B: Backend>(slot: &mut ParamSlot<'_, B>, rule: InitRule, cutoff: f64) {
    let shape = slot.torch_shape();
    let device = slot.device();
    let n: usize = shape.iter().product();
    let flat: Tensor<B, 2> = match rule {
        InitRule::TruncNormal { std } => trunc_normal(shape.clone(), std, cutoff, &device),
        InitRule::Normal { std } | InitRule::NormalZeroRow { std, .. } => {
            Tensor::random([1, n], Distribution::Normal(0.0, std), &device)
        }
        InitRule::Ones => Tensor::ones([1, n], &device),
        InitRule::Zeros => Tensor::zeros([1, n], &device),
    };
    let data = flat.into_data().convert::<f32>();
    let mut values: Vec<f32> = data.to_vec().unwrap_or_default();
    if let (InitRule::NormalZeroRow { row, .. }, [_, width]) = (rule, shape.as_slice())
        && let Some(row) = values.get_mut(row * width..(row + 1) * width)
    {
        row.fill(0.0);
    }
    slot.set_torch_values(TensorData::new(values, shape));
}

/// Visitor that initialises every parameter the way transformers does.
pub(crate) struct HfInit<'a> {
    pub(crate) config: &'a BackboneConfig,
}

impl<B: Backend> ParamVisitor<B> for HfInit<'_> {
    fn visit(&mut self, name: &str, mut slot: ParamSlot<'_, B>) {
        let rule = init_rule(self.config, name);
        apply_init(&mut slot, rule, cutoff_factor(self.config));
    }
}

/// Visitor that lists `(ParamId, name)` pairs.
#[derive(Default)]
pub(crate) struct NameCollector {
    pub(crate) names: Vec<(ParamId, String)>,
}

impl<B: Backend> ParamVisitor<B> for NameCollector {
    fn visit(&mut self, name: &str, slot: ParamSlot<'_, B>) {
        self.names.push((slot.id(), name.to_owned()));
    }
}

/// The truncation of ModernBERT's truncated normals (other backbones draw plain normals).
pub(crate) fn cutoff_factor(config: &BackboneConfig) -> f64 {
    match config {
        BackboneConfig::ModernBert(c) => c.cutoff_factor(),
        BackboneConfig::Bert(_) => f64::INFINITY,
    }
}
