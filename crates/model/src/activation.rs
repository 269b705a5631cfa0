//! The activation functions Hugging Face configs name (transformers' `ACT2FN`); the tensor ops
//! that compute them are in `ops` (`activate`, the GeGLU kernels).

use crate::error::ConfigError;

/// Activation functions named in backbone configs (transformers' `ACT2FN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `"gelu"`: exact erf GELU.
    Gelu,
    /// `"gelu_new"` / `"gelu_pytorch_tanh"` / `"gelu_fast"`: tanh-approximated GELU.
    GeluTanh,
    /// `"silu"` / `"swish"`.
    Silu,
    /// `"relu"`.
    Relu,
}

impl Activation {
    /// Parses an `ACT2FN` name; `key` names the config key for the error.
    pub fn parse(key: &str, name: &str) -> Result<Self, ConfigError> {
        match name {
            "gelu" => Ok(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Self::GeluTanh),
            "silu" | "swish" => Ok(Self::Silu),
            "relu" => Ok(Self::Relu),
            other => Err(ConfigError::invalid(
                key,
                format!(
                    "unsupported activation {other:?} (expected gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu, swish or relu)"
                ),
            )),
        }
    }
}
