//! File layouts (Hub repository layout, `save_to_disk` directories) and the parquet / Arrow IPC
//! readers.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;

use super::DataFile;
use super::columns::{BadRow, batch_rows};
use crate::error::DatasetError;
use crate::row::Row;
use crate::schema::plan_columns;

/// Rows per decoded record batch.
const BATCH_SIZE: usize = 1024;

/// The directory holding a subset's files in a Hub repository: the subset name, or `data` for the
/// `default` subset (as `datasets.push_to_hub` writes them).
pub(crate) fn data_dir(subset: Option<&str>) -> String {
    match subset {
        None | Some("default") | Some("") => "data".to_owned(),
        Some(s) => s.to_owned(),
    }
}

/// The split a data file belongs to, from its path relative to the subset directory:
/// `train-00000-of-00003.parquet` (also with a trailing `-<fingerprint>` as older `datasets`
/// wrote), `train.parquet`, or `train/0000.parquet` (`refs/convert/parquet`). `None` for other
/// files.
pub fn split_of_data_file(relative: &str) -> Option<String> {
    let parts: Vec<&str> = relative.split('/').collect();
    match parts.as_slice() {
        [dir, file] if file.ends_with(".parquet") && !dir.is_empty() => Some((*dir).to_owned()),
        [file] => {
            let stem = file.strip_suffix(".parquet")?;
            let bytes = stem.as_bytes();
            // Find "-NNNNN-of-NNNNN".
            for (i, _) in stem.match_indices('-') {
                let rest = &bytes[i + 1..];
                let digits = |s: &[u8]| s.len() >= 5 && s[..5].iter().all(u8::is_ascii_digit);
                if i > 0 && digits(rest) && rest[5..].starts_with(b"-of-") && digits(&rest[9..]) {
                    return Some(stem[..i].to_owned());
                }
            }
            (!stem.is_empty() && !stem.contains('-')).then(|| stem.to_owned())
        }
        _ => None,
    }
}

/// Groups repository-relative paths (`/`-separated) under `data_dir/` by split, sorted.
pub(crate) fn group_split_files<'a>(
    paths: impl Iterator<Item = &'a str>,
    data_dir: &str,
) -> BTreeMap<String, Vec<String>> {
    let prefix = format!("{data_dir}/");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in paths {
        if let Some(rel) = path.strip_prefix(&prefix)
            && let Some(split) = split_of_data_file(rel)
        {
            out.entry(split).or_default().push(path.to_owned());
        }
    }
    for files in out.values_mut() {
        files.sort();
    }
    out
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    serde_json::from_str(&text).map_err(|e| DatasetError::Metadata {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Arrow files of one `save_to_disk` dataset directory, from its `state.json`.
fn arrow_files(dir: &Path) -> Result<Vec<DataFile>, DatasetError> {
    let state_path = dir.join("state.json");
    let state = read_json(&state_path)?;
    let list = state
        .get("_data_files")
        .and_then(|v| v.as_array())
        .ok_or_else(|| DatasetError::Metadata {
            path: state_path.clone(),
            message: "expected a \"_data_files\" list".to_owned(),
        })?;
    list.iter()
        .map(|entry| {
            entry
                .get("filename")
                .and_then(|f| f.as_str())
                .map(|f| DataFile::Arrow(dir.join(f)))
                .ok_or_else(|| DatasetError::Metadata {
                    path: state_path.clone(),
                    message: "a \"_data_files\" entry lacks \"filename\"".to_owned(),
                })
        })
        .collect()
}

/// The splits `datasets` names first in a Hub layout, in its order.
const DEFAULT_SPLITS: [&str; 3] = ["train", "validation", "test"];

/// Split names as `datasets` orders those of a Hub layout: `train`, `validation`, `test`, then
/// the others by name.
pub(crate) fn hub_split_order<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let names: Vec<&String> = names.collect();
    let mut others: Vec<String> = names
        .iter()
        .filter(|n| !DEFAULT_SPLITS.contains(&n.as_str()))
        .map(|n| (*n).clone())
        .collect();
    others.sort();
    DEFAULT_SPLITS
        .iter()
        .filter(|d| names.iter().any(|n| n == *d))
        .map(|d| (*d).to_owned())
        .chain(others)
        .collect()
}

/// A local directory's split files and the split order.
type LocalSplits = (BTreeMap<String, Vec<DataFile>>, Vec<String>);

/// Resolves a local directory (see the module docs of [`super`] for the layouts).
pub(crate) fn resolve_local(dir: &Path, subset: Option<&str>, label: &str) -> Result<LocalSplits, DatasetError> {
    let dict_path = dir.join("dataset_dict.json");
    if dict_path.is_file() {
        let dict = read_json(&dict_path)?;
        let splits = dict
            .get("splits")
            .and_then(|v| v.as_array())
            .ok_or_else(|| DatasetError::Metadata {
                path: dict_path.clone(),
                message: "expected a \"splits\" list".to_owned(),
            })?;
        let mut out = BTreeMap::new();
        let mut order = Vec::new();
        for split in splits {
            let name = split.as_str().ok_or_else(|| DatasetError::Metadata {
                path: dict_path.clone(),
                message: format!("split name {split} is not a string"),
            })?;
            out.insert(name.to_owned(), arrow_files(&dir.join(name))?);
            order.push(name.to_owned());
        }
        return Ok((out, order));
    }
    if dir.join("state.json").is_file() {
        tracing::warn!(path = %dir.display(), "a single saved Dataset (not a DatasetDict): using it as split \"train\"");
        let train = "train".to_owned();
        return Ok((BTreeMap::from([(train.clone(), arrow_files(dir)?)]), vec![train]));
    }
    let files = provence_hub::repo_files(dir).map_err(io_error(dir))?;
    let data_dir = data_dir(subset);
    let grouped = group_split_files(files.iter().map(String::as_str), &data_dir);
    if grouped.is_empty() {
        return Err(DatasetError::NoDataFiles {
            dataset: label.to_owned(),
            location: dir.join(&data_dir).display().to_string(),
            expected: format!(
                "{data_dir}/<split>-NNNNN-of-NNNNN.parquet, or a save_to_disk directory with dataset_dict.json"
            ),
        });
    }
    let order = hub_split_order(grouped.keys());
    let splits = grouped
        .into_iter()
        .map(|(split, list)| {
            (
                split,
                list.into_iter().map(|f| DataFile::Parquet(dir.join(f))).collect(),
            )
        })
        .collect();
    Ok((splits, order))
}

/// What a reader needs to know to name things in errors.
pub(crate) struct ReadContext<'a> {
    pub dataset: &'a str,
    pub split: &'a str,
    pub teacher_column: &'a str,
    pub path: &'a Path,
}

impl ReadContext<'_> {
    fn decode_error(&self, message: impl std::fmt::Display) -> DatasetError {
        DatasetError::Decode {
            path: self.path.to_owned(),
            message: message.to_string(),
        }
    }
}

/// Decoded rows of one file and its (renamed) column names.
type FileRows = (Vec<String>, Vec<Result<Row, BadRow>>);

fn projection_indices(schema: &Schema, names: &[&str]) -> Vec<usize> {
    let mut idx: Vec<usize> = names.iter().filter_map(|n| schema.index_of(n).ok()).collect();
    idx.sort_unstable();
    idx
}

fn decode_batches(
    ctx: &ReadContext<'_>,
    teacher: Option<&str>,
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>>,
) -> Result<Vec<Result<Row, BadRow>>, DatasetError> {
    let mut rows = Vec::new();
    for batch in batches {
        let batch = batch.map_err(|e| ctx.decode_error(e))?;
        rows.extend(batch_rows(&batch, teacher).map_err(|e| ctx.decode_error(e))?);
    }
    Ok(rows)
}

/// Record batches of one file, decoded as they are pulled.
pub(crate) type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>;

/// A choice of columns by index into a file's Arrow schema (`None`: every column).
pub(crate) type Projection = Option<Vec<usize>>;

fn decode_error(path: &Path) -> impl Fn(ArrowError) -> DatasetError + '_ {
    move |e| DatasetError::Decode {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Runs `f`, which reads a parquet file: the parquet crate (60) panics on some corrupt files
/// instead of erring (page headers and levels inconsistent with the data), and such a panic is
/// returned as `Err` with its message. The panic hook still runs (it prints the panic).
pub(crate) fn catch_parquet_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let message = (panic.downcast_ref::<String>().map(String::as_str))
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        format!("the parquet reader failed on corrupt data: {message}")
    })
}

/// A parquet reader's batches, each read under [`catch_parquet_panic`]; after a panic it ends.
struct GuardedBatches<I> {
    inner: Option<I>,
}

impl<I: Iterator<Item = Result<RecordBatch, ArrowError>>> Iterator for GuardedBatches<I> {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let inner = self.inner.as_mut()?;
        match catch_parquet_panic(|| inner.next()) {
            Ok(next) => next,
            Err(message) => {
                self.inner = None;
                Some(Err(ArrowError::ParquetError(message)))
            }
        }
    }
}

/// Opens a parquet file, reading the columns `project` picks from its Arrow schema.
fn open_parquet(
    path: &Path,
    project: impl FnOnce(&Schema) -> Result<Projection, DatasetError>,
) -> Result<Batches, DatasetError> {
    let file = File::open(path).map_err(io_error(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| decode_error(path)(e.into()))?;
    check_column_chunks(builder.metadata()).map_err(|message| DatasetError::Decode {
        path: path.to_owned(),
        message,
    })?;
    let builder = match project(builder.schema())? {
        Some(indices) => {
            let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder
        .with_batch_size(BATCH_SIZE)
        .build()
        .map_err(|e| decode_error(path)(e.into()))?;
    Ok(Box::new(GuardedBatches { inner: Some(reader) }))
}

/// Whether every column chunk's byte range (start, compressed size) is non-negative: the parquet
/// crate (60) panics reading a chunk whose footer says otherwise.
fn check_column_chunks(metadata: &ParquetMetaData) -> Result<(), String> {
    for (g, group) in metadata.row_groups().iter().enumerate() {
        for (c, chunk) in group.columns().iter().enumerate() {
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or_else(|| chunk.data_page_offset());
            let size = chunk.compressed_size();
            if start < 0 || size < 0 {
                return Err(format!(
                    "row group {g}, column {c} ({}): the footer gives the chunk offset {start} and size {size}; neither may be negative",
                    chunk.column_path()
                ));
            }
        }
    }
    Ok(())
}

/// Opens an Arrow IPC file (the stream format `save_to_disk` writes, or the file format),
/// reading the columns `project` picks from its schema.
fn open_arrow(
    path: &Path,
    project: impl FnOnce(&Schema) -> Result<Projection, DatasetError>,
) -> Result<Batches, DatasetError> {
    use arrow_ipc::reader::{FileReader, StreamReader};
    let open = || File::open(path).map_err(io_error(path));
    let mut magic = [0u8; 6];
    let mut probe = open()?;
    let is_file_format = probe.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
    probe.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    if is_file_format {
        let schema = FileReader::try_new(BufReader::new(probe), None)
            .map_err(decode_error(path))?
            .schema();
        let projection = project(&schema)?;
        let reader = FileReader::try_new(BufReader::new(open()?), projection).map_err(decode_error(path))?;
        return Ok(Box::new(reader));
    }
    let schema = StreamReader::try_new(BufReader::new(probe), None)
        .map_err(decode_error(path))?
        .schema();
    let projection = project(&schema)?;
    let reader = StreamReader::try_new(BufReader::new(open()?), projection).map_err(decode_error(path))?;
    Ok(Box::new(reader))
}

/// The two kinds of data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    /// Parquet (local or fetched from the Hub).
    Parquet,
    /// Arrow IPC (`save_to_disk`).
    Arrow,
}

impl FileFormat {
    /// The format of `file`.
    pub(crate) fn of(file: &DataFile) -> Self {
        match file {
            DataFile::Arrow(_) => Self::Arrow,
            DataFile::Parquet(_) | DataFile::Hub { .. } => Self::Parquet,
        }
    }

    /// Opens `path`, reading the columns `project` picks from its Arrow schema.
    pub(crate) fn open(
        self,
        path: &Path,
        project: impl FnOnce(&Schema) -> Result<Projection, DatasetError>,
    ) -> Result<Batches, DatasetError> {
        match self {
            Self::Parquet => open_parquet(path, project),
            Self::Arrow => open_arrow(path, project),
        }
    }
}

/// Reads the needed columns of a data file into rows.
pub(crate) fn read_rows(ctx: &ReadContext<'_>, format: FileFormat) -> Result<FileRows, DatasetError> {
    let mut plan = None;
    let batches = format.open(ctx.path, |schema: &Schema| {
        let p = plan_columns(schema, ctx.teacher_column, ctx.dataset, ctx.split, ctx.path)?;
        let indices = projection_indices(schema, &p.projection());
        plan = Some(p);
        Ok(Some(indices))
    })?;
    let plan = plan.ok_or_else(|| ctx.decode_error("the file has no schema"))?;
    let rows = decode_batches(ctx, plan.teacher_source.as_deref(), batches)?;
    Ok((plan.renamed_columns, rows))
}
