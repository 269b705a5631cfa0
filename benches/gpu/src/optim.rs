//! `gpu-bench optim`: wall time of one Adafactor step over ModernBERT-base-shaped parameters
//! (embeddings, 22 layers' projections, norms), with random gradients; the optimizer alone,
//! without the model.

use std::collections::HashMap;
use std::time::Instant;

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;
use provence_trainer::AdafactorConfig;
use provence_trainer::{Optimizer, OptimizerKind, ParamTable, TrainBackend};
use serde_json::json;

/// Hidden size and layer count of ModernBERT-base.
const HIDDEN: usize = 768;
const LAYERS: usize = 22;

/// Parameters shaped like ModernBERT-base's.
#[derive(Module, Debug)]
struct BaseShapes<B: Backend> {
    matrices: Vec<Param<Tensor<B, 2>>>,
    vectors: Vec<Param<Tensor<B, 1>>>,
}

impl<B: Backend> BaseShapes<B> {
    /// The matrix shapes: embeddings, head, then per layer Wqkv, Wo, Wi, mlp Wo.
    fn shapes() -> Vec<[usize; 2]> {
        let mut shapes = vec![[50368, HIDDEN], [HIDDEN, HIDDEN], [1, HIDDEN]];
        for _ in 0..LAYERS {
            shapes.extend([[3 * HIDDEN, HIDDEN], [HIDDEN, HIDDEN], [2304, HIDDEN], [HIDDEN, 1152]]);
        }
        shapes
    }

    fn new(device: &B::Device) -> Self {
        let matrices = Self::shapes()
            .into_iter()
            .map(|s| Param::from_tensor(Tensor::random(s, Distribution::Normal(0.0, 0.02), device)))
            .collect();
        let vectors = (0..2 * LAYERS + 3)
            .map(|_| Param::from_tensor(Tensor::ones([HIDDEN], device)))
            .collect();
        Self { matrices, vectors }
    }

    /// Random gradients for every parameter.
    fn grads(&self) -> GradientsParams
    where
        B: burn::tensor::backend::AutodiffBackend,
    {
        let mut grads = GradientsParams::new();
        for p in &self.matrices {
            grads.register(p.id, p.val().inner().random_like(Distribution::Normal(0.0, 1e-3)));
        }
        for p in &self.vectors {
            grads.register(p.id, p.val().inner().random_like(Distribution::Normal(0.0, 1e-3)));
        }
        grads
    }
}

/// Times `steps` Adafactor steps (after one warm-up) and prints one JSON line.
pub fn run(steps: usize) -> Result<(), String> {
    let device = Default::default();
    let mut model = BaseShapes::<TrainBackend>::new(&device);
    let table = ParamTable::from_module(&model, &HashMap::new());
    let mut optim = Optimizer::new(OptimizerKind::Adafactor(AdafactorConfig::default()), 0.01, table);
    let mut times_ms = Vec::new();
    for step in 0..=steps {
        let grads = model.grads();
        TrainBackend::sync(&device).map_err(|e| format!("{e:?}"))?;
        let start = Instant::now();
        model = optim.step(1e-4, model, grads);
        TrainBackend::sync(&device).map_err(|e| format!("{e:?}"))?;
        if step > 0 {
            times_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let params: usize = model.num_params();
    let mean = times_ms.iter().sum::<f64>() / times_ms.len().max(1) as f64;
    let line = json!({"bench": "adafactor_step", "params": params, "step_ms": times_ms, "mean_ms": mean});
    println!("{line}");
    Ok(())
}
