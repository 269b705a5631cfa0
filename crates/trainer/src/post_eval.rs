//! The post-training dataset evaluation: the recipe's `eval_datasets` block run on the saved
//! model.

use crate::error::{TrainError, io_at};
use provence_model::ModelBackend;
use std::path::Path;

/// The recipe's `eval_datasets` block on `model_dir` (upstream's
/// `open_provence/trainer.py::run_eval_datasets_for_model`): evaluates at
/// `threshold` with `batch_size`, the encoder in `attention`, writes
/// `<model_dir>/eval_datasets/results.{json,md}` and returns the Markdown; `None` (with a
/// warning) when the block names no `config`.
pub fn run_eval_datasets<B: ModelBackend>(
    model_dir: &Path,
    eval: &provence_config::EvalDatasetsArgs,
    attention: provence_config::AttentionLayout,
    device: &B::Device,
) -> Result<Option<String>, TrainError> {
    let Some(config) = &eval.config else {
        tracing::warn!("eval_datasets has no `config`; skipping dataset evaluation.");
        return Ok(None);
    };
    let config_path = Path::new(config);
    let datasets = provence_eval::EvalDatasetsConfig::from_file(config_path)?;
    tracing::info!(
        "Running eval_datasets: {} on {}",
        config_path.display(),
        model_dir.display()
    );
    let execution = provence_model::Execution::for_backend::<B>().with_layout(attention);
    let pruner = provence_infer::Pruner::<B>::load(model_dir, device.clone())?.with_execution(execution);
    let settings = provence_eval::EvalSettings {
        thresholds: vec![eval.threshold],
        batch_size: eval.batch_size.max(1),
        max_batch_tokens: provence_infer::DEFAULT_MAX_BATCH_TOKENS,
        split: None,
        limit: None,
        targets: Vec::new(),
        progress: true,
    };
    let report = provence_eval::evaluate_and_report(
        &pruner,
        &model_dir.display().to_string(),
        &datasets,
        config_path,
        &settings,
        eval.timing_details,
        Some(eval.threshold),
    )?;
    let out = model_dir.join(provence_config::layout::EVAL_DATASETS_DIR);
    std::fs::create_dir_all(&out).map_err(io_at(&out))?;
    let json = out.join("results.json");
    std::fs::write(&json, format!("{:#}\n", report.json)).map_err(io_at(&json))?;
    let md = out.join(provence_config::layout::EVAL_DATASETS_REPORT);
    std::fs::write(&md, format!("{}\n", report.markdown.trim_end())).map_err(io_at(&md))?;
    Ok(Some(report.markdown))
}

/// [`run_eval_datasets`] on the backend and device `choice` names.
pub fn run_eval_datasets_on(
    choice: provence_model::DeviceChoice,
    model_dir: &Path,
    eval: &provence_config::EvalDatasetsArgs,
    attention: provence_config::AttentionLayout,
) -> Result<Option<String>, TrainError> {
    /// The evaluation as work for [`provence_infer::on_device`].
    struct Evaluation<'a> {
        model_dir: &'a Path,
        eval: &'a provence_config::EvalDatasetsArgs,
        attention: provence_config::AttentionLayout,
    }
    impl provence_infer::OnBackend for Evaluation<'_> {
        type Output = Result<Option<String>, TrainError>;
        fn run<B: ModelBackend>(self, device: B::Device) -> Self::Output {
            run_eval_datasets::<B>(self.model_dir, self.eval, self.attention, &device)
        }
    }
    let evaluation = Evaluation {
        model_dir,
        eval,
        attention,
    };
    provence_infer::on_device(choice, evaluation)?
}
