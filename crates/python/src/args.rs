//! Python arguments of `process()` as [`ProcessInput`] and [`Title`], following upstream's
//! `OpenProvenceModel._normalize_inputs` and `_prepare_titles` (hotchpotch/open_provence,
//! `open_provence/modeling_open_provence_standalone.py`): the same shapes, the same
//! `ValueError` messages where upstream raises one. Texts must be `str` (upstream would
//! `str()` anything; a `None` or a number where a text belongs is a `TypeError` here).

use provence_infer::{Document, ProcessInput, Title};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PySequence, PyString};
use pyo3::{Borrowed, FromPyObject};

/// `process()`'s `title` argument: given (`None` included), or absent, which is upstream's
/// default `"first_sentence"`.
pub(crate) enum TitleArg<'py> {
    /// The caller's value.
    Given(Bound<'py, PyAny>),
    /// Not passed.
    Absent,
}

impl<'a, 'py> FromPyObject<'a, 'py> for TitleArg<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(TitleArg::Given(obj.to_owned()))
    }
}

/// Upstream's `_is_sequence`: a `collections.abc.Sequence` that is not `str`, `bytes` or
/// `bytearray`.
fn is_sequence(value: &Bound<'_, PyAny>) -> bool {
    !(value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() || value.is_instance_of::<PyByteArray>())
        && value.cast::<PySequence>().is_ok()
}

/// The name of `value`'s type, for messages.
fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "object".to_string(), |n| n.to_string())
}

/// `value` as a `str`, or a `TypeError` naming `what`.
fn text(value: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    value
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{what}: expected str, got {}", type_name(value))))?
        .to_cow()
        .map(std::borrow::Cow::into_owned)
}

/// The items of a sequence, each a `str`.
fn texts(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    value
        .try_iter()?
        .enumerate()
        .map(|(i, item)| text(&item?, &format!("{what}[{i}]")))
        .collect()
}

/// A document: a text, or a sequence of pre-split sentences.
fn document(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Document> {
    if is_sequence(value) {
        return texts(value, what).map(Document::Sentences);
    }
    if !value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what}: expected a str or a list of str (pre-split sentences), got {}",
            type_name(value)
        )));
    }
    text(value, what).map(Document::Text)
}

/// The documents of a sequence.
fn documents(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Document>> {
    value
        .try_iter()?
        .enumerate()
        .map(|(i, item)| document(&item?, &format!("{what}[{i}]")))
        .collect()
}

/// The queries: a `str`, or an iterable of `str`.
fn queries(question: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if question.is_instance_of::<PyString>() {
        return Ok(vec![text(question, "question")?]);
    }
    if question.try_iter().is_err() {
        return Err(PyTypeError::new_err(format!(
            "question: expected a str or a list of str, got {}",
            type_name(question)
        )));
    }
    texts(question, "question")
}

/// `question` and `context` as one of `process()`'s input shapes (upstream's "str", "list",
/// "aligned" and "nested" structures).
pub(crate) fn process_input(question: &Bound<'_, PyAny>, context: &Bound<'_, PyAny>) -> PyResult<ProcessInput> {
    let mut questions = queries(question)?;
    if context.is_instance_of::<PyString>() {
        if questions.len() != 1 {
            return Err(PyValueError::new_err("Single context string requires a single query"));
        }
        return Ok(ProcessInput::Pair {
            question: questions.remove(0),
            context: text(context, "context")?,
        });
    }
    if !is_sequence(context) {
        return Err(PyValueError::new_err("Unsupported context format"));
    }
    if questions.len() == 1 {
        return Ok(ProcessInput::Documents {
            question: questions.remove(0),
            documents: documents(context, "context")?,
        });
    }
    let entries: Vec<Bound<'_, PyAny>> = context.try_iter()?.collect::<PyResult<_>>()?;
    if entries.iter().all(|e| !is_sequence(e)) {
        if entries.len() != questions.len() {
            return Err(PyValueError::new_err("Number of contexts must match number of queries"));
        }
        let documents = entries
            .iter()
            .enumerate()
            .map(|(i, e)| document(e, &format!("context[{i}]")))
            .collect::<PyResult<_>>()?;
        return Ok(ProcessInput::Aligned { questions, documents });
    }
    if entries.len() != questions.len() || !entries.iter().all(is_sequence) {
        return Err(PyValueError::new_err(
            "Number of context lists must match number of queries",
        ));
    }
    let documents = entries
        .iter()
        .enumerate()
        .map(|(i, e)| documents(e, &format!("context[{i}]")))
        .collect::<PyResult<_>>()?;
    Ok(ProcessInput::Nested { questions, documents })
}

/// The number of queries of an input.
fn query_count(input: &ProcessInput) -> usize {
    match input {
        ProcessInput::Pair { .. } | ProcessInput::Documents { .. } => 1,
        ProcessInput::Aligned { questions, .. } | ProcessInput::Nested { questions, .. } => questions.len(),
    }
}

/// A title entry: a `str`, or a sequence of `str` (one per document).
enum TitleEntry {
    One(String),
    PerDocument(Vec<String>),
}

/// `title` as [`Title`] for `input` (upstream's `_prepare_titles`): `None`, `"first_sentence"`,
/// one string for every document, one string per query, or one list per query with a string
/// per document (with one query, a list of strings is one title per document).
pub(crate) fn title(title: &TitleArg<'_>, input: &ProcessInput) -> PyResult<Title> {
    let unsupported = || PyValueError::new_err("Unsupported title format");
    let TitleArg::Given(title) = title else {
        return Ok(Title::FirstSentence);
    };
    if title.is_none() {
        return Ok(Title::None);
    }
    if title.is_instance_of::<PyString>() {
        let value = text(title, "title")?;
        return Ok(if value == "first_sentence" {
            Title::FirstSentence
        } else {
            Title::Fixed(value)
        });
    }
    if !is_sequence(title) {
        return Err(unsupported());
    }
    let entries: Vec<TitleEntry> = title
        .try_iter()?
        .enumerate()
        .map(|(i, entry)| {
            let entry = entry?;
            let what = format!("title[{i}]");
            if is_sequence(&entry) {
                texts(&entry, &what).map(TitleEntry::PerDocument)
            } else {
                text(&entry, &what).map(TitleEntry::One)
            }
        })
        .collect::<PyResult<_>>()?;
    let ones: Option<Vec<String>> = entries
        .iter()
        .map(|e| match e {
            TitleEntry::One(t) => Some(t.clone()),
            TitleEntry::PerDocument(_) => None,
        })
        .collect();
    let n_queries = query_count(input);
    match ones {
        Some(ones) if n_queries == 1 => Ok(Title::PerDocument(vec![ones])),
        Some(ones) if ones.len() == n_queries => Ok(Title::PerQuery(ones)),
        Some(_) => Err(unsupported()),
        None if entries.len() == n_queries => entries
            .into_iter()
            .map(|e| match e {
                TitleEntry::PerDocument(ts) => Ok(ts),
                TitleEntry::One(_) => Err(unsupported()),
            })
            .collect::<PyResult<_>>()
            .map(Title::PerDocument),
        None => Err(unsupported()),
    }
}
