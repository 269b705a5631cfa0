//! Running blocking requests side by side: a fixed number of worker threads take items in
//! order; results come back in input order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `f(index, item)` for every item on `concurrency` scoped threads (at least one); the results
/// in input order.
pub fn map_concurrent<T: Sync, R: Send>(items: &[T], concurrency: usize, f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = concurrency.max(1).min(items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(i, item);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_and_run_side_by_side() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<u64> = (0..16).collect();
        let out = map_concurrent(&items, 4, |i, &x| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            (i as u64) * 100 + x
        });
        assert_eq!(out, (0..16).map(|x| x * 101).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) > 1, "requests ran one at a time");
        assert!(map_concurrent(&Vec::<u8>::new(), 3, |_, _| 0).is_empty());
    }
}
