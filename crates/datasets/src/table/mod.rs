//! Whole datasets as Arrow tables, every column kept: reading the splits of any source the
//! [`SourceResolver`](crate::SourceResolver) locates (`read`), and writing them in the two layouts
//! the trainer reads (`write`): a `datasets.save_to_disk` directory and the Hub parquet layout,
//! both staged in a hidden directory and renamed into place only when complete (`staged`). The
//! Hugging Face `features` of a schema (`features`) are what both layouts and dataset cards carry.
//!
//! The dataset-building stages (convert, filter, teacher scores, span labels) read and write
//! through this module; the trainer's typed [`crate::Row`] reader is separate and reads only the
//! columns it needs.

mod features;
mod read;
mod staged;
mod write;

use arrow_array::RecordBatch;

pub use features::{HfFeatures, card_features_yaml, hf_features};
pub use staged::StagedDir;
pub use write::{DEFAULT_MAX_SHARD_BYTES, OutputLayout, contiguous_shards, write_dataset, write_parquet_split};

/// One split: its name and every row, all columns, as one record batch.
#[derive(Debug, Clone)]
pub struct SplitTable {
    /// Split name (`train`, `validation`, ...).
    pub name: String,
    /// The rows.
    pub batch: RecordBatch,
}

/// The splits of one dataset, in the source's order.
#[derive(Debug, Clone, Default)]
pub struct DatasetTables {
    /// Splits in order (the order `dataset_dict.json` lists them in when written).
    pub splits: Vec<SplitTable>,
}

impl DatasetTables {
    /// The split called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&SplitTable> {
        self.splits.iter().find(|s| s.name == name)
    }

    /// Rows per split, in order.
    pub fn counts(&self) -> Vec<(String, usize)> {
        self.splits
            .iter()
            .map(|s| (s.name.clone(), s.batch.num_rows()))
            .collect()
    }
}
