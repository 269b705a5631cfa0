//! Saving and restoring optimizer state: one safetensors file (no pickle).
//!
//! Tensors are stored as f32 under `"<param name>.<slot>"` with PyTorch's state shapes (e.g.
//! `dense.weight.exp_avg_sq_row`); the safetensors metadata holds `format`, the optimizer name
//! and a JSON object of per-parameter step counters. State is keyed by name, not by
//! [`burn::module::ParamId`], so it rebinds to the parameters of a freshly loaded model.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::{Optimizer, ParamState};

/// Value of the `format` metadata key of an optimizer state file.
const FORMAT: &str = "open-provence-optimizer";

/// Errors while saving or restoring optimizer state.
#[derive(Debug, thiserror::Error)]
pub enum OptimizerStateError {
    /// Reading or writing the state file failed.
    #[error("optimizer state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid safetensors file.
    #[error("optimizer state is not valid safetensors: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// A metadata key is missing or malformed.
    #[error("optimizer state metadata key {key:?}: {problem}")]
    Metadata {
        /// The metadata key.
        key: &'static str,
        /// What was wrong.
        problem: String,
    },
    /// The state was written by another optimizer.
    #[error("optimizer state was saved by {found:?} but the run uses {expected:?}")]
    WrongOptimizer {
        /// Optimizer of the current run.
        expected: &'static str,
        /// Optimizer recorded in the file.
        found: String,
    },
    /// A parameter with state has no entry in the parameter table (cannot be named or rebound).
    #[error("optimizer state names parameter {name:?}, which the model does not have")]
    UnknownParam {
        /// The parameter name.
        name: String,
    },
    /// Two model parameters share a name, so state cannot be keyed by it.
    #[error("two model parameters are both named {name:?}")]
    DuplicateName {
        /// The shared name.
        name: String,
    },
    /// A state tensor is missing, not f32, or has the wrong shape.
    #[error("optimizer state tensor {key:?}: expected f32 of shape {expected:?}, {found}")]
    BadTensor {
        /// The tensor key.
        key: String,
        /// Expected shape.
        expected: Vec<usize>,
        /// What was found instead.
        found: String,
    },
    /// Reading a state tensor back from the device failed.
    #[error("reading optimizer state tensor {key:?} from the device: {problem}")]
    Readback {
        /// The tensor key.
        key: String,
        /// The backend's message.
        problem: String,
    },
}

/// Key of a state tensor.
fn tensor_key(name: &str, slot: &str) -> String {
    format!("{name}.{slot}")
}

impl<B: Backend> Optimizer<B> {
    /// Serialises the state (step counters and f32 state tensors of every parameter that has
    /// been updated) to safetensors bytes. Reads every state tensor back from the device.
    pub fn state_to_bytes(&self) -> Result<Vec<u8>, OptimizerStateError> {
        let mut steps = BTreeMap::new();
        let mut tensors = Vec::new();
        for (id, state) in &self.states {
            let entry = self.params.get(id).ok_or_else(|| OptimizerStateError::UnknownParam {
                name: format!("<unnamed parameter {id}>"),
            })?;
            steps.insert(entry.name.clone(), state.step);
            for ((slot, shape), tensor) in self.kind.rule::<B>().slots(&entry.shape).into_iter().zip(&state.slots) {
                let key = tensor_key(&entry.name, slot);
                let values = tensor
                    .clone()
                    .into_data()
                    .to_vec::<f32>()
                    .map_err(|e| OptimizerStateError::Readback {
                        key: key.clone(),
                        problem: format!("{e:?}"),
                    })?;
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                tensors.push((key, shape, bytes));
            }
        }
        let views = tensors
            .iter()
            .map(|(key, shape, bytes)| Ok((key.as_str(), TensorView::new(Dtype::F32, shape.clone(), bytes)?)))
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
        let steps = serde_json::to_string(&steps).map_err(|e| OptimizerStateError::Metadata {
            key: "steps",
            problem: e.to_string(),
        })?;
        let metadata = HashMap::from([
            ("format".to_owned(), FORMAT.to_owned()),
            ("optimizer".to_owned(), self.kind.name().to_owned()),
            ("steps".to_owned(), steps),
        ]);
        Ok(safetensors::serialize(views, Some(metadata))?)
    }

    /// Replaces the state with the one serialised in `bytes` (see [`Self::state_to_bytes`]),
    /// rebinding it by name to this optimizer's parameters and placing it on `device`.
    pub fn load_state_bytes(&mut self, bytes: &[u8], device: &B::Device) -> Result<(), OptimizerStateError> {
        let (_, header) = SafeTensors::read_metadata(bytes)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let get = |key: &'static str| {
            metadata.get(key).ok_or_else(|| OptimizerStateError::Metadata {
                key,
                problem: "missing".to_owned(),
            })
        };
        if get("format")? != FORMAT {
            return Err(OptimizerStateError::Metadata {
                key: "format",
                problem: format!("expected {FORMAT:?}"),
            });
        }
        let optimizer = get("optimizer")?;
        if optimizer != self.kind.name() {
            return Err(OptimizerStateError::WrongOptimizer {
                expected: self.kind.name(),
                found: optimizer.clone(),
            });
        }
        let steps: BTreeMap<String, u64> =
            serde_json::from_str(get("steps")?).map_err(|e| OptimizerStateError::Metadata {
                key: "steps",
                problem: e.to_string(),
            })?;
        let mut by_name = HashMap::new();
        for (id, entry) in self.params.iter() {
            if by_name.insert(entry.name.as_str(), (*id, entry)).is_some() {
                return Err(OptimizerStateError::DuplicateName {
                    name: entry.name.clone(),
                });
            }
        }
        let file = SafeTensors::deserialize(bytes)?;
        let mut states = HashMap::new();
        for (name, step) in steps {
            let (id, entry) = by_name
                .get(name.as_str())
                .ok_or_else(|| OptimizerStateError::UnknownParam { name: name.clone() })?;
            let mut slots = Vec::new();
            for (slot, shape) in self.kind.rule::<B>().slots(&entry.shape) {
                let key = tensor_key(&name, slot);
                let bad = |found: String| OptimizerStateError::BadTensor {
                    key: key.clone(),
                    expected: shape.clone(),
                    found,
                };
                let view = file.tensor(&key).map_err(|_| bad("missing".to_owned()))?;
                if view.dtype() != Dtype::F32 || view.shape() != shape.as_slice() {
                    return Err(bad(format!("found {:?} of shape {:?}", view.dtype(), view.shape())));
                }
                let values: Vec<f32> = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                let numel = values.len();
                slots.push(Tensor::<B, 1>::from_data(
                    TensorData::new(values, [numel]),
                    (device, DType::F32),
                ));
            }
            states.insert(*id, ParamState { step, slots });
        }
        self.states = states;
        Ok(())
    }

    /// Writes [`Self::state_to_bytes`] to `path`.
    pub fn save_state(&self, path: &Path) -> Result<(), OptimizerStateError> {
        let bytes = self.state_to_bytes()?;
        std::fs::write(path, bytes).map_err(|source| OptimizerStateError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Loads state written by [`Self::save_state`] (see [`Self::load_state_bytes`]).
    pub fn load_state(&mut self, path: &Path, device: &B::Device) -> Result<(), OptimizerStateError> {
        let bytes = std::fs::read(path).map_err(|source| OptimizerStateError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.load_state_bytes(&bytes, device)
    }
}
