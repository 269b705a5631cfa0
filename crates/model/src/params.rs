//! The Hugging Face names of the parameters, read off Burn's own module traversal;
//! transformers-style initialisation.
//!
//! Modules name their fields as transformers names its submodules and tensors (`attn.Wqkv`,
//! `encoder.layer.N.attention.self.query`, ...), so a parameter's checkpoint name is its path of
//! field names, declared once, where the module is built. Four rules bridge Burn and PyTorch:
//! an enum variant (`RankingModel::Bert`) adds no segment, a trailing `_` is dropped (`self_`:
//! `self` is a Rust keyword), a `LayerNorm`'s `gamma` / `beta` are `weight` / `bias`, and a
//! `Linear` weight is stored `[in, out]` by Burn but `[out, in]` by PyTorch.

use burn::module::{ModuleMapper, Param, ParamId};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::bert::{BertConfig, BertFlavour};
use crate::config::BackboneConfig;
use crate::modernbert::ModernBertConfig;

/// One parameter as a checkpoint holds it: its values in PyTorch's layout.
pub(crate) struct HfParam<'a, B: Backend, const D: usize> {
    param: &'a mut Param<Tensor<B, D>>,
    /// A `Linear` weight: Burn's `[in, out]` is the transpose of PyTorch's `[out, in]`.
    transposed: bool,
}

impl<B: Backend, const D: usize> HfParam<'_, B, D> {
    /// The parameter's shape in PyTorch (checkpoint) layout, without initialising it.
    pub(crate) fn torch_shape(&self) -> Vec<usize> {
        let mut dims = self.param.lazy_shape().to_vec();
        if self.transposed {
            let n = dims.len();
            dims.swap(n - 2, n - 1);
        }
        dims
    }

    /// The parameter id.
    pub(crate) fn id(&self) -> ParamId {
        self.param.id
    }

    /// The device the parameter lives on.
    fn device(&self) -> B::Device {
        self.param.lazy_device()
    }

    /// Replaces the value with `data` given in PyTorch layout (f32), keeping the id, device and
    /// gradient requirement.
    pub(crate) fn set_torch_values(&mut self, data: TensorData) {
        let mut t = Tensor::<B, D>::from_data(data, &self.device());
        if self.transposed {
            t = t.transpose();
        }
        *self.param = self.param.clone().transform_for_load(t, self.param.id);
    }

    /// The value in PyTorch layout as f32 data.
    pub(crate) fn torch_values(&self) -> TensorData {
        let t = self.param.val();
        if self.transposed { t.transpose() } else { t }
            .into_data()
            .convert::<f32>()
    }
}

/// Receives every parameter with its HF dotted name.
pub(crate) trait ParamVisitor<B: Backend> {
    /// Called once per parameter, in the modules' field order.
    fn visit<const D: usize>(&mut self, name: &str, param: HfParam<'_, B, D>);
}

/// Visits every parameter of `module` with its HF name (see the module docs); returns the module
/// with the values the visitor set.
pub(crate) fn visit_params<B: Backend, M: Module<B>>(module: M, visitor: &mut impl ParamVisitor<B>) -> M {
    module.map(&mut HfNames {
        path: Vec::new(),
        visitor,
    })
}

/// A [`ModuleMapper`] that follows Burn's traversal and names each parameter as transformers does.
struct HfNames<'v, V> {
    /// The fields entered so far, each with the type of the module it belongs to (`Struct:Linear`,
    /// `Enum:RankingModel`, `Vec`).
    path: Vec<(String, String)>,
    visitor: &'v mut V,
}

impl<V> HfNames<'_, V> {
    /// The HF name of the parameter at the current path, and whether it is a `Linear` weight.
    fn name(&self) -> (String, bool) {
        let segments: Vec<&str> = self
            .path
            .iter()
            .filter(|(_, container)| !container.starts_with("Enum:"))
            .map(|(field, container)| match (container.as_str(), field.as_str()) {
                ("Struct:LayerNorm", "gamma") => "weight",
                ("Struct:LayerNorm", "beta") => "bias",
                (_, field) => field.strip_suffix('_').unwrap_or(field),
            })
            .collect();
        let transposed =
            matches!(self.path.last(), Some((field, container)) if container == "Struct:Linear" && field == "weight");
        (segments.join("."), transposed)
    }
}

impl<B: Backend, V: ParamVisitor<B>> ModuleMapper<B> for HfNames<'_, V> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push((name.to_owned(), container_type.to_owned()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (name, transposed) = self.name();
        self.visitor.visit(
            &name,
            HfParam {
                param: &mut param,
                transposed,
            },
        );
        param
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

/// Rounds of redrawing in [`trunc_normal`]; entries still outside are then clamped (a cutoff of
/// ModernBERT's usual 2 or 3 leaves none: 0.05^64 of an entry).
const MAX_REDRAWS: usize = 64;

/// Samples a truncated normal by rejection: entries outside ±c·σ are redrawn until none is left
/// (at most [`MAX_REDRAWS`] rounds, so a tiny cutoff cannot loop for ever).
fn trunc_normal<B: Backend>(n: usize, std: f64, cutoff: f64, device: &B::Device) -> Tensor<B, 2> {
    let normal = Distribution::Normal(0.0, 1.0);
    let mut x = crate::rng::random::<B, 2>([1, n], normal, device);
    for _ in 0..MAX_REDRAWS {
        let outside = x.clone().abs().greater_elem(cutoff);
        if !outside.clone().any().into_scalar().to_bool() {
            break;
        }
        let fresh = crate::rng::random::<B, 2>([1, n], normal, device);
        x = x.mask_where(outside, fresh);
    }
    x.clamp(-cutoff, cutoff).mul_scalar(std)
}

/// Initialises `param` according to `rule`, from the host generator ([`crate::seed`]).
pub(crate) fn apply_init<B: Backend, const D: usize>(param: &mut HfParam<'_, B, D>, rule: InitRule, cutoff: f64) {
    let shape = param.torch_shape();
    let device = param.device();
    let n: usize = shape.iter().product();
    let flat: Tensor<B, 2> = match rule {
        InitRule::TruncNormal { std } => trunc_normal(n, std, cutoff, &device),
        InitRule::Normal { std } | InitRule::NormalZeroRow { std, .. } => {
            crate::rng::random([1, n], Distribution::Normal(0.0, std), &device)
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
    param.set_torch_values(TensorData::new(values, shape));
}

/// Visitor that initialises every parameter the way transformers does.
pub(crate) struct HfInit<'a> {
    pub(crate) config: &'a BackboneConfig,
}

impl<B: Backend> ParamVisitor<B> for HfInit<'_> {
    fn visit<const D: usize>(&mut self, name: &str, mut param: HfParam<'_, B, D>) {
        let rule = init_rule(self.config, name);
        apply_init(&mut param, rule, cutoff_factor(self.config));
    }
}

/// Visitor that lists `(ParamId, name)` pairs.
#[derive(Default)]
pub(crate) struct NameCollector {
    pub(crate) names: Vec<(ParamId, String)>,
}

impl<B: Backend> ParamVisitor<B> for NameCollector {
    fn visit<const D: usize>(&mut self, name: &str, param: HfParam<'_, B, D>) {
        self.names.push((param.id(), name.to_owned()));
    }
}

/// The truncation of ModernBERT's truncated normals (other backbones draw plain normals).
pub(crate) fn cutoff_factor(config: &BackboneConfig) -> f64 {
    match config {
        BackboneConfig::ModernBert(c) => c.cutoff_factor(),
        BackboneConfig::Bert(_) => f64::INFINITY,
    }
}
