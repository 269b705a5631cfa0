//! What every encoder shares: how the tokens of one forward pass are laid out (padded rows or a
//! packed stream) and attention over that layout.

use std::sync::Arc;

use burn::nn::Dropout;
use burn::prelude::*;

use crate::ops::{AttentionSpec, ModelBackend, attention_with_dropout};
use crate::packing::{PackedAttention, Packing, index_tensor};

/// How the tokens of one forward pass are laid out; prepared once, read by every layer.
pub(crate) enum Sequences<B: Backend> {
    /// `[B, T]` rows, one sequence each.
    Padded {
        /// `[B, T]`, true on padding keys (masked for every query).
        key_pad: Tensor<B, 2, Bool>,
    },
    /// One packed stream `[1, N]` of several sequences.
    Packed {
        /// Sequence starts in the stream, then its length: attention runs per sequence...
        cu_seqlens: Arc<[usize]>,
        /// ...unless it runs on this padded copy ([`PackedAttention::Repadded`], or attention
        /// dropout while training, which only the plain padded formulation has).
        repadded: Option<Repadded<B>>,
    },
}

/// A padded `[P, L]` view of a packed stream, for attention.
pub(crate) struct Repadded<B: Backend> {
    /// For every padded slot `[P·L]`, the stream token it copies (pad slots read token 0).
    repad_index: Tensor<B, 1, Int>,
    /// For every stream token `[N]`, the padded slot it copies back (filler reads slot 0).
    unpad_index: Tensor<B, 1, Int>,
    /// `[P, L]`, true on padding: the key mask of the padded copy.
    key_pad: Tensor<B, 2, Bool>,
    pairs: usize,
    seq_len: usize,
}

impl<B: Backend> Repadded<B> {
    fn new(packing: &Packing, device: &B::Device) -> Self {
        let (n, slots) = (packing.len(), packing.pairs() * packing.seq_len());
        // "One past the end" (see `Packing`) becomes any valid index: those values are unused.
        let in_range = |index: Vec<usize>, end: usize| -> Vec<usize> {
            index.into_iter().map(|i| if i >= end { 0 } else { i }).collect()
        };
        let padded_to_stream = packing.padded_to_stream();
        let key_pad: Vec<bool> = padded_to_stream.iter().map(|&i| i >= n).collect();
        Self {
            repad_index: index_tensor(&in_range(padded_to_stream, n), device),
            unpad_index: index_tensor(&in_range(packing.stream_to_padded(), slots), device),
            key_pad: Tensor::from_data(TensorData::new(key_pad, [packing.pairs(), packing.seq_len()]), device),
            pairs: packing.pairs(),
            seq_len: packing.seq_len(),
        }
    }

    /// Stream `[1, heads, N, D]` → padded copy `[P, heads, L, D]`.
    fn repad(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, nh, n, d] = x.dims();
        x.reshape([nh, n, d])
            .select(1, self.repad_index.clone())
            .reshape([nh, self.pairs, self.seq_len, d])
            .swap_dims(0, 1)
    }

    /// Padded copy `[P, heads, L, D]` → stream `[1, heads, N, D]`.
    fn unpad(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [p, nh, l, d] = x.dims();
        let n = self.unpad_index.dims()[0];
        x.swap_dims(0, 1)
            .reshape([nh, p * l, d])
            .select(1, self.unpad_index.clone())
            .reshape([1, nh, n, d])
    }
}

impl<B: Backend> Sequences<B> {
    /// An encoder's packed stream: attention runs as `kernel` says, and on a padded copy
    /// whenever attention dropout is on while training (only the padded formulation has it).
    pub(crate) fn for_stream(
        packing: &Packing,
        kernel: PackedAttention,
        attention_dropout: bool,
        device: &B::Device,
    ) -> Self
    where
        B: ModelBackend,
    {
        let dropout = attention_dropout && B::ad_enabled(device);
        Self::packed(packing, kernel == PackedAttention::Repadded || dropout, device)
    }

    /// A packed stream: attention per sequence, or on a padded copy when `repad`.
    fn packed(packing: &Packing, repad: bool, device: &B::Device) -> Self {
        Self::Packed {
            cu_seqlens: packing.offsets().into(),
            repadded: repad.then(|| Repadded::new(packing, device)),
        }
    }

    /// Softmax attention of `q`, `k`, `v` [B, heads, T, D] over this layout: pad keys masked,
    /// sequences of a stream kept apart; `dropout` on the probabilities while training.
    pub(crate) fn attend(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        spec: AttentionSpec,
        dropout: &Dropout,
    ) -> Tensor<B, 4>
    where
        B: ModelBackend,
    {
        // The memory-efficient op has no dropout on the probabilities.
        let with_dropout = dropout.prob > 0.0 && B::ad_enabled(&k.device());
        let attend = |q, k, v, key_pad: Tensor<B, 2, Bool>, spec| {
            if with_dropout {
                attention_with_dropout(q, k, v, key_pad, spec, dropout)
            } else {
                B::masked_attention(q, k, v, Some(key_pad), spec)
            }
        };
        match self {
            Self::Padded { key_pad } => attend(q, k, v, key_pad.clone(), spec),
            Self::Packed { repadded: Some(r), .. } => {
                r.unpad(attend(r.repad(q), r.repad(k), r.repad(v), r.key_pad.clone(), spec))
            }
            Self::Packed { cu_seqlens, .. } => {
                let spec = AttentionSpec {
                    cu_seqlens: Some(cu_seqlens.clone()),
                    ..spec
                };
                B::masked_attention(q, k, v, None, spec)
            }
        }
    }
}
