//! [`Collective`] on the `burn-collective` crate: workers of one process are its local peers
//! (summed by its tree strategy), several processes are its nodes (its orchestrator introduces
//! them, its ring strategy sums between them). Every call runs on a helper thread so that a
//! worker waiting for a dead or hung peer gives up after the group's timeout instead of blocking
//! forever.

use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use burn_collective::{CollectiveConfig, CollectiveError, PeerId, ReduceOperation};

use super::{Collective, GroupError};

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

/// One worker's membership of a `burn-collective` group.
pub struct BurnCollective<B: Backend> {
    peer: PeerId,
    rank: usize,
    world: usize,
    timeout: Duration,
    master: Option<String>,
    abort: Arc<Abort>,
    _backend: std::marker::PhantomData<B>,
}

impl<B: Backend> BurnCollective<B> {
    /// Joins the group in `seat` on `device`, waiting up to the seat's timeout for every peer
    /// (`config` says how many are local and, across machines, where the orchestrator is).
    pub(crate) fn join(seat: Seat, device: B::Device, config: CollectiveConfig) -> Result<Self, GroupError> {
        let member = Self {
            peer: PeerId::from(seat.rank),
            rank: seat.rank,
            world: seat.world,
            timeout: seat.timeout,
            master: seat.master,
            abort: seat.abort,
            _backend: std::marker::PhantomData,
        };
        let peer = member.peer;
        member.wait("joining the group", member.timeout, move || {
            burn_collective::register::<B>(peer, device, config)
        })?;
        tracing::info!("worker {} of {} joined the group", member.rank, member.world);
        Ok(member)
    }

    /// Leaves the group (best effort, a few seconds at most: a peer may already be gone).
    pub(crate) fn leave(self) {
        let peer = self.peer;
        let call = move || burn_collective::finish_collective::<B>(peer);
        if let Err(e) = self.wait("leaving the group", Duration::from_secs(5), call) {
            tracing::debug!("leaving the group: {e}");
        }
    }

    /// Runs `call` on a helper thread and waits for it, giving up after `timeout` or when
    /// another worker of this process has failed (also checked before starting).
    fn wait<T: Send + 'static>(
        &self,
        what: &str,
        timeout: Duration,
        call: impl FnOnce() -> Result<T, CollectiveError> + Send + 'static,
    ) -> Result<T, GroupError> {
        self.abort.check()?;
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(call());
        });
        let deadline = Instant::now() + timeout;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => {
                    return Err(GroupError::Engine {
                        what: what.to_owned(),
                        context: self.context(),
                        message: format!("{e:?}"),
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(GroupError::Engine {
                        what: what.to_owned(),
                        context: self.context(),
                        message: "the collective call panicked".to_owned(),
                    });
                }
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

    fn context(&self) -> String {
        let master = self
            .master
            .as_deref()
            .map(|m| format!(", master {m}"))
            .unwrap_or_default();
        format!("rank {} of {}{master}", self.rank, self.world)
    }
}

impl<B: Backend> Collective<B> for BurnCollective<B> {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world
    }

    fn all_reduce_sum(&mut self, values: Tensor<B, 1>, what: &str) -> Result<Tensor<B, 1>, GroupError> {
        let peer = self.peer;
        let primitive = values.into_primitive().tensor();
        let summed = self.wait(what, self.timeout, move || {
            burn_collective::all_reduce::<B>(peer, primitive, ReduceOperation::Sum)
        })?;
        Ok(Tensor::from_primitive(TensorPrimitive::Float(summed)))
    }
}
