//! Writing datasets in the two layouts the trainer (and Python's `datasets`) read:
//!
//! * `save_to_disk`: `dataset_dict.json` (`{"splits": [...]}`) and per split `data-NNNNN-of-NNNNN.arrow`
//!   (Arrow IPC stream), `dataset_info.json` (the features) and `state.json`, as
//!   `DatasetDict.save_to_disk` writes them, so `datasets.load_from_disk` reads the directory;
//! * the Hub parquet layout: `<data_dir>/<split>-NNNNN-of-NNNNN.parquet` (`data/` for the
//!   `default` subset), as `push_to_hub` writes it.
//!
//! Both carry the `huggingface` schema metadata (`{"info": {"features": …}}`) and split rows
//! into contiguous shards of at most [`DEFAULT_MAX_SHARD_BYTES`] as `datasets` does.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::features::{HfFeatures, hf_features};
use super::{DatasetTables, SplitTable};
use crate::error::DatasetError;
use crate::source::files::data_dir;

/// `datasets`' default `max_shard_size` (500 MB) for `save_to_disk` and `push_to_hub`.
pub const DEFAULT_MAX_SHARD_BYTES: u64 = 500_000_000;

/// Rows per parquet row group (`datasets`' writer batch size).
const PARQUET_ROW_GROUP_ROWS: usize = 1000;

/// Which layout [`write_dataset`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputLayout {
    /// A `datasets.save_to_disk` directory of Arrow files.
    #[default]
    SaveToDisk,
    /// The Hub parquet layout, `data/<split>-NNNNN-of-NNNNN.parquet` (subset `default`).
    HubParquet,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    }
}

fn encode(path: &Path) -> impl Fn(String) -> DatasetError + '_ {
    move |message| DatasetError::Encode {
        path: path.to_owned(),
        message,
    }
}

/// `datasets`' contiguous shards of `rows` rows into `num_shards` parts (`Dataset.shard(...,
/// contiguous=True)`): the first `rows % num_shards` shards hold one row more.
pub fn contiguous_shards(rows: usize, num_shards: usize) -> Vec<Range<usize>> {
    let n = num_shards.max(1);
    let (div, rem) = (rows / n, rows % n);
    (0..n)
        .map(|i| {
            let start = div * i + i.min(rem);
            start..start + div + usize::from(i < rem)
        })
        .collect()
}

/// `int(nbytes / max_shard_bytes) + 1` shards, as `datasets` decides.
fn shard_count(batch: &RecordBatch, max_shard_bytes: u64) -> usize {
    (batch.get_array_memory_size() as u64 / max_shard_bytes.max(1)) as usize + 1
}

/// `dataset_info.json` as `datasets` writes it (keys in this order).
#[derive(serde::Serialize)]
struct DatasetInfo<'a> {
    citation: &'a str,
    description: &'a str,
    features: &'a HfFeatures,
    homepage: &'a str,
    license: &'a str,
}

impl<'a> DatasetInfo<'a> {
    fn new(features: &'a HfFeatures) -> Self {
        Self {
            citation: "",
            description: "",
            features,
            homepage: "",
            license: "",
        }
    }
}

/// The `huggingface` schema metadata: `{"info": {"features": …}}`.
#[derive(serde::Serialize)]
struct HfMetadata<'a> {
    info: HfMetadataInfo<'a>,
}

#[derive(serde::Serialize)]
struct HfMetadataInfo<'a> {
    features: &'a HfFeatures,
}

/// `batch`'s schema with the `huggingface` features metadata `datasets` reads back.
fn with_hf_metadata(batch: &RecordBatch) -> Result<(Arc<Schema>, String), DatasetError> {
    let features = hf_features(batch.schema_ref())?;
    let meta = serde_json::to_string(&HfMetadata {
        info: HfMetadataInfo { features: &features },
    })
    .map_err(|e| DatasetError::Encode {
        path: "huggingface metadata".into(),
        message: e.to_string(),
    })?;
    let schema = Schema::new_with_metadata(
        batch.schema().fields().clone(),
        HashMap::from([("huggingface".to_owned(), meta.clone())]),
    );
    Ok((Arc::new(schema), meta))
}

/// Writes `tables` into `dir` in `layout`; returns the files written, relative to `dir`.
pub fn write_dataset(dir: &Path, tables: &DatasetTables, layout: OutputLayout) -> Result<Vec<String>, DatasetError> {
    let mut written = Vec::new();
    match layout {
        OutputLayout::SaveToDisk => {
            for split in &tables.splits {
                written.extend(write_arrow_split(dir, split, DEFAULT_MAX_SHARD_BYTES)?);
            }
            // As Python's `json.dumps` writes it: `{"splits": ["train", "test"]}`.
            let names: Vec<String> = tables
                .splits
                .iter()
                .map(|s| Value::from(s.name.as_str()).to_string())
                .collect();
            let path = dir.join("dataset_dict.json");
            let text = format!("{{\"splits\": [{}]}}", names.join(", "));
            std::fs::write(&path, text).map_err(io(&path))?;
            written.push("dataset_dict.json".to_owned());
        }
        OutputLayout::HubParquet => {
            for split in &tables.splits {
                let shards = write_parquet_split(dir, &data_dir(None), split, DEFAULT_MAX_SHARD_BYTES)?;
                written.extend(shards.into_iter().map(|(file, _)| file));
            }
        }
    }
    Ok(written)
}

/// Writes one split of a `save_to_disk` directory (`<dir>/<split>/…`); returns its files.
fn write_arrow_split(dir: &Path, split: &SplitTable, max_shard_bytes: u64) -> Result<Vec<String>, DatasetError> {
    let split_dir = dir.join(&split.name);
    std::fs::create_dir_all(&split_dir).map_err(io(&split_dir))?;
    let (schema, _) = with_hf_metadata(&split.batch)?;
    let batch = split
        .batch
        .clone()
        .with_schema(Arc::clone(&schema))
        .map_err(|e| encode(&split_dir)(e.to_string()))?;
    let shards = contiguous_shards(batch.num_rows(), shard_count(&batch, max_shard_bytes));
    let mut hasher = Sha256::new();
    let mut files = Vec::new();
    for (i, range) in shards.iter().enumerate() {
        let name = format!("data-{i:05}-of-{:05}.arrow", shards.len());
        let path = split_dir.join(&name);
        let file = File::create(&path).map_err(io(&path))?;
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(BufWriter::new(file), &schema)
            .map_err(|e| encode(&path)(e.to_string()))?;
        writer
            .write(&batch.slice(range.start, range.len()))
            .and_then(|()| writer.finish())
            .map_err(|e| encode(&path)(e.to_string()))?;
        drop(writer);
        hasher.update(std::fs::read(&path).map_err(io(&path))?);
        files.push(name);
    }
    let fingerprint: String = hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let features = hf_features(&schema)?;
    let info = serde_json::to_string_pretty(&DatasetInfo::new(&features));
    let state = json!({
        "_data_files": files.iter().map(|f| json!({"filename": f})).collect::<Vec<Value>>(),
        "_fingerprint": fingerprint,
        "_format_columns": null,
        "_format_kwargs": {},
        "_format_type": null,
        "_output_all_columns": false,
        "_split": null,
    });
    // `state.json`'s keys sorted, as `datasets` writes it (`sort_keys=True`).
    for (name, text) in [
        ("dataset_info.json", info),
        ("state.json", serde_json::to_string_pretty(&state)),
    ] {
        let path = split_dir.join(name);
        let text = text.map_err(|e| encode(&path)(e.to_string()))?;
        std::fs::write(&path, text).map_err(io(&path))?;
        files.push(name.to_owned());
    }
    Ok(files.into_iter().map(|f| format!("{}/{f}", split.name)).collect())
}

/// Writes one split as `<dir>/<data_dir>/<split>-NNNNN-of-NNNNN.parquet` shards; returns each
/// shard's path relative to `dir` and its row count.
pub fn write_parquet_split(
    dir: &Path,
    data_dir: &str,
    split: &SplitTable,
    max_shard_bytes: u64,
) -> Result<Vec<(String, usize)>, DatasetError> {
    let out_dir = dir.join(data_dir);
    std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
    let (schema, meta) = with_hf_metadata(&split.batch)?;
    let batch = split
        .batch
        .clone()
        .with_schema(Arc::clone(&schema))
        .map_err(|e| encode(&out_dir)(e.to_string()))?;
    let shards = contiguous_shards(batch.num_rows(), shard_count(&batch, max_shard_bytes));
    let mut written = Vec::new();
    for (i, range) in shards.iter().enumerate() {
        let relative = format!("{data_dir}/{}-{i:05}-of-{:05}.parquet", split.name, shards.len());
        let path = dir.join(&relative);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
            .set_key_value_metadata(Some(vec![KeyValue::new("huggingface".to_owned(), meta.clone())]))
            .build();
        let file = File::create(&path).map_err(io(&path))?;
        let mut writer =
            ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(|e| encode(&path)(e.to_string()))?;
        writer
            .write(&batch.slice(range.start, range.len()))
            .and_then(|()| writer.close().map(drop))
            .map_err(|e| encode(&path)(e.to_string()))?;
        written.push((relative, range.len()));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_contiguous_like_datasets() {
        assert_eq!(contiguous_shards(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(contiguous_shards(2, 1), vec![0..2]);
        assert_eq!(contiguous_shards(0, 1), vec![0..0]);
    }
}
