//! `process()`'s result as upstream's return dict (`OpenProvenceModel.process`, the end of
//! `open_provence/modeling_open_provence_standalone.py`): the same keys in the same order, each
//! field a scalar, a list over documents, a list over queries or a list of lists as the input's
//! shape says, Python `str`/`float`/`None`/`list` values, and `timing` / `performance_trace`
//! with upstream's ten stage names; and the rerank answer as TEI's list of dicts.

use provence_infer::{DocumentResult, InputShape, ProcessOutput, Rank, Timing};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Upstream's per-stage timing keys (`ProcessPerformanceTrace.as_dict`); the sub-stages of
/// preprocessing are not measured separately here and read 0.0.
const SUB_STAGES: [&str; 5] = [
    "sentence_collect_seconds",
    "sentence_normalize_seconds",
    "tokenize_seconds",
    "fragment_split_seconds",
    "fragment_decode_seconds",
];

/// One per-document field of upstream's result.
#[derive(Clone, Copy)]
enum Field {
    PrunedContext,
    RerankingScore,
    CompressionRate,
    Title,
    KeptSentences,
    RemovedSentences,
    SentenceProbabilities,
}

impl Field {
    /// The field of one document.
    fn of<'py>(self, py: Python<'py>, doc: &DocumentResult) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Field::PrunedContext => doc.pruned_context.as_str().into_pyobject(py)?.into_any(),
            Field::RerankingScore => doc.reranking_score.into_pyobject(py)?,
            Field::CompressionRate => doc.compression_rate.into_pyobject(py)?.into_any(),
            Field::Title => match doc.title.as_slice() {
                [] => py.None().into_bound(py),
                [one] => one.as_str().into_pyobject(py)?.into_any(),
                many => PyList::new(py, many)?.into_any(),
            },
            Field::KeptSentences => PyList::new(py, doc.kept_sentences.iter().flatten())?.into_any(),
            Field::RemovedSentences => PyList::new(py, doc.removed_sentences.iter().flatten())?.into_any(),
            Field::SentenceProbabilities => PyList::new(py, doc.sentence_probabilities.iter().flatten())?.into_any(),
        })
    }

    /// Upstream's value for a query left without documents (`top_k=0` with a scalar shape).
    fn missing<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Field::PrunedContext => "".into_pyobject(py)?.into_any(),
            Field::CompressionRate => 0.0f64.into_pyobject(py)?.into_any(),
            Field::RerankingScore | Field::Title => py.None().into_bound(py),
            Field::KeptSentences | Field::RemovedSentences | Field::SentenceProbabilities => {
                PyList::empty(py).into_any()
            }
        })
    }

    /// The field over the whole output, shaped as the input was.
    fn shaped<'py>(self, py: Python<'py>, output: &ProcessOutput) -> PyResult<Bound<'py, PyAny>> {
        let first = |docs: &[DocumentResult]| docs.first().map_or_else(|| self.missing(py), |d| self.of(py, d));
        let list = |docs: &[DocumentResult]| -> PyResult<Bound<'py, PyAny>> {
            let items = docs.iter().map(|d| self.of(py, d)).collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, items)?.into_any())
        };
        let empty: &[DocumentResult] = &[];
        let queries = &output.results;
        match output.shape {
            InputShape::Str => match (self, queries.first().map(Vec::as_slice).unwrap_or(empty)) {
                // Upstream keeps its whole (empty) nested list here.
                (Field::SentenceProbabilities, []) => Ok(PyList::new(py, [PyList::empty(py)])?.into_any()),
                (_, docs) => first(docs),
            },
            InputShape::List => list(queries.first().map(Vec::as_slice).unwrap_or(empty)),
            InputShape::Aligned => {
                let items = queries.iter().map(|docs| first(docs)).collect::<PyResult<Vec<_>>>()?;
                Ok(PyList::new(py, items)?.into_any())
            }
            InputShape::Nested => {
                let items = queries.iter().map(|docs| list(docs)).collect::<PyResult<Vec<_>>>()?;
                Ok(PyList::new(py, items)?.into_any())
            }
        }
    }
}

/// Upstream's `timing` dict: the five measured stages, then the preprocessing sub-stages.
pub(crate) fn timing_dict<'py>(py: Python<'py>, timing: &Timing) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("preprocess_seconds", timing.preprocess_seconds)?;
    dict.set_item("assembly_seconds", timing.assembly_seconds)?;
    dict.set_item("inference_seconds", timing.inference_seconds)?;
    dict.set_item("postprocess_seconds", timing.postprocess_seconds)?;
    dict.set_item("total_seconds", timing.total_seconds)?;
    for key in SUB_STAGES {
        dict.set_item(key, 0.0)?;
    }
    Ok(dict)
}

/// Upstream's result dict for `output`; `sentence_texts` / `sentence_metrics` are the
/// `return_sentence_texts` / `return_sentence_metrics` flags, which decide whether
/// `kept_sentences` / `removed_sentences` and `sentence_probabilities` are present.
pub(crate) fn result_dict<'py>(
    py: Python<'py>,
    output: &ProcessOutput,
    (sentence_texts, sentence_metrics): (bool, bool),
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, field) in [
        ("pruned_context", Field::PrunedContext),
        ("reranking_score", Field::RerankingScore),
        ("compression_rate", Field::CompressionRate),
        ("title", Field::Title),
    ] {
        dict.set_item(key, field.shaped(py, output)?)?;
    }
    let timing = timing_dict(py, &output.timing)?;
    let trace = py
        .import("open_provence_rs._trace")?
        .getattr("ProcessPerformanceTrace")?
        .call((), Some(&timing))?;
    dict.set_item("timing", timing)?;
    dict.set_item("performance_trace", trace)?;
    if sentence_texts {
        dict.set_item("kept_sentences", Field::KeptSentences.shaped(py, output)?)?;
        dict.set_item("removed_sentences", Field::RemovedSentences.shaped(py, output)?)?;
    }
    if sentence_metrics {
        dict.set_item(
            "sentence_probabilities",
            Field::SentenceProbabilities.shaped(py, output)?,
        )?;
    }
    Ok(dict)
}

/// TEI's `/rerank` answer: one dict per passage, best first, with `index`, `text` (when
/// asked for), `score` and our `pruned_text` / `compression_rate` (when asked for).
pub(crate) fn rank_list<'py>(py: Python<'py>, ranks: &[Rank]) -> PyResult<Bound<'py, PyList>> {
    let items = ranks
        .iter()
        .map(|rank| {
            let dict = PyDict::new(py);
            dict.set_item("index", rank.index)?;
            if let Some(text) = &rank.text {
                dict.set_item("text", text)?;
            }
            dict.set_item("score", rank.score)?;
            if let Some(pruned) = &rank.pruned_text {
                dict.set_item("pruned_text", pruned)?;
            }
            if let Some(rate) = rank.compression_rate {
                dict.set_item("compression_rate", rate)?;
            }
            Ok(dict)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}
