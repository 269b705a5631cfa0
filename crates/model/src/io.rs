//! Hugging Face safetensors checkpoints in and out: backbone repos (single file or sharded),
//! upstream `final_model/` (`ranking_model.*` + `pruning_head.classifier.*`) and upstream
//! `checkpoint-N/` (unprefixed backbone keys + `pruning_head.*`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::DType;
use provence_config::layout;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

use crate::config::{BackboneConfig, OpenProvenceConfig};
use crate::error::ConfigError;
use crate::ops::ModelBackend;
use crate::params::{HfParam, ParamVisitor, apply_init, cutoff_factor, init_rule};
use crate::provence::{OpenProvenceModel, check_pruning_dropout};

/// The hub repository whose modeling file `auto_map` points at by default.
pub const DEFAULT_HUB_REPO: &str = "hotchpotch/open-provence-reranker-v1";

/// Upstream's default pruning-head dropout (`model_args.classifier_dropout`), used when a
/// backbone repo (which has no pruning config) is loaded.
pub const DEFAULT_PRUNING_DROPOUT: f64 = 0.1;

/// Which on-disk layout a model directory uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointLayout {
    /// A ModernBERT repo (`ModernBertForSequenceClassification`/`ModernBertForMaskedLM` keys with
    /// the `model.` prefix, or a bare `ModernBertModel`); the pruning head is initialised fresh.
    Backbone,
    /// Upstream `final_model/`: `ranking_model.*` + `pruning_head.classifier.*`.
    FinalModel,
    /// Upstream Trainer `checkpoint-N/`: unprefixed backbone keys + `pruning_head.classifier.*`.
    Checkpoint,
}

/// One problem with the tensors of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorProblem {
    /// The model needs this key and the checkpoint lacks it.
    Missing(String),
    /// The checkpoint has a key the model does not use.
    Unexpected(String),
    /// The shapes differ (PyTorch layout).
    Shape {
        /// Checkpoint key.
        key: String,
        /// Shape the model needs.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// The tensor's dtype is not F32, BF16 or F16.
    Dtype {
        /// Checkpoint key.
        key: String,
        /// Dtype found.
        dtype: String,
    },
}

impl fmt::Display for TensorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(k) => write!(f, "missing {k}"),
            Self::Unexpected(k) => write!(f, "unexpected {k}"),
            Self::Shape { key, expected, found } => write!(f, "shape of {key}: expected {expected:?}, found {found:?}"),
            Self::Dtype { key, dtype } => {
                write!(f, "dtype of {key}: {dtype} (expected F32, BF16 or F16)")
            }
        }
    }
}

fn join(problems: &[TensorProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// A model directory that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A config problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A safetensors file or index is malformed.
    #[error("malformed weights file {path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The directory has no `model.safetensors` and no `model.safetensors.index.json`.
    #[error("no weights in {dir}: expected model.safetensors or model.safetensors.index.json")]
    NoWeights {
        /// The model directory.
        dir: PathBuf,
    },
    /// Missing, unexpected, mis-shaped or mis-typed tensors, all listed.
    #[error("{} tensor problem(s) in {dir} ({layout:?} layout): {}", problems.len(), join(problems))]
    Tensors {
        /// The model directory.
        dir: PathBuf,
        /// Detected layout.
        layout: CheckpointLayout,
        /// Every problem found.
        problems: Vec<TensorProblem>,
    },
}

/// A model that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// safetensors serialisation failed.
    #[error("cannot write safetensors {path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

struct StoredTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// All tensors of a (possibly sharded) safetensors checkpoint.
struct TensorSource {
    tensors: HashMap<String, StoredTensor>,
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })
}

impl TensorSource {
    fn read_dir(dir: &Path) -> Result<Self, LoadError> {
        let single = dir.join(layout::WEIGHTS);
        let index = dir.join(layout::WEIGHTS_INDEX);
        let files = if single.is_file() {
            vec![single]
        } else if index.is_file() {
            let text = read_bytes(&index)?;
            let json: Value = serde_json::from_slice(&text).map_err(|e| LoadError::Format {
                path: index.clone(),
                message: e.to_string(),
            })?;
            let map = json
                .get("weight_map")
                .and_then(Value::as_object)
                .ok_or_else(|| LoadError::Format {
                    path: index.clone(),
                    message: "no `weight_map` object".to_owned(),
                })?;
            let shards: BTreeSet<&str> = map.values().filter_map(Value::as_str).collect();
            shards.into_iter().map(|s| dir.join(s)).collect()
        } else {
            return Err(LoadError::NoWeights { dir: dir.to_owned() });
        };
        let mut tensors = HashMap::new();
        for file in files {
            let bytes = read_bytes(&file)?;
            let st = SafeTensors::deserialize(&bytes).map_err(|e| LoadError::Format {
                path: file.clone(),
                message: e.to_string(),
            })?;
            for (name, view) in st.tensors() {
                tensors.insert(
                    name,
                    StoredTensor {
                        dtype: view.dtype(),
                        shape: view.shape().to_vec(),
                        bytes: view.data().to_vec(),
                    },
                );
            }
        }
        Ok(Self { tensors })
    }

    fn has(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }
}

fn to_f32_data(t: &StoredTensor) -> Option<TensorData> {
    let dtype = match t.dtype {
        Dtype::F32 => DType::F32,
        Dtype::BF16 => DType::BF16,
        Dtype::F16 => DType::F16,
        _ => return None,
    };
    Some(TensorData::from_bytes_vec(t.bytes.clone(), t.shape.clone(), dtype).convert::<f32>())
}

/// Where a model parameter (final_model name) comes from in a given file layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceLayout {
    FinalModel,
    Checkpoint,
    /// A transformers task model: the encoder under `encoder` (`model.`, `bert.`, `roberta.`),
    /// heads beside it (`head.*`, `classifier.*`).
    BackboneTask {
        encoder: &'static str,
    },
    /// A bare encoder (`ModernBertModel`, `BertModel`): no prefix, no head or classifier.
    BackboneBare {
        encoder: &'static str,
    },
}

/// The prefix of the encoder's tensors inside a transformers task model of `config`, and a key
/// every encoder of that architecture has (without the prefix).
fn encoder_keys(config: &BackboneConfig) -> (&'static str, &'static str) {
    match config {
        BackboneConfig::ModernBert(_) => ("model.", "embeddings.tok_embeddings.weight"),
        BackboneConfig::Bert(c) => (c.encoder_prefix(), "embeddings.word_embeddings.weight"),
    }
}

enum Plan {
    /// Load from `key`; `optional` keys that are absent are initialised like transformers does.
    Load { key: String, optional: bool },
    /// Not stored in this layout: initialise.
    Init,
}

impl SourceLayout {
    fn plan(self, name: &str) -> Plan {
        let backbone = name.strip_prefix("ranking_model.");
        match self {
            Self::FinalModel => Plan::Load {
                key: name.to_owned(),
                optional: false,
            },
            Self::Checkpoint => Plan::Load {
                key: backbone.unwrap_or(name).to_owned(),
                optional: false,
            },
            // Heads (and BERT's pooler) may be missing from a pre-trained encoder's repository.
            Self::BackboneTask { encoder } => match backbone {
                Some(key) => Plan::Load {
                    key: key.to_owned(),
                    optional: !key.starts_with(encoder) || key.contains(".pooler."),
                },
                None => Plan::Init,
            },
            Self::BackboneBare { encoder } => match backbone.and_then(|k| k.strip_prefix(encoder)) {
                Some(key) => Plan::Load {
                    key: key.to_owned(),
                    optional: false,
                },
                None => Plan::Init,
            },
        }
    }

    fn public(self) -> CheckpointLayout {
        match self {
            Self::FinalModel => CheckpointLayout::FinalModel,
            Self::Checkpoint => CheckpointLayout::Checkpoint,
            Self::BackboneTask { .. } | Self::BackboneBare { .. } => CheckpointLayout::Backbone,
        }
    }

    /// Keys a loader may ignore: the masked-LM heads of a pre-trained encoder (ModernBERT's
    /// `decoder.*`, BERT's `cls.*`, RoBERTa's `lm_head.*`) and old `position_ids` buffers.
    fn ignorable(self, key: &str) -> bool {
        matches!(self, Self::BackboneTask { .. } | Self::BackboneBare { .. })
            && (["decoder.", "cls.", "lm_head."].iter().any(|p| key.starts_with(p)) || key.ends_with("position_ids"))
    }

    /// Key a parameter is written under.
    fn save_key(self, name: &str) -> String {
        match self.plan(name) {
            Plan::Load { key, .. } => key,
            Plan::Init => name.to_owned(),
        }
    }
}

struct Loader<'a> {
    source: &'a TensorSource,
    layout: SourceLayout,
    config: &'a BackboneConfig,
    used: BTreeSet<String>,
    problems: Vec<TensorProblem>,
    initialised: Vec<String>,
}

impl Loader<'_> {
    /// Initialises `param` as transformers does (it is not in the checkpoint) and notes it.
    fn initialise<B: Backend, const D: usize>(&mut self, name: &str, param: &mut HfParam<'_, B, D>) {
        apply_init(param, init_rule(self.config, name), cutoff_factor(self.config));
        self.initialised.push(name.to_owned());
    }
}

impl<B: Backend> ParamVisitor<B> for Loader<'_> {
    fn visit<const D: usize>(&mut self, name: &str, mut slot: HfParam<'_, B, D>) {
        let (key, optional) = match self.layout.plan(name) {
            Plan::Init => return self.initialise(name, &mut slot),
            Plan::Load { key, optional } => (key, optional),
        };
        let Some(stored) = self.source.tensors.get(&key) else {
            if optional {
                self.initialise(name, &mut slot);
            } else {
                self.problems.push(TensorProblem::Missing(key));
            }
            return;
        };
        self.used.insert(key.clone());
        let expected = slot.torch_shape();
        if stored.shape != expected {
            self.problems.push(TensorProblem::Shape {
                key,
                expected,
                found: stored.shape.clone(),
            });
            return;
        }
        match to_f32_data(stored) {
            Some(data) => slot.set_torch_values(data),
            None => self.problems.push(TensorProblem::Dtype {
                key,
                dtype: format!("{:?}", stored.dtype),
            }),
        }
    }
}

fn read_json(path: &Path) -> Result<Value, LoadError> {
    let bytes = read_bytes(path)?;
    serde_json::from_slice(&bytes).map_err(|source| {
        LoadError::Config(ConfigError::Json {
            path: path.to_owned(),
            source,
        })
    })
}

impl<B: ModelBackend> OpenProvenceModel<B> {
    /// Loads a model directory, detecting its layout from `config.json` and the tensor names:
    /// an OpenProvence `final_model/` or `checkpoint-N/` (config with `base_model_config`), or a
    /// ModernBERT backbone repo (then the pruning head, and a classifier the repo lacks, are
    /// initialised like transformers does, with dropout [`DEFAULT_PRUNING_DROPOUT`]).
    /// F32/BF16/F16 tensors are cast to the backend's float type. Every missing, unexpected or
    /// mis-shaped tensor is reported in one [`LoadError::Tensors`].
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self, LoadError> {
        let config_path = dir.join(layout::MODEL_CONFIG);
        let json = read_json(&config_path)?;
        let is_provence = json.get("model_type").and_then(Value::as_str) == Some("open_provence")
            || json.get("base_model_config").is_some();
        let config = if is_provence {
            OpenProvenceConfig::from_json(&config_path, &json)?
        } else {
            let bb = BackboneConfig::from_file(&config_path)?;
            OpenProvenceConfig::new(bb, DEFAULT_PRUNING_DROPOUT)
        };
        let source = TensorSource::read_dir(dir)?;
        let (encoder, probe) = encoder_keys(&config.base_model_config);
        let layout = if is_provence {
            if source.tensors.keys().any(|k| k.starts_with("ranking_model.")) {
                SourceLayout::FinalModel
            } else {
                SourceLayout::Checkpoint
            }
        } else if source.has(probe) && !source.has(&format!("{encoder}{probe}")) {
            SourceLayout::BackboneBare { encoder }
        } else {
            SourceLayout::BackboneTask { encoder }
        };
        let model = Self::empty(config, device)?;
        let bb = model.config.base_model_config.clone();
        let mut loader = Loader {
            source: &source,
            layout,
            config: &bb,
            used: BTreeSet::new(),
            problems: Vec::new(),
            initialised: Vec::new(),
        };
        let model = model.visit_params(&mut loader);
        let mut problems = loader.problems;
        let mut ignored = Vec::new();
        let mut unexpected: Vec<&String> = source.tensors.keys().filter(|k| !loader.used.contains(*k)).collect();
        unexpected.sort();
        for key in unexpected {
            if layout.ignorable(key) {
                ignored.push(key.as_str());
            } else {
                problems.push(TensorProblem::Unexpected(key.clone()));
            }
        }
        if !problems.is_empty() {
            return Err(LoadError::Tensors {
                dir: dir.to_owned(),
                layout: layout.public(),
                problems,
            });
        }
        if !ignored.is_empty() {
            tracing::warn!(dir = %dir.display(), ?ignored, "ignoring checkpoint tensors the model does not use");
        }
        if !loader.initialised.is_empty() {
            tracing::info!(dir = %dir.display(), initialised = ?loader.initialised, "newly initialised parameters (not in the checkpoint)");
        }
        tracing::debug!(dir = %dir.display(), layout = ?layout.public(), "model loaded");
        Ok(model)
    }
}

impl<B: Backend> OpenProvenceModel<B> {
    /// Returns the model with a different pruning-head dropout probability (in [0, 1)).
    pub fn with_pruning_dropout(mut self, prob: f64) -> Result<Self, ConfigError> {
        check_pruning_dropout(prob)?;
        self.pruning_head.dropout = burn::nn::DropoutConfig::new(prob).init();
        self.config.pruning_dropout = prob;
        Ok(self)
    }

    fn collect_tensors(&self, layout: SourceLayout) -> Vec<(String, Vec<usize>, Vec<u8>)> {
        struct Collect {
            layout: SourceLayout,
            out: Vec<(String, Vec<usize>, Vec<u8>)>,
        }
        impl<B: Backend> ParamVisitor<B> for Collect {
            fn visit<const D: usize>(&mut self, name: &str, slot: HfParam<'_, B, D>) {
                let shape = slot.torch_shape();
                let bytes = slot.torch_values().into_bytes().to_vec();
                self.out.push((self.layout.save_key(name), shape, bytes));
            }
        }
        let mut c = Collect {
            layout,
            out: Vec::new(),
        };
        self.clone().visit_params(&mut c);
        c.out
    }

    fn write(&self, dir: &Path, layout: SourceLayout, config: &Value) -> Result<(), SaveError> {
        let text = serde_json::to_string_pretty(config).unwrap_or_default();
        write_model_files(dir, &self.collect_tensors(layout), &text)
    }

    /// Writes `config.json` and `model.safetensors` of the ranking model alone, a plain
    /// `<Backbone>ForSequenceClassification` checkpoint any cross-encoder loader reads (upstream's
    /// `open_provence/encoder.py::OpenProvenceEncoder.export_ranking_model`): the `ranking_model.*`
    /// tensors without that prefix, no pruning head. Tokenizer files are the caller's business.
    pub fn save_ranking_model(&self, dir: &Path) -> Result<(), SaveError> {
        let tensors: Vec<_> = self
            .collect_tensors(SourceLayout::FinalModel)
            .into_iter()
            .filter_map(|(key, shape, bytes)| Some((key.strip_prefix("ranking_model.")?.to_owned(), shape, bytes)))
            .collect();
        // As transformers writes it: Python's json.dumps(indent=2) (floats such as `1e-05`).
        let text = provence_config::python_json_pretty(&self.config.to_ranking_model_json());
        write_model_files(dir, &tensors, &text)
    }

    /// Writes `config.json` and `model.safetensors` (f32) of an upstream-layout `final_model/`
    /// (as hotchpotch/open_provence's `open_provence/encoder.py::OpenProvenceEncoder.save_pretrained`
    /// writes it); `auto_map` points at `<hub_repo>--modeling_open_provence_standalone`.
    /// Tokenizer files are the caller's business.
    pub fn save_final_model(&self, dir: &Path, hub_repo: &str) -> Result<(), SaveError> {
        self.write(
            dir,
            SourceLayout::FinalModel,
            &self.config.to_final_model_json(hub_repo),
        )
    }

    /// Writes `config.json` and `model.safetensors` of an upstream-layout `checkpoint-N/`
    /// (unprefixed backbone keys + `pruning_head.classifier.*`, as upstream's
    /// `open_provence/trainer.py::OpenProvenceTrainer._save` with `OpenProvenceEncoder.state_dict`).
    pub fn save_checkpoint(&self, dir: &Path, hub_repo: &str) -> Result<(), SaveError> {
        self.write(dir, SourceLayout::Checkpoint, &self.config.to_checkpoint_json(hub_repo))
    }
}

/// Writes `config.json` (`config_text` and a newline) then `model.safetensors` (f32 `tensors`:
/// key, torch shape, bytes) into `dir`.
fn write_model_files(
    dir: &Path,
    tensors: &[(String, Vec<usize>, Vec<u8>)],
    config_text: &str,
) -> Result<(), SaveError> {
    std::fs::create_dir_all(dir).map_err(|source| SaveError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(layout::WEIGHTS);
    let views: Result<BTreeMap<String, safetensors::tensor::TensorView<'_>>, _> = tensors
        .iter()
        .map(|(k, shape, bytes)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (k.clone(), v))
        })
        .collect();
    let metadata = HashMap::from([("format".to_owned(), "pt".to_owned())]);
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| SaveError::Io { path, source }
    };
    // config.json first: a plain file, created with the process's umask, whose mode the
    // weights then get (safetensors writes them through a private 0600 temp file).
    let config_path = dir.join(layout::MODEL_CONFIG);
    std::fs::write(&config_path, format!("{config_text}\n")).map_err(io_error(&config_path))?;
    views
        .and_then(|views| safetensors::serialize_to_file(views, Some(metadata), &path))
        .map_err(|e| SaveError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let mode = std::fs::metadata(&config_path).map_err(io_error(&config_path))?;
    std::fs::set_permissions(&path, mode.permissions()).map_err(io_error(&path))
}
