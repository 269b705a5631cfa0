//! Reading whole splits, every column, from any source the resolver locates. A parquet string
//! that is not UTF-8 is reported by column and row, not only by file.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};

use super::{DatasetTables, SplitTable};
use crate::error::DatasetError;
use crate::source::files::FileFormat;
use crate::source::{DataFile, ResolvedDataset, SourceResolver};

impl SourceResolver {
    /// Every row and column of `split`, its files concatenated in shard order (schema-level
    /// metadata, such as the `huggingface` features, is dropped: writers regenerate it).
    pub fn load_table(&self, dataset: &ResolvedDataset, split: &str) -> Result<RecordBatch, DatasetError> {
        let data_files = dataset.splits.get(split).ok_or_else(|| DatasetError::UnknownSplit {
            dataset: dataset.label.clone(),
            split: split.to_owned(),
            available: dataset.order.clone(),
        })?;
        let mut schema: Option<SchemaRef> = None;
        let mut batches = Vec::new();
        for file in data_files {
            let path = self.local_path(file)?;
            let (file_schema, file_batches) = read_file(file, &path)?;
            match &schema {
                None => schema = Some(file_schema),
                Some(first) if first.fields() != file_schema.fields() => {
                    return Err(DatasetError::Decode {
                        path,
                        message: format!(
                            "its columns differ from the split's first file: {file_schema} instead of {first}"
                        ),
                    });
                }
                Some(_) => {}
            }
            batches.extend(file_batches);
        }
        let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
        arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| DatasetError::Decode {
            path: dataset.label.clone().into(),
            message: format!("split {split}: {e}"),
        })
    }

    /// Every split of `dataset`, in the source's order.
    pub fn load_tables(&self, dataset: &ResolvedDataset) -> Result<DatasetTables, DatasetError> {
        let splits = dataset
            .order
            .iter()
            .map(|name| {
                Ok(SplitTable {
                    name: name.clone(),
                    batch: self.load_table(dataset, name)?,
                })
            })
            .collect::<Result<_, DatasetError>>()?;
        Ok(DatasetTables { splits })
    }
}

/// The schema (without schema-level metadata) and record batches of one data file.
fn read_file(file: &DataFile, path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), DatasetError> {
    let mut schema = None;
    let project = |s: &Schema| {
        schema = Some(Arc::new(Schema::new(s.fields().clone())));
        Ok(None)
    };
    let format = FileFormat::of(file);
    let batches = format.open(path, project)?;
    let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
    let mut out = Vec::new();
    for batch in batches {
        let batch = batch.map_err(|e| {
            let parquet = format == FileFormat::Parquet;
            let located = (parquet && e.to_string().to_ascii_lowercase().contains("utf"))
                .then(|| invalid_utf8(path))
                .flatten();
            DatasetError::Decode {
                path: path.to_owned(),
                message: located.unwrap_or_else(|| e.to_string()),
            }
        })?;
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), batch.columns().to_vec()).map_err(|e| DatasetError::Decode {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        out.push(batch);
    }
    Ok((schema, out))
}

/// `dt` with every string type replaced by its binary twin (so undecodable text can be read).
fn as_binary(dt: &DataType) -> DataType {
    match dt {
        DataType::Utf8 => DataType::Binary,
        DataType::LargeUtf8 => DataType::LargeBinary,
        DataType::Utf8View => DataType::BinaryView,
        DataType::List(f) => DataType::List(Arc::new(f.as_ref().clone().with_data_type(as_binary(f.data_type())))),
        DataType::LargeList(f) => {
            DataType::LargeList(Arc::new(f.as_ref().clone().with_data_type(as_binary(f.data_type()))))
        }
        other => other.clone(),
    }
}

/// `column "name" row R: text is not valid UTF-8` for the first such value of a parquet file
/// (top-level strings and lists of strings), read again with strings as bytes.
fn invalid_utf8(path: &Path) -> Option<String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).ok()?).ok()?;
    let fields: Vec<Field> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(as_binary(f.data_type())))
        .collect();
    let names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
    let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(path).ok()?, options)
        .ok()?
        .build()
        .ok()?;
    let mut offset = 0;
    for batch in reader {
        let batch = batch.ok()?;
        for (name, column) in names.iter().zip(batch.columns()) {
            if let Some(row) = first_invalid_row(column) {
                return Some(format!("column {name:?} row {}: text is not valid UTF-8", offset + row));
            }
        }
        offset += batch.num_rows();
    }
    None
}

/// The first row of a binary (or list-of-binary) column holding bytes that are not UTF-8.
fn first_invalid_row(column: &ArrayRef) -> Option<usize> {
    match column.data_type() {
        DataType::Binary => {
            let values = column.as_binary::<i32>();
            (0..values.len()).find(|&i| values.is_valid(i) && std::str::from_utf8(values.value(i)).is_err())
        }
        DataType::List(_) => {
            let list = column.as_list::<i32>();
            let child = first_invalid_row(list.values())?;
            let offsets = list.value_offsets();
            offsets
                .windows(2)
                .position(|w| (w[0] as usize..w[1] as usize).contains(&child))
        }
        _ => None,
    }
}
