//! Helpers of the data crate's tests: a Hub cache holding the fixture inputs under their fixture
//! names, and record batches as JSON rows (fixture paths and loaders: provence-test-support).

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use provence_datasets::{DatasetTables, SourceResolver};
use provence_hub::{HubClient, HubOptions};
use provence_test_support::fixture;
use serde_json::{Map, Value};

/// An offline Hub cache in `dir` holding the parquet files of fixture directory `files`
/// (relative to `tests/fixtures/`) as
/// dataset repository `repo`, in the directory of `subset` (`data` for the default one), and a
/// resolver reading it (what upstream's fixture generator served as `load_dataset(repo, subset)`).
pub fn hub_cache_resolver(dir: &Path, inputs: &[(&str, &str, &str)]) -> SourceResolver {
    for (repo, files, subset_dir) in inputs {
        let repo_dir = dir.join(format!("datasets--{}", repo.replace('/', "--")));
        std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
        std::fs::write(repo_dir.join("refs/main"), "fixture").unwrap();
        let data = repo_dir.join("snapshots/fixture").join(subset_dir);
        std::fs::create_dir_all(&data).unwrap();
        for entry in std::fs::read_dir(fixture(files)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), data.join(entry.file_name())).unwrap();
        }
    }
    let options = HubOptions {
        endpoint: "http://127.0.0.1:9".to_owned(),
        cache_dir: dir.to_owned(),
        token: None,
        offline: true,
        revision: "main".to_owned(),
        progress: false,
    };
    SourceResolver::with_hub(HubClient::new(options).unwrap())
}

/// One cell as JSON.
fn cell(array: &ArrayRef, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Utf8 => Value::from(array.as_string::<i32>().value(row)),
        DataType::Int64 => Value::from(array.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => Value::from(array.as_primitive::<Float64Type>().value(row)),
        DataType::List(_) => {
            let values = array.as_list::<i32>().value(row);
            Value::Array((0..values.len()).map(|i| cell(&values, i)).collect())
        }
        other => panic!("no JSON for {other}"),
    }
}

/// Every row of `batch` as a JSON object, columns in order.
pub fn rows(batch: &RecordBatch) -> Vec<Value> {
    (0..batch.num_rows())
        .map(|r| {
            let mut map = Map::new();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                map.insert(field.name().clone(), cell(column, r));
            }
            Value::Object(map)
        })
        .collect()
}

/// The dataset written at `dir`, read back.
pub fn read_back(dir: &Path) -> DatasetTables {
    let resolver = SourceResolver::local_only();
    let resolved = resolver.resolve(dir.to_str().unwrap(), None).unwrap();
    resolver.load_tables(&resolved).unwrap()
}
