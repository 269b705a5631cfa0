//! `serve-load`: load generator for `open_provence_eval serve`.
//!
//! - `prepare --out DIR`: an xsmall-shaped random model (benches/gpu's `xsmall`: 10 layers,
//!   H 384, I 576, 6 heads) with the demo tokenizer in `DIR/model`, and `DIR/pairs.jsonl`, one
//!   `{"question", "context"}` line per (query, passage) pair of the demo's English test split;
//! - `load --url URL --pairs FILE --clients C --requests N`: N `POST /prune` requests (one pair
//!   each, cycling over the file) from C concurrent clients; one JSON line with throughput and
//!   p50/p99 latency;
//! - `bench --eval BIN --work DIR`: the whole comparison: `serve` with and without dynamic
//!   batching at 1, 8 and 64 clients, and `process --input` on the same pairs; a Markdown table.
//!
//! Every request goes to 127.0.0.1 only; every loop is bounded by the request count.

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "serve-load", about = "Load generator for open_provence_eval serve")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Write the xsmall random model and the pairs file.
    Prepare {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// One load run against a running server.
    Load {
        /// Server URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        /// JSONL pairs (from `prepare`).
        #[arg(long)]
        pairs: PathBuf,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Requests in all.
        #[arg(long, default_value_t = 128)]
        requests: usize,
    },
    /// Servers with and without dynamic batching at several client counts, and the CLI.
    Bench {
        /// The `open_provence_eval` binary (a release build).
        #[arg(long)]
        eval: PathBuf,
        /// Work directory (model and pairs are prepared there when missing).
        #[arg(long)]
        work: PathBuf,
        /// Requests per run.
        #[arg(long, default_value_t = 128)]
        requests: usize,
        /// Client counts.
        #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
        clients: Vec<usize>,
        /// CPU threads of the server and the CLI.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Commands::Prepare { out } => prepare(&out),
        Commands::Load {
            url,
            pairs,
            clients,
            requests,
        } => read_pairs(&pairs).and_then(|lines| {
            let result = load(&url, &lines, clients, requests)?;
            println!("{}", result.to_json("server", "-"));
            Ok(())
        }),
        Commands::Bench {
            eval,
            work,
            requests,
            clients,
            threads,
        } => bench(&Bench {
            eval,
            work,
            requests,
            clients,
            threads,
        }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::from(2)
        }
    }
}

type Result<T> = std::result::Result<T, String>;

fn err(context: &str) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |e| format!("{context}: {e}")
}

fn prepare(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| err("creating the output directory")(&e))?;
    save_xsmall(&out.join("model"))?;
    let lines = demo_pairs()?;
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(out.join("pairs.jsonl"), text).map_err(|e| err("writing pairs.jsonl")(&e))?;
    eprintln!("wrote {} and {} pairs", out.join("model").display(), lines.len());
    Ok(())
}

/// benches/gpu's `xsmall` shape (10 layers, H 384, I 576, 6 heads, ModernBERT's vocabulary)
/// with random weights (seed 0) and the demo tokenizer.
fn save_xsmall(dir: &Path) -> Result<()> {
    use burn::prelude::Backend;
    use provence_model::{ModernBertConfig, OpenProvenceConfig, OpenProvenceModel};
    type Cpu = burn::backend::Flex;
    let backbone = ModernBertConfig::from_json(json!({
        "vocab_size": 50368, "hidden_size": 384, "intermediate_size": 576, "num_hidden_layers": 10,
        "num_attention_heads": 6, "local_attention": 128, "global_attn_every_n_layers": 3,
        "global_rope_theta": 160000.0, "local_rope_theta": 10000.0, "classifier_pooling": "mean",
        "num_labels": 1, "pad_token_id": 3, "cls_token_id": 1, "sep_token_id": 2,
    }))
    .map_err(|e| err("xsmall config")(&e))?;
    let device = Default::default();
    Cpu::seed(&device, 0);
    let model = OpenProvenceModel::<Cpu>::from_scratch(OpenProvenceConfig::new(backbone, 0.0), &device)
        .map_err(|e| err("xsmall model")(&e))?;
    model
        .save_final_model(dir, "serve-load/xsmall")
        .map_err(|e| err("saving the model")(&e))?;
    provence_test_support::model::copy_tokenizer(&provence_test_support::demo("model"), dir);
    Ok(())
}

/// One `{"question", "context"}` per (query, passage) of the demo's English test split.
fn demo_pairs() -> Result<Vec<Value>> {
    use provence_datasets::{BadRowPolicy, SourceResolver};
    let resolver = SourceResolver::local_only();
    let dataset = resolver
        .resolve(&provence_test_support::demo("dataset").to_string_lossy(), Some("en"))
        .map_err(|e| err("demo dataset")(&e))?;
    let rows = resolver
        .load_split(&dataset, "test", "teacher_score", BadRowPolicy::Fail)
        .map_err(|e| err("demo rows")(&e))?
        .rows;
    Ok(rows
        .iter()
        .flat_map(|r| r.texts.iter().map(|t| json!({"question": r.query, "context": t})))
        .collect())
}

fn read_pairs(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| err(&path.display().to_string())(&e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| err("pairs line")(&e)))
        .collect()
}

/// One run's numbers.
struct LoadResult {
    clients: usize,
    requests: usize,
    seconds: f64,
    latencies: Vec<f64>,
}

impl LoadResult {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).copied().unwrap_or(f64::NAN)
    }

    fn to_json(&self, what: &str, batching: &str) -> Value {
        json!({
            "what": what, "batching": batching, "clients": self.clients, "requests": self.requests,
            "seconds": self.seconds, "pairs_per_s": self.requests as f64 / self.seconds,
            "p50_ms": self.percentile(0.5) * 1000.0, "p99_ms": self.percentile(0.99) * 1000.0,
        })
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

/// One `POST /prune`; its latency in seconds, or why it failed.
fn prune_once(agent: &ureq::Agent, url: &str, body: &str) -> Result<f64> {
    let start = Instant::now();
    let mut response = agent
        .post(&format!("{url}/prune"))
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| err("request")(&e))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(|e| err("response")(&e))?;
    let seconds = start.elapsed().as_secs_f64();
    let value: Value = serde_json::from_str(&text).map_err(|e| err("response JSON")(&e))?;
    if status != 200 || !value["pruned_context"].is_string() {
        return Err(format!("status {status}: {text}"));
    }
    Ok(seconds)
}

/// `requests` requests from `clients` threads; client i sends requests i, i + clients, ...
fn load(url: &str, lines: &[Value], clients: usize, requests: usize) -> Result<LoadResult> {
    if lines.is_empty() {
        return Err("no pairs".into());
    }
    let bodies: Vec<String> = lines.iter().map(Value::to_string).collect();
    prune_once(&agent(), url, &bodies[0])?; // warm-up
    let clients = clients.max(1);
    let start = Instant::now();
    let per_client: Vec<Result<Vec<f64>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let bodies = &bodies;
                scope.spawn(move || {
                    let agent = agent();
                    (c..requests)
                        .step_by(clients)
                        .map(|i| prune_once(&agent, url, &bodies[i % bodies.len()]))
                        .collect::<Result<Vec<f64>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("client thread panicked".into())))
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(requests);
    for client in per_client {
        latencies.extend(client?);
    }
    Ok(LoadResult {
        clients,
        requests,
        seconds,
        latencies,
    })
}

struct Bench {
    eval: PathBuf,
    work: PathBuf,
    requests: usize,
    clients: Vec<usize>,
    threads: usize,
}

/// A free loopback port (bound and released).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| err("port")(&e))?;
    Ok(listener.local_addr().map_err(|e| err("port")(&e))?.port())
}

/// Starts `serve` and waits until `/health` answers.
fn start_server(bench: &Bench, extra: &[&str]) -> Result<(Child, String)> {
    let port = free_port()?.to_string();
    let model = bench.work.join("model");
    let model = model.to_str().ok_or("non-UTF-8 work directory")?;
    let threads = bench.threads.to_string();
    let mut args = vec!["--threads", &threads, "serve", "--model", model, "--port", &port];
    args.extend_from_slice(extra);
    let child = Command::new(&bench.eval)
        .args(&args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| err("starting serve")(&e))?;
    let url = format!("http://127.0.0.1:{port}");
    let agent = agent();
    for _ in 0..600 {
        if let Ok(r) = agent.get(&format!("{url}/health")).call()
            && r.status() == 200
        {
            return Ok((child, url));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err("the server did not come up within 120 s".into())
}

/// `(provence_batch_requests_sum, provence_batch_requests_count)` of the server's metrics.
fn batch_counts(url: &str) -> (f64, f64) {
    let text = agent()
        .get(&format!("{url}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let sample = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok()))
            .unwrap_or(0.0)
    };
    (
        sample("provence_batch_requests_sum"),
        sample("provence_batch_requests_count"),
    )
}

/// SIGTERM, then the exit status must be 0.
fn stop_server(mut child: Child) -> Result<()> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .map_err(|e| err("kill")(&e))?;
    let status = child.wait().map_err(|e| err("waiting for serve")(&e))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("serve exited with {status}"))
    }
}

/// Seconds of `process --input` over the first `n` pairs (model load included).
fn time_cli(bench: &Bench, lines: &[Value], n: usize) -> Result<f64> {
    let input = bench.work.join(format!("pairs-{n}.jsonl"));
    let text: String = (0..n).map(|i| format!("{}\n", lines[i % lines.len()])).collect();
    std::fs::write(&input, text).map_err(|e| err("writing pairs")(&e))?;
    let start = Instant::now();
    let status = Command::new(&bench.eval)
        .args(["--threads", &bench.threads.to_string(), "process", "--model"])
        .arg(bench.work.join("model"))
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(bench.work.join("cli-out.jsonl"))
        .env("RUST_LOG", "warn")
        .status()
        .map_err(|e| err("process")(&e))?;
    if !status.success() {
        return Err(format!("process exited with {status}"));
    }
    Ok(start.elapsed().as_secs_f64())
}

fn bench(bench: &Bench) -> Result<()> {
    if !bench.work.join("pairs.jsonl").is_file() {
        prepare(&bench.work)?;
    }
    let lines = read_pairs(&bench.work.join("pairs.jsonl"))?;
    let mut rows = Vec::new();
    let modes: [(&str, &[&str]); 2] = [
        ("on", &[]),
        ("off", &["--max-batch-requests", "1", "--batch-wait-ms", "0"]),
    ];
    for (batching, extra) in modes {
        let (child, url) = start_server(bench, extra)?;
        for &clients in &bench.clients {
            let before = batch_counts(&url);
            let result = load(&url, &lines, clients, bench.requests);
            let mut row = match result {
                Ok(r) => r.to_json("serve", batching),
                Err(e) => {
                    let _ = stop_server(child);
                    return Err(e);
                }
            };
            let after = batch_counts(&url);
            row["requests_per_call"] = json!((after.0 - before.0) / (after.1 - before.1).max(1.0));
            eprintln!("{row}");
            rows.push(row);
        }
        stop_server(child)?;
    }
    let full = time_cli(bench, &lines, bench.requests)?;
    let startup = time_cli(bench, &lines, 1)?;
    let seconds = (full - startup).max(1e-9);
    let cli = json!({
        "what": "cli process --input", "batching": "64 lines per call", "clients": 1,
        "requests": bench.requests - 1, "seconds": seconds,
        "pairs_per_s": (bench.requests - 1) as f64 / seconds,
    });
    eprintln!("{cli}");
    rows.push(cli);
    print_table(&rows);
    Ok(())
}

fn print_table(rows: &[Value]) {
    println!("| what | dynamic batching | clients | requests | pairs/s | p50 ms | p99 ms | requests per model call |");
    println!("|---|---|---|---|---|---|---|---|");
    let number = |v: &Value, digits: usize| v.as_f64().map_or("–".to_string(), |x| format!("{x:.digits$}"));
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            row["what"].as_str().unwrap_or(""),
            row["batching"].as_str().unwrap_or(""),
            row["clients"],
            row["requests"],
            number(&row["pairs_per_s"], 2),
            number(&row["p50_ms"], 0),
            number(&row["p99_ms"], 0),
            number(&row["requests_per_call"], 1),
        );
    }
}
