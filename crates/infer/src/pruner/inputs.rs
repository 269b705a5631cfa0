//! What `process()` accepts: the input shapes of upstream's `OpenProvenceModel.process()`,
//! documents as text or pre-split sentences, and titles.

use std::borrow::Cow;

use super::error::PruneError;

/// A document: a text split by the sentence splitter, or pre-split sentences.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// A text.
    Text(String),
    /// Sentences given by the caller (blank ones are dropped).
    Sentences(Vec<String>),
}

impl Document {
    /// The text that kept-sentence offsets (`return_offsets`) index: the text itself, or the
    /// sentences joined as given (no separator, blank ones included), which is the original
    /// passage whenever the sentences tile it.
    pub fn source_text(&self) -> Cow<'_, str> {
        match self {
            Document::Text(text) => Cow::Borrowed(text),
            Document::Sentences(sentences) => Cow::Owned(sentences.concat()),
        }
    }
}

/// The input shapes of upstream's `process()` (`OpenProvenceModel._normalize_inputs`); they also
/// decide the output shape.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessInput {
    /// One query, one text (`str`, `str`).
    Pair {
        /// The query.
        question: String,
        /// The context.
        context: String,
    },
    /// One query, many documents (`str`, `list`).
    Documents {
        /// The query.
        question: String,
        /// Its documents.
        documents: Vec<Document>,
    },
    /// Query i with document i (`list`, `list` of equal length).
    Aligned {
        /// The queries.
        questions: Vec<String>,
        /// One document per query.
        documents: Vec<Document>,
    },
    /// Query i with its own list of documents (`list`, `list[list]`).
    Nested {
        /// The queries.
        questions: Vec<String>,
        /// Documents per query.
        documents: Vec<Vec<Document>>,
    },
}

/// Upstream's `structure` of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputShape {
    /// Scalars out.
    Str,
    /// Lists over documents out.
    List,
    /// Lists over queries out.
    Aligned,
    /// Lists over queries of lists over documents out.
    Nested,
}

/// Shape, queries, and documents per query.
pub(crate) type NormalizedInput = (InputShape, Vec<String>, Vec<Vec<Document>>);

impl ProcessInput {
    /// Shape, queries and per-query documents; errors when the lists do not line up.
    pub(crate) fn into_parts(self) -> Result<NormalizedInput, PruneError> {
        Ok(match self {
            ProcessInput::Pair { question, context } => {
                (InputShape::Str, vec![question], vec![vec![Document::Text(context)]])
            }
            ProcessInput::Documents { question, documents } => (InputShape::List, vec![question], vec![documents]),
            ProcessInput::Aligned { questions, documents } => {
                if questions.len() != documents.len() {
                    return Err(PruneError::Shape(format!(
                        "{} questions but {} contexts; aligned input needs one context per question",
                        questions.len(),
                        documents.len()
                    )));
                }
                let docs = documents.into_iter().map(|d| vec![d]).collect();
                (InputShape::Aligned, questions, docs)
            }
            ProcessInput::Nested { questions, documents } => {
                if questions.len() != documents.len() {
                    return Err(PruneError::Shape(format!(
                        "{} questions but {} document lists; nested input needs one list per question",
                        questions.len(),
                        documents.len()
                    )));
                }
                (InputShape::Nested, questions, documents)
            }
        })
    }
}

/// Titles (upstream's `title` argument, normalised by `OpenProvenceModel._prepare_titles`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Title {
    /// No titles.
    None,
    /// No prefix; the first content sentence counts as the title for `always_select_title`.
    #[default]
    FirstSentence,
    /// The same title for every document.
    Fixed(String),
    /// One title per query, for all its documents.
    PerQuery(Vec<String>),
    /// One title per query and document.
    PerDocument(Vec<Vec<String>>),
}

/// Per query, per document explicit title.
pub(super) fn resolve_titles(
    title: &Title,
    documents: &[Vec<Document>],
    first_line_as_title: bool,
) -> Result<Vec<Vec<Option<String>>>, PruneError> {
    if first_line_as_title && !matches!(title, Title::None | Title::FirstSentence) {
        return Err(PruneError::Shape(
            "first_line_as_title cannot be combined with an explicit title".into(),
        ));
    }
    let shape_error = |what: &str| PruneError::Shape(format!("title list does not match the {what}"));
    documents
        .iter()
        .enumerate()
        .map(|(qi, docs)| match title {
            Title::None | Title::FirstSentence => Ok(vec![None; docs.len()]),
            Title::Fixed(t) => Ok(vec![Some(t.clone()); docs.len()]),
            Title::PerQuery(ts) => {
                let t = ts.get(qi).ok_or_else(|| shape_error("number of questions"))?;
                Ok(vec![Some(t.clone()); docs.len()])
            }
            Title::PerDocument(ts) => {
                let ts = ts.get(qi).ok_or_else(|| shape_error("number of questions"))?;
                if ts.len() != docs.len() {
                    return Err(shape_error("number of documents"));
                }
                Ok(ts.iter().cloned().map(Some).collect())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misaligned_inputs_are_rejected() {
        let input = ProcessInput::Aligned {
            questions: vec!["a".into(), "b".into()],
            documents: vec![Document::Text("x".into())],
        };
        assert!(matches!(input.into_parts(), Err(PruneError::Shape(_))));
        let docs = vec![vec![Document::Text("x".into())]];
        assert!(resolve_titles(&Title::Fixed("t".into()), &docs, true).is_err());
        assert_eq!(
            resolve_titles(&Title::PerQuery(vec!["t".into()]), &docs, false).unwrap(),
            vec![vec![Some("t".to_string())]]
        );
    }
}
