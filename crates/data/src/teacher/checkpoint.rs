//! The teacher stage's progress on disk, so a killed run continues where it stopped: a
//! `run.json` describing the run (model, column, input, chunk size) and `scores.jsonl`, one line
//! per finished chunk of rows (`{"split", "start", "scores"}`), appended and synced when the
//! chunk is done. A chunk is scored at most once per run and never recorded twice; a line cut
//! short by a kill is ignored (its chunk is scored again). A checkpoint of a different run
//! (other model, column, input or chunk size) is discarded with a warning.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// What identifies a run: a checkpoint is reused only by the same run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunKey {
    /// The teacher model as given.
    pub model: String,
    /// The score column.
    pub column: String,
    /// The input dataset as given.
    pub dataset: String,
    /// Rows per split of the input (after `--debug-limit`).
    pub rows: Vec<(String, usize)>,
    /// Rows per chunk.
    pub chunk_rows: usize,
}

/// One finished chunk: scores per row, per passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ChunkLine {
    split: String,
    start: usize,
    scores: Vec<Vec<f32>>,
}

/// The progress of one run (see the module docs).
pub(crate) struct Checkpoint {
    path: PathBuf,
    file: File,
    done: HashMap<(String, usize), Vec<Vec<f32>>>,
}

const RUN_FILE: &str = "run.json";
const SCORES_FILE: &str = "scores.jsonl";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |e| DataError::io(path, e)
}

impl Checkpoint {
    /// Opens (or starts) the checkpoint of `key` in `dir`; returns it and the rows it already
    /// holds.
    pub(crate) fn open(dir: &Path, key: &RunKey) -> Result<(Self, usize), DataError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let run_path = dir.join(RUN_FILE);
        let path = dir.join(SCORES_FILE);
        let same_run = std::fs::read_to_string(&run_path)
            .ok()
            .and_then(|t| serde_json::from_str::<RunKey>(&t).ok())
            .is_some_and(|previous| &previous == key);
        if !same_run {
            if path.exists() {
                tracing::warn!(path = %dir.display(), "discarding the checkpoint of a different run");
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
            let text = serde_json::to_string_pretty(key).map_err(|e| DataError::File {
                path: run_path.clone(),
                message: e.to_string(),
            })?;
            std::fs::write(&run_path, text).map_err(io(&run_path))?;
        }
        let mut done = HashMap::new();
        let mut valid_bytes = 0;
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.split_inclusive('\n') {
                match serde_json::from_str::<ChunkLine>(line.trim_end()) {
                    Ok(chunk) if line.ends_with('\n') => {
                        done.insert((chunk.split, chunk.start), chunk.scores);
                        valid_bytes += line.len();
                    }
                    _ => break,
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        // Drop a line cut short by a kill, so the next append starts on a fresh line.
        file.set_len(valid_bytes as u64).map_err(io(&path))?;
        let rows = done.values().map(Vec::len).sum();
        Ok((Self { path, file, done }, rows))
    }

    /// Whether the chunk of `split` starting at row `start` is done.
    pub(crate) fn has(&self, split: &str, start: usize) -> bool {
        self.done.contains_key(&(split.to_owned(), start))
    }

    /// Records a finished chunk (appended and synced before this returns).
    pub(crate) fn record(&mut self, split: &str, start: usize, scores: Vec<Vec<f32>>) -> Result<(), DataError> {
        let line = ChunkLine {
            split: split.to_owned(),
            start,
            scores,
        };
        let mut text = serde_json::to_string(&line).map_err(|e| DataError::File {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        text.push('\n');
        self.file.write_all(text.as_bytes()).map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))?;
        self.done.insert((line.split, start), line.scores);
        Ok(())
    }

    /// The scores of the chunk of `split` starting at `start`.
    pub(crate) fn scores(&self, split: &str, start: usize) -> Option<&Vec<Vec<f32>>> {
        self.done.get(&(split.to_owned(), start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(model: &str) -> RunKey {
        RunKey {
            model: model.to_owned(),
            column: "teacher_scores.m".to_owned(),
            dataset: "d".to_owned(),
            rows: vec![("train".to_owned(), 4)],
            chunk_rows: 2,
        }
    }

    #[test]
    fn chunks_survive_a_restart_and_a_torn_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cp, rows) = Checkpoint::open(dir.path(), &key("m")).unwrap();
        assert_eq!(rows, 0);
        cp.record("train", 0, vec![vec![0.25, 0.5], vec![0.125]]).unwrap();
        drop(cp);
        // A kill in the middle of the next append.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(SCORES_FILE))
            .unwrap();
        f.write_all(b"{\"split\":\"train\",\"start\":2,\"sco").unwrap();
        let (mut cp, rows) = Checkpoint::open(dir.path(), &key("m")).unwrap();
        assert_eq!(rows, 2);
        assert!(cp.has("train", 0) && !cp.has("train", 2));
        cp.record("train", 2, vec![vec![1.0], vec![]]).unwrap();
        let (cp, rows) = Checkpoint::open(dir.path(), &key("m")).unwrap();
        assert_eq!(rows, 4);
        assert_eq!(cp.scores("train", 2).unwrap(), &vec![vec![1.0], vec![]]);
        // Another model: start over.
        let (cp, rows) = Checkpoint::open(dir.path(), &key("other")).unwrap();
        assert_eq!(rows, 0);
        assert!(!cp.has("train", 0));
    }
}
