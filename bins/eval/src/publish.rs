//! `open_provence_eval push` (a trained model to the Hub, with a generated model card) and
//! `open_provence_eval export` (a model directory re-written: whole, or `--ranking-only` as
//! upstream's `export_ranking_model`).

use anyhow::{Context, Result, bail};
use provence_config::layout;
use provence_hub::{HubClient, HubOptions, PublishRequest, RepoKind, model_dir_of, resolve_model_dir};
use provence_model::{DEFAULT_HUB_REPO, ModelBackend, OpenProvenceModel};
use std::path::{Path, PathBuf};

/// `push`: a model directory to a Hub model repository.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The model directory (`final_model/`, or a run directory holding one).
    #[arg(long)]
    model: PathBuf,
    /// The Hub repository: `owner/name` (or a bare name in the token's namespace). Created when
    /// missing; the token comes from HF_TOKEN (or the cached login), the Hub from HF_ENDPOINT.
    #[arg(long = "repo-id")]
    repo_id: String,
    /// Create the repository private (an existing repository keeps its visibility).
    #[arg(long)]
    private: bool,
    /// The commit message.
    #[arg(long = "commit-message", default_value = provence_hub::END_OF_TRAINING)]
    commit_message: String,
}

/// `export`: a model directory re-written into a new one.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Model directory (ours, upstream's final_model/ or checkpoint-N/) or Hub model id.
    #[arg(long)]
    model: String,
    /// The directory to create (must not exist).
    #[arg(long)]
    output: PathBuf,
    /// Only the ranking model: a plain `<Backbone>ForSequenceClassification` checkpoint (no
    /// pruning head) that any cross-encoder loader reads, as upstream's `export_ranking_model`.
    /// Without it: an upstream-layout `final_model/`.
    #[arg(long = "ranking-only")]
    ranking_only: bool,
}

/// Runs `push`.
pub fn push(args: PushArgs) -> Result<()> {
    let dir = model_dir_of(&args.model);
    if !dir.join(layout::MODEL_CONFIG).is_file() {
        bail!(
            "{} is not a model directory (no {}, and no final_model/ holding one)",
            args.model.display(),
            layout::MODEL_CONFIG
        );
    }
    let client = HubClient::for_kind(HubOptions::from_env(), RepoKind::Model)?;
    let info = client.publish_model(&PublishRequest {
        model_dir: dir,
        repo_id: args.repo_id,
        private: args.private.then_some(true),
        commit_message: args.commit_message,
    })?;
    println!("{}", info.url);
    Ok(())
}

/// Runs `export`: writes into a temporary sibling of `--output`, renamed when complete.
pub fn export<B: ModelBackend>(args: ExportArgs, device: B::Device) -> Result<()> {
    if args.output.exists() {
        bail!("{} already exists; choose a new --output", args.output.display());
    }
    let dir = resolve_model_dir(&args.model, HubOptions::from_env())?;
    let model = OpenProvenceModel::<B>::load(&dir, &device)?;
    let name = args
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = args
        .output
        .with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let written = write_export(&model, &dir, &staging, args.ranking_only).and_then(|()| {
        std::fs::rename(&staging, &args.output).with_context(|| format!("creating {}", args.output.display()))
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written?;
    println!("{}", args.output.display());
    Ok(())
}

fn write_export<B: ModelBackend>(
    model: &OpenProvenceModel<B>,
    from: &Path,
    to: &Path,
    ranking_only: bool,
) -> Result<()> {
    if ranking_only {
        model.save_ranking_model(to)?;
    } else {
        model.save_final_model(to, DEFAULT_HUB_REPO)?;
    }
    for name in layout::TOKENIZER_FILES {
        let source = from.join(name);
        if source.is_file() {
            std::fs::copy(&source, to.join(name)).with_context(|| format!("copying {}", source.display()))?;
        }
    }
    Ok(())
}
