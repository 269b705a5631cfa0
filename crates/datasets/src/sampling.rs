//! Upstream's row and item sampling, bit-exact (same seeds select the same rows and passages):
//! zero-relevance filter, `items` sampling, upsampling, `n_samples` subsets, the validation
//! split and `max_*_samples` truncation. See hotchpotch/open_provence's
//! `open_provence/trainer.py::prepare_dataset` (with `filter_pruning_dataset`,
//! `sample_items_by_label_priority`, `upsample_dataset`, `_sample_dataset_randomly`).

use crate::error::DatasetError;
use crate::pyrandom::{NumpyGenerator, PyRandom};
use crate::row::Row;

fn invalid(key: &str, message: impl Into<String>) -> DatasetError {
    DatasetError::InvalidOption {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// `filter_pruning_dataset`: per row keep the passages whose relevance flags contain a non-zero,
/// the `max_items` with the highest mean flag (stable; lowest when `reverse`), passage 0 always
/// when `keep_first`; then drop rows with fewer than `max_items` passages.
pub fn filter_zero_relevance(rows: Vec<Row>, max_items: usize, reverse: bool, keep_first: bool) -> Vec<Row> {
    rows.into_iter()
        .filter_map(|mut row| {
            let rel = &row.context_spans_relevance;
            if !rel.is_empty() {
                let (mut keep, start, slots) = if keep_first {
                    (vec![0usize], 1, max_items.saturating_sub(1))
                } else {
                    (Vec::new(), 0, max_items)
                };
                let mut candidates: Vec<(usize, f64)> = rel
                    .iter()
                    .enumerate()
                    .skip(start)
                    .filter(|(_, flags)| flags.iter().any(|&f| f != 0))
                    .map(|(i, flags)| (i, flags.iter().sum::<i64>() as f64 / flags.len() as f64))
                    .collect();
                if slots > 0 {
                    // Stable sort; Python's `reverse=True` keeps equal keys in original order too.
                    if reverse {
                        candidates.sort_by(|a, b| a.1.total_cmp(&b.1));
                    } else {
                        candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
                    }
                    keep.extend(candidates.iter().take(slots).map(|c| c.0));
                }
                keep.sort_unstable();
                row.select_passages(&keep);
            }
            (row.context_spans_relevance.len() >= max_items).then_some(row)
        })
        .collect()
}

/// `sample_items_by_label_priority`: cap every row at `max_items` passages, positives
/// (`labels == 1`) first, the remaining slots filled from a `random.Random(seed + row_index)`
/// shuffle of the negatives (of all passages when a row has no positive, or when the split has no
/// `labels` column). The original passage order is kept; rows with fewer than `max_items`
/// passages are dropped.
pub fn sample_items(rows: Vec<Row>, max_items: i64, seed: i64, has_labels: bool) -> Result<Vec<Row>, DatasetError> {
    if max_items <= 0 {
        return Err(invalid("items", "items must be a positive integer"));
    }
    let max_items = max_items as usize;
    let mut out = Vec::with_capacity(rows.len());
    for (idx, mut row) in rows.into_iter().enumerate() {
        let labels = if has_labels { row.labels.clone() } else { None };
        let n = labels.as_ref().map_or(row.texts.len(), Vec::len);
        if n > 0 {
            let rng = || PyRandom::new(i128::from(seed) + idx as i128);
            let mut selected: Vec<usize> = match &labels {
                Some(labels) => {
                    let positives: Vec<usize> = (0..n).filter(|&i| labels[i] == 1).collect();
                    let mut selected: Vec<usize> = positives.iter().copied().take(max_items).collect();
                    let remaining = max_items.saturating_sub(selected.len());
                    if remaining > 0 {
                        let mut candidates: Vec<usize> = if positives.is_empty() {
                            (0..n).collect()
                        } else {
                            (0..n).filter(|&i| labels[i] != 1).collect()
                        };
                        rng().shuffle(&mut candidates);
                        selected.extend(candidates.into_iter().take(remaining));
                    }
                    selected
                }
                None => {
                    let mut candidates: Vec<usize> = (0..n).collect();
                    rng().shuffle(&mut candidates);
                    candidates.truncate(max_items);
                    candidates
                }
            };
            selected.sort_unstable();
            selected.dedup();
            row.select_passages(&selected);
        }
        let len = if has_labels {
            row.labels.as_ref().map_or(0, Vec::len)
        } else {
            row.texts.len()
        };
        if len >= max_items {
            out.push(row);
        }
    }
    Ok(out)
}

/// Python's `round()` (half to even) of a non-negative float, as an integer.
fn round_half_even(x: f64) -> usize {
    let r = x.round_ties_even();
    if r <= 0.0 { 0 } else { r as usize }
}

/// The most rows one dataset may have after upsampling: far beyond any recipe (the largest
/// upstream recipes train on a few hundred thousand rows), well below what exhausts memory.
pub const MAX_UPSAMPLED_ROWS: usize = 100_000_000;

/// `upsample_dataset`: `floor(factor)` verbatim copies, plus for a fractional part the first
/// `clamp(round(frac * len), 1, len)` rows of `Dataset.shuffle(seed)` (NumPy PCG64 permutation).
/// More than [`MAX_UPSAMPLED_ROWS`] rows is an error, checked before anything is copied.
pub fn upsample(rows: Vec<Row>, factor: f64, seed: u64) -> Result<Vec<Row>, DatasetError> {
    if !factor.is_finite() || factor < 1.0 {
        return Err(invalid(
            "upsample_factor",
            format!("upsample_factor must be a finite number >= 1.0, got {factor}"),
        ));
    }
    if rows.is_empty() || factor <= 1.0 {
        return Ok(rows);
    }
    let target = rows.len() as f64 * factor;
    if target > MAX_UPSAMPLED_ROWS as f64 {
        return Err(invalid(
            "upsample_factor",
            format!(
                "{factor} × {} rows = {target:.0} rows, more than the {MAX_UPSAMPLED_ROWS} one dataset may have",
                rows.len()
            ),
        ));
    }
    let whole = factor.floor();
    let frac = factor - whole;
    let whole = whole as usize;
    let mut out = Vec::with_capacity(rows.len() * (whole + 1));
    for _ in 0..whole {
        out.extend(rows.iter().cloned());
    }
    if frac > 1e-6 {
        let take = round_half_even(frac * rows.len() as f64).clamp(1, rows.len());
        let perm = NumpyGenerator::default_rng(u128::from(seed)).permutation(rows.len());
        out.extend(perm.into_iter().take(take).map(|i| rows[i].clone()));
    }
    Ok(out)
}

/// The row count `n_samples` asks for: a fraction when `<= 1` (`max(1, ceil(len * v))`, so `1`
/// means everything), a count otherwise (`int(v)`), capped at `len`.
pub fn n_samples_target(len: usize, n_samples: f64) -> Result<usize, DatasetError> {
    if n_samples.is_nan() || n_samples <= 0.0 {
        return Err(invalid(
            "n_samples",
            format!("n_samples must be greater than 0, got {n_samples}"),
        ));
    }
    let target = if n_samples <= 1.0 {
        ((len as f64 * n_samples).ceil() as usize).max(1)
    } else {
        n_samples.trunc() as usize
    };
    Ok(target.min(len))
}

/// `_sample_dataset_randomly`: `size` rows chosen by `rnd.sample(range(len), size)`, kept in
/// their original order. When `len <= size` the rows come back unchanged and `rnd` is not used.
pub fn sample_rows(rows: Vec<Row>, size: usize, rnd: &mut PyRandom) -> Result<Vec<Row>, DatasetError> {
    if size == 0 {
        return Err(invalid("n_samples", "sample_size must be greater than 0"));
    }
    if rows.len() <= size {
        return Ok(rows);
    }
    let mut picked = rnd.sample_indices(rows.len(), size).unwrap_or_default();
    picked.sort_unstable();
    let mut keep = vec![false; rows.len()];
    for i in picked {
        keep[i] = true;
    }
    Ok(rows.into_iter().zip(keep).filter_map(|(r, k)| k.then_some(r)).collect())
}

/// `Dataset.train_test_split(test_size, seed)` (shuffled, not stratified): `n_test =
/// ceil(test_size * len)`; test = the first `n_test` rows of a NumPy `default_rng(seed)`
/// permutation, train = the rest, both in permutation order. Returns `(train, test)`.
pub fn train_test_split(rows: &[Row], test_size: f64, seed: u64) -> Result<(Vec<Row>, Vec<Row>), DatasetError> {
    let n = rows.len();
    let n_test = (test_size * n as f64).ceil();
    if !(test_size > 0.0 && test_size < 1.0) || n_test < 1.0 || n_test as usize >= n {
        return Err(invalid(
            "validation_split",
            format!("test_size {test_size} leaves an empty train or test split for {n} rows"),
        ));
    }
    let n_test = n_test as usize;
    let perm = NumpyGenerator::default_rng(u128::from(seed)).permutation(n);
    let test = perm[..n_test].iter().map(|&i| rows[i].clone()).collect();
    let train = perm[n_test..].iter().map(|&i| rows[i].clone()).collect();
    Ok((train, test))
}
