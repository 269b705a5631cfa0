//! Reading whole splits, every column, from any source the resolver locates. A parquet string
//! that is not UTF-8 is reported by column and row, not only by file.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};

use super::{DatasetTables, SplitTable};
use crate::error::DatasetError;
use crate::source::files::{FileFormat, catch_parquet_panic};
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

/// `column "name" row R: text is not valid UTF-8` for the first such value of a parquet file,
/// found by reading its string columns' raw bytes.
fn invalid_utf8(path: &Path) -> Option<String> {
    match catch_parquet_panic(|| locate_invalid_utf8(path).map_err(|e| e.to_string())).and_then(|r| r) {
        Ok(found) => found,
        Err(error) => {
            tracing::debug!(path = %path.display(), %error, "cannot locate the invalid UTF-8");
            None
        }
    }
}

/// Rows read per call when scanning a column.
const SCAN_RECORDS: usize = 1024;

fn locate_invalid_utf8(path: &Path) -> Result<Option<String>, parquet::errors::ParquetError> {
    use parquet::basic::{ConvertedType, LogicalType, Type};
    use parquet::column::reader::get_typed_column_reader;
    use parquet::data_type::ByteArrayType;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let reader = SerializedFileReader::new(File::open(path)?)?;
    let metadata = reader.metadata();
    let schema = metadata.file_metadata().schema_descr();
    let mut first_row = 0i64;
    for group_index in 0..metadata.num_row_groups() {
        let group = reader.get_row_group(group_index)?;
        for c in 0..schema.num_columns() {
            let column = schema.column(c);
            let text = column.converted_type() == ConvertedType::UTF8
                || matches!(column.logical_type_ref(), Some(LogicalType::String));
            if column.physical_type() != Type::BYTE_ARRAY || !text {
                continue;
            }
            let (max_def, max_rep) = (column.max_def_level(), column.max_rep_level());
            let mut values_reader = get_typed_column_reader::<ByteArrayType>(group.get_column_reader(c)?);
            let mut row = first_row - 1;
            loop {
                let (mut values, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
                let (records, read, levels) =
                    values_reader.read_records(SCAN_RECORDS, Some(&mut defs), Some(&mut reps), &mut values)?;
                if records == 0 && read == 0 {
                    break;
                }
                let mut next_value = values.iter();
                for i in 0..levels.max(read) {
                    if max_rep == 0 || reps.get(i) == Some(&0) {
                        row += 1;
                    }
                    if (max_def == 0 || defs.get(i) == Some(&max_def))
                        && next_value
                            .next()
                            .is_some_and(|v| std::str::from_utf8(v.data()).is_err())
                    {
                        let name = column.path().parts().first().cloned().unwrap_or_default();
                        return Ok(Some(format!("column {name:?} row {row}: text is not valid UTF-8")));
                    }
                }
            }
        }
        first_row += group.metadata().num_rows();
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    #[test]
    fn invalid_utf8_is_located_by_column_and_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema = parse_message_type(
            "message schema { REQUIRED BINARY a (UTF8); REQUIRED BINARY raw; OPTIONAL group texts (LIST) { REPEATED group list { OPTIONAL BINARY item (UTF8); } } }",
        )
        .unwrap();
        let props = Arc::new(WriterProperties::builder().build());
        let mut writer = SerializedFileWriter::new(File::create(&path).unwrap(), Arc::new(schema), props).unwrap();
        let mut group = writer.next_row_group().unwrap();
        // Column `raw` is binary, not text: its bytes are not checked. `texts` holds rows
        // ["ok"], [], ["ok", "caf\xe9"].
        let bytes = |v: &[&[u8]]| v.iter().map(|b| ByteArray::from(b.to_vec())).collect::<Vec<_>>();
        // (values, definition levels, repetition levels) per column.
        type Column = (Vec<ByteArray>, Option<Vec<i16>>, Option<Vec<i16>>);
        let columns: [Column; 3] = [
            (bytes(&[b"x", b"y", b"z"]), None, None),
            (bytes(&[b"\xff", b"y", b"z"]), None, None),
            (
                bytes(&[b"ok", b"ok", b"caf\xe9"]),
                Some(vec![3, 1, 3, 3]),
                Some(vec![0, 0, 0, 1]),
            ),
        ];
        for (values, defs, reps) in columns {
            let mut column = group.next_column().unwrap().unwrap();
            column
                .typed::<ByteArrayType>()
                .write_batch(&values, defs.as_deref(), reps.as_deref())
                .unwrap();
            column.close().unwrap();
        }
        group.close().unwrap();
        writer.close().unwrap();
        assert_eq!(
            locate_invalid_utf8(&path).unwrap().as_deref(),
            Some("column \"texts\" row 2: text is not valid UTF-8")
        );
    }
}
