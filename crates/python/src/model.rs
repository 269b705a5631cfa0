//! `OpenProvence`: a loaded reranker–pruner with upstream's `process()` and TEI's `rerank()`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use provence_hub::HubOptions;
use provence_infer::{
    InferenceBackend, ProcessInput, ProcessOptions, ProcessOutput, PruneError, Pruner, RankFields, SplitterLanguage,
    default_device, rank, rerank_input,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};

use crate::args::{TitleArg, process_input, title as title_of};
use crate::errors::{message, no_panic, to_py};
use crate::interrupt::run_released;
use crate::output::{rank_list, result_dict};

/// The model, its tokenizer and the worker threads it runs on.
struct Loaded {
    pruner: Pruner<InferenceBackend>,
    /// Its own pool when `threads` was given, else the process-wide one.
    pool: Option<rayon::ThreadPool>,
}

impl Loaded {
    /// Runs `f` on this model's worker threads.
    fn install<T: Send>(&self, f: impl FnOnce(&Pruner<InferenceBackend>) -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(|| f(&self.pruner)),
            None => f(&self.pruner),
        }
    }
}

/// A trained OpenProvence reranker–pruner (ModernBERT, BERT or XLM-RoBERTa backbone), run by
/// open-provence-rs on the CPU.
///
/// Load one with `OpenProvence.from_pretrained(path_or_repo_id)`; then `process()` prunes
/// contexts exactly as upstream's `OpenProvenceModel.process()` does and returns the same dict,
/// and `rerank()` ranks passages as text-embeddings-inference's `/rerank` does. Calls release
/// the GIL, so several Python threads can use one model at once.
#[pyclass(module = "open_provence_rs", name = "OpenProvence", frozen)]
pub(crate) struct OpenProvence {
    loaded: Arc<Loaded>,
    source: String,
}

/// `language` as the splitter choice (`None` is upstream's `"auto"`).
fn splitter_language(value: Option<&str>) -> PyResult<SplitterLanguage> {
    value.map_or(Ok(SplitterLanguage::Auto), |l| {
        SplitterLanguage::from_str(l).map_err(|e| PyValueError::new_err(message(&e)))
    })
}

/// Refuses upstream arguments that cannot be honoured here, naming them.
fn refuse_upstream_only(
    sentence_splitter: Option<&Bound<'_, PyAny>>,
    torch_dataloader_kwargs: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    if sentence_splitter.is_some_and(|s| !s.is_none()) {
        return Err(PyTypeError::new_err(
            "sentence_splitter: a Python sentence splitter cannot run inside open_provence_rs; \
             choose a built-in one with language='auto', 'en' or 'ja', or pass pre-split sentences \
             (a list of str per document)",
        ));
    }
    if let Some(kwargs) = torch_dataloader_kwargs.filter(|k| !k.is_none())
        && kwargs.is_truthy()?
    {
        return Err(PyTypeError::new_err(
            "torch_dataloader_kwargs: open_provence_rs has no torch DataLoader; preprocessing runs in Rust",
        ));
    }
    Ok(())
}

/// Where upstream's `debug_messages` sends the timing line: nowhere (`False`), the
/// `open_provence_rs` logger (`True`), or a callable taking a string.
enum DebugSink<'py> {
    Off,
    Log,
    Call(Bound<'py, PyAny>),
}

impl<'py> DebugSink<'py> {
    /// The sink of `value`; upstream's `TypeError` for anything else.
    fn of(value: Option<&Bound<'py, PyAny>>) -> PyResult<Self> {
        match value.filter(|v| !v.is_none()) {
            None => Ok(Self::Off),
            Some(v) if v.is_instance_of::<pyo3::types::PyBool>() => {
                Ok(if v.is_truthy()? { Self::Log } else { Self::Off })
            }
            Some(v) if v.is_callable() => Ok(Self::Call(v.clone())),
            Some(_) => Err(PyTypeError::new_err(
                "debug_messages must be a bool or a callable that accepts a string",
            )),
        }
    }

    /// Sends the timing line of `output`.
    fn report(&self, py: Python<'py>, output: &ProcessOutput) -> PyResult<()> {
        let t = &output.timing;
        let line = format!(
            "[OpenProvenceModel] Timing: preprocess={:.2}s assembly={:.2}s inference={:.2}s postprocess={:.2}s total={:.2}s",
            t.preprocess_seconds, t.assembly_seconds, t.inference_seconds, t.postprocess_seconds, t.total_seconds
        );
        match self {
            Self::Off => {}
            Self::Log => {
                let logger = py.import("logging")?.call_method1("getLogger", ("open_provence_rs",))?;
                logger.call_method1("info", (line,))?;
            }
            Self::Call(f) => {
                f.call1((line,))?;
            }
        }
        Ok(())
    }
}

#[pymethods]
impl OpenProvence {
    /// Loads a model: a local `final_model/` directory (ours or upstream's), a run directory
    /// holding one, or a Hugging Face Hub model id (downloaded into, or with
    /// `HF_HUB_OFFLINE=1` read from, the shared Hugging Face cache; `HF_TOKEN` is sent).
    ///
    /// `revision`: the Hub branch, tag or commit (default `"main"`). `threads`: CPU worker
    /// threads for this model (default: the process-wide pool, one per core or
    /// `RAYON_NUM_THREADS`).
    ///
    /// Raises `FileNotFoundError` for a missing directory, `OSError` for a model that cannot be
    /// loaded or fetched, `ValueError` for `threads=0`.
    #[classmethod]
    #[pyo3(signature = (path_or_repo_id, *, revision = None, threads = None))]
    fn from_pretrained(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path_or_repo_id: PathBuf,
        revision: Option<String>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        no_panic(|| {
            let source = path_or_repo_id.to_string_lossy().into_owned();
            let pool = match threads {
                Some(0) => return Err(PyValueError::new_err("threads must be at least 1")),
                Some(n) => Some(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(n)
                        .build()
                        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("starting {n} threads: {e}")))?,
                ),
                None => None,
            };
            let mut hub = HubOptions::from_env();
            if let Some(revision) = revision {
                hub.revision = revision;
            }
            let name = source.clone();
            let pruner = run_released(py, move |_| {
                Pruner::from_pretrained_with(&name, hub, default_device()).map_err(|e| to_py(&e))
            })?;
            Ok(Self {
                loaded: Arc::new(Loaded { pruner, pool }),
                source,
            })
        })
    }

    /// Prunes `context` for `question` exactly as upstream's `OpenProvenceModel.process()`:
    /// same arguments, defaults, input shapes and return dict (`pruned_context`,
    /// `reranking_score`, `compression_rate`, `title`, `timing`, `performance_trace`, and
    /// `kept_sentences` / `removed_sentences` / `sentence_probabilities` when asked for).
    ///
    /// `question`: a str or a list of str. `context`: a str; a list of documents for one
    /// question (each a str, or a list of pre-split sentences); one str per question; or one
    /// list of documents per question. The result's fields are shaped the same way.
    ///
    /// Upstream-only arguments: `sentence_splitter` (a Python callable) and
    /// `torch_dataloader_kwargs` raise `TypeError`; `enable_warnings`, `preprocess_workers` and
    /// `preprocess_batch_size` are accepted and have no effect. Ours: `legacy_prefix_offset`
    /// reproduces upstream's title-window bug (see docs/python.md).
    ///
    /// Ctrl-C (`KeyboardInterrupt`) stops the call between forward batches.
    #[pyo3(signature = (
        question, context, title = TitleArg::Absent, first_line_as_title = false, *, batch_size = 32, threshold = None,
        always_select_title = false, reorder = false, top_k = None, sentence_splitter = None, language = None,
        use_best_reranker_score = true, zero_score_when_empty = true, show_progress = true,
        debug_messages = None, enable_warnings = true, strip_sentences = false,
        respect_sentence_boundaries = false, return_sentence_metrics = false, return_sentence_texts = false,
        show_inference_progress = None, preprocess_workers = None, preprocess_batch_size = None,
        torch_dataloader_kwargs = None, legacy_prefix_offset = false
    ), text_signature = "(self, question, context, title='first_sentence', first_line_as_title=False, *, \
        batch_size=32, threshold=None, always_select_title=False, reorder=False, top_k=None, \
        sentence_splitter=None, language=None, use_best_reranker_score=True, zero_score_when_empty=True, \
        show_progress=True, debug_messages=False, enable_warnings=True, strip_sentences=False, \
        respect_sentence_boundaries=False, return_sentence_metrics=False, return_sentence_texts=False, \
        show_inference_progress=None, preprocess_workers=None, preprocess_batch_size=None, \
        torch_dataloader_kwargs=None, legacy_prefix_offset=False)")]
    #[allow(clippy::too_many_arguments)] // Upstream's signature, argument for argument.
    fn process<'py>(
        &self,
        py: Python<'py>,
        question: &Bound<'py, PyAny>,
        context: &Bound<'py, PyAny>,
        title: TitleArg<'py>,
        first_line_as_title: bool,
        batch_size: i64,
        threshold: Option<f64>,
        always_select_title: bool,
        reorder: bool,
        top_k: Option<i64>,
        sentence_splitter: Option<&Bound<'py, PyAny>>,
        language: Option<&str>,
        use_best_reranker_score: bool,
        zero_score_when_empty: bool,
        show_progress: bool,
        debug_messages: Option<&Bound<'py, PyAny>>,
        enable_warnings: bool,
        strip_sentences: bool,
        respect_sentence_boundaries: bool,
        return_sentence_metrics: bool,
        return_sentence_texts: bool,
        show_inference_progress: Option<bool>,
        preprocess_workers: Option<i64>,
        preprocess_batch_size: Option<i64>,
        torch_dataloader_kwargs: Option<&Bound<'py, PyAny>>,
        legacy_prefix_offset: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let _ = (enable_warnings, preprocess_workers, preprocess_batch_size);
        no_panic(|| {
            refuse_upstream_only(sentence_splitter, torch_dataloader_kwargs)?;
            let debug = DebugSink::of(debug_messages)?;
            let input = process_input(question, context)?;
            let title = title_of(&title, &input)?;
            let options = ProcessOptions {
                title,
                first_line_as_title,
                batch_size: usize::try_from(batch_size.max(1)).unwrap_or(usize::MAX),
                threshold,
                always_select_title,
                reorder,
                top_k: top_k.map(|k| usize::try_from(k.max(0)).unwrap_or(usize::MAX)),
                language: splitter_language(language)?,
                use_best_reranker_score,
                zero_score_when_empty,
                strip_sentences,
                respect_sentence_boundaries,
                return_sentence_metrics,
                return_sentence_texts,
                legacy_prefix_offset,
                progress: show_inference_progress.unwrap_or(show_progress),
                ..ProcessOptions::default()
            };
            let output = self.run(py, input, options)?;
            debug.report(py, &output)?;
            result_dict(py, &output, (return_sentence_texts, return_sentence_metrics))
        })
    }

    /// Ranks `texts` for `query` as text-embeddings-inference's `POST /rerank` does: a list of
    /// `{"index", "score"}` dicts, best first (of two equal scores the later text first, as in
    /// TEI), with `"text"` when `return_text`, the ranking logit as `score` when `raw_scores`,
    /// and `"pruned_text"` / `"compression_rate"` when `return_pruned` (pruned with `threshold`,
    /// default: the model's, and the `language` splitter). An empty `texts` is a `ValueError`.
    #[pyo3(signature = (
        query, texts, *, raw_scores = false, return_text = false, return_pruned = false, threshold = None,
        language = None, batch_size = 32
    ))]
    #[allow(clippy::too_many_arguments)] // TEI's request fields plus ours.
    fn rerank<'py>(
        &self,
        py: Python<'py>,
        query: String,
        texts: Vec<String>,
        raw_scores: bool,
        return_text: bool,
        return_pruned: bool,
        threshold: Option<f64>,
        language: Option<&str>,
        batch_size: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        no_panic(|| {
            let fields = RankFields {
                raw_scores,
                return_text,
                return_pruned,
            };
            let options = ProcessOptions {
                threshold,
                language: splitter_language(language)?,
                batch_size: usize::try_from(batch_size.max(1)).unwrap_or(usize::MAX),
                progress: false,
                ..ProcessOptions::default()
            };
            let input = rerank_input(query, texts.clone()).map_err(|e| to_py(&e))?;
            let loaded = Arc::clone(&self.loaded);
            let ranks = run_released(py, move |cancel| {
                let options = ProcessOptions {
                    cancel: Some(Arc::clone(cancel)),
                    ..options
                };
                loaded
                    .install(|pruner| {
                        let threshold = pruner.resolve_threshold(options.threshold)?;
                        let scored = pruner.score(input, &options)?;
                        let documents = scored.documents.first().map(Vec::as_slice).unwrap_or_default();
                        rank(documents, &texts, fields, threshold, &options)
                    })
                    .map_err(|e| to_py(&e))
            })?;
            rank_list(py, &ranks)
        })
    }

    /// Tokens per block (the model's `max_length`).
    #[getter]
    fn max_length(&self) -> usize {
        self.loaded.pruner.model().config.max_length()
    }

    /// The threshold `process()` uses when given none: the model config's
    /// `default_threadshold`, else 0.1.
    #[getter]
    fn default_threshold(&self) -> PyResult<f64> {
        self.loaded.pruner.resolve_threshold(None).map_err(|e| to_py(&e))
    }

    fn __repr__(&self) -> String {
        let config = &self.loaded.pruner.model().config;
        format!(
            "OpenProvence({:?}, backbone={:?}, max_length={})",
            self.source,
            config.base_model_config.model_type(),
            config.max_length()
        )
    }
}

impl OpenProvence {
    /// `process()` on the model's threads with the GIL released and Ctrl-C honoured.
    fn run(&self, py: Python<'_>, input: ProcessInput, options: ProcessOptions) -> PyResult<ProcessOutput> {
        let loaded = Arc::clone(&self.loaded);
        run_released(py, move |cancel: &Arc<AtomicBool>| {
            let options = ProcessOptions {
                cancel: Some(Arc::clone(cancel)),
                ..options
            };
            loaded
                .install(|pruner| pruner.process(input, &options))
                .map_err(|e: PruneError| to_py(&e))
        })
    }
}
