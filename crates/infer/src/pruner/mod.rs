//! Upstream's `OpenProvenceModel.process()` (hotchpotch/open_provence's
//! `open_provence/modeling_open_provence_standalone.py`): prune contexts sentence by sentence with
//! a trained reranker–pruner and score each (query, context) pair.
//!
//! Pipeline: titles → sentences (split module) → per-sentence tokens → fragments of
//! `max(16, max_length / 2)` tokens → greedy blocks `[CLS] query [SEP] fragments [SEP]` (query
//! repeated per block) → batched forward → per-token keep probability `softmax(..)[1]` → mean
//! per fragment → mean of fragment means per sentence → keep iff `> threshold`.

mod aggregate;
mod batching;
mod error;
mod inputs;
mod offsets;
mod options;
mod output;
pub mod prepare;

pub use aggregate::BlockOutput;
pub use batching::{DEFAULT_MAX_BATCH_TOKENS, plan_batches};
pub use error::PruneError;
pub use inputs::{Document, InputShape, ProcessInput, Title};
pub use offsets::SentenceSpan;
pub use options::{ProcessOptions, Timing};
pub use output::{DocumentResult, ProcessOutput, ScoredBatch, ScoredDocument, reorder};

use crate::split::{LanguageSplitter, SentenceSplitter};
use aggregate::{PreparedDocument, PreparedRequest};
use burn::prelude::Backend;
use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Int, Tensor, TensorData};
use inputs::resolve_titles;
use offsets::SourceLength;
use prepare::{Block, Layout, TokenCodec, apply_first_line_title};
use provence_config::DEFAULT_THRESHOLD;
use provence_hub::{HubOptions, PretrainedTokenizer};
use provence_model::{Execution, ModelBackend, OpenProvenceModel};
use std::path::Path;
use std::time::Instant;

impl TokenCodec for PretrainedTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, PruneError> {
        self.tokenizer()
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| tokenize_error(text, e))
    }

    fn decode(&self, ids: &[u32]) -> Result<String, PruneError> {
        self.tokenizer()
            .decode(ids, true)
            .map_err(|e| tokenize_error(&format!("{ids:?}"), e))
    }
}

fn tokenize_error(text: &str, error: impl std::fmt::Display) -> PruneError {
    PruneError::Tokenize {
        text: text.chars().take(80).collect(),
        message: error.to_string(),
    }
}

/// A trained reranker–pruner with its tokenizer, ready for [`Pruner::process`].
pub struct Pruner<B: Backend> {
    model: OpenProvenceModel<B>,
    tokenizer: PretrainedTokenizer,
    layout: Layout,
    pad_id: u32,
    device: B::Device,
}

/// What one forward pass of [`Pruner::score_many`] held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardPass {
    /// Blocks (sequences) in the pass.
    pub blocks: usize,
    /// Blocks times the longest block.
    pub padded_tokens: usize,
    /// Tokens of the blocks themselves.
    pub real_tokens: usize,
}

impl ForwardPass {
    /// The pass over the blocks `batch` (indices into `lengths`, the blocks' token counts).
    fn of(batch: &[usize], lengths: &[usize]) -> Self {
        let longest = batch.iter().map(|&i| lengths[i]).max().unwrap_or(0);
        Self {
            blocks: batch.len(),
            padded_tokens: batch.len() * longest,
            real_tokens: batch.iter().map(|&i| lengths[i]).sum(),
        }
    }
}

/// The results of [`Pruner::score_many`]: one per request, in request order, and the forward
/// passes they shared.
#[derive(Debug)]
pub struct ScoredMany {
    /// Per request: its scores, or why it failed.
    pub results: Vec<Result<ScoredBatch, PruneError>>,
    /// The forward passes, in the order they ran.
    pub passes: Vec<ForwardPass>,
}

impl<B: ModelBackend> Pruner<B> {
    /// Loads the model and the tokenizer files of `dir` (an upstream or our `final_model/`, or
    /// a run directory holding one: [`provence_config::layout::model_dir`]).
    pub fn load(dir: &Path, device: B::Device) -> Result<Self, PruneError> {
        if !dir.is_dir() {
            return Err(PruneError::MissingModel { path: dir.to_owned() });
        }
        let dir = &provence_config::layout::model_dir(dir);
        let model = OpenProvenceModel::load(dir, &device).map_err(|source| PruneError::Model {
            path: dir.to_owned(),
            source,
        })?;
        let tokenizer = PretrainedTokenizer::from_pretrained(dir).map_err(|source| PruneError::Tokenizer {
            path: dir.to_owned(),
            source,
        })?;
        Self::new(model, tokenizer, device)
    }

    /// Loads a local model directory, or a Hub model id fetched into (or, with
    /// `HF_HUB_OFFLINE=1`, read from) the shared Hugging Face cache.
    pub fn from_pretrained(name_or_path: &str, device: B::Device) -> Result<Self, PruneError> {
        Self::from_pretrained_with(name_or_path, HubOptions::from_env(), device)
    }

    /// [`Self::from_pretrained`] with explicit Hub settings (endpoint, cache, offline mode).
    pub fn from_pretrained_with(
        name_or_path: &str,
        options: HubOptions,
        device: B::Device,
    ) -> Result<Self, PruneError> {
        let dir = provence_hub::resolve_model_dir(name_or_path, options)
            .map_err(|source| PruneError::Locate(Box::new(source)))?;
        Self::load(&dir, device)
    }

    /// Wraps a model and its tokenizer. The sequence layout is upstream's for this tokenizer
    /// (its pair builder, or `[CLS] q [SEP] c [SEP]` with CLS from cls→bos and SEP from
    /// sep→eos; see [`prepare::Layout`]); padding uses the pad token (0 if none).
    pub fn new(
        model: OpenProvenceModel<B>,
        tokenizer: PretrainedTokenizer,
        device: B::Device,
    ) -> Result<Self, PruneError> {
        let layout = Layout::for_tokenizer(&tokenizer)?;
        let pad_id = tokenizer.pad_token_id().unwrap_or(0);
        Ok(Self {
            model,
            tokenizer,
            layout,
            pad_id,
            device,
        })
    }

    /// The same pruner with its model running as `execution` says (packed or padded, f32 or
    /// bf16; see [`OpenProvenceModel::with_execution`]). Pruned texts are the same either way.
    pub fn with_execution(mut self, execution: Execution) -> Self {
        self.model = self.model.with_execution(execution);
        self
    }

    /// The model.
    pub fn model(&self) -> &OpenProvenceModel<B> {
        &self.model
    }

    /// The threshold rule of `process` and of dataset evaluation alike: `threshold` if given,
    /// else the model config's `default_threadshold`, else [`DEFAULT_THRESHOLD`] (0.1); an error
    /// if the one chosen is not in [0, 1] ([`provence_config::check_threshold`]).
    pub fn resolve_threshold(&self, threshold: Option<f64>) -> Result<f64, PruneError> {
        let (value, origin) = match (threshold, self.model.config.default_threshold) {
            (Some(t), _) => (t, "threshold"),
            (None, Some(t)) => (t, "the model config's default_threadshold"),
            (None, None) => (DEFAULT_THRESHOLD, "threshold"),
        };
        provence_config::check_threshold(value).map_err(|message| PruneError::Threshold { origin, message })
    }

    /// Prunes every document of `input`, as upstream's `OpenProvenceModel.process()` does.
    pub fn process(&self, input: ProcessInput, options: &ProcessOptions) -> Result<ProcessOutput, PruneError> {
        let threshold = self.resolve_threshold(options.threshold)?;
        let scored = self.score(input, options)?;
        let start = Instant::now();
        let mut out = scored.finish(threshold, options);
        out.timing.postprocess_seconds += start.elapsed().as_secs_f64();
        out.timing.total_seconds += start.elapsed().as_secs_f64();
        Ok(out)
    }

    /// Runs the model on every document and aggregates sentence probabilities, without applying
    /// a threshold (see [`ScoredBatch::finish`]).
    pub fn score(&self, input: ProcessInput, options: &ProcessOptions) -> Result<ScoredBatch, PruneError> {
        let total = Instant::now();
        let mut timing = Timing::default();
        let start = Instant::now();
        let prepared = self.prepare_request(input, options)?;
        timing.preprocess_seconds = start.elapsed().as_secs_f64();

        let all_blocks: Vec<&Block> = prepared.blocks().collect();
        let budget = (options.batch_size, options.max_batch_tokens);
        let (outputs, _) = self.forward_all(&all_blocks, budget, options, &mut timing);
        if options.is_cancelled() {
            return Err(PruneError::Cancelled);
        }
        let start = Instant::now();
        let shape = prepared.shape;
        let documents = prepared.aggregate(&mut outputs.into_iter(), options);
        timing.postprocess_seconds = start.elapsed().as_secs_f64();
        timing.total_seconds = total.elapsed().as_secs_f64();
        Ok(ScoredBatch {
            shape,
            documents,
            timing,
        })
    }

    /// Scores independent requests together (a server's dynamic batch): each request is prepared
    /// with its own options, the blocks of all of them share length-sorted forward passes of at
    /// most `max_blocks` blocks and `max_tokens` padded tokens ([`plan_batches`]), and each
    /// request gets exactly its own [`ScoredBatch`], equal to what [`Pruner::score`] gives it
    /// alone, or its own error, which leaves the others untouched. Each result's `timing` holds
    /// its own preprocessing and aggregation and the shared forward time in proportion to its
    /// blocks.
    pub fn score_many(
        &self,
        requests: Vec<(ProcessInput, &ProcessOptions)>,
        max_blocks: usize,
        max_tokens: usize,
    ) -> ScoredMany {
        let mut prepared: Vec<Result<(PreparedRequest, f64), PruneError>> = Vec::with_capacity(requests.len());
        let mut all_options = Vec::with_capacity(requests.len());
        for (input, options) in requests {
            let start = Instant::now();
            let request = self.prepare_request(input, options);
            prepared.push(request.map(|r| (r, start.elapsed().as_secs_f64())));
            all_options.push(options);
        }
        let all_blocks: Vec<&Block> = prepared.iter().flatten().flat_map(|(r, _)| r.blocks()).collect();
        let total_blocks = all_blocks.len().max(1) as f64;
        let mut shared = Timing::default();
        let unattended = ProcessOptions::default();
        let (outputs, passes) = self.forward_all(&all_blocks, (max_blocks, max_tokens), &unattended, &mut shared);
        let mut outputs = outputs.into_iter();
        let results = prepared
            .into_iter()
            .zip(all_options)
            .map(|(request, options)| {
                let (request, preprocess_seconds) = request?;
                let share = request.blocks().count() as f64 / total_blocks;
                let start = Instant::now();
                let shape = request.shape;
                let documents = request.aggregate(&mut outputs, options);
                let mut timing = shared.scaled(share);
                timing.preprocess_seconds = preprocess_seconds;
                timing.postprocess_seconds = start.elapsed().as_secs_f64();
                timing.total_seconds = preprocess_seconds
                    + timing.assembly_seconds
                    + timing.inference_seconds
                    + timing.postprocess_seconds;
                Ok(ScoredBatch {
                    shape,
                    documents,
                    timing,
                })
            })
            .collect();
        ScoredMany { results, passes }
    }

    /// Titles, sentences, fragments and blocks of every document of one request.
    fn prepare_request(&self, input: ProcessInput, options: &ProcessOptions) -> Result<PreparedRequest, PruneError> {
        let (shape, questions, documents) = input.into_parts()?;
        let titles = resolve_titles(&options.title, &documents, options.first_line_as_title)?;
        let default_splitter = LanguageSplitter::new(options.language);
        let splitter: &dyn SentenceSplitter = match &options.sentence_splitter {
            Some(s) => s.as_ref(),
            None => &default_splitter,
        };
        let max_length = self.model.config.max_length();
        let fragment_size = prepare::fragment_size(max_length, options.respect_sentence_boundaries);
        let mut prepared: Vec<Vec<PreparedDocument>> = Vec::with_capacity(questions.len());
        for (qi, (question, docs)) in questions.iter().zip(documents).enumerate() {
            let query_tokens =
                prepare::bound_query(self.tokenizer.encode(question)?, max_length, options.legacy_full_query);
            let mut per_query = Vec::with_capacity(docs.len());
            for (di, document) in docs.into_iter().enumerate() {
                let source = options.return_offsets.then(|| SourceLength::of(&document));
                let (document, title) =
                    apply_first_line_title(document, titles[qi][di].clone(), options.first_line_as_title);
                let prefix = title
                    .as_deref()
                    .map(|t| prepare::title_sentences(t, options.strip_sentences))
                    .unwrap_or_default();
                let plan = prepare::plan_sentences(&document, prefix, splitter, options.strip_sentences);
                let content_spans = source.map(|s| s.locate(&document, &plan)).transpose()?;
                let fragmented = prepare::fragmentize(&self.tokenizer, &plan, fragment_size, options.strip_sentences)?;
                let blocks = prepare::build_blocks(&query_tokens, &fragmented.fragments, max_length, &self.layout);
                let title_index =
                    if plan.n_prefix > 0 || (options.title == Title::FirstSentence && !plan.sentences.is_empty()) {
                        Some(0)
                    } else {
                        None
                    };
                per_query.push(PreparedDocument {
                    plan,
                    fragmented,
                    blocks,
                    title_index,
                    content_spans,
                });
            }
            prepared.push(per_query);
        }
        Ok(PreparedRequest {
            shape,
            documents: prepared,
        })
    }

    /// Model outputs of every block, in input order, from forward batches planned by
    /// [`plan_batches`] within `(max_blocks, max_tokens)`, and what each pass held; `options`
    /// gives the progress bar and the cancellation flag. Once `options` is cancelled the
    /// remaining batches are skipped and their blocks have no output: callers check
    /// [`ProcessOptions::is_cancelled`] before using the outputs.
    fn forward_all(
        &self,
        blocks: &[&Block],
        (max_blocks, max_tokens): (usize, usize),
        options: &ProcessOptions,
        timing: &mut Timing,
    ) -> (Vec<BlockOutput>, Vec<ForwardPass>) {
        let lengths: Vec<usize> = blocks.iter().map(|b| b.input_ids.len()).collect();
        let batches = plan_batches(&lengths, max_blocks, max_tokens);
        let passes = batches.iter().map(|batch| ForwardPass::of(batch, &lengths)).collect();
        let bar = progress_bar(options.progress, batches.len(), blocks.len());
        let per_batch = self.run_batches(blocks, &batches, (&bar, options), timing);
        bar.finish_and_clear();
        let mut outputs: Vec<Option<BlockOutput>> = vec![None; blocks.len()];
        for (batch, batch_outputs) in batches.into_iter().zip(per_batch) {
            for (i, output) in batch.into_iter().zip(batch_outputs) {
                outputs[i] = Some(output);
            }
        }
        (outputs.into_iter().flatten().collect(), passes)
    }

    /// The forward passes over `batches` of `blocks`, at the same time on the worker threads
    /// where the backend gains from it ([`ModelBackend::CONCURRENT_PASSES`]; each pass's results
    /// are the same either way); a pass that would start after `options` was cancelled is
    /// skipped (no outputs). `timing` gets the passes' wall time, split between assembly and
    /// inference in proportion to the passes' own times.
    fn run_batches(
        &self,
        blocks: &[&Block],
        batches: &[Vec<usize>],
        (bar, options): (&indicatif::ProgressBar, &ProcessOptions),
        timing: &mut Timing,
    ) -> Vec<Vec<BlockOutput>> {
        let start = Instant::now();
        let run = |batch: &Vec<usize>| {
            if options.is_cancelled() {
                return None;
            }
            let members: Vec<&Block> = batch.iter().map(|&i| blocks[i]).collect();
            let mut own = Timing::default();
            let outputs = self.forward_blocks(&members, &mut own);
            bar.inc(1);
            Some((outputs, own))
        };
        let results: Vec<Option<(Vec<BlockOutput>, Timing)>> = if B::CONCURRENT_PASSES && batches.len() > 1 {
            use rayon::prelude::*;
            batches.par_iter().map(run).collect()
        } else {
            batches.iter().map(run).collect()
        };
        let (assembly, inference) = results.iter().flatten().fold((0.0, 0.0), |(a, i), (_, t)| {
            (a + t.assembly_seconds, i + t.inference_seconds)
        });
        let wall = start.elapsed().as_secs_f64();
        let scale = if assembly + inference > 0.0 {
            wall / (assembly + inference)
        } else {
            0.0
        };
        timing.assembly_seconds += assembly * scale;
        timing.inference_seconds += inference * scale;
        results
            .into_iter()
            .map(|r| r.map(|(outputs, _)| outputs).unwrap_or_default())
            .collect()
    }

    /// One padded forward pass over `blocks`: sigmoid ranking score and per-token keep
    /// probabilities (unpadded) per block.
    fn forward_blocks(&self, blocks: &[&Block], timing: &mut Timing) -> Vec<BlockOutput> {
        let start = Instant::now();
        let rows = blocks.len();
        let width = blocks.iter().map(|b| b.input_ids.len()).max().unwrap_or(0);
        let mut ids = vec![self.pad_id as i64; rows * width];
        let mut mask = vec![0i64; rows * width];
        let mut types = vec![0i64; rows * width];
        for (r, block) in blocks.iter().enumerate() {
            for (c, &id) in block.input_ids.iter().enumerate() {
                ids[r * width + c] = i64::from(id);
                mask[r * width + c] = 1;
            }
            for (c, &t) in block.token_type_ids.iter().enumerate() {
                types[r * width + c] = i64::from(t);
            }
        }
        let tensor =
            |values: Vec<i64>| Tensor::<B, 2, Int>::from_data(TensorData::new(values, [rows, width]), &self.device);
        let (input_ids, attention_mask) = (tensor(ids), tensor(mask));
        let token_types = self
            .model
            .config
            .base_model_config
            .reads_token_types()
            .then(|| tensor(types));
        timing.assembly_seconds += start.elapsed().as_secs_f64();

        let start = Instant::now();
        let out = self
            .model
            .forward_with_token_types(input_ids, attention_mask, token_types);
        let logits = out.ranking_logits.narrow(1, 0, 1);
        let ranking = sigmoid(logits.clone()).reshape([rows]);
        let keep = softmax(out.pruning_logits, 2).narrow(2, 1, 1).reshape([rows, width]);
        let ranking: Vec<f32> = ranking.into_data().convert::<f32>().to_vec().unwrap_or_default();
        let logits: Vec<f32> = logits
            .reshape([rows])
            .into_data()
            .convert::<f32>()
            .to_vec()
            .unwrap_or_default();
        let keep: Vec<f32> = keep.into_data().convert::<f32>().to_vec().unwrap_or_default();
        timing.inference_seconds += start.elapsed().as_secs_f64();
        blocks
            .iter()
            .enumerate()
            .map(|(r, block)| BlockOutput {
                score: f64::from(ranking.get(r).copied().unwrap_or(0.0)),
                logit: f64::from(logits.get(r).copied().unwrap_or(0.0)),
                keep: keep
                    .get(r * width..r * width + block.input_ids.len())
                    .unwrap_or_default()
                    .iter()
                    .map(|&p| f64::from(p))
                    .collect(),
            })
            .collect()
    }
}

/// A progress bar over `batches` forward batches of `blocks` blocks (hidden unless `show`).
fn progress_bar(show: bool, batches: usize, blocks: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(batches as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} batches [{elapsed} < {eta}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("scoring {blocks} blocks"));
    bar
}
