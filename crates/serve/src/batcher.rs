//! Dynamic batching: one dedicated thread owns the model and merges the requests that are
//! queued together into one [`Scorer::score_many`] call, so their blocks share forward passes.
//!
//! The thread takes the first queued request, then keeps taking requests (without waiting while
//! some are queued, else up to [`Limits::batch_wait`] under load: while other admitted requests
//! are still on their way, or after a merged call) until the call holds [`Limits::max_batch_requests`] requests or about
//! [`Limits::max_batch_tokens`] tokens. `score_many` then splits the blocks into length-sorted
//! forward passes within the token and block budgets and hands each request its own result.

use crate::config::Limits;
use crate::error::ApiError;
use crate::metrics::{CallRecord, Metrics};
use crate::scorer::Scorer;
use provence_infer::{ForwardPass, ProcessInput, ProcessOptions, ScoredBatch};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::{Semaphore, oneshot};

/// What the batcher answers one request with.
pub(crate) type Reply = Result<Scored, ApiError>;

/// One request's scores and how long it waited for its model call.
pub(crate) struct Scored {
    /// The scores (every number finite).
    pub batch: ScoredBatch,
    /// Seconds in the queue.
    pub queue_seconds: f64,
}

/// One request for the batcher.
pub(crate) struct Job {
    /// The documents.
    pub input: ProcessInput,
    /// How to prepare and aggregate them.
    pub options: ProcessOptions,
    /// Estimated tokens of its blocks ([`estimate_tokens`]).
    pub cost: usize,
    /// When it was queued.
    pub queued: Instant,
    /// Where its result goes.
    pub reply: oneshot::Sender<Reply>,
}

enum Message {
    Job(Box<Job>),
    Stop,
}

/// The handle the HTTP side holds: queue jobs, ask whether the thread is alive, stop it.
pub(crate) struct Batcher {
    sender: Sender<Message>,
    alive: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

/// The running thread, joined at shutdown.
pub(crate) struct BatcherThread {
    sender: Sender<Message>,
    handle: JoinHandle<()>,
}

impl Batcher {
    /// Starts the thread that owns `scorer`. `admitted` counts the requests the HTTP side has
    /// admitted (to tell whether waiting for more can pay off).
    pub fn start<S: Scorer>(
        scorer: S,
        limits: Limits,
        admitted: Arc<Semaphore>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Self, BatcherThread)> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let alive = Arc::new(AtomicBool::new(true));
        let worker = Worker {
            scorer,
            limits,
            admitted,
            metrics: metrics.clone(),
            alive: alive.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("provence-batcher".into())
            .spawn(move || worker.run(&receiver))?;
        let thread = BatcherThread {
            sender: sender.clone(),
            handle,
        };
        Ok((Self { sender, alive, metrics }, thread))
    }

    /// Queues a job; `false` when the thread is gone.
    pub fn submit(&self, job: Job) -> bool {
        self.metrics.enqueued();
        let sent = self.sender.send(Message::Job(Box::new(job))).is_ok();
        if !sent {
            self.metrics.dequeued();
        }
        sent
    }

    /// Whether the thread still takes jobs.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
}

impl BatcherThread {
    /// Lets the thread finish every queued job, then joins it.
    pub fn stop(self) -> Result<(), String> {
        let _ = self.sender.send(Message::Stop);
        drop(self.sender);
        self.handle
            .join()
            .map_err(|_| "the batcher thread panicked".to_string())
    }
}

/// The thread's state.
struct Worker<S> {
    scorer: S,
    limits: Limits,
    admitted: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    alive: Arc<AtomicBool>,
}

/// One model call's jobs, the job that did not fit, and whether to stop afterwards.
struct Collected {
    jobs: Vec<Job>,
    carry: Option<Job>,
    stop: bool,
}

impl<S: Scorer> Worker<S> {
    fn run(self, receiver: &Receiver<Message>) {
        let mut carry: Option<Job> = None;
        let mut previous = 0;
        loop {
            let first = match carry.take() {
                Some(job) => job,
                None => match receiver.recv() {
                    Ok(Message::Job(job)) => *job,
                    Ok(Message::Stop) | Err(_) => break,
                },
            };
            self.metrics.dequeued();
            let collected = self.collect(first, receiver, previous);
            previous = collected.jobs.len();
            self.score(collected.jobs);
            carry = collected.carry;
            if collected.stop {
                if let Some(job) = carry.take() {
                    self.metrics.dequeued();
                    self.score(vec![job]);
                }
                break;
            }
        }
        self.alive.store(false, Ordering::Relaxed);
        tracing::debug!("batcher stopped");
    }

    /// Requests admitted by the HTTP side and not yet answered.
    fn admitted(&self) -> usize {
        self.limits
            .max_concurrent_requests
            .saturating_sub(self.admitted.available_permits())
    }

    /// Takes jobs after `first` until a budget is reached or the wait is over. `previous` is
    /// the size of the last call: after a merged call, the clients just answered are likely to
    /// send again within the wait.
    fn collect(&self, first: Job, receiver: &Receiver<Message>, previous: usize) -> Collected {
        let deadline = Instant::now() + self.limits.batch_wait;
        let mut tokens = first.cost;
        let mut collected = Collected {
            jobs: vec![first],
            carry: None,
            stop: false,
        };
        while collected.jobs.len() < self.limits.max_batch_requests && tokens < self.limits.max_batch_tokens {
            let message = match receiver.try_recv() {
                Ok(message) => message,
                Err(TryRecvError::Disconnected) => Message::Stop,
                Err(TryRecvError::Empty) => {
                    let now = Instant::now();
                    // Waiting pays off only under load: admitted requests still on their
                    // way, or a merged call just answered.
                    let loaded = previous > 1 || self.admitted() > collected.jobs.len();
                    if now >= deadline || !loaded {
                        break;
                    }
                    match receiver.recv_timeout(deadline - now) {
                        Ok(message) => message,
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => Message::Stop,
                    }
                }
            };
            let job = match message {
                Message::Job(job) => *job,
                Message::Stop => {
                    collected.stop = true;
                    break;
                }
            };
            if tokens + job.cost > self.limits.max_batch_tokens {
                collected.carry = Some(job);
                break;
            }
            self.metrics.dequeued();
            tokens += job.cost;
            collected.jobs.push(job);
        }
        collected
    }

    /// One `score_many` call over `jobs`; each job gets its own result. Jobs whose client has
    /// gone are skipped; a panic in the model answers every job with a backend error instead
    /// of ending the thread.
    fn score(&self, jobs: Vec<Job>) {
        let start = Instant::now();
        let mut inputs = Vec::with_capacity(jobs.len());
        let mut rest = Vec::with_capacity(jobs.len());
        for job in jobs {
            if job.reply.is_closed() {
                continue;
            }
            inputs.push(job.input);
            rest.push((job.options, job.reply, start.duration_since(job.queued).as_secs_f64()));
        }
        if inputs.is_empty() {
            return;
        }
        let requests: Vec<(ProcessInput, &ProcessOptions)> =
            inputs.into_iter().zip(rest.iter().map(|(o, ..)| o)).collect();
        let n = requests.len();
        let (max_blocks, max_tokens) = (self.limits.max_batch_blocks, self.limits.max_batch_tokens);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.scorer.score_many(requests, max_blocks, max_tokens)
        }));
        let (results, passes): (Vec<Result<ScoredBatch, ApiError>>, Vec<ForwardPass>) = match outcome {
            Ok(scored) => (
                scored.results.into_iter().map(|r| r.map_err(ApiError::from)).collect(),
                scored.passes,
            ),
            Err(_) => {
                tracing::error!("the model panicked on a batch of {n} requests");
                let failed = || Err(ApiError::backend("Inference failed: the model failed on this batch"));
                ((0..n).map(|_| failed()).collect(), Vec::new())
            }
        };
        let seconds = start.elapsed().as_secs_f64();
        tracing::debug!(requests = n, passes = passes.len(), seconds, "model call");
        let queued_seconds: Vec<f64> = rest.iter().map(|(.., q)| *q).collect();
        self.metrics.observe_call(&CallRecord {
            requests: n,
            passes: &passes,
            seconds,
            queued_seconds: &queued_seconds,
        });
        for ((_, reply, queue_seconds), result) in rest.into_iter().zip(results) {
            let answer = result.and_then(finite).map(|batch| Scored { batch, queue_seconds });
            // A client that has gone away no longer listens; nothing to do then.
            let _ = reply.send(answer);
        }
    }
}

/// `batch` if every score and probability in it is a number: TEI answers a NaN score with a
/// backend error rather than serialising it (JSON has no NaN).
fn finite(batch: ScoredBatch) -> Result<ScoredBatch, ApiError> {
    let numbers_ok = batch.documents.iter().flatten().all(|d| {
        d.block_score.is_none_or(f64::is_finite)
            && d.block_logit.is_none_or(f64::is_finite)
            && d.sentence_probabilities.iter().all(|p| p.is_finite())
    });
    if numbers_ok {
        Ok(batch)
    } else {
        tracing::error!("the model produced a NaN or infinite score");
        Err(ApiError::backend("score is NaN"))
    }
}

/// Estimated tokens of a request's blocks before tokenisation: a quarter of the UTF-8 bytes
/// (about right for English BPE and for Japanese alike) of every document and, per document,
/// of its query, plus three special tokens per document. `questions` are byte lengths.
pub(crate) fn estimate_tokens(questions: &[usize], documents_per_query: &[Vec<usize>]) -> usize {
    questions
        .iter()
        .zip(documents_per_query)
        .map(|(q, docs)| docs.iter().map(|bytes| (q + bytes) / 4 + 3).sum::<usize>())
        .sum()
}
