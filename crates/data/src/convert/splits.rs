//! Which source rows end up in which output split, in which order: upstream's per-split
//! `--sample-size` sampling and its carve-out of `validation`/`test` from `train`, both through
//! `Dataset.shuffle(seed)` = a fresh `np.random.default_rng(seed).permutation(n)` each time.

use provence_datasets::NumpyGenerator;

/// One output split: its name and the source rows it holds, as `(source split index, row)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPlan {
    /// Output split name.
    pub name: String,
    /// Source rows in output order: (index into the source's splits, row in that split).
    pub rows: Vec<(usize, usize)>,
}

/// `Dataset.shuffle(seed=seed)` of `rows` (no draw for an empty dataset).
fn shuffle(rows: &[(usize, usize)], seed: u64) -> Vec<(usize, usize)> {
    if rows.is_empty() {
        return Vec::new();
    }
    NumpyGenerator::default_rng(u128::from(seed))
        .permutation(rows.len())
        .into_iter()
        .map(|i| rows[i])
        .collect()
}

/// Upstream's `compute_split_size`: 1% of `n` (Python's round-half-to-even), at least 1, at most
/// 5,000, and at most half of `n - 1`; 0 for `n <= 1`.
pub fn split_size(n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let desired = ((n as f64 * 0.01).round_ties_even() as usize).clamp(1, 5000);
    let room = n - 1;
    desired.min(if room <= 1 { room } else { room / 2 })
}

/// Why the splits cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The source has no `train` split.
    NoTrain,
    /// `validation`/`test` must be carved out of an empty `train`.
    EmptyTrain,
}

/// The output splits for source splits of `sizes` rows (in the source's order): every split
/// sampled to `sample_size` rows when given, then, unless both `validation` and `test` exist,
/// `train` shuffled once more and cut into `validation`, `test` and the rest (a lone source
/// `validation` or `test` is replaced, as upstream does). Returns the plans in output order and
/// whether `validation`/`test` were carved out.
pub fn plan_splits(
    sizes: &[(String, usize)],
    sample_size: Option<usize>,
    seed: u64,
) -> Result<(Vec<SplitPlan>, bool), PlanError> {
    let mut plans: Vec<SplitPlan> = sizes
        .iter()
        .enumerate()
        .map(|(s, (name, n))| {
            let all: Vec<(usize, usize)> = (0..*n).map(|r| (s, r)).collect();
            let rows = match sample_size {
                Some(k) => shuffle(&all, seed).into_iter().take(k).collect(),
                None => all,
            };
            SplitPlan {
                name: name.clone(),
                rows,
            }
        })
        .collect();
    let has = |plans: &[SplitPlan], name: &str| plans.iter().any(|p| p.name == name);
    let train = plans.iter().position(|p| p.name == "train").ok_or(PlanError::NoTrain)?;
    if has(&plans, "validation") && has(&plans, "test") {
        return Ok((plans, false));
    }
    let shuffled = shuffle(&plans[train].rows, seed);
    if shuffled.is_empty() {
        return Err(PlanError::EmptyTrain);
    }
    let total = shuffled.len();
    let validation = split_size(total);
    let test = split_size(total - validation);
    let carve = [
        ("train", shuffled[validation + test..].to_vec()),
        ("validation", shuffled[..validation].to_vec()),
        ("test", shuffled[validation..validation + test].to_vec()),
    ];
    // Like assigning keys of a Python dict: existing splits keep their place, new ones go last.
    for (name, rows) in carve {
        match plans.iter_mut().find(|p| p.name == name) {
            Some(plan) => plan.rows = rows,
            None => plans.push(SplitPlan {
                name: name.to_owned(),
                rows,
            }),
        }
    }
    Ok((plans, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_half_to_even_and_use_the_remainder() {
        assert_eq!([250, 350, 450, 550, 650].map(split_size), [2, 4, 4, 6, 6]);
        assert_eq!(split_size(253), 3);
        assert_eq!(split_size(250), 2);
        assert_eq!([0, 1, 2, 3].map(split_size), [0, 0, 1, 1]);
        assert_eq!(split_size(600_000), 5000);
    }

    #[test]
    fn lone_validation_is_replaced_and_test_appended() {
        let sizes = vec![("train".to_owned(), 8), ("validation".to_owned(), 3)];
        let (plans, carved) = plan_splits(&sizes, None, 5).unwrap();
        assert!(carved);
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["train", "validation", "test"]);
        assert_eq!(plans.iter().map(|p| p.rows.len()).collect::<Vec<_>>(), [6, 1, 1]);
        assert!(plans.iter().flat_map(|p| &p.rows).all(|&(s, _)| s == 0));
        assert_eq!(plan_splits(&[("dev".to_owned(), 3)], None, 1), Err(PlanError::NoTrain));
        assert_eq!(
            plan_splits(&[("train".to_owned(), 0)], None, 1),
            Err(PlanError::EmptyTrain)
        );
    }
}
