//! A worker's seat in its group, shared by the communication engines: its rank, its patience,
//! and the failure flag of its process's workers. Every exchange runs on a helper thread so that
//! a worker waiting for a dead or hung peer gives up after the group's timeout instead of
//! blocking forever.

use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::GroupError;

/// Why a group stops early.
#[derive(Debug, Clone)]
enum AbortReason {
    /// A worker of this process failed.
    Peer { rank: usize, message: String },
    /// SIGINT/SIGTERM stopped the orchestrator.
    Interrupted,
}

/// Shared by the workers of one process: the first failure, which stops the others' waits.
#[derive(Debug, Default)]
pub(crate) struct Abort {
    reason: Mutex<Option<AbortReason>>,
}

impl Abort {
    /// Records that worker `rank` failed with `message` (the first reason wins).
    pub(crate) fn peer_failed(&self, rank: usize, message: String) {
        self.raise(AbortReason::Peer { rank, message });
    }

    /// Records that the orchestrator was stopped by a signal.
    pub(crate) fn interrupted(&self) {
        self.raise(AbortReason::Interrupted);
    }

    fn raise(&self, reason: AbortReason) {
        let mut slot = self.reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.get_or_insert(reason);
    }

    /// The recorded reason, as an error for a waiting worker.
    fn check(&self) -> Result<(), GroupError> {
        let slot = self.reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match slot.clone() {
            None => Ok(()),
            Some(AbortReason::Interrupted) => Err(GroupError::Interrupted),
            Some(AbortReason::Peer { rank, message }) => Err(GroupError::PeerFailed { rank, message }),
        }
    }
}

/// Where a worker sits in its group.
#[derive(Debug, Clone)]
pub(crate) struct Seat {
    /// Its rank, `0..world`.
    pub rank: usize,
    /// Workers in the group.
    pub world: usize,
    /// How long it waits for the others at any exchange.
    pub timeout: Duration,
    /// The orchestrator's `HOST:PORT` across machines (for error messages).
    pub master: Option<String>,
    /// The failure flag of its process's workers.
    pub abort: Arc<Abort>,
}

impl Seat {
    /// Runs `call` on a helper thread and waits for it, giving up after `timeout` or when
    /// another worker of this process has failed (also checked before starting). `engine`
    /// names the communication engine in errors.
    pub(crate) fn wait<T: Send + 'static>(
        &self,
        what: &str,
        timeout: Duration,
        engine: &'static str,
        call: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<T, GroupError> {
        self.abort.check()?;
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(call());
        });
        let engine_error = |message: String| GroupError::Engine {
            what: what.to_owned(),
            engine,
            context: self.context(),
            message,
        };
        let deadline = Instant::now() + timeout;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(message)) => return Err(engine_error(message)),
                Err(RecvTimeoutError::Disconnected) => return Err(engine_error("the collective call panicked".into())),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.abort.check()?;
            if Instant::now() >= deadline {
                return Err(GroupError::Timeout {
                    what: what.to_owned(),
                    secs: timeout.as_secs(),
                    context: self.context(),
                    hint: "a worker died, hangs, or never joined; every worker must run the same recipe \
                           with the same --devices/--nnodes/--master-addr (raise --dist-timeout for slow \
                           evaluations or start-ups)"
                        .to_owned(),
                });
            }
        }
    }

    /// Rank, world size and master address, for error messages.
    fn context(&self) -> String {
        let master = self
            .master
            .as_deref()
            .map(|m| format!(", master {m}"))
            .unwrap_or_default();
        format!("rank {} of {}{master}", self.rank, self.world)
    }
}
