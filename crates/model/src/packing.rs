//! Packed (unpadded) execution: the real tokens of a padded `[P, L]` batch as one stream of `N`
//! tokens, the way transformers' flash-attention path runs ModernBERT (`_unpad_modernbert_input`
//! / `_pad_modernbert_output` in `modeling_modernbert.py`).
//!
//! The stream holds the sequences back to back (`cu_seqlens` offsets); RoPE positions restart at 0
//! in every sequence and attention never crosses a sequence boundary. Its length is rounded up to
//! a multiple of [`PACK_BUCKET`] with a filler sequence of pad tokens, so that the encoder sees few
//! distinct shapes (each new shape is a new set of kernels to compile and autotune on a GPU).
//! Outputs are re-padded with exact zeros at pad positions.

use burn::prelude::*;

/// The packed stream's length is a multiple of this many tokens.
pub const PACK_BUCKET: usize = 64;

/// How the attention of a packed stream is computed (the rest of the encoder runs on the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackedAttention {
    /// Query chunks inside each sequence of the stream, against the keys of that sequence (and
    /// window) only: no padding is ever computed, at the price of more, smaller matmuls.
    PerSequence,
    /// q, k and v gathered into a padded `[P, heads, L, head_dim]` copy, the padded op run on it,
    /// and the result gathered back: few large kernels, for backends where launches are costly.
    Repadded,
}

/// Where the real tokens of a padded batch are: built on the host from its attention mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packing {
    pairs: usize,
    seq_len: usize,
    /// Padded flat index (`row · seq_len + column`) of every real token, in stream order.
    sources: Vec<usize>,
    /// `cu_seqlens`: where each sequence starts in the stream, then the stream's length. The last
    /// sequence is the bucket filler when the real tokens do not fill the bucket.
    offsets: Vec<usize>,
}

impl Packing {
    /// The packing of a `[pairs, seq_len]` batch whose `mask` (row-major) is non-zero on real
    /// tokens. Rows may hold holes or be empty; a row's real tokens keep their order.
    ///
    /// # Panics
    /// If `mask.len() != pairs · seq_len`.
    pub fn from_mask<T: Copy + Into<i64>>(mask: &[T], pairs: usize, seq_len: usize) -> Self {
        assert_eq!(mask.len(), pairs * seq_len, "mask of a [{pairs}, {seq_len}] batch");
        let mut sources = Vec::with_capacity(mask.len());
        let mut offsets = Vec::with_capacity(pairs + 2);
        offsets.push(0);
        for row in 0..pairs {
            let columns = (0..seq_len).filter(|&c| mask[row * seq_len + c].into() != 0);
            sources.extend(columns.map(|c| row * seq_len + c));
            offsets.push(sources.len());
        }
        let tokens = sources.len();
        let len = tokens.div_ceil(PACK_BUCKET).max(1) * PACK_BUCKET;
        if len > tokens {
            offsets.push(len);
        }
        Self {
            pairs,
            seq_len,
            sources,
            offsets,
        }
    }

    /// The packing of `attention_mask` `[P, L]` (reads the mask back to the host).
    pub fn from_mask_tensor<B: Backend>(attention_mask: &Tensor<B, 2, Int>) -> Self {
        let [pairs, seq_len] = attention_mask.dims();
        let mask: Vec<i64> = attention_mask.to_data().convert::<i64>().to_vec().unwrap_or_default();
        Self::from_mask(&mask, pairs, seq_len)
    }

    /// Rows of the padded batch.
    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// Columns of the padded batch.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Real tokens in the batch.
    pub fn tokens(&self) -> usize {
        self.sources.len()
    }

    /// Length of the stream: the real tokens rounded up to a multiple of [`PACK_BUCKET`].
    pub fn len(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// Whether the stream is empty (never: an empty batch still gets one filler bucket).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `cu_seqlens`: sequence starts in the stream followed by its length (the filler, if any, is
    /// the last sequence).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Longest sequence in the stream (filler included).
    pub fn max_seq_len(&self) -> usize {
        self.offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
    }

    /// RoPE position of every stream token: its index inside its sequence.
    pub fn positions(&self) -> Vec<usize> {
        self.offsets.windows(2).flat_map(|w| 0..w[1] - w[0]).collect()
    }

    /// For every stream token, its padded flat index; filler tokens get `pairs · seq_len` (one
    /// past the batch: callers append the value filler tokens should read).
    pub fn stream_to_padded(&self) -> Vec<usize> {
        let filler = self.len() - self.tokens();
        let past_end = self.pairs * self.seq_len;
        self.sources
            .iter()
            .copied()
            .chain(std::iter::repeat_n(past_end, filler))
            .collect()
    }

    /// For every padded position, its stream index; pad positions get `len()` (one past the
    /// stream: callers append the value pad positions should read, zeros for hidden states).
    pub fn padded_to_stream(&self) -> Vec<usize> {
        let mut index = vec![self.len(); self.pairs * self.seq_len];
        for (stream, &padded) in self.sources.iter().enumerate() {
            index[padded] = stream;
        }
        index
    }

    /// `ids` `[P, L]` as the stream `[1, len]`; filler tokens are `pad_id`.
    pub fn pack_ids<B: Backend>(&self, ids: Tensor<B, 2, Int>, pad_id: i64) -> Tensor<B, 2, Int> {
        let device = ids.device();
        let flat = ids.reshape([self.pairs * self.seq_len]);
        let padded = Tensor::cat(vec![flat, Tensor::<B, 1, Int>::full([1], pad_id, &device)], 0);
        padded
            .select(0, index_tensor(&self.stream_to_padded(), &device))
            .reshape([1, self.len()])
    }

    /// Stream values `[1, len, H]` back to `[P, L, H]`, with exact zeros at pad positions.
    pub fn unpack<B: Backend>(&self, stream: Tensor<B, 3>) -> Tensor<B, 3> {
        let device = stream.device();
        let h = stream.dims()[2];
        let rows = stream.reshape([self.len(), h]);
        let zero = Tensor::<B, 2>::zeros([1, h], &device).cast(rows.dtype());
        Tensor::cat(vec![rows, zero], 0)
            .select(0, index_tensor(&self.padded_to_stream(), &device))
            .reshape([self.pairs, self.seq_len, h])
    }
}

/// A host index list as an int tensor.
pub(crate) fn index_tensor<B: Backend>(index: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let values: Vec<i64> = index.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(values, [index.len()]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_holes_and_filler() {
        // Row 0: 3 tokens; row 1: a hole at column 1; row 2: empty.
        let mask = [1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0];
        let p = Packing::from_mask(&mask, 3, 4);
        assert_eq!(p.tokens(), 6);
        assert_eq!(p.len(), PACK_BUCKET);
        assert_eq!(p.offsets(), &[0, 3, 6, 6, PACK_BUCKET]);
        assert_eq!(&p.stream_to_padded()[..7], &[0, 1, 2, 4, 6, 7, 12]);
        assert_eq!(&p.positions()[..8], &[0, 1, 2, 0, 1, 2, 0, 1]);
        let back = p.padded_to_stream();
        let pad = PACK_BUCKET;
        assert_eq!(back, vec![0, 1, 2, pad, 3, pad, 4, 5, pad, pad, pad, pad]);
        assert_eq!(p.max_seq_len(), PACK_BUCKET - 6);
    }

    #[test]
    fn exact_bucket_has_no_filler() {
        let mask = vec![1i64; 2 * PACK_BUCKET];
        let p = Packing::from_mask(&mask, 4, PACK_BUCKET / 2);
        assert_eq!(p.len(), 2 * PACK_BUCKET);
        assert_eq!(p.offsets().len(), 5);
    }

    #[test]
    fn empty_batch_is_one_filler_bucket() {
        let p = Packing::from_mask::<i64>(&[0, 0], 1, 2);
        assert_eq!((p.tokens(), p.len()), (0, PACK_BUCKET));
        assert_eq!(p.offsets(), &[0, 0, PACK_BUCKET]);
    }
}
