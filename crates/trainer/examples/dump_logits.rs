//! Prints the ranking and pruning logits of a saved model (`final_model/` or `checkpoint-N/`) for
//! given token ids, as JSON on stdout. Used by `scripts/check_upstream_load.py` to compare our
//! forward pass with upstream's Python model on the same directory.
//!
//! ```text
//! cargo run -p provence-trainer --example dump_logits -- MODEL_DIR INPUTS_JSON
//! ```
//!
//! `INPUTS_JSON` holds `{"input_ids": [[...], ...], "attention_mask": [[...], ...]}` (equal-length
//! rows); the output is `{"ranking_logits": [[...]], "pruning_logits": [[[...]]]}` in f32.

use std::error::Error;
use std::path::PathBuf;

use burn::backend::Flex;
use burn::prelude::*;
use provence_model::OpenProvenceModel;

type B = Flex;

/// The token ids of `[rows, len]` from `key` of the inputs file.
fn matrix(inputs: &serde_json::Value, key: &str) -> Result<(Vec<i64>, [usize; 2]), Box<dyn Error>> {
    let rows = inputs[key]
        .as_array()
        .ok_or(format!("inputs: `{key}` must be a list of lists"))?;
    let len = rows.first().and_then(|r| r.as_array()).map_or(0, Vec::len);
    let mut flat = Vec::with_capacity(rows.len() * len);
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_array().ok_or(format!("inputs: `{key}[{i}]` must be a list"))?;
        if row.len() != len {
            return Err(format!("inputs: `{key}[{i}]` has {} ids, expected {len}", row.len()).into());
        }
        for v in row {
            flat.push(v.as_i64().ok_or(format!("inputs: `{key}[{i}]` holds a non-integer"))?);
        }
    }
    Ok((flat, [rows.len(), len]))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model_dir, inputs_path] = args.as_slice() else {
        return Err("usage: dump_logits MODEL_DIR INPUTS_JSON".into());
    };
    let device = Default::default();
    let model = OpenProvenceModel::<B>::load(&PathBuf::from(model_dir), &device)?;
    let inputs: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(inputs_path)?)?;
    let (ids, shape) = matrix(&inputs, "input_ids")?;
    let (mask, mask_shape) = matrix(&inputs, "attention_mask")?;
    if mask_shape != shape {
        return Err(format!("inputs: attention_mask is {mask_shape:?}, input_ids {shape:?}").into());
    }
    let out = model.forward(
        Tensor::<B, 2, Int>::from_data(TensorData::new(ids, shape), &device),
        Tensor::<B, 2, Int>::from_data(TensorData::new(mask, shape), &device),
    );
    let [pairs, labels] = out.ranking_logits.dims();
    let ranking: Vec<f32> = out.ranking_logits.into_data().to_vec()?;
    let pruning: Vec<f32> = out.pruning_logits.into_data().to_vec()?;
    let ranking: Vec<&[f32]> = ranking.chunks(labels).collect();
    let pruning: Vec<Vec<&[f32]>> = pruning
        .chunks(shape[1] * 2)
        .map(|row| row.chunks(2).collect())
        .collect();
    debug_assert_eq!(ranking.len(), pairs);
    println!(
        "{}",
        serde_json::json!({ "ranking_logits": ranking, "pruning_logits": pruning })
    );
    Ok(())
}
