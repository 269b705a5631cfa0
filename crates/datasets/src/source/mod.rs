//! Dataset sources: finding the files of a `dataset_name` + `subset` and reading one split into
//! checked [`Row`]s.
//!
//! Accepted layouts:
//! * a local directory in the Hub repository layout: `<subset>/<split>-NNNNN-of-NNNNN.parquet`
//!   (`data/` for the `default` subset), also `<subset>/<split>/*.parquet` (the Hub's
//!   `refs/convert/parquet` branch) and `<subset>/<split>.parquet`;
//! * a local `datasets.save_to_disk` directory: a `DatasetDict` (`dataset_dict.json` + one
//!   directory per split) or a single `Dataset` (`state.json`, read as split `train`), holding
//!   Arrow IPC files; the subset is ignored, as upstream's `load_from_disk`;
//! * a Hugging Face Hub dataset repository (same layout as the first item), through [`HubClient`].

pub(crate) mod columns;
pub(crate) mod files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use provence_hub::{HubClient, HubError, HubOptions, RepoKind};

use crate::error::DatasetError;
use crate::row::Row;
use crate::schema::{BadRowPolicy, check_row};

pub use files::split_of_data_file;

/// One data file of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataFile {
    /// A local parquet file.
    Parquet(PathBuf),
    /// A local Arrow IPC file (stream or file format) written by `save_to_disk`.
    Arrow(PathBuf),
    /// A parquet file inside a Hub dataset repository, fetched on first read.
    Hub {
        /// Repository id (`owner/name`).
        repo: String,
        /// Path inside the repository.
        file: String,
    },
}

/// A dataset whose splits have been located (nothing read or downloaded yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDataset {
    /// `dataset_name:subset`, used in messages and reports.
    pub label: String,
    /// Split name → data files in shard order.
    pub splits: BTreeMap<String, Vec<DataFile>>,
    /// The split names in the source's order: `dataset_dict.json`'s for a `save_to_disk`
    /// directory, else `train`, `validation`, `test`, then the others by name (as `datasets`
    /// orders the splits of a Hub layout).
    pub order: Vec<String>,
}

impl ResolvedDataset {
    /// Names of the available splits.
    pub fn split_names(&self) -> Vec<String> {
        self.splits.keys().cloned().collect()
    }
}

/// One split read into memory and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitData {
    /// The good rows, in file order.
    pub rows: Vec<Row>,
    /// Column names of the split (teacher column already renamed to `teacher_score`), as used
    /// by upstream's column intersection when several datasets are mixed.
    pub columns: Vec<String>,
    /// Number of bad rows dropped (policy `skip`).
    pub skipped: usize,
    /// Descriptions of the first few dropped rows.
    pub skipped_examples: Vec<String>,
}

/// How many dropped rows are described individually in a [`SplitData`].
const MAX_SKIPPED_EXAMPLES: usize = 5;

impl SplitData {
    /// A row that failed its checks: the error under [`BadRowPolicy::Fail`], else counted and
    /// (the first few) described.
    fn bad_row(&mut self, error: DatasetError, policy: BadRowPolicy) -> Result<(), DatasetError> {
        match policy {
            BadRowPolicy::Fail => Err(error),
            BadRowPolicy::Skip => {
                self.skipped += 1;
                if self.skipped_examples.len() < MAX_SKIPPED_EXAMPLES {
                    self.skipped_examples.push(error.to_string());
                }
                Ok(())
            }
        }
    }
}

/// Finds dataset files locally or on the Hub and reads splits.
#[derive(Debug)]
pub struct SourceResolver {
    hub: Option<HubClient>,
}

impl SourceResolver {
    /// A resolver for local directories only.
    pub fn local_only() -> Self {
        Self { hub: None }
    }

    /// A resolver that falls back to the Hub (or its cache) for names that are not local paths.
    pub fn with_hub(hub: HubClient) -> Self {
        Self { hub: Some(hub) }
    }

    /// A resolver with Hub settings from the environment ([`HubOptions::from_env`]).
    pub fn from_env() -> Result<Self, DatasetError> {
        Ok(Self::with_hub(HubClient::new(HubOptions::from_env())?))
    }

    /// Locates the splits of `dataset_name` (`subset` `None` means `default`). An existing local
    /// path wins over a Hub id, as upstream.
    pub fn resolve(&self, dataset_name: &str, subset: Option<&str>) -> Result<ResolvedDataset, DatasetError> {
        let label = format!("{dataset_name}:{}", subset.unwrap_or("default"));
        let path = Path::new(dataset_name);
        if RepoKind::Dataset.locate(dataset_name)?.is_none() {
            let (splits, order) = files::resolve_local(path, subset, &label)?;
            return Ok(ResolvedDataset { label, splits, order });
        }
        let hub = self.hub.as_ref().ok_or_else(|| DatasetError::NoDataFiles {
            dataset: label.clone(),
            location: dataset_name.to_owned(),
            expected: "an existing local directory (no Hub access configured)".to_owned(),
        })?;
        let listing = hub.list_files(dataset_name)?;
        let data_dir = files::data_dir(subset);
        let grouped = files::group_split_files(listing.iter().map(String::as_str), &data_dir);
        if grouped.is_empty() {
            return Err(DatasetError::NoDataFiles {
                dataset: label,
                location: format!("hf://datasets/{dataset_name}@{}/{data_dir}/", hub.options().revision),
                expected: format!("{data_dir}/<split>-NNNNN-of-NNNNN.parquet"),
            });
        }
        let splits = grouped
            .into_iter()
            .map(|(split, list)| {
                let files = list
                    .into_iter()
                    .map(|file| DataFile::Hub {
                        repo: dataset_name.to_owned(),
                        file,
                    })
                    .collect();
                (split, files)
            })
            .collect::<BTreeMap<_, _>>();
        let order = files::hub_split_order(splits.keys());
        Ok(ResolvedDataset { label, splits, order })
    }

    /// Where `file` is on disk (a Hub file is fetched into the cache first).
    pub(crate) fn local_path(&self, file: &DataFile) -> Result<PathBuf, DatasetError> {
        match file {
            DataFile::Parquet(p) | DataFile::Arrow(p) => Ok(p.clone()),
            DataFile::Hub { repo, file } => {
                let hub = self.hub.as_ref().ok_or_else(|| HubError::Disabled {
                    kind: RepoKind::Dataset.name(),
                    repo: repo.clone(),
                })?;
                Ok(hub.fetch(repo, file)?)
            }
        }
    }

    /// Reads and checks one split. Only this split's files are downloaded.
    pub fn load_split(
        &self,
        dataset: &ResolvedDataset,
        split: &str,
        teacher_column: &str,
        policy: BadRowPolicy,
    ) -> Result<SplitData, DatasetError> {
        let files = dataset.splits.get(split).ok_or_else(|| DatasetError::UnknownSplit {
            dataset: dataset.label.clone(),
            split: split.to_owned(),
            available: dataset.split_names(),
        })?;
        let mut out = SplitData {
            rows: Vec::new(),
            columns: Vec::new(),
            skipped: 0,
            skipped_examples: Vec::new(),
        };
        let mut index = 0usize;
        for (n, file) in files.iter().enumerate() {
            let path = self.local_path(file)?;
            let ctx = files::ReadContext {
                dataset: &dataset.label,
                split,
                teacher_column,
                path: &path,
            };
            let (columns, rows) = files::read_rows(&ctx, files::FileFormat::of(file))?;
            if n == 0 {
                out.columns = columns;
            }
            for row in rows {
                let checked = row.and_then(|r| match check_row(&r) {
                    Ok(()) => Ok(r),
                    Err(problem) => Err(columns::BadRow { id: r.id, problem }),
                });
                match checked {
                    Ok(r) => out.rows.push(r),
                    Err(bad) => {
                        let error = DatasetError::BadRow {
                            dataset: dataset.label.clone(),
                            split: split.to_owned(),
                            row: index,
                            id: bad.id,
                            problem: bad.problem,
                        };
                        out.bad_row(error, policy)?;
                    }
                }
                index += 1;
            }
        }
        if out.skipped > 0 {
            tracing::warn!(
                dataset = %dataset.label,
                split,
                skipped = out.skipped,
                first = ?out.skipped_examples.first(),
                "skipped bad rows"
            );
        }
        Ok(out)
    }
}
