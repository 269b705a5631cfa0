//! Device-vs-CPU smoke test: the same tiny model (saved on the CPU, loaded on the device) must
//! give the same forward outputs, loss, gradient norm and Adafactor update within a tolerance,
//! and a checkpoint saved from the device must load back on the CPU unchanged.

use std::collections::HashMap;
use std::path::Path;

use burn::module::{ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{DType, Distribution, FloatDType};
use provence_losses::{LossWeights, provence_loss};
use provence_model::{DEFAULT_HUB_REPO, Execution, OpenProvenceModel};
use provence_trainer::AdafactorConfig;
use provence_trainer::{Optimizer, OptimizerKind, ParamTable, TrainBackend, clip_grad_norm};

use crate::DeviceBackend;
use crate::batches::make_batch;
use crate::shapes;

/// The CPU reference backend.
type CpuBackend = burn::backend::Autodiff<burn::backend::Flex>;

/// Collects every float parameter as an f32 vector, in visiting order.
struct Collect(Vec<Vec<f32>>);

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let data = param.val().cast(FloatDType::F32).into_data();
        self.0.push(data.to_vec::<f32>().unwrap_or_default());
    }
}

fn floats<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.cast(FloatDType::F32).into_data().to_vec::<f32>().unwrap_or_default()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn params<B: Backend>(model: &OpenProvenceModel<B>) -> Vec<Vec<f32>> {
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

fn params_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| max_diff(x, y)).fold(0.0, f32::max)
}

/// Outputs of one training step of the tiny model on backend `AB`.
struct StepResult<AB: AutodiffBackend> {
    ranking: Vec<f32>,
    pruning: Vec<f32>,
    loss: f32,
    grad_norm: f32,
    model: OpenProvenceModel<AB>,
}

/// Loads the checkpoint in `dir` on `AB`, runs forward (masked local/global attention) in
/// `compute` precision, loss, backward, clipping and one Adafactor step on a fixed batch.
fn step<AB: AutodiffBackend + provence_model::ModelBackend>(
    dir: &Path,
    compute: FloatDType,
    device: &AB::Device,
) -> Result<StepResult<AB>, String> {
    let model = OpenProvenceModel::<AB>::load(dir, device)
        .map_err(|e| e.to_string())?
        .with_execution(Execution::for_backend::<AB>().with_compute_dtype(compute));
    let b = make_batch(7, 0, 4, 200, model.config.base_model_config.vocab_size());
    let ints = |v: &[i32]| Tensor::<AB, 2, Int>::from_data(TensorData::new(v.to_vec(), [b.pairs, b.len]), device);
    let out = model.forward(ints(&b.input_ids), ints(&b.attention_mask));
    let ranking = floats(out.ranking_logits.clone());
    let pruning = floats(out.pruning_logits.clone());
    let targets = Tensor::from_data(TensorData::new(b.targets.clone(), [b.pairs]), device);
    let loss = provence_loss(
        out.ranking_logits,
        out.pruning_logits,
        targets,
        ints(&b.labels),
        LossWeights::default(),
    )
    .map_err(|e| e.to_string())?;
    let grads = loss.loss.backward();
    let mut grads = GradientsParams::from_grads(grads, &model);
    // A tiny max norm so that the clipping path runs.
    let grad_norm = clip_grad_norm::<AB, _>(&model, &mut grads, 0.5) as f32;
    let names: HashMap<_, _> = model.named_param_ids().into_iter().collect();
    let mut optimizer = Optimizer::<AB::InnerBackend>::new(
        OptimizerKind::Adafactor(AdafactorConfig::default()),
        0.01,
        ParamTable::from_module(&model, &names),
    );
    // A large learning rate so that the update is visible above the tolerance.
    let model = optimizer.step(1e-2, model, grads);
    Ok(StepResult {
        ranking,
        pruning,
        loss: loss.loss.into_scalar().elem::<f32>(),
        grad_norm,
        model,
    })
}

/// Runs every check, prints one line each, and fails if any difference exceeds `tolerance`.
pub fn run(tolerance: f32) -> Result<(), String> {
    let device: burn::tensor::Device<DeviceBackend> = Default::default();
    let cpu = Default::default();
    let mut checks = Checks {
        tolerance,
        failures: Vec::new(),
    };
    check_matmul(&mut checks, &device, &cpu)?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    check_tiny_model(&mut checks, tmp.path(), &device, &cpu)?;
    if checks.failures.is_empty() {
        println!("{{\"smoke\": \"ok\"}}");
        Ok(())
    } else {
        Err(format!("smoke checks failed: {}", checks.failures.join(", ")))
    }
}

/// The named checks so far and the tolerance they are held to.
struct Checks {
    tolerance: f32,
    failures: Vec<String>,
}

impl Checks {
    /// `value` is a max abs difference that must stay within the tolerance, unless `must_exceed`.
    fn check(&mut self, name: &str, value: f32, must_exceed: bool) {
        let ok = if must_exceed {
            value > self.tolerance
        } else {
            value <= self.tolerance
        };
        println!("{{\"check\": \"{name}\", \"value\": {value:e}, \"ok\": {ok}}}");
        if !ok {
            self.failures.push(name.to_owned());
        }
    }
}

/// Matmul and bf16 round trip on identical inputs.
fn check_matmul(
    checks: &mut Checks,
    device: &burn::tensor::Device<DeviceBackend>,
    cpu: &burn::tensor::Device<CpuBackend>,
) -> Result<(), String> {
    CpuBackend::seed(cpu, 3);
    let a = Tensor::<CpuBackend, 2>::random([64, 96], Distribution::Normal(0.0, 1.0), cpu);
    let b = Tensor::<CpuBackend, 2>::random([96, 48], Distribution::Normal(0.0, 1.0), cpu);
    let on_device = |t: &Tensor<CpuBackend, 2>| Tensor::<DeviceBackend, 2>::from_data(t.to_data(), device);
    let (da, db) = (on_device(&a), on_device(&b));
    checks.check(
        "matmul",
        max_diff(&floats(a.clone().matmul(b)), &floats(da.clone().matmul(db))),
        false,
    );
    let round_trip = da.clone().cast(FloatDType::BF16);
    if round_trip.dtype() != DType::BF16 {
        return Err(format!("bf16 cast gave {:?}", round_trip.dtype()));
    }
    // bf16 keeps 8 significant bits: relative error ≤ 2^-8.
    let rel =
        max_diff(&floats(round_trip), &floats(da.clone())) / floats(da.abs().max()).first().copied().unwrap_or(1.0);
    checks.check("bf16_round_trip_relative", (rel - 2f32.powi(-8)).max(0.0), false);

    Ok(())
}

/// The tiny model, saved from the CPU, stepped on both backends in f32 and bf16, saved on the
/// device and loaded back on the CPU.
fn check_tiny_model(
    checks: &mut Checks,
    tmp: &Path,
    device: &burn::tensor::Device<DeviceBackend>,
    cpu: &burn::tensor::Device<CpuBackend>,
) -> Result<(), String> {
    let (initial, saved) = (tmp.join("initial"), tmp.join("from_device"));
    CpuBackend::seed(cpu, 11);
    let model =
        OpenProvenceModel::<CpuBackend>::from_scratch(shapes::config("tiny")?, cpu).map_err(|e| e.to_string())?;
    model
        .save_final_model(&initial, DEFAULT_HUB_REPO)
        .map_err(|e| e.to_string())?;
    let want = step::<CpuBackend>(&initial, FloatDType::F32, cpu)?;
    let got = step::<TrainBackend>(&initial, FloatDType::F32, device)?;
    checks.check("ranking_logits", max_diff(&want.ranking, &got.ranking), false);
    checks.check("pruning_logits", max_diff(&want.pruning, &got.pruning), false);
    checks.check("loss", (want.loss - got.loss).abs(), false);
    checks.check(
        "grad_norm_relative",
        (want.grad_norm - got.grad_norm).abs() / want.grad_norm.max(1e-12),
        false,
    );
    let stepped_cpu = params(&want.model);
    let stepped_device = params(&got.model);
    checks.check(
        "params_after_adafactor",
        params_diff(&stepped_cpu, &stepped_device),
        false,
    );
    // The step must move the parameters by more than the tolerance, else the check above is void.
    let moved = params_diff(&stepped_cpu, &params(&model));
    checks.check("update_size", moved, true);

    // Mixed precision (bf16 matmuls, f32 parameters): device vs CPU within bf16 rounding (the
    // excess over 3 % relative is reported).
    let want_bf16 = step::<CpuBackend>(&initial, FloatDType::BF16, cpu)?;
    let got_bf16 = step::<TrainBackend>(&initial, FloatDType::BF16, device)?;
    let relative = |a: f32, b: f32| (a - b).abs() / a.abs().max(1e-12);
    checks.check(
        "bf16_loss_relative_excess",
        (relative(want_bf16.loss, got_bf16.loss) - 3e-2).max(0.0),
        false,
    );
    checks.check(
        "bf16_grad_norm_relative_excess",
        (relative(want_bf16.grad_norm, got_bf16.grad_norm) - 3e-2).max(0.0),
        false,
    );
    checks.check(
        "bf16_vs_f32_loss_relative_excess",
        (relative(want.loss, got_bf16.loss) - 3e-2).max(0.0),
        false,
    );

    // Save on the device, load on the CPU.
    got.model
        .save_final_model(&saved, DEFAULT_HUB_REPO)
        .map_err(|e| e.to_string())?;
    let reloaded = OpenProvenceModel::<CpuBackend>::load(&saved, cpu).map_err(|e| e.to_string())?;
    checks.check("save_load", params_diff(&params(&reloaded), &stepped_device), false);

    Ok(())
}
