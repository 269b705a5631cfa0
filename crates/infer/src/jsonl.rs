//! JSONL batch pruning for the CLI: one `{"question": ..., "context": ...}` object per line in,
//! one upstream-shaped `process()` result per line out.

use crate::pruner::{Document, ProcessInput, ProcessOptions, PruneError, Pruner, ScoredBatch};
use serde_json::Value;
use std::io::{BufRead, Write};

/// Errors of [`process_jsonl`].
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    /// A line is not a valid request.
    #[error("input line {line}: {message}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The options are invalid (for every line).
    #[error(transparent)]
    Options(PruneError),
    /// Pruning failed.
    #[error("input line {line}: {source}")]
    Prune {
        /// 1-based line number.
        line: usize,
        /// Why.
        source: PruneError,
    },
}

/// The `process()` input of one JSON request: `question` a string, `context` a string (one
/// pair), a list of strings (documents) or a list whose items are lists (pre-split documents).
pub fn parse_request(value: &Value) -> Result<ProcessInput, String> {
    let question = value
        .get("question")
        .and_then(Value::as_str)
        .ok_or("expected a string field `question`")?
        .to_string();
    let document = |v: &Value| -> Result<Document, String> {
        match v {
            Value::String(s) => Ok(Document::Text(s.clone())),
            Value::Array(items) => items
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or("sentences must be strings".to_string())
                })
                .collect::<Result<_, _>>()
                .map(Document::Sentences),
            _ => Err("documents must be strings or lists of strings".to_string()),
        }
    };
    match value.get("context") {
        Some(Value::String(context)) => Ok(ProcessInput::Pair {
            question,
            context: context.clone(),
        }),
        Some(Value::Array(items)) => Ok(ProcessInput::Documents {
            question,
            documents: items.iter().map(document).collect::<Result<_, _>>()?,
        }),
        _ => Err("expected a field `context` (a string or a list)".to_string()),
    }
}

/// Parses every non-blank line of `input` into a request (all lines are checked before any
/// model work), returning them with their 1-based line numbers.
pub fn read_requests(input: impl BufRead) -> Result<Vec<(usize, ProcessInput)>, JsonlError> {
    let mut requests = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line_no = i + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line).map_err(|e| JsonlError::BadLine {
            line: line_no,
            message: format!("invalid JSON: {e}"),
        })?;
        let request = parse_request(&value).map_err(|message| JsonlError::BadLine { line: line_no, message })?;
        requests.push((line_no, request));
    }
    Ok(requests)
}

/// Requests scored by one model call: their blocks share length-sorted forward batches.
pub const REQUESTS_PER_CALL: usize = 64;

/// Prunes every request and writes one upstream-shaped JSON result per line to `output`, in
/// input order. Up to [`REQUESTS_PER_CALL`] requests are scored together; each result's
/// `timing` is its group's, divided evenly among the group's requests.
pub fn process_requests<B: provence_model::ModelBackend>(
    pruner: &Pruner<B>,
    requests: Vec<(usize, ProcessInput)>,
    mut output: impl Write,
    options: &ProcessOptions,
) -> Result<usize, JsonlError> {
    let count = requests.len();
    let threshold = pruner
        .resolve_threshold(options.threshold)
        .map_err(JsonlError::Options)?;
    let mut requests = requests.into_iter().peekable();
    while requests.peek().is_some() {
        let group: Vec<(usize, ProcessInput)> = requests.by_ref().take(REQUESTS_PER_CALL).collect();
        for scored in score_group(pruner, group, options)? {
            writeln!(output, "{}", scored.finish(threshold, options).to_json())?;
        }
    }
    output.flush()?;
    Ok(count)
}

/// Scores a group of requests with one model call and splits the result per request. When the
/// call fails, the requests are scored one by one so that the error names its line.
fn score_group<B: provence_model::ModelBackend>(
    pruner: &Pruner<B>,
    group: Vec<(usize, ProcessInput)>,
    options: &ProcessOptions,
) -> Result<Vec<ScoredBatch>, JsonlError> {
    let n = group.len();
    let mut lines = Vec::with_capacity(n);
    let (mut shapes, mut questions, mut documents) = (Vec::with_capacity(n), Vec::new(), Vec::new());
    for (line, request) in &group {
        let (shape, q, d) = request
            .clone()
            .into_parts()
            .map_err(|source| JsonlError::Prune { line: *line, source })?;
        lines.push((*line, q.len()));
        shapes.push(shape);
        questions.extend(q);
        documents.extend(d);
    }
    let scored = match pruner.score(ProcessInput::Nested { questions, documents }, options) {
        Ok(scored) => scored,
        Err(_) => {
            return group
                .into_iter()
                .map(|(line, request)| {
                    pruner
                        .score(request, options)
                        .map_err(|source| JsonlError::Prune { line, source })
                })
                .collect();
        }
    };
    let timing = scored.timing.scaled(1.0 / n as f64);
    let mut per_query = scored.documents.into_iter();
    Ok(lines
        .into_iter()
        .zip(shapes)
        .map(|((_, queries), shape)| ScoredBatch {
            shape,
            documents: per_query.by_ref().take(queries).collect(),
            timing: timing.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_input_shapes() {
        let pair = parse_request(&serde_json::json!({"question": "q", "context": "c"})).unwrap();
        assert!(matches!(pair, ProcessInput::Pair { .. }));
        let docs = parse_request(&serde_json::json!({"question": "q", "context": ["a", ["b", "c"]]})).unwrap();
        let ProcessInput::Documents { documents, .. } = docs else {
            panic!("expected documents")
        };
        assert_eq!(
            documents,
            vec![
                Document::Text("a".into()),
                Document::Sentences(vec!["b".into(), "c".into()])
            ]
        );
        assert!(parse_request(&serde_json::json!({"question": 3, "context": "c"})).is_err());
        assert!(parse_request(&serde_json::json!({"question": "q"})).is_err());
    }

    #[test]
    fn bad_lines_are_named() {
        let text = "{\"question\": \"q\", \"context\": \"c\"}\n\n{\"question\": \"q\"\n";
        let err = read_requests(text.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("input line 3: invalid JSON"), "{err}");
        let ok = read_requests("\n{\"question\": \"q\", \"context\": [\"a\"]}\n".as_bytes()).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].0, 2);
    }
}
