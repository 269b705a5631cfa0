//! Publishing a trained model: `final_model/` (or any model directory) plus a generated model
//! card, as one commit to a model repository, the way HF Trainer's `push_to_hub` with
//! `hub_strategy: end` ends a run (commit message "End of training"). The card is built from what
//! the run left next to the model: `config.json`, `training_args.json` (the recipe), the run's
//! `log_history.jsonl` (training time) and the nano evaluation report.

use std::path::{Path, PathBuf};

use provence_config::layout;
use serde_json::Value;

use crate::client::HubClient;
use crate::error::HubError;
use crate::upload::{CommitFile, CommitInfo, FileSource};

/// HF Trainer's commit message of the final push.
pub const END_OF_TRAINING: &str = "End of training";

/// What to publish where.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// A model directory, or a run directory holding `final_model/`.
    pub model_dir: PathBuf,
    /// `owner/name` (or a bare name in the token's namespace).
    pub repo_id: String,
    /// Visibility of a newly created repository (`None`: the Hub's default).
    pub private: Option<bool>,
    /// The commit message.
    pub commit_message: String,
}

/// The model directory of `path`: its `final_model/` when it has one (a run directory), else
/// `path` itself, as upstream's `eval_mldr.py::_resolve_model_dir`.
pub fn model_dir_of(path: &Path) -> PathBuf {
    let inner = path.join(layout::FINAL_MODEL);
    if inner.join(layout::MODEL_CONFIG).is_file() {
        inner
    } else {
        path.to_path_buf()
    }
}

impl HubClient {
    /// Creates the repository if needed and commits the model directory's files (names starting
    /// with `_` and `checkpoint-*` folders left out, as HF Trainer does) with a generated
    /// `README.md` model card.
    pub fn publish_model(&self, request: &PublishRequest) -> Result<CommitInfo, HubError> {
        let dir = model_dir_of(&request.model_dir);
        let repo = request.repo_id.as_str();
        if !dir.join(layout::MODEL_CONFIG).is_file() {
            return Err(self.hub_error(repo, format!("{} has no {}", dir.display(), layout::MODEL_CONFIG)));
        }
        let mut files = Vec::new();
        collect_files(&dir, "", &mut files).map_err(|e| self.hub_error(repo, format!("{}: {e}", dir.display())))?;
        files.retain(|f| f.path_in_repo != layout::MODEL_CARD);
        files.push(CommitFile {
            path_in_repo: layout::MODEL_CARD.to_owned(),
            source: FileSource::Bytes(model_card(&dir, repo).into_bytes()),
        });
        self.create_repo(repo, request.private)?;
        let info = self.create_commit(repo, &files, &[], &request.commit_message)?;
        tracing::info!(repo, files = files.len(), commit = info.oid, "pushed {}", dir.display());
        Ok(info)
    }
}

/// The files under `dir` (relative paths `/`-joined behind `prefix`), sorted, without names
/// starting with `_` or `.` and without `checkpoint-*` folders.
fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<CommitFile>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(['_', '.']) || name.starts_with(layout::CHECKPOINT_PREFIX) {
            continue;
        }
        let path_in_repo = format!("{prefix}{name}");
        if entry.file_type()?.is_dir() {
            collect_files(&entry.path(), &format!("{path_in_repo}/"), out)?;
        } else {
            out.push(CommitFile {
                path_in_repo,
                source: FileSource::Path(entry.path()),
            });
        }
    }
    Ok(())
}

/// The model card (`README.md`) of model directory `dir` published as `repo_id`: front matter
/// (license, base model, datasets, tags), the recipe, training time, the nano evaluation table,
/// and how to run the model with open-provence-rs and with upstream's Python.
pub fn model_card(dir: &Path, repo_id: &str) -> String {
    let read_json = |path: PathBuf| -> Value {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    };
    let config = read_json(dir.join(layout::MODEL_CONFIG));
    let recipe = read_json(dir.join(layout::TRAINING_ARGS));
    let base = config
        .get("base_model_name_or_path")
        .or_else(|| recipe.pointer("/model_args/model_name_or_path"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let datasets: Vec<String> = recipe
        .pointer("/data_args/datasets")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(dataset_line).collect())
        .unwrap_or_default();
    let mut card = front_matter(base, &datasets);
    card += &format!(
        "\n# {repo_id}\n\nAn OpenProvence reranker–pruner: it scores how relevant a passage is to a question and \
         removes the sentences of the passage that do not help answer it. Trained with open-provence-rs.\n"
    );
    card += &format!("\n## Training\n\n- Base model: `{base}`\n");
    if let Some(max_length) = config.get("max_length") {
        card += &format!("- Max length: {max_length}\n");
    }
    card += &format!("- Training time: {}\n", training_time(dir));
    card += "- Datasets:\n";
    for line in &datasets {
        card += &format!("  - {line}\n");
    }
    if datasets.is_empty() {
        card += "  - (not recorded)\n";
    }
    card += &recipe_section(&recipe);
    card += "\n## Evaluation (nano datasets)\n\n";
    let report = dir.join(layout::EVAL_DATASETS_DIR).join(layout::EVAL_DATASETS_REPORT);
    match std::fs::read_to_string(report) {
        Ok(text) => card += &format!("{}\n", demote_headings(text.trim_end())),
        Err(_) => card += "Not evaluated (the recipe had no `eval_datasets` block).\n",
    }
    card += &usage_section(repo_id);
    card
}

fn front_matter(base: &str, datasets: &[String]) -> String {
    let mut out = format!(
        "---\nlicense: mit\nbase_model: {base}\nlibrary_name: transformers\npipeline_tag: text-classification\n"
    );
    let ids: Vec<&str> = datasets.iter().filter_map(|d| d.split('`').nth(1)).collect();
    if !ids.is_empty() {
        out += "datasets:\n";
        for id in ids {
            out += &format!("- {id}\n");
        }
    }
    out + "tags:\n- open-provence\n- reranker\n- context-pruning\n---\n"
}

/// `` `name` (subset `s`, items n) `` for one `data_args.datasets` entry.
fn dataset_line(entry: &Value) -> Option<String> {
    let name = entry.get("dataset_name")?.as_str()?;
    let mut extras = Vec::new();
    if let Some(subset) = entry.get("subset").and_then(Value::as_str) {
        extras.push(format!("subset `{subset}`"));
    }
    if let Some(n) = entry.get("n_samples").filter(|v| !v.is_null()) {
        extras.push(format!("n_samples {n}"));
    }
    Some(if extras.is_empty() {
        format!("`{name}`")
    } else {
        format!("`{name}` ({})", extras.join(", "))
    })
}

/// The recipe's training arguments that shape the model, as a list.
fn recipe_section(recipe: &Value) -> String {
    let Some(args) = recipe.get("training_args").and_then(Value::as_object) else {
        return String::new();
    };
    let keys = [
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "learning_rate",
        "lr_scheduler_type",
        "warmup_ratio",
        "optimizer",
        "ranking_weight",
        "pruning_weight",
        "seed",
    ];
    let mut out = String::from("\nRecipe (`training_args.json` in this repository has all of it):\n\n");
    for key in keys {
        if let Some(value) = args.get(key) {
            out += &format!("- `{key}`: {value}\n");
        }
    }
    out
}

/// The run's `train_runtime` from `log_history.jsonl` next to `final_model/`, as `1h 02m 03s`.
fn training_time(dir: &Path) -> String {
    let history = dir.parent().map(|run| run.join(layout::LOG_HISTORY));
    let seconds = history
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| {
            text.lines()
                .rev()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find_map(|record| record.get("train_runtime").and_then(Value::as_f64))
        });
    match seconds {
        Some(s) => {
            let s = s.round() as u64;
            format!("{}h {:02}m {:02}s", s / 3600, s / 60 % 60, s % 60)
        }
        None => "not recorded".to_owned(),
    }
}

/// Markdown headings one level deeper, so that the report nests under the card's sections.
fn demote_headings(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.starts_with('#') {
                format!("##{line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn usage_section(repo_id: &str) -> String {
    format!(
        r#"
## Usage

With [open-provence-rs](https://github.com/open-provence-rs/open-provence-rs):

```bash
open_provence_eval process --model {repo_id} \
  --question "What is the capital of France?" \
  --context "Paris is the capital of France. It rains a lot in autumn."
```

With upstream's Python ([hotchpotch/open_provence](https://github.com/hotchpotch/open_provence)):

```python
from transformers import AutoModel

model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)
result = model.process(
    question="What is the capital of France?",
    context="Paris is the capital of France. It rains a lot in autumn.",
    threshold=0.1,
)
print(result["pruned_context"])
```
"#
    )
}
