//! The OpenProvence reranker–pruner: a backbone sequence classifier + token pruning head.

use burn::module::ParamId;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::DType;

use crate::backbone::{Backbone, RankingModel};
use crate::bert::BertForSequenceClassification;
use crate::config::{BackboneConfig, OpenProvenceConfig};
use crate::error::ConfigError;
use crate::hf_config::check_probability;
use crate::modernbert::ModernBertForSequenceClassification;
use crate::nn::project;
use crate::ops::{ModelBackend, to_dtype};
use crate::packing::PackedAttention;
use crate::params::{HfInit, NameCollector, NamedParams, ParamVisitor};
use provence_config::AttentionLayout;

/// Checks a pruning-head dropout probability (`pruning_config.classifier_dropout`).
pub(crate) fn check_pruning_dropout(prob: f64) -> Result<(), ConfigError> {
    check_probability("pruning_config.classifier_dropout", prob)
}

/// Upstream's pruning head: dropout(`classifier_dropout`) → `classifier` Linear(H, 2).
#[derive(Module, Debug)]
pub struct PruningHead<B: Backend> {
    /// Dropout before the classifier.
    pub dropout: Dropout,
    /// `pruning_head.classifier` H → 2 (keep / drop logits; index 1 = keep).
    pub classifier: Linear<B>,
}

impl<B: Backend> PruningHead<B> {
    /// Per-token logits [P, L, 2] from hidden states [P, L, H].
    pub fn forward(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        project(&self.classifier, self.dropout.forward(hidden))
    }
}

/// Outputs of [`OpenProvenceModel::forward`].
#[derive(Debug, Clone)]
pub struct OpenProvenceOutput<B: Backend> {
    /// Raw ranking logits [P, C].
    pub ranking_logits: Tensor<B, 2>,
    /// Pruning logits [P, L, 2].
    pub pruning_logits: Tensor<B, 3>,
    /// What the pruning head reads [P, L, H] (ModernBERT: the last layer before `final_norm`;
    /// BERT-like: `last_hidden_state`).
    pub hidden_state: Tensor<B, 3>,
    /// `last_hidden_state` [P, L, H] (ModernBERT: after `final_norm`).
    pub last_hidden_state: Tensor<B, 3>,
}

/// The reranker–pruner (upstream `OpenProvenceEncoder`), generic over the Burn backend.
///
/// Parameter names follow upstream's `final_model/` layout: `ranking_model.*` and
/// `pruning_head.classifier.*` (see [`OpenProvenceModel::named_param_ids`]).
#[derive(Module, Debug)]
pub struct OpenProvenceModel<B: Backend> {
    /// `ranking_model`: the backbone with its classification head.
    pub ranking_model: RankingModel<B>,
    /// `pruning_head`.
    pub pruning_head: PruningHead<B>,
    /// Configuration written back on save.
    #[module(skip)]
    pub config: OpenProvenceConfig,
}

impl<B: Backend> OpenProvenceModel<B> {
    /// Builds the model structure with lazy placeholder parameters (to be initialised or loaded).
    pub(crate) fn empty(config: OpenProvenceConfig, device: &B::Device) -> Result<Self, ConfigError> {
        check_pruning_dropout(config.pruning_dropout)?;
        let mut bb = config.base_model_config.clone();
        bb.set_num_labels(config.num_labels);
        let ranking_model = match &bb {
            BackboneConfig::ModernBert(c) => {
                RankingModel::ModernBert(ModernBertForSequenceClassification::new(c, device)?)
            }
            BackboneConfig::Bert(c) => RankingModel::Bert(BertForSequenceClassification::new(c, device)?),
        };
        let pruning_head = PruningHead {
            dropout: DropoutConfig::new(config.pruning_dropout).init(),
            classifier: LinearConfig::new(bb.hidden_size(), 2)
                .with_initializer(burn::nn::Initializer::Zeros)
                .init(device),
        };
        Ok(Self {
            ranking_model,
            pruning_head,
            config: OpenProvenceConfig {
                base_model_config: bb,
                ..config
            },
        })
    }

    /// A randomly initialised model, as the backbone's transformers class initialises it
    /// (ModernBERT: truncated normals with std `initializer_range`, `/sqrt(2·L)` for output
    /// projections, `H^-0.5` for the classifier; BERT-like: normals, `padding_idx` rows zero;
    /// norms 1, biases 0; pruning head N(0, 0.02)). Seed with `B::seed(&device, s)`.
    pub fn from_scratch(config: OpenProvenceConfig, device: &B::Device) -> Result<Self, ConfigError> {
        let mut model = Self::empty(config, device)?;
        let cfg = model.config.base_model_config.clone();
        model.visit_params(&mut HfInit { config: &cfg });
        Ok(model)
    }

    /// Visits every parameter with its `final_model/` name.
    pub(crate) fn visit_params(&mut self, v: &mut dyn ParamVisitor<B>) {
        self.ranking_model.visit_params("ranking_model.", v);
        self.pruning_head.classifier.visit_params("pruning_head.classifier.", v);
    }

    /// `(ParamId, name)` for every parameter, with upstream's `final_model/` names such as
    /// `ranking_model.model.layers.3.mlp_norm.weight` or `pruning_head.classifier.bias`
    /// (used for the trainer's name-based no-decay rule).
    pub fn named_param_ids(&self) -> Vec<(ParamId, String)> {
        let mut collector = NameCollector::default();
        self.clone().visit_params(&mut collector);
        collector.names
    }

    /// The same model computing attention and the feed-forward blocks in `dtype` (see
    /// [`Backbone::set_compute_dtype`]); parameters stay as they are.
    pub fn with_compute_dtype(mut self, dtype: burn::tensor::FloatDType) -> Self {
        self.ranking_model.set_compute_dtype(dtype);
        self
    }

    /// The same model running the encoder packed (only real tokens; the default) or padded.
    /// Real positions agree between the two up to rounding; at pad positions the packed encoder
    /// gives zero hidden states (so pruning logits equal the head's bias), the padded one gives
    /// ordinary values, as transformers' flash-attention and eager paths do.
    pub fn with_attention(mut self, layout: AttentionLayout) -> Self {
        self.ranking_model.set_attention(layout);
        self
    }

    /// The layout set by [`Self::with_attention`].
    pub fn attention(&self) -> AttentionLayout {
        self.ranking_model.attention()
    }

    /// The same model computing packed attention with `kernel` instead of the backend's choice.
    pub fn with_packed_attention(mut self, kernel: PackedAttention) -> Self {
        self.ranking_model.set_packed_attention(kernel);
        self
    }

    /// Ranking and pruning logits for `input_ids` / `attention_mask` [P, L] (mask 1 = token).
    ///
    /// Dropout is active on autodiff backends; evaluate through `model.valid()`.
    pub fn forward(&self, input_ids: Tensor<B, 2, Int>, attention_mask: Tensor<B, 2, Int>) -> OpenProvenceOutput<B>
    where
        B: ModelBackend,
    {
        self.forward_with_token_types(input_ids, attention_mask, None)
    }

    /// [`Self::forward`] with `token_type_ids` [P, L] for backbones that read them (BERT); upstream
    /// trains without them (zeros) and passes the tokenizer's in `process()`.
    pub fn forward_with_token_types(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> OpenProvenceOutput<B>
    where
        B: ModelBackend,
    {
        let out = self.ranking_model.forward(input_ids, attention_mask, token_type_ids);
        let compute = self.ranking_model.compute_dtype();
        let hidden = to_dtype(out.pruning_hidden.clone(), compute);
        let pruning_logits = to_dtype(self.pruning_head.forward(hidden), DType::F32);
        OpenProvenceOutput {
            ranking_logits: out.logits,
            pruning_logits,
            hidden_state: out.pruning_hidden,
            last_hidden_state: out.last_hidden_state,
        }
    }
}
