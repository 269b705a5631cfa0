//! Shared helpers for the golden-fixture tests (fixtures from scripts/fixtures/model_fixtures.py).
#![allow(dead_code)] // not every test uses every helper

pub mod parity;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use safetensors::{Dtype, SafeTensors};

/// CPU inference backend.
pub type Cpu = burn::backend::Flex;
/// CPU training backend.
pub type CpuAd = burn::backend::Autodiff<burn::backend::Flex>;

/// `tests/fixtures/model/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    provence_test_support::fixture("model").join(name)
}

/// A tensor read from a safetensors file: shape and values (f32, or i64 for int tensors).
pub struct Stored {
    pub shape: Vec<usize>,
    pub f32: Vec<f32>,
    pub i64: Vec<i64>,
}

/// Every tensor of a safetensors file.
pub fn read_tensors(path: &Path) -> HashMap<String, Stored> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            let data = v.data();
            let (f32, i64) = match v.dtype() {
                Dtype::F32 => (
                    data.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                    vec![],
                ),
                Dtype::I64 => (
                    vec![],
                    data.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                ),
                other => panic!("unexpected dtype {other:?} for {name}"),
            };
            (
                name,
                Stored {
                    shape: v.shape().to_vec(),
                    f32,
                    i64,
                },
            )
        })
        .collect()
}

/// Int tensor [B, T] from a stored i64 tensor.
pub fn int2<B: Backend>(s: &Stored, device: &B::Device) -> Tensor<B, 2, Int> {
    let data: Vec<i32> = s.i64.iter().map(|&v| v as i32).collect();
    Tensor::from_data(TensorData::new(data, [s.shape[0], s.shape[1]]), device)
}

/// Float tensor with the stored shape.
pub fn float<B: Backend, const D: usize>(s: &Stored, device: &B::Device) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(s.f32.clone(), s.shape.clone()), device)
}

/// Values of a tensor as f32.
pub fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> (Vec<usize>, Vec<f32>) {
    let data = t.into_data().convert::<f32>();
    (data.shape.to_vec(), data.to_vec().unwrap())
}

/// Max |a − b| over two tensors of the same shape.
pub fn max_diff<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    (a - b).abs().max().into_scalar().elem::<f32>()
}

/// Max abs difference between a tensor and a stored reference of the same shape.
pub fn max_abs_diff<B: Backend, const D: usize>(t: Tensor<B, D>, reference: &Stored) -> f32 {
    let (shape, v) = values(t);
    assert_eq!(shape, reference.shape, "shape differs from the reference");
    v.iter()
        .zip(&reference.f32)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// A tensor of N(0, std²) values from its own seeded generator (SplitMix64 + Box–Muller), so
/// tests running in parallel do not share the backend's RNG.
pub fn seeded_normal<B: Backend, const D: usize>(
    shape: [usize; D],
    seed: u64,
    std: f64,
    device: &B::Device,
) -> Tensor<B, D> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| {
            let (u1, u2) = (next().max(f64::MIN_POSITIVE), next());
            (std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Serialises the tests that seed or draw from the backend's global RNG: it is shared by every
/// test of this binary, and tests run in parallel.
pub use provence_test_support::serial as rng_lock;

/// The fixtures' loss, written out independently of `provence-losses`:
/// `0.05·MSE(ranking_logits[:,0], targets) + mean token CE over labels ≠ -100`.
pub fn reference_loss<B: Backend>(
    ranking_logits: Tensor<B, 2>,
    pruning_logits: Tensor<B, 3>,
    targets: Tensor<B, 1>,
    labels: Tensor<B, 2, Int>,
) -> Tensor<B, 1> {
    let [p, l] = labels.dims();
    let z = ranking_logits.narrow(1, 0, 1).reshape([p]);
    let ranking = (z - targets).powi_scalar(2).mean();
    let valid = labels.clone().not_equal_elem(-100);
    let safe = labels.mask_fill(valid.clone().bool_not(), 0);
    let logp = burn::tensor::activation::log_softmax(pruning_logits, 2);
    let picked = logp.gather(2, safe.reshape([p, l, 1])).reshape([p, l]);
    let valid_f = valid.float();
    let pruning = (picked * valid_f.clone()).sum().neg() / valid_f.sum();
    ranking.mul_scalar(0.05) + pruning
}
