//! The model a run starts from: the checkpoint's when resuming, else built from the recipe
//! (fresh or pretrained); in the run's precision, encoder layout and `max_length`.

use crate::backend::Precision;
use crate::error::TrainError;
use burn::prelude::*;
use provence_config::{TrainConfig, layout};
use provence_model::{BackboneConfig, Execution, ModelBackend, OpenProvenceConfig, OpenProvenceModel};
use std::path::Path;

/// A fresh model: random backbone from `config.json` (`from_scratch`) or pretrained weights.
pub(crate) fn build_model<B: ModelBackend>(
    config: &TrainConfig,
    dir: &Path,
    device: &B::Device,
) -> Result<OpenProvenceModel<B>, TrainError> {
    let m = &config.model_args;
    let mut model = if m.from_scratch {
        let mut backbone = BackboneConfig::from_file(&dir.join(layout::MODEL_CONFIG))?;
        if let Some(n) = m.num_labels {
            backbone.set_num_labels(n);
        }
        let mut provence = OpenProvenceConfig::new(backbone, m.classifier_dropout);
        provence.base_model_name_or_path = Some(m.model_name_or_path.clone());
        OpenProvenceModel::from_scratch(provence, device)?
    } else {
        let model = OpenProvenceModel::load(dir, device)?.with_pruning_dropout(m.classifier_dropout)?;
        if let Some(n) = m.num_labels
            && n != model.config.num_labels
        {
            tracing::warn!(
                "model_args.num_labels = {n} but {} has {}; keeping the checkpoint's",
                dir.display(),
                model.config.num_labels
            );
        }
        model
    };
    model.config.set_max_length(m.max_length)?;
    if model.config.base_model_name_or_path.is_none() {
        model.config.base_model_name_or_path = Some(m.model_name_or_path.clone());
    }
    Ok(model)
}

/// The model to train: the checkpoint's when resuming, else built from the recipe; in the
/// run's precision and encoder layout.
pub(crate) fn model_to_train<B: ModelBackend>(
    config: &TrainConfig,
    model_dir: &Path,
    resume: Option<&Path>,
    device: &B::Device,
    precision: Precision,
) -> Result<OpenProvenceModel<B>, TrainError> {
    let model = match resume {
        Some(dir) => {
            tracing::info!("Resuming from checkpoint: {}", dir.display());
            let model = OpenProvenceModel::load(dir, device)?;
            let (saved, recipe) = (model.config.max_length(), config.model_args.max_length);
            if saved != recipe {
                tracing::warn!(
                    "the checkpoint was trained with max_length {saved}, the recipe says {recipe}: \
                     the rest of the run uses {recipe} (batches and the exported config)"
                );
            }
            with_max_length(model, recipe)?
        }
        None => build_model(config, model_dir, device)?,
    };
    let attention = config.model_args.attention;
    let mut execution = Execution::for_backend::<B>().with_layout(attention);
    if precision == Precision::Bf16 {
        tracing::info!("bf16: attention, MLPs and heads in bfloat16; parameters, norms and softmax in f32");
        execution = execution.with_compute_dtype(burn::tensor::FloatDType::BF16);
    }
    tracing::info!("Encoder execution: {attention} (model_args.attention)");
    Ok(model.with_execution(execution))
}

/// `model` with the recipe's `max_length` in its config (a checkpoint's may differ when a
/// resumed recipe changed it).
pub(crate) fn with_max_length<B: Backend>(
    mut model: OpenProvenceModel<B>,
    max_length: usize,
) -> Result<OpenProvenceModel<B>, TrainError> {
    model.config.set_max_length(max_length)?;
    Ok(model)
}
