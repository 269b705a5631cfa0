//! GPU bring-up and throughput driver of the reranker–pruner.
//!
//! `gpu-bench smoke` checks the device backend against the CPU (matmul, masked attention forward
//! and backward through the tiny model, one Adafactor step, checkpoint save/load).
//! `gpu-bench train|infer --shape base` times training steps (forward, backward, global-norm
//! clipping, Adafactor) or batched inference on seeded random batches whose lengths follow the
//! mix of `batches.rs` (the same as `torch_baseline.py`), and prints one JSON line.
//! `gpu-bench optim` times Adafactor steps over ModernBERT-base-shaped parameters.
//!
//! Built without the `cuda` and `wgpu` features it runs on the CPU (`Flex`), which the tests use.

mod batches;
mod bench;
mod optim;
mod shapes;
mod smoke;

use clap::{Parser, Subcommand};

/// The backend the benchmark runs on: the build's best (CUDA with the `cuda` feature, wgpu with
/// `wgpu`, else the CPU).
pub type DeviceBackend = provence_trainer::EvalBackend;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Reranker-pruner GPU smoke test and throughput benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to run.
#[derive(Subcommand, Debug)]
enum Command {
    /// Device-vs-CPU checks of the tiny model (exit code 1 on a mismatch).
    Smoke {
        /// Largest tolerated absolute difference.
        #[arg(long, default_value_t = 1e-3)]
        tolerance: f32,
    },
    /// Times forward + backward + clipping + Adafactor steps.
    Train(bench::BenchArgs),
    /// Times batched inference (forward without autodiff, keep probabilities to the host).
    Infer(bench::BenchArgs),
    /// Times Adafactor steps over ModernBERT-base-shaped parameters (the optimizer alone).
    Optim {
        /// Timed steps (after one warm-up step).
        #[arg(long, default_value_t = 5)]
        steps: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Smoke { tolerance } => smoke::run(tolerance),
        Command::Train(args) => bench::run(&args, bench::Mode::Train),
        Command::Infer(args) => bench::run(&args, bench::Mode::Infer),
        Command::Optim { steps } => optim::run(steps),
    };
    if let Err(message) = result {
        eprintln!("gpu-bench: {message}");
        std::process::exit(1);
    }
}
