//! How the encoder runs a batch: the attention layout, the compute dtype and the packed attention
//! kernel, as one value chosen once for a model ([`crate::OpenProvenceModel::with_execution`])
//! and handed down to every layer's `forward` as a parameter.

use burn::tensor::FloatDType;
use provence_config::AttentionLayout;

use crate::ops::ModelBackend;
use crate::packing::PackedAttention;

/// How a forward pass runs. Every choice changes speed and memory only, up to rounding: real
/// positions agree between the layouts and kernels, and bf16 stays within its rounding of f32
/// (`tests/packed.rs`, `tests/mixed_precision.rs`).
///
/// A device's capabilities belong here: a check of the chosen values against the device
/// (`B::supports_dtype` for bf16, say) goes next to [`Execution::for_backend`], where a backend
/// and its device are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Execution {
    /// Packed (only real tokens; [`AttentionLayout::default`]) or padded.
    pub layout: AttentionLayout,
    /// Dtype of attention, the feed-forward blocks and the heads' matmuls: F32, or BF16 for
    /// mixed precision (parameters, residual stream, norms and softmax stay f32, as CUDA
    /// autocast keeps them).
    pub compute_dtype: FloatDType,
    /// How packed streams attend (unused when padded).
    pub packed_kernel: PackedAttention,
}

impl Execution {
    /// The defaults on backend `B`: the default layout, f32 compute, and `B`'s packed attention
    /// kernel ([`ModelBackend::PACKED_ATTENTION`]).
    pub fn for_backend<B: ModelBackend>() -> Self {
        Self {
            layout: AttentionLayout::default(),
            compute_dtype: FloatDType::F32,
            packed_kernel: B::PACKED_ATTENTION,
        }
    }

    /// The same with `layout`.
    pub fn with_layout(self, layout: AttentionLayout) -> Self {
        Self { layout, ..self }
    }

    /// The same with `compute_dtype` (BF16: mixed precision).
    pub fn with_compute_dtype(self, compute_dtype: FloatDType) -> Self {
        Self { compute_dtype, ..self }
    }

    /// The same with `packed_kernel` instead of the backend's choice (benchmarks, tests).
    pub fn with_packed_kernel(self, packed_kernel: PackedAttention) -> Self {
        Self { packed_kernel, ..self }
    }
}
