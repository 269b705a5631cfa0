//! The `ranking_model` of the reranker–pruner: whichever backbone its config names.

use burn::prelude::*;

use crate::backbone::{Backbone, BackboneOutput};
use crate::bert::{BertFlavour, BertForSequenceClassification, RobertaForSequenceClassification};
use crate::config::BackboneConfig;
use crate::error::ConfigError;
use crate::execution::Execution;
use crate::modernbert::ModernBertForSequenceClassification;
use crate::ops::ModelBackend;

/// The `ranking_model` of the reranker–pruner: one of the supported backbones. Its variant names
/// are not part of the parameters' names (`ranking_model.model.*`, `ranking_model.bert.*`, ...).
// One value per model, moved only when the model is: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum RankingModel<B: Backend> {
    /// `ModernBertForSequenceClassification` (`ranking_model.model.*`).
    ModernBert(ModernBertForSequenceClassification<B>),
    /// `BertForSequenceClassification` (`ranking_model.bert.*`).
    Bert(BertForSequenceClassification<B>),
    /// `XLMRobertaForSequenceClassification` (`ranking_model.roberta.*`).
    Roberta(RobertaForSequenceClassification<B>),
}

impl<B: Backend> RankingModel<B> {
    /// The backbone `config` describes, with placeholder parameters; errors if the config is
    /// invalid.
    pub(crate) fn new(config: &BackboneConfig, device: &B::Device) -> Result<Self, ConfigError> {
        Ok(match config {
            BackboneConfig::ModernBert(c) => Self::ModernBert(ModernBertForSequenceClassification::new(c, device)?),
            BackboneConfig::Bert(c) => match c.flavour() {
                BertFlavour::Bert => Self::Bert(BertForSequenceClassification::new(c, device)?),
                BertFlavour::Roberta => Self::Roberta(RobertaForSequenceClassification::new(c, device)?),
            },
        })
    }

    /// The ModernBERT backbone, if it is one.
    pub fn as_modernbert(&self) -> Option<&ModernBertForSequenceClassification<B>> {
        match self {
            Self::ModernBert(m) => Some(m),
            _ => None,
        }
    }

    /// The ModernBERT backbone, mutably, if it is one.
    pub fn as_modernbert_mut(&mut self) -> Option<&mut ModernBertForSequenceClassification<B>> {
        match self {
            Self::ModernBert(m) => Some(m),
            _ => None,
        }
    }
}

impl<B: ModelBackend> Backbone<B> for RankingModel<B> {
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
        execution: &Execution,
    ) -> BackboneOutput<B> {
        let (ids, mask, types) = (input_ids, attention_mask, token_type_ids);
        match self {
            Self::ModernBert(m) => Backbone::forward(m, ids, mask, types, execution),
            Self::Bert(m) => Backbone::forward(m, ids, mask, types, execution),
            Self::Roberta(m) => Backbone::forward(m, ids, mask, types, execution),
        }
    }
}
