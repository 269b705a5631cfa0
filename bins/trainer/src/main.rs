//! `open_provence_trainer CONFIG [--<field> <value> ...]`: train an OpenProvence reranker–pruner
//! from a YAML recipe. A thin shell over `provence-config` and `provence-trainer`.

use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches, parser::ValueSource};
use provence_trainer::{DeviceChoice, Precision};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of the trainer itself; every recipe field is added as `--<field>` at run time.
/// `--precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PrecisionArg {
    Auto,
    F32,
    Bf16,
}

/// `--dist-engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EngineArg {
    Auto,
    Native,
    BurnCollective,
}

#[derive(Debug, Args)]
struct Cli {
    /// Recipe file (.yaml / .yml), e.g. configs/demo.yaml.
    config: PathBuf,
    /// Load and validate the recipe, apply overrides, print the effective configuration (with
    /// where each value came from) and the run directory, then exit without touching disk or network.
    #[arg(long)]
    dry_run: bool,
    /// Resume from a checkpoint-N directory, or a run directory (its newest checkpoint).
    /// Wins over --resume_from_checkpoint and the recipe's resume keys.
    #[arg(long, visible_alias = "resume-checkpoint", value_name = "PATH")]
    checkpoint: Option<String>,
    /// Where to train: cpu, cuda[:N] or wgpu[:N] (default: the build's best; cpu without the
    /// cuda and wgpu features).
    #[arg(long, default_value_t = DeviceChoice::best(), value_name = "DEVICE")]
    device: DeviceChoice,
    /// Float precision: `auto` follows the recipe's bf16 on a GPU and trains in f32 on the CPU;
    /// `bf16` forces mixed precision (emulated, and slower, on the CPU; refused on devices without
    /// bf16, such as wgpu adapters); `f32` forces f32.
    #[arg(long, value_enum, default_value_t = PrecisionArg::Auto)]
    precision: PrecisionArg,
    /// CPU worker threads (default: one per core, or RAYON_NUM_THREADS).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Data-parallel training on these devices of --device's backend, e.g. `0,1,2,3` (CUDA
    /// ordinals, wgpu adapters; on the CPU each entry is one more worker). Effective batch =
    /// per-device × accumulation × workers.
    #[arg(long, value_delimiter = ',', value_name = "LIST", help_heading = "Data parallel")]
    devices: Option<Vec<usize>>,
    /// Machines in a multi-machine run (torchrun's --nnodes); each runs this command with its
    /// own --node-rank.
    #[arg(long, default_value_t = 1, value_name = "N", help_heading = "Data parallel")]
    nnodes: usize,
    /// This machine's index, 0..nnodes; node 0 hosts the orchestrator, logs and saves.
    #[arg(long, default_value_t = 0, value_name = "R", help_heading = "Data parallel")]
    node_rank: usize,
    /// HOST:PORT of node 0 (the orchestrator listens on PORT, node R on PORT+1+R).
    #[arg(long, value_name = "HOST:PORT", help_heading = "Data parallel")]
    master_addr: Option<String>,
    /// Seconds a worker waits for the others (joining, each step) before the group stops.
    #[arg(long, default_value_t = 1800, value_name = "SECS", help_heading = "Data parallel")]
    dist_timeout: u64,
    /// What sums the gradients: `native` is the backend's own device-to-device all-reduce (NCCL
    /// on CUDA builds; one machine), `burn-collective` works everywhere, `auto` picks native
    /// when the build has it and the run spans one machine.
    #[arg(long, value_enum, default_value_t = EngineArg::Auto, help_heading = "Data parallel")]
    dist_engine: EngineArg,
    /// Only run the recipe's eval_datasets evaluation on this model directory, then exit.
    #[arg(long, visible_alias = "only-eval-datasets-model", value_name = "PATH")]
    eval_datasets_model: Option<PathBuf>,
}

fn command() -> Command {
    let mut command = Cli::augment_args(
        Command::new("open_provence_trainer")
            .version(env!("CARGO_PKG_VERSION"))
            .about("Train OpenProvence reranker–pruner models from YAML recipes")
            .after_help(
                "Recipe fields can be overridden as --<field> <value> (e.g. --learning_rate 1e-4, \
                 --bf16 false, --max_steps 50); only flags given explicitly override the recipe.",
            ),
    );
    for field in provence_config::cli_fields() {
        let mut arg = Arg::new(field.name)
            .long(field.name)
            .value_name("VALUE")
            .help(format!("{} [{}]", field.doc, field.expected))
            .help_heading(field.section)
            .allow_negative_numbers(true)
            .action(ArgAction::Set);
        if field.is_bool {
            arg = arg.num_args(0..=1).default_missing_value("true");
        }
        command = command.arg(arg);
    }
    command
}

/// The explicitly given recipe overrides, in command-line order.
fn explicit_overrides(matches: &ArgMatches) -> Vec<(String, Option<String>)> {
    let mut given: Vec<(usize, String, Option<String>)> = provence_config::cli_fields()
        .filter(|f| matches.value_source(f.name) == Some(ValueSource::CommandLine))
        .map(|f| {
            let index = matches.index_of(f.name).unwrap_or(usize::MAX);
            (index, f.name.to_string(), matches.get_one::<String>(f.name).cloned())
        })
        .collect();
    given.sort_by_key(|(index, _, _)| *index);
    given.into_iter().map(|(_, name, value)| (name, value)).collect()
}

fn run() -> Result<()> {
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    let overrides = explicit_overrides(&matches);

    println!("Loading configuration from: {}", cli.config.display());
    let timestamp = provence_config::timestamp_now();
    let setup = provence_config::prepare_run(&cli.config, &overrides, cli.checkpoint.as_deref(), &timestamp)?;
    if setup.overrides.is_empty() {
        println!("Using configuration file settings.");
    } else {
        println!("Command line overrides:");
        for line in &setup.overrides {
            println!("{line}");
        }
    }
    if let Some((request, resolved)) = &setup.resume {
        let step = resolved.steps.map(|s| format!("step {s}")).unwrap_or_default();
        println!(
            "[checkpoint] resume requested: {request} → {}  ({step})",
            resolved.checkpoint_dir.display()
        );
        println!("[checkpoint] output_dir set to: {}", resolved.run_dir.display());
    }

    if cli.dry_run {
        println!("Effective configuration:");
        print!("{}", setup.config.describe());
        println!("Run directory: {}", setup.naming.output_dir.display());
        println!("Run name: {}", setup.naming.run_name);
        return Ok(());
    }
    let threads = provence_trainer::init_cpu_threads(cli.threads);
    tracing::info!("CPU threads: {threads}");
    let rule = "=".repeat(80);
    let print_results = |markdown: &str| println!("\n{rule}\nEval Datasets Results\n{rule}\n{markdown}\n{rule}\n");
    if let Some(model) = &cli.eval_datasets_model {
        match &setup.config.training_args.eval_datasets {
            None => println!("No eval_datasets configuration found; nothing to evaluate."),
            Some(eval) => {
                if let Some(markdown) =
                    provence_trainer::run_eval_datasets_on(cli.device, model, eval, setup.config.model_args.attention)?
                {
                    print_results(&markdown);
                }
            }
        }
        return Ok(());
    }
    let precision = precision(&cli, &setup.config.training_args);
    let outcome = provence_trainer::train_on(cli.device, cli.devices.as_deref(), &setup, &cli.group(), precision)?;
    let Some(outcome) = outcome else {
        println!(
            "Worker finished (node {} of {}); node 0 wrote the model.",
            cli.node_rank, cli.nnodes
        );
        return Ok(());
    };
    if let Some(markdown) = &outcome.eval_markdown {
        print_results(markdown);
    }
    println!(
        "\n{rule}\n🎉 Training completed successfully!\n📁 Model saved to: {}\n{rule}\n",
        outcome.final_model.display()
    );
    println!("Training completed successfully!");
    println!("Model saved to: {}", outcome.final_model.display());
    Ok(())
}

/// The run's float precision: `--precision`, or for `auto` the recipe's on this build.
fn precision(cli: &Cli, t: &provence_config::TrainingArgs) -> Precision {
    if t.fp16 {
        tracing::warn!("fp16 is not supported (no loss scaling): training in f32; use bf16 for mixed precision");
    }
    if t.bf16 && cli.precision == PrecisionArg::Auto && !cli.device.is_gpu() {
        tracing::warn!("bf16 requested but the device is the CPU: training in f32");
    }
    match cli.precision {
        PrecisionArg::Auto => Precision::for_recipe(t.bf16, cli.device),
        PrecisionArg::F32 => Precision::F32,
        PrecisionArg::Bf16 => Precision::Bf16,
    }
}

impl Cli {
    /// The data-parallel layout of `--nnodes`, `--node-rank`, `--master-addr`, `--dist-timeout`,
    /// `--dist-engine`.
    fn group(&self) -> provence_trainer::GroupSpec {
        provence_trainer::GroupSpec {
            nnodes: self.nnodes,
            node_rank: self.node_rank,
            master_addr: self.master_addr.clone(),
            timeout: std::time::Duration::from_secs(self.dist_timeout),
            engine: match self.dist_engine {
                EngineArg::Auto => provence_trainer::Engine::Auto,
                EngineArg::Native => provence_trainer::Engine::Native,
                EngineArg::BurnCollective => provence_trainer::Engine::BurnCollective,
            },
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "error: {}",
                provence_config::error_line(error.chain().map(ToString::to_string))
            );
            ExitCode::from(2)
        }
    }
}
