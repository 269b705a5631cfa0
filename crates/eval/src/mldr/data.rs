//! MLDR's query rows (`Shitao/MLDR`, one JSON object per line in `mldr-v1.0-<lang>/<split>.jsonl`
//! or `.jsonl.gz`) from a local copy in the Hub layout or from the Hub itself, read through a
//! `datasets` split expression.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use provence_datasets::parse_split_expr;
use provence_hub::{HubClient, HubOptions, RepoKind};
use serde::Deserialize;

use super::error::MldrError;

/// The MLDR dataset on the Hub.
pub const MLDR_HUB_ID: &str = "Shitao/MLDR";

/// One passage of a query.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Passage {
    /// The document id.
    pub docid: String,
    /// The passage text.
    pub text: String,
    /// A title, when the copy has one (MLDR's passages have none).
    #[serde(default)]
    pub title: Option<serde_json::Value>,
}

/// One MLDR row: a query with its positive and negative passages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MldrQuery {
    /// `query_id`.
    pub query_id: String,
    /// The question.
    pub query: String,
    /// Passages that answer it.
    #[serde(default)]
    pub positive_passages: Vec<Passage>,
    /// Passages that do not.
    #[serde(default)]
    pub negative_passages: Vec<Passage>,
}

/// The file of one split of one language, relative to the dataset's root.
fn split_file(lang: &str, split: &str, gz: bool) -> String {
    format!("mldr-v1.0-{lang}/{split}.jsonl{}", if gz { ".gz" } else { "" })
}

/// Where the split files come from.
enum Source<'a> {
    Local(&'a Path),
    Hub(Box<HubClient>, &'a str),
}

impl Source<'_> {
    /// The local path of a split's file (fetched from the Hub first), `None` when the split is
    /// absent in both the plain and the gzip form.
    fn split_path(&self, lang: &str, split: &str) -> Result<Option<PathBuf>, MldrError> {
        for gz in [false, true] {
            let file = split_file(lang, split, gz);
            match self {
                Source::Local(dir) => {
                    let path = dir.join(&file);
                    if path.is_file() {
                        return Ok(Some(path));
                    }
                }
                Source::Hub(hub, repo) => {
                    let listing = hub.list_files(repo)?;
                    if listing.contains(&file) {
                        return Ok(Some(hub.fetch(repo, &file)?));
                    }
                }
            }
        }
        Ok(None)
    }
}

/// The rows of `split_expr` (e.g. `test[:200]`, `dev+test`) of language `lang` of `dataset`: a
/// local directory in the Hub layout, else a Hub dataset id (fetched through the Hub cache,
/// `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE` as Python's `huggingface_hub` reads them).
pub fn load_mldr(dataset: &str, lang: &str, split_expr: &str) -> Result<Vec<MldrQuery>, MldrError> {
    let source = match RepoKind::Dataset.locate(dataset)? {
        None => Source::Local(Path::new(dataset)),
        Some(repo) => Source::Hub(
            Box::new(HubClient::for_kind(HubOptions::from_env(), RepoKind::Dataset)?),
            repo,
        ),
    };
    let mut rows = Vec::new();
    for slice in parse_split_expr(split_expr)? {
        let path = source
            .split_path(lang, &slice.split)?
            .ok_or_else(|| MldrError::MissingSplit {
                dataset: dataset.to_owned(),
                file: split_file(lang, &slice.split, false),
            })?;
        let split_rows = read_jsonl(&path)?;
        let range = slice.range(split_rows.len())?;
        rows.extend(split_rows.into_iter().skip(range.start).take(range.len()));
    }
    Ok(rows)
}

/// Every row of a `.jsonl` or `.jsonl.gz` file; a bad line is an error naming file and line.
fn read_jsonl(path: &Path) -> Result<Vec<MldrQuery>, MldrError> {
    let io = |source| MldrError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut rows = Vec::new();
    for (n, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(&line).map_err(|e| MldrError::BadRow {
            path: path.to_owned(),
            line: n + 1,
            message: format!(
                "expected {{query_id, query, positive_passages: [{{docid, text}}], negative_passages}}: {e}"
            ),
        })?;
        rows.push(row);
    }
    Ok(rows)
}
