//! Parameter naming and HF Trainer's weight-decay grouping.
//!
//! Every trainable tensor of a Burn module is identified by its [`ParamId`]; the optimizer state
//! is saved under a stable *name* (the HF dotted name when one is supplied, else the Burn module
//! path), so a resumed run can rebind it to freshly created parameters.

use std::collections::{HashMap, HashSet};

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Burn's container type string for fields of `burn::nn::LayerNorm`.
const LAYER_NORM_CONTAINER: &str = "Struct:LayerNorm";

/// HF Trainer's no-decay rule on a full dotted parameter name (lower-cased): true if it matches
/// any of `bias`, `layernorm`, `rmsnorm`, `(^|\.)norm($|\.)` or `_norm($|\.)`.
///
/// Membership in an `nn.LayerNorm` module is the other half of the rule; see [`ParamTable`].
pub fn is_no_decay(name: &str) -> bool {
    let name = name.to_lowercase();
    name.contains("bias")
        || name.contains("layernorm")
        || name.contains("rmsnorm")
        || name
            .split('.')
            .any(|segment| segment == "norm" || segment.ends_with("_norm"))
}

/// One trainable tensor of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamEntry {
    /// Name used for saved state (HF dotted name if known, else the Burn module path).
    pub name: String,
    /// Shape of the tensor.
    pub shape: Vec<usize>,
    /// Whether the tensor is excluded from weight decay.
    pub no_decay: bool,
}

/// The trainable tensors of a module by [`ParamId`]: names, shapes and the no-decay group.
#[derive(Debug, Clone, Default)]
pub struct ParamTable {
    entries: HashMap<ParamId, ParamEntry>,
}

impl ParamTable {
    /// Builds the table by visiting `module`.
    ///
    /// A parameter's name is `hf_names[id]` when present, else its Burn module path (fields joined
    /// by `.`). It joins the no-decay group if it is a field of a `burn::nn::LayerNorm` or its
    /// name matches [`is_no_decay`].
    pub fn from_module<B: Backend, M: Module<B>>(module: &M, hf_names: &HashMap<ParamId, String>) -> Self {
        let mut collector = ParamCollector {
            hf_names,
            path: Vec::new(),
            containers: Vec::new(),
            entries: HashMap::new(),
        };
        module.visit(&mut collector);
        Self {
            entries: collector.entries,
        }
    }

    /// The entry of a parameter, if it belongs to the module.
    pub fn get(&self, id: &ParamId) -> Option<&ParamEntry> {
        self.entries.get(id)
    }

    /// Whether the parameter is in the no-decay group (unknown parameters decay).
    pub fn is_no_decay(&self, id: &ParamId) -> bool {
        self.entries.get(id).is_some_and(|entry| entry.no_decay)
    }

    /// All parameters, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&ParamId, &ParamEntry)> {
        self.entries.iter()
    }

    /// The set of parameters excluded from weight decay.
    pub fn no_decay_ids(&self) -> HashSet<ParamId> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.no_decay)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the module has no float parameter.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Visitor that records path, shape and LayerNorm membership of every float parameter.
struct ParamCollector<'a> {
    hf_names: &'a HashMap<ParamId, String>,
    path: Vec<String>,
    containers: Vec<String>,
    entries: HashMap<ParamId, ParamEntry>,
}

impl<B: Backend> ModuleVisitor<B> for ParamCollector<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_owned());
        self.containers.push(container_type.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.containers.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let name = self
            .hf_names
            .get(&param.id)
            .cloned()
            .unwrap_or_else(|| self.path.join("."));
        let in_layer_norm = self.containers.last().is_some_and(|c| c == LAYER_NORM_CONTAINER);
        let no_decay = in_layer_norm || is_no_decay(&name);
        let shape = param.lazy_shape().to_vec();
        self.entries.insert(param.id, ParamEntry { name, shape, no_decay });
    }
}
