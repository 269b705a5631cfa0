//! The layers every backbone builds on: placeholder-initialised `Linear`, `LayerNorm` and
//! `Embedding` constructors, the projection that runs in the input's dtype, the memory-saving
//! layer norm, the embedding lookup that keeps `padding_idx` out of the gradient, and pooling.

use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::prelude::*;

use crate::ops::{ModelBackend, to_dtype};

/// Parameters are created lazily with this placeholder and then overwritten by an initialiser
/// or a checkpoint, so the placeholder is never materialised.
const PLACEHOLDER: Initializer = Initializer::Zeros;

/// A `Linear` `d_in → d_out` (with a bias when `bias`), placeholder-initialised.
pub(crate) fn linear<B: Backend>(d_in: usize, d_out: usize, bias: bool, device: &B::Device) -> Linear<B> {
    LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(PLACEHOLDER)
        .init(device)
}

/// A `LayerNorm` over `size` features with epsilon `eps` (with a bias when `bias`).
pub(crate) fn layer_norm<B: Backend>(size: usize, eps: f64, bias: bool, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(size)
        .with_epsilon(eps)
        .with_bias(bias)
        .init(device)
}

/// An `Embedding` of `rows` vectors of `size`, placeholder-initialised.
pub(crate) fn embedding<B: Backend>(rows: usize, size: usize, device: &B::Device) -> Embedding<B> {
    EmbeddingConfig::new(rows, size)
        .with_initializer(PLACEHOLDER)
        .init(device)
}

/// Dropout with probability `p`.
pub(crate) fn dropout(p: f64) -> Dropout {
    DropoutConfig::new(p).init()
}

/// `lin(x)` computed in the dtype of `x`: under mixed precision the f32 weights are cast on use,
/// so the parameters (and their gradients and optimizer state) stay f32.
pub(crate) fn project<B: Backend, const D: usize>(lin: &Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    let dtype = x.dtype();
    if lin.weight.val().dtype() == dtype {
        return lin.forward(x);
    }
    let weight = to_dtype(lin.weight.val(), dtype);
    let bias = lin.bias.as_ref().map(|b| to_dtype(b.val(), dtype));
    burn::tensor::module::linear(x, weight, bias)
}

/// `ln(x)` with epsilon `eps`, computed in f32 by the op whose backward recomputes the
/// normalised values ([`ModelBackend::layer_norm_recompute`]).
pub(crate) fn norm<B: ModelBackend>(ln: &LayerNorm<B>, x: Tensor<B, 3>, eps: f64) -> Tensor<B, 3> {
    B::layer_norm_recompute(x, ln.gamma.val(), ln.beta.as_ref().map(|b| b.val()), eps)
}

/// `embedding(ids)`, where positions holding `padding_idx` read a detached copy of its row: the
/// same values, but like transformers' `nn.Embedding(padding_idx=...)` that row gets no gradient.
pub(crate) fn embed<B: Backend>(
    embedding: &Embedding<B>,
    ids: Tensor<B, 2, Int>,
    padding_idx: Option<usize>,
) -> Tensor<B, 3> {
    let embedded = embedding.forward(ids.clone());
    let Some(pad) = padding_idx else {
        return embedded;
    };
    let [b, t, h] = embedded.dims();
    let is_pad = ids.equal_elem(pad as i64).unsqueeze_dim::<3>(2).expand([b, t, h]);
    let pad_row = embedding.weight.val().slice(pad..pad + 1).detach();
    embedded.mask_where(is_pad, pad_row.unsqueeze::<3>().expand([b, t, h]))
}

/// Pooling of the final hidden states before a sequence-classification head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Position 0.
    Cls,
    /// Attention-masked mean over the sequence.
    Mean,
}

impl Pooling {
    /// `hidden` [B, T, H] pooled to [B, H]; `attention_mask` [B, T] (1 = token) weighs the mean.
    pub fn pool<B: Backend>(self, hidden: Tensor<B, 3>, attention_mask: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let [b, t, h] = hidden.dims();
        match self {
            Self::Cls => hidden.narrow(1, 0, 1).reshape([b, h]),
            Self::Mean => {
                let m = attention_mask.float().reshape([b, t, 1]);
                let sum = (hidden * m.clone()).sum_dim(1).reshape([b, h]);
                sum / m.sum_dim(1).reshape([b, 1])
            }
        }
    }
}
