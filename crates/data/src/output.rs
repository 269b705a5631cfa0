//! Where a stage writes and what it writes beside the data: the output options every stage
//! takes, the staged directory (nothing appears until the stage succeeds) and the `README.md`
//! dataset card (the command, the rows per split and the stage's summary).

use std::path::{Path, PathBuf};

use provence_datasets::{DatasetTables, OutputLayout, StagedDir, write_dataset};

use crate::error::DataError;

/// Where and how a stage writes its dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputOptions {
    /// The output directory.
    pub path: PathBuf,
    /// `save_to_disk` directory (default) or Hub parquet layout.
    pub layout: OutputLayout,
    /// Replace an existing output.
    pub overwrite: bool,
    /// The command line that ran the stage, quoted for a shell (for the dataset card).
    pub command: String,
}

impl OutputOptions {
    /// A `save_to_disk` output at `path` that must not exist yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            layout: OutputLayout::SaveToDisk,
            overwrite: false,
            command: String::new(),
        }
    }

    /// Starts the staged output directory (fails early if it exists and overwriting is off).
    pub(crate) fn begin(&self, resume: bool) -> Result<StagedDir, DataError> {
        Ok(StagedDir::begin(&self.path, self.overwrite, resume)?)
    }
}

/// The dataset card of one stage's output.
#[derive(Debug, Clone)]
pub(crate) struct Card<'a> {
    /// Stage name (`convert`, `filter-frequency`, ...).
    pub stage: &'a str,
    /// The command line.
    pub command: &'a str,
    /// The stage's summary, Markdown.
    pub summary: String,
}

impl Card<'_> {
    /// The card's Markdown for `tables`.
    pub(crate) fn render(&self, tables: &DatasetTables) -> String {
        let mut out = format!(
            "# Context-relevance dataset ({})\n\nBuilt by open-provence-rs {} (`open_provence_data {}`)",
            self.stage,
            env!("CARGO_PKG_VERSION"),
            self.stage
        );
        if !self.command.is_empty() {
            out.push_str(&format!(":\n\n```sh\n{}\n```\n", self.command));
        } else {
            out.push_str(".\n");
        }
        out.push_str("\n| split | rows |\n| --- | ---: |\n");
        for (split, rows) in tables.counts() {
            out.push_str(&format!("| {split} | {rows} |\n"));
        }
        if !self.summary.is_empty() {
            out.push_str(&format!("\n## Summary\n\n{}\n", self.summary.trim_end()));
        }
        out
    }
}

/// The file name of a dataset card.
pub(crate) const CARD_FILE: &str = "README.md";

/// Writes `tables` in `layout` and their card into `dir`.
pub(crate) fn write_with_card(
    dir: &Path,
    tables: &DatasetTables,
    layout: OutputLayout,
    card: &Card<'_>,
) -> Result<(), DataError> {
    write_dataset(dir, tables, layout)?;
    let path = dir.join(CARD_FILE);
    std::fs::write(&path, card.render(tables)).map_err(|e| DataError::io(path, e))
}

/// Writes `tables` with their card into the staged directory and moves it into place.
pub(crate) fn finish(
    staged: StagedDir,
    tables: &DatasetTables,
    output: &OutputOptions,
    card: &Card<'_>,
) -> Result<PathBuf, DataError> {
    write_with_card(staged.path(), tables, output.layout, card)?;
    Ok(staged.commit()?)
}
