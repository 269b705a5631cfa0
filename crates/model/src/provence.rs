//! The OpenProvence reranker–pruner: a backbone sequence classifier + token pruning head.

use burn::module::ParamId;
use burn::nn::{Dropout, Linear};
use burn::prelude::*;
use burn::tensor::DType;

use crate::backbone::Backbone;
use crate::config::OpenProvenceConfig;
use crate::error::ConfigError;
use crate::execution::Execution;
use crate::hf_config::check_probability;
use crate::nn::{dropout, linear, project};
use crate::ops::{ModelBackend, to_dtype};
use crate::params::{self, HfInit, NameCollector, ParamVisitor};
use crate::ranking_model::RankingModel;

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
        project(&self.classifier, crate::rng::apply_dropout(&self.dropout, hidden))
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
    /// How `forward` runs, chosen once ([`Self::with_execution`]).
    #[module(skip)]
    execution: Execution,
}

impl<B: ModelBackend> OpenProvenceModel<B> {
    /// Builds the model structure with lazy placeholder parameters (to be initialised or loaded),
    /// running as [`Execution::for_backend`] says.
    pub(crate) fn empty(mut config: OpenProvenceConfig, device: &B::Device) -> Result<Self, ConfigError> {
        check_pruning_dropout(config.pruning_dropout)?;
        config.base_model_config.set_num_labels(config.num_labels);
        let bb = &config.base_model_config;
        let ranking_model = RankingModel::new(bb, device)?;
        let pruning_head = PruningHead {
            dropout: dropout(config.pruning_dropout),
            classifier: linear(bb.hidden_size(), 2, true, device),
        };
        Ok(Self {
            ranking_model,
            pruning_head,
            config,
            execution: Execution::for_backend::<B>(),
        })
    }

    /// A randomly initialised model, as the backbone's transformers class initialises it
    /// (ModernBERT: truncated normals with std `initializer_range`, `/sqrt(2·L)` for output
    /// projections, `H^-0.5` for the classifier; BERT-like: normals, `padding_idx` rows zero;
    /// norms 1, biases 0; pruning head N(0, 0.02)). Seed with [`crate::seed`]: the draws come
    /// from the host, so a seed gives the same model on every device.
    pub fn from_scratch(config: OpenProvenceConfig, device: &B::Device) -> Result<Self, ConfigError> {
        let model = Self::empty(config, device)?;
        let cfg = model.config.base_model_config.clone();
        Ok(model.visit_params(&mut HfInit { config: &cfg }))
    }
}

impl<B: Backend> OpenProvenceModel<B> {
    /// Visits every parameter with its `final_model/` name; returns the model with the values
    /// the visitor set.
    pub(crate) fn visit_params(self, v: &mut impl ParamVisitor<B>) -> Self {
        params::visit_params(self, v)
    }

    /// `(ParamId, name)` for every parameter, with upstream's `final_model/` names such as
    /// `ranking_model.model.layers.3.mlp_norm.weight` or `pruning_head.classifier.bias`
    /// (used for the trainer's name-based no-decay rule).
    pub fn named_param_ids(&self) -> Vec<(ParamId, String)> {
        let mut collector = NameCollector::default();
        self.clone().visit_params(&mut collector);
        collector.names
    }

    /// How [`Self::forward`] runs: the attention layout, compute dtype and packed attention
    /// kernel.
    pub fn execution(&self) -> Execution {
        self.execution
    }

    /// The same model running as `execution` says; parameters stay as they are. Real positions
    /// agree between the layouts up to rounding; at pad positions the packed encoder gives zero
    /// hidden states (so pruning logits equal the head's bias), the padded one ordinary values,
    /// as transformers' flash-attention and eager paths do.
    pub fn with_execution(self, execution: Execution) -> Self {
        Self { execution, ..self }
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
        let out = self
            .ranking_model
            .forward(input_ids, attention_mask, token_type_ids, &self.execution);
        let compute: DType = self.execution.compute_dtype.into();
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
