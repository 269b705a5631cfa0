//! Runs collation ahead of the model on worker threads, delivering results in job order, so
//! the device never waits for tokenization (`dataloader_num_workers`).

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// An ordered, bounded, multi-threaded map: `f` runs on `workers` threads at most `depth` jobs
/// ahead of the consumer, and results come out in the order of `jobs`. With `workers == 0` the
/// jobs run lazily on the consumer's thread.
pub struct Prefetcher<T: Send + 'static> {
    inner: Inner<T>,
}

enum Inner<T> {
    Inline(Box<dyn Iterator<Item = T> + Send>),
    Threaded {
        results: Receiver<(usize, T)>,
        pending: BTreeMap<usize, T>,
        next: usize,
        total: usize,
        // Dropping the prefetcher drops this sender and the result receiver; the detached
        // workers then fail to get a ticket or to send, and exit.
        tickets: SyncSender<()>,
    },
}

impl<T: Send + 'static> Prefetcher<T> {
    /// Starts mapping `jobs` with `f`.
    pub fn new<J, F>(jobs: Vec<J>, workers: usize, depth: usize, f: F) -> Self
    where
        J: Send + 'static,
        F: Fn(J) -> T + Send + Sync + 'static,
    {
        if workers == 0 {
            return Self {
                inner: Inner::Inline(Box::new(jobs.into_iter().map(f))),
            };
        }
        let total = jobs.len();
        let depth = depth.max(workers);
        let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate()));
        let f = Arc::new(f);
        // Each job needs a ticket; the consumer hands one back per result taken, bounding how far
        // the workers run ahead.
        let (ticket_tx, ticket_rx) = sync_channel::<()>(depth);
        for _ in 0..depth {
            let _ = ticket_tx.send(());
        }
        let ticket_rx = Arc::new(Mutex::new(ticket_rx));
        let (result_tx, results) = sync_channel::<(usize, T)>(depth);
        for _ in 0..workers {
            let (queue, f, tickets, out) = (queue.clone(), f.clone(), ticket_rx.clone(), result_tx.clone());
            std::thread::spawn(move || {
                loop {
                    let ticket = tickets
                        .lock()
                        .map(|rx| rx.recv())
                        .unwrap_or(Err(std::sync::mpsc::RecvError));
                    if ticket.is_err() {
                        return;
                    }
                    let job = match queue.lock() {
                        Ok(mut jobs) => jobs.next(),
                        Err(_) => return,
                    };
                    let Some((index, job)) = job else { return };
                    if out.send((index, f(job))).is_err() {
                        return;
                    }
                }
            });
        }
        Self {
            inner: Inner::Threaded {
                results,
                pending: BTreeMap::new(),
                next: 0,
                total,
                tickets: ticket_tx,
            },
        }
    }
}

impl<T: Send + 'static> Iterator for Prefetcher<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match &mut self.inner {
            Inner::Inline(iter) => iter.next(),
            Inner::Threaded {
                results,
                pending,
                next,
                total,
                tickets,
            } => {
                if *next >= *total {
                    return None;
                }
                loop {
                    if let Some(item) = pending.remove(next) {
                        *next += 1;
                        let _ = tickets.try_send(());
                        return Some(item);
                    }
                    // A worker that panicked closes its sender; the remaining jobs then never arrive.
                    let (index, item) = results.recv().ok()?;
                    pending.insert(index, item);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_job_order_with_any_worker_count() {
        for workers in [0, 1, 3] {
            let jobs: Vec<u64> = (0..50).collect();
            let out: Vec<u64> = Prefetcher::new(jobs, workers, 4, |x| {
                std::thread::sleep(std::time::Duration::from_micros((50 - x) * 20));
                x * x
            })
            .collect();
            assert_eq!(out, (0..50).map(|x| x * x).collect::<Vec<_>>(), "workers={workers}");
        }
    }

    #[test]
    fn dropping_early_stops_the_workers() {
        let mut it = Prefetcher::new((0..1000).collect::<Vec<u32>>(), 2, 2, |x| x + 1);
        assert_eq!(it.next(), Some(1));
        drop(it);
    }
}
