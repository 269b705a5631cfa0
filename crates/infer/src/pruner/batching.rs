//! Forward batches of blocks: sorted by length, filled up to a token budget and a block cap, so
//! that blocks of similar length share a pass (little padding, few distinct shapes) and a batch
//! of long blocks stays as small in memory as a batch of short ones.

/// Default token budget of one forward pass (`ProcessOptions::max_batch_tokens`), measured on
/// the CPU (docs/performance.md): larger batches stop paying off well before this.
pub const DEFAULT_MAX_BATCH_TOKENS: usize = 8192;

/// Splits blocks of `lengths` tokens into forward batches of block indices. Blocks are taken
/// longest first (ties in input order); a batch holds at most `max_blocks` blocks and at most
/// `max_tokens` padded tokens (its block count times its longest block). A block longer than the
/// budget gets a batch of its own. Every index appears exactly once.
pub fn plan_batches(lengths: &[usize], max_blocks: usize, max_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Descending order: the batch's first block is its longest.
        let longest = current.first().map_or(lengths[i], |&first| lengths[first]);
        let fits = current.len() < max_blocks.max(1) && (current.len() + 1) * longest.max(1) <= max_tokens;
        if !fits && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_first_within_both_budgets() {
        let lengths = [10, 50, 30, 50, 5, 30];
        // At most 3 blocks and 100 padded tokens per batch.
        let batches = plan_batches(&lengths, 3, 100);
        assert_eq!(batches, vec![vec![1, 3], vec![2, 5, 0], vec![4]]);
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
    }

    #[test]
    fn block_cap_and_oversized_blocks() {
        assert_eq!(
            plan_batches(&[4, 4, 4, 4, 4], 2, 1000),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
        // A block over the budget still runs, alone.
        assert_eq!(plan_batches(&[500, 8, 8], 10, 64), vec![vec![0], vec![1, 2]]);
        assert!(plan_batches(&[], 4, 64).is_empty());
    }
}
