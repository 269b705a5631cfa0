//! Timed training steps and batched inference, reported as one JSON line.

use std::collections::HashMap;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::FloatDType;
use burn::tensor::activation::softmax;
use clap::Args;
use provence_losses::{LossWeights, provence_loss};
use provence_model::{AttentionLayout, Execution, OpenProvenceModel, PackedAttention};
use provence_trainer::AdafactorConfig;
use provence_trainer::{Optimizer, OptimizerKind, ParamTable, TrainBackend, clip_grad_norm};
use serde_json::json;

use crate::DeviceBackend;
use crate::batches::{Batch, make_batch};
use crate::shapes;

/// Options shared by `train` and `infer`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Model shape: tiny, xsmall, base or large.
    #[arg(long, default_value = "tiny")]
    pub shape: String,
    /// Precision: f32, or bf16 (mixed precision: f32 parameters and optimizer, bf16 matmuls).
    #[arg(long, default_value = "f32")]
    pub precision: String,
    /// Encoder execution: packed (only real tokens) or padded.
    #[arg(long, default_value_t = AttentionLayout::default())]
    pub attention: AttentionLayout,
    /// Packed attention kernel: per-sequence or repadded (default: the backend's choice).
    #[arg(long = "packed-kernel", value_parser = parse_kernel)]
    pub packed_kernel: Option<PackedAttention>,
    /// (query, passage) pairs per micro-batch (upstream base recipe: 4 rows × 8 passages).
    #[arg(long, default_value_t = 32)]
    pub pairs: usize,
    /// Longest pair in tokens.
    #[arg(long, default_value_t = 512)]
    pub max_len: usize,
    /// Untimed steps first (kernel compilation, autotuning); also the number of distinct batches.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed steps (cycling over the warm-up batches so no new shape is timed).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Seed of the batches and of the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Peak dense FLOP/s of the device in TFLOP/s, for the MFU (default: env `PEAK_TFLOPS`).
    #[arg(long)]
    pub peak_tflops: Option<f64>,
    /// GPU name for the report (default: env `GPU_NAME`, else "cpu").
    #[arg(long)]
    pub gpu_name: Option<String>,
}

fn parse_kernel(text: &str) -> Result<PackedAttention, String> {
    match text {
        "per-sequence" => Ok(PackedAttention::PerSequence),
        "repadded" => Ok(PackedAttention::Repadded),
        other => Err(format!("expected per-sequence or repadded, got {other:?}")),
    }
}

/// What one step does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Forward, backward, clipping, optimizer.
    Train,
    /// Forward without autodiff, keep probabilities copied to the host.
    Infer,
}

/// Learning rate, weight decay and clipping norm of the timed steps (upstream's base recipe).
const LR: f64 = 5e-5;
const WEIGHT_DECAY: f64 = 0.01;
const MAX_GRAD_NORM: f64 = 1.0;

/// Peak resident memory of this process in MiB (Linux `VmHWM`): on the CPU backend, the
/// high-water mark of activations kept for backward plus everything else; `None` elsewhere.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Parameters of a module: (all, token-embedding matrix).
fn count_params<B: Backend>(model: &OpenProvenceModel<B>) -> (usize, usize) {
    let total = model.num_params();
    let cfg = &model.config.base_model_config;
    (total, cfg.vocab_size() * cfg.hidden_size())
}

/// Tensors of one batch on `device`: ids, mask, labels, targets.
type Inputs<B> = (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 1>);

fn to_device<B: Backend>(b: &Batch, device: &B::Device) -> Inputs<B> {
    let ints = |v: &[i32]| Tensor::<B, 2, Int>::from_data(TensorData::new(v.to_vec(), [b.pairs, b.len]), device);
    (
        ints(&b.input_ids),
        ints(&b.attention_mask),
        ints(&b.labels),
        Tensor::from_data(TensorData::new(b.targets.clone(), [b.pairs]), device),
    )
}

/// Runs the benchmark and prints its JSON line.
pub fn run(args: &BenchArgs, mode: Mode) -> Result<(), String> {
    let device: burn::tensor::Device<DeviceBackend> = Default::default();
    if args.warmup == 0 || args.steps == 0 {
        return Err("--warmup and --steps must be at least 1".to_owned());
    }
    let (model, vocab) = build_model(args, &device)?;
    let (params, embedding_params) = count_params(&model);
    let batches: Vec<Batch> = (0..args.warmup as u64)
        .map(|i| make_batch(args.seed, i, args.pairs, args.max_len, vocab))
        .collect();
    let timings = match mode {
        Mode::Train => train_steps(args, model, &batches, &device)?,
        Mode::Infer => infer_steps(args, model, &batches, &device),
    };
    println!("{}", report(args, mode, &timings, params, embedding_params));
    Ok(())
}

/// The seeded from-scratch model of `--shape`, in `--precision` and `--attention`; and its
/// vocabulary size.
fn build_model(
    args: &BenchArgs,
    device: &burn::tensor::Device<DeviceBackend>,
) -> Result<(OpenProvenceModel<TrainBackend>, usize), String> {
    let dtype = match args.precision.as_str() {
        "f32" => FloatDType::F32,
        "bf16" => FloatDType::BF16,
        other => return Err(format!("unknown precision {other:?} (expected f32 or bf16)")),
    };
    let config = shapes::config(&args.shape)?;
    let vocab = config.base_model_config.vocab_size();
    TrainBackend::seed(device, args.seed);
    let model = OpenProvenceModel::<TrainBackend>::from_scratch(config, device).map_err(|e| e.to_string())?;
    let mut execution = Execution::for_backend::<TrainBackend>()
        .with_layout(args.attention)
        .with_compute_dtype(dtype);
    if let Some(kernel) = args.packed_kernel {
        execution = execution.with_packed_kernel(kernel);
    }
    Ok((model.with_execution(execution), vocab))
}

/// Wall times of the timed steps and the tokens they covered.
#[derive(Default)]
struct Timings {
    times: Vec<f64>,
    tokens: usize,
    padded: usize,
    /// The last step's loss (training) or first score (inference), to show the work was done.
    last_value: f64,
}

impl Timings {
    /// Records step `step` (kept only after the warm-up).
    fn record(&mut self, step: usize, warmup: usize, batch: &Batch, elapsed: f64, value: f64) {
        eprintln!("step {step}: len {} {:.1} ms", batch.len, elapsed * 1e3);
        self.last_value = value;
        if step >= warmup {
            self.times.push(elapsed);
            self.tokens += batch.lengths.iter().sum::<usize>();
            self.padded += batch.pairs * batch.len;
        }
    }
}

/// Forward, loss, backward, clipping and an Adafactor step per batch, synchronised.
fn train_steps(
    args: &BenchArgs,
    mut model: OpenProvenceModel<TrainBackend>,
    batches: &[Batch],
    device: &burn::tensor::Device<DeviceBackend>,
) -> Result<Timings, String> {
    let names: HashMap<_, _> = model.named_param_ids().into_iter().collect();
    let mut optimizer = Optimizer::<DeviceBackend>::new(
        OptimizerKind::Adafactor(AdafactorConfig::default()),
        WEIGHT_DECAY,
        ParamTable::from_module(&model, &names),
    );
    let mut timings = Timings::default();
    for step in 0..args.warmup + args.steps {
        let batch = &batches[step % batches.len()];
        let (ids, mask, labels, targets) = to_device::<TrainBackend>(batch, device);
        let started = Instant::now();
        let out = model.forward(ids, mask);
        let loss = provence_loss(
            out.ranking_logits,
            out.pruning_logits,
            targets,
            labels,
            LossWeights::default(),
        )
        .map_err(|e| e.to_string())?;
        let grads = loss.loss.backward();
        let mut grads = GradientsParams::from_grads(grads, &model);
        clip_grad_norm::<TrainBackend, _>(&model, &mut grads, MAX_GRAD_NORM);
        model = optimizer.step(LR, model, grads);
        TrainBackend::sync(device).map_err(|e| format!("{e:?}"))?;
        let elapsed = started.elapsed().as_secs_f64();
        timings.record(step, args.warmup, batch, elapsed, loss.loss.into_scalar().elem::<f64>());
    }
    Ok(timings)
}

/// Forward without autodiff per batch, scores and keep probabilities copied to the host (as
/// `process()` needs them).
fn infer_steps(
    args: &BenchArgs,
    model: OpenProvenceModel<TrainBackend>,
    batches: &[Batch],
    device: &burn::tensor::Device<DeviceBackend>,
) -> Timings {
    let model = model.valid();
    let mut timings = Timings::default();
    for step in 0..args.warmup + args.steps {
        let batch = &batches[step % batches.len()];
        let (ids, mask, _, _) = to_device::<DeviceBackend>(batch, device);
        let started = Instant::now();
        let out = model.forward(ids, mask);
        let keep = softmax(out.pruning_logits, 2).narrow(2, 1, 1);
        let scores = out.ranking_logits.into_data().convert::<f32>();
        let _keep = keep.into_data();
        let elapsed = started.elapsed().as_secs_f64();
        let first = f64::from(scores.iter::<f32>().next().unwrap_or(f32::NAN));
        timings.record(step, args.warmup, batch, elapsed, first);
    }
    timings
}

/// The JSON line: step times, throughput, parameter counts and model FLOP utilisation.
fn report(
    args: &BenchArgs,
    mode: Mode,
    timings: &Timings,
    params: usize,
    embedding_params: usize,
) -> serde_json::Value {
    let times = &timings.times;
    let (timed_tokens, timed_padded, last_loss) = (timings.tokens, timings.padded, timings.last_value);
    let total: f64 = times.iter().sum();
    let step_s = total / times.len() as f64;
    let min_s = times.iter().copied().fold(f64::INFINITY, f64::min);
    let padded_per_step = timed_padded as f64 / times.len() as f64;
    // 6·N·T (training) or 2·N·T (inference) over padded tokens, N without the embedding matrix.
    let flops_per_token = if mode == Mode::Train { 6.0 } else { 2.0 } * (params - embedding_params) as f64;
    let peak_tflops = args
        .peak_tflops
        .or_else(|| std::env::var("PEAK_TFLOPS").ok().and_then(|v| v.parse().ok()));
    let achieved_tflops = flops_per_token * padded_per_step / step_s / 1e12;
    json!({
        "framework": "burn",
        "mode": if mode == Mode::Train { "train" } else { "infer" },
        "shape": args.shape,
        "precision": args.precision,
        "attention": args.attention.as_str(),
        "packed_kernel": args.packed_kernel.map(|k| format!("{k:?}")),
        "device": args.gpu_name.clone().or_else(|| std::env::var("GPU_NAME").ok()).unwrap_or_else(|| "cpu".to_owned()),
        "params": params,
        "non_embedding_params": params - embedding_params,
        "pairs": args.pairs,
        "mean_padded_len": padded_per_step / args.pairs as f64,
        "warmup": args.warmup,
        "steps": args.steps,
        "step_ms": step_s * 1e3,
        "min_step_ms": min_s * 1e3,
        "tokens_per_s": timed_tokens as f64 / total,
        "padded_tokens_per_s": timed_padded as f64 / total,
        "samples_per_s": (args.pairs * times.len()) as f64 / total,
        "peak_mem_mib": serde_json::Value::Null,
        "peak_rss_mib": peak_rss_mib(),
        "achieved_tflops": achieved_tflops,
        "mfu": peak_tflops.map(|peak| achieved_tflops / peak),
        "last_value": last_loss,
    })
}
