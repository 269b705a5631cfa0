//! The model a run starts from: built from the recipe (fresh or pretrained).

use crate::error::TrainError;
use burn::prelude::*;
use provence_config::{TrainConfig, layout};
use provence_model::{BackboneConfig, OpenProvenceConfig, OpenProvenceModel};
use std::path::Path;

/// A fresh model: random backbone from `config.json` (`from_scratch`) or pretrained weights.
pub(crate) fn build_model<B: Backend>(
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
    model.config.max_length = m.max_length;
    model.config.check_max_length()?;
    if model.config.base_model_name_or_path.is_none() {
        model.config.base_model_name_or_path = Some(m.model_name_or_path.clone());
    }
    Ok(model)
}
