//! `open_provence_data`: build context-relevance training datasets stage by stage, as upstream
//! OpenProvence's `scripts/context-relevance-datasets/` do. A thin shell over `provence-data`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use provence_config::error_line;
use provence_data::{ConvertOptions, DEFAULT_MAX_TEXT_CHARS, FilterOptions, OutputOptions, dataset_slug};
use provence_datasets::{OutputLayout, SourceResolver};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "open_provence_data",
    version,
    about = "Build context-relevance training datasets for OpenProvence models"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Sentence-transformers triplets / hard negatives → id, query, texts, context_spans, labels
    /// (upstream's generate_ds_from_sentense_transformer.py).
    Convert(ConvertArgs),
    /// Drop train rows whose passages appeared in too many earlier rows (MD5 duplicate counts),
    /// one dataset per --threshold (upstream's frequency_filter_ds.py).
    FilterFrequency(FilterArgs),
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A `datasets.save_to_disk` directory (Arrow files; `datasets.load_from_disk` reads it).
    Disk,
    /// The Hub parquet layout, `data/<split>-NNNNN-of-NNNNN.parquet`.
    Parquet,
}

/// Where a stage writes.
#[derive(Debug, clap::Args)]
struct OutputArgs {
    /// Output layout.
    #[arg(long, value_enum, default_value_t = Format::Disk)]
    format: Format,
    /// Replace an existing output directory.
    #[arg(long)]
    overwrite: bool,
}

impl OutputArgs {
    fn options(&self, path: PathBuf) -> OutputOptions {
        OutputOptions {
            path,
            layout: match self.format {
                Format::Disk => OutputLayout::SaveToDisk,
                Format::Parquet => OutputLayout::HubParquet,
            },
            overwrite: self.overwrite,
            command: command_line(),
        }
    }
}

#[derive(Debug, clap::Args)]
struct ConvertArgs {
    /// Hub dataset id, or a local directory (Hub parquet layout or save_to_disk).
    #[arg(long)]
    dataset: String,
    /// Hub subset (config name); also part of the ids and of the default output name.
    #[arg(long)]
    subset: Option<String>,
    /// Sentence splitter: `ja`, an NLTK Punkt language (`en`, `de`, `french`, ...), or anything
    /// else for upstream's generic regex splitter.
    #[arg(long, default_value = "en")]
    lang: String,
    /// NLTK `punkt_tab/<language>/` directory (Punkt languages other than English; default:
    /// NLTK's data path).
    #[arg(long, value_name = "DIR")]
    punkt_dir: Option<PathBuf>,
    /// Keep a random sample of N rows of every split.
    #[arg(long, value_name = "N")]
    sample_size: Option<usize>,
    /// Seed of the shuffles (sampling, validation/test carve-out).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Longest text accepted, in characters; a longer query or passage is an error.
    #[arg(long, default_value_t = DEFAULT_MAX_TEXT_CHARS, value_name = "N")]
    max_text_chars: usize,
    /// The output is OUTPUT_ROOT/<dataset slug> unless --output is given.
    #[arg(long, default_value = "output/context-relevance-datasets/base")]
    output_root: PathBuf,
    /// Output directory.
    #[arg(long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

fn convert(args: ConvertArgs) -> Result<()> {
    let path = args.output.clone().unwrap_or_else(|| {
        args.output_root
            .join(dataset_slug(&args.dataset, args.subset.as_deref()))
    });
    let options = ConvertOptions {
        dataset: args.dataset,
        subset: args.subset,
        lang: args.lang,
        punkt_dir: args.punkt_dir,
        sample_size: args.sample_size,
        seed: args.seed,
        max_text_chars: args.max_text_chars,
        output: args.out.options(path),
    };
    let report = provence_data::convert(&SourceResolver::from_env()?, &options)?;
    let counts: Vec<String> = report.splits.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("{}: {}", report.output.display(), counts.join(", "));
    Ok(())
}

#[derive(Debug, clap::Args)]
struct FilterArgs {
    /// Hub dataset id, or a local directory (Hub parquet layout or save_to_disk).
    #[arg(long)]
    dataset: String,
    /// Hub subset (config name).
    #[arg(long)]
    subset: Option<String>,
    /// Splits named in the summary (repeatable); train is always the split filtered, the
    /// others are copied unchanged.
    #[arg(long = "split", value_name = "SPLIT")]
    splits: Vec<String>,
    /// Passages a row may share with earlier kept rows (repeatable; default 1, 2 and 3). Several
    /// thresholds write OUTPUT_DIR/freq<N>/ each.
    #[arg(long = "threshold", value_name = "N")]
    thresholds: Vec<u32>,
    /// Output directory.
    #[arg(long)]
    output_dir: PathBuf,
    /// Process (and keep) only the first N train rows.
    #[arg(long, value_name = "N")]
    debug_limit: Option<usize>,
    /// Column of row ids (written to drop_ids.txt).
    #[arg(long, default_value = "id")]
    id_column: String,
    /// Column of passages.
    #[arg(long, default_value = "texts")]
    texts_column: String,
    #[command(flatten)]
    out: OutputArgs,
}

fn filter_frequency(args: FilterArgs) -> Result<()> {
    let options = FilterOptions {
        dataset: args.dataset,
        subset: args.subset,
        splits: args.splits,
        thresholds: args.thresholds,
        debug_limit: args.debug_limit,
        id_column: args.id_column,
        texts_column: args.texts_column,
        output: args.out.options(args.output_dir),
    };
    let report = provence_data::filter_frequency(&SourceResolver::from_env()?, &options)?;
    for (stats, dir) in &report.thresholds {
        println!(
            "{}: threshold {}: kept {} of {} train rows",
            dir.display(),
            stats.threshold,
            stats.rows_kept,
            stats.rows_total
        );
    }
    Ok(())
}

/// This process's command line, quoted for a POSIX shell (for the dataset cards).
fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, arg)| {
            let arg = if i == 0 { "open_provence_data".to_owned() } else { arg };
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
            if plain {
                arg
            } else {
                format!("'{}'", arg.replace('\'', "'\"'\"'"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run() -> Result<()> {
    match Cli::parse().command {
        Commands::Convert(args) => convert(args),
        Commands::FilterFrequency(args) => filter_frequency(args),
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
            eprintln!("error: {}", error_line(error.chain().map(ToString::to_string)));
            ExitCode::from(2)
        }
    }
}
