//! Train from a recipe through the library API and watch every optimizer step from your code.
//!
//! Loads the embedded demo recipe `configs/demo.yaml` (a tiny ModernBERT trained from scratch on
//! the synthetic data committed under `data/demo/`: no network needed), overrides it from code to
//! a few steps and a run directory of your choice (the same `--<field> <value>` overrides the
//! `open_provence_trainer` binary accepts), and trains with a [`TrainListener`] that prints each
//! step and each log record. At the end it prints where `final_model/` landed: give that
//! directory to the `prune` and `evaluate` examples.
//!
//! Run it from the repository root (the recipe's paths are relative to it):
//!
//! ```text
//! cargo run -p provence-examples --example train -- [RUN_DIR] [MAX_STEPS]
//! ```
//!
//! `RUN_DIR` must be new or empty (default: a fresh directory under the system temp directory);
//! `MAX_STEPS` defaults to 6. `RUST_LOG=info` also shows the trainer's own log lines.

use anyhow::{Context, Result, bail};
use provence_trainer::LogRecord;
use provence_trainer::{DeviceChoice, Precision, StepEvent, TrainBackend, TrainListener};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The embedded demo recipe, relative to the repository root.
const RECIPE: &str = "configs/demo.yaml";

/// Prints every optimizer step and every record the run logs.
struct PrintSteps {
    started: Instant,
}

impl TrainListener for PrintSteps {
    fn on_step(&mut self, step: &StepEvent) {
        println!(
            "step {:>3}/{}  epoch {:.3}  loss {:.4}  grad_norm {:.3}  lr {:.2e}  [{:.1}s]",
            step.step,
            step.max_steps,
            step.epoch,
            step.loss,
            step.grad_norm,
            step.learning_rate,
            self.started.elapsed().as_secs_f64()
        );
    }

    fn on_log(&mut self, record: &LogRecord, split: &str) {
        println!("  [{split} log] {}", record.to_python_repr());
    }
}

/// A new run directory under the system temp directory.
fn default_run_dir() -> PathBuf {
    std::env::temp_dir()
        .join("provence-examples")
        .join(format!("train-{}", provence_config::timestamp_now()))
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut args = std::env::args().skip(1);
    let run_dir = args.next().map_or_else(default_run_dir, PathBuf::from);
    let max_steps = args.next().unwrap_or_else(|| "6".to_string());
    let recipe = Path::new(RECIPE);
    if !recipe.is_file() {
        bail!("{RECIPE} not found: run this example from the repository root");
    }

    // The recipe plus overrides, exactly as `open_provence_trainer configs/demo.yaml --max_steps 6
    // --output_dir RUN_DIR` would set them up (validated; nothing is written yet).
    let overrides = [
        ("max_steps".to_string(), Some(max_steps)),
        ("output_dir".to_string(), Some(run_dir.display().to_string())),
    ];
    let setup = provence_config::prepare_run(recipe, &overrides, None, &provence_config::timestamp_now())
        .with_context(|| format!("setting up {RECIPE}"))?;
    println!("Recipe {RECIPE} with overrides:");
    for line in &setup.overrides {
        println!("{line}");
    }
    println!("Run directory: {}", setup.naming.output_dir.display());

    let threads = provence_trainer::init_cpu_threads(None);
    println!("Training on {threads} CPU threads (the `cuda` and `wgpu` features train on a GPU)");
    let device = Default::default();
    let precision = Precision::for_recipe(setup.config.training_args.bf16, DeviceChoice::best());
    let mut listener = PrintSteps {
        started: Instant::now(),
    };
    let outcome = provence_trainer::run_training_with::<TrainBackend>(&setup, &device, precision, &mut listener)?;

    if let Some(markdown) = &outcome.eval_markdown {
        println!("\nPost-training dataset evaluation (the recipe's eval_datasets):\n{markdown}");
    }
    println!(
        "Trained {} steps ({} log records) in {:.1}s",
        outcome.global_step,
        outcome.log_history.len(),
        listener.started.elapsed().as_secs_f64()
    );
    println!("final_model: {}", outcome.final_model.display());
    Ok(())
}
