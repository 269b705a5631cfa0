//! Seeded random micro-batches with a realistic length mix, generated bit-for-bit like
//! `torch_baseline.py` (SplitMix64), so both frameworks see the same shapes.

/// SplitMix64, the generator both implementations share.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// One micro-batch of `pairs` (query, passage) rows padded to the batch-longest length.
pub struct Batch {
    /// Pairs P.
    pub pairs: usize,
    /// Padded length L.
    pub len: usize,
    /// Real tokens (CLS + query + SEP + passage + SEP) per pair.
    pub lengths: Vec<usize>,
    /// Token ids [P·L], row-major, 0 on padding.
    pub input_ids: Vec<i32>,
    /// Attention mask [P·L] (1 = token).
    pub attention_mask: Vec<i32>,
    /// Pruning labels [P·L]: 0/1 on passage tokens, -100 elsewhere.
    pub labels: Vec<i32>,
    /// Ranking targets [P] in [0, 1).
    pub targets: Vec<f32>,
}

/// The `index`-th batch of a run seeded with `seed`: query 8–39 tokens, passage 32 + ⌊600·u²⌋
/// tokens, special tokens 3, each pair cut at `max_len`.
pub fn make_batch(seed: u64, index: u64, pairs: usize, max_len: usize, vocab: usize) -> Batch {
    let mut rng = SplitMix64::new(seed.wrapping_mul(1_000_003).wrapping_add(index));
    let mut queries = Vec::with_capacity(pairs);
    let mut lengths = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let query = 8 + rng.below(32) as usize;
        let u = rng.next_f64();
        let passage = 32 + (600.0 * u * u) as usize;
        queries.push(query);
        lengths.push((query + passage + 3).min(max_len));
    }
    let len = lengths.iter().copied().max().unwrap_or(1);
    let mut input_ids = vec![0; pairs * len];
    let mut attention_mask = vec![0; pairs * len];
    let mut labels = vec![-100; pairs * len];
    let mut targets = Vec::with_capacity(pairs);
    for p in 0..pairs {
        for t in 0..lengths[p] {
            input_ids[p * len + t] = 5 + rng.below(vocab as u64 - 5) as i32;
            attention_mask[p * len + t] = 1;
            if t >= queries[p] + 2 && t + 1 < lengths[p] {
                labels[p * len + t] = (rng.next_u64() & 1) as i32;
            }
        }
        targets.push(rng.next_f64() as f32);
    }
    Batch {
        pairs,
        len,
        lengths,
        input_ids,
        attention_mask,
        labels,
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // Reference values of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c test vector).
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn batches_are_padded_to_the_longest_pair_and_cut_at_max_len() {
        let b = make_batch(0, 3, 32, 512, 1000);
        assert_eq!(b.len, *b.lengths.iter().max().unwrap());
        assert!(b.len <= 512);
        for p in 0..b.pairs {
            let row = &b.attention_mask[p * b.len..(p + 1) * b.len];
            assert_eq!(row.iter().sum::<i32>() as usize, b.lengths[p]);
            assert!(
                b.labels[p * b.len..(p + 1) * b.len]
                    .iter()
                    .all(|&l| l == -100 || l == 0 || l == 1)
            );
        }
    }
}
