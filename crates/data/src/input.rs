//! The columns a stage reads, checked by name and Arrow type with an error naming the dataset,
//! split and column.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_schema::DataType;
use provence_datasets::SplitTable;

use crate::error::DataError;

/// Column `name` of `split`, which must satisfy `ok` (`expected` describes the type for errors).
pub(crate) fn required_column(
    dataset: &str,
    split: &SplitTable,
    name: &str,
    expected: &str,
    ok: fn(&DataType) -> bool,
) -> Result<ArrayRef, DataError> {
    let column = split
        .batch
        .column_by_name(name)
        .ok_or_else(|| DataError::MissingColumn {
            dataset: dataset.to_owned(),
            split: split.name.clone(),
            expected: format!("{name:?}"),
            found: split.batch.schema().fields().iter().map(|f| f.name().clone()).collect(),
        })?;
    if !ok(column.data_type()) {
        return Err(DataError::ColumnType {
            dataset: dataset.to_owned(),
            split: split.name.clone(),
            column: name.to_owned(),
            found: column.data_type().to_string(),
            expected: expected.to_owned(),
        });
    }
    Ok(Arc::clone(column))
}

/// `string`.
pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8)
}

/// `list<string>`.
pub(crate) fn is_string_list(t: &DataType) -> bool {
    matches!(t, DataType::List(f) if is_string(f.data_type()))
}
