//! Data-parallel training: the group a worker belongs to and the one collective the trainer
//! needs from it, an element-wise sum of one flat f32 vector over every worker.
//!
//! Each optimizer step, every worker packs its accumulated gradients (and its share of the step's
//! losses) into one vector ([`flat`]), the group sums it, and every worker applies the same
//! update to the same weights. The engine behind the sum is a trait ([`Collective`]): [`Solo`] for
//! one worker, [`NativeCollective`] on the backend's own device-to-device all-reduce (NCCL on
//! CUDA; GPUs of one process), [`BurnCollective`] on the `burn-collective` crate (threads of one
//! process and, via its orchestrator, processes on several machines). `docs/distributed.md` has
//! the whole picture.

mod burn_group;
mod flat;
mod group;
mod native;
mod seat;

pub use burn_group::BurnCollective;
pub(crate) use flat::{StepSums, broadcast_params, check_agreement, sync_step};
pub(crate) use group::Membership;
pub use group::{Engine, GroupSpec};
pub use native::{GroupBackend, NativeCollective, NativeEngine};
pub(crate) use seat::{Abort, Seat};

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Sums vectors over a data-parallel group: the extension point for communication engines.
///
/// Every worker of the group calls [`all_reduce_sum`](Collective::all_reduce_sum) the same number
/// of times with vectors of the same length; each call returns the element-wise sum of all of
/// them, identical on every worker.
pub trait Collective<B: Backend>: Send {
    /// This worker's rank, `0..world_size()`; rank 0 logs, evaluates and saves.
    fn rank(&self) -> usize;
    /// Workers in the group.
    fn world_size(&self) -> usize;
    /// The element-wise sum of `values` over the group. `what` names the exchange in errors
    /// (e.g. "step 12's gradients").
    fn all_reduce_sum(&mut self, values: Tensor<B, 1>, what: &str) -> Result<Tensor<B, 1>, GroupError>;
}

/// A group of one: the sum is the input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

impl<B: Backend> Collective<B> for Solo {
    fn rank(&self) -> usize {
        0
    }

    fn world_size(&self) -> usize {
        1
    }

    fn all_reduce_sum(&mut self, values: Tensor<B, 1>, _what: &str) -> Result<Tensor<B, 1>, GroupError> {
        Ok(values)
    }
}

/// Why a data-parallel group could not form or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// An exchange did not complete in time: a worker died, hangs, or never joined.
    #[error("{what} did not complete within {secs} s ({context}): {hint}")]
    Timeout {
        /// The exchange, e.g. "step 12's gradients".
        what: String,
        /// The timeout in seconds.
        secs: u64,
        /// Rank and world size of the reporting worker, and the master address.
        context: String,
        /// What to check.
        hint: String,
    },
    /// Another worker of this process failed; this one stops with it.
    #[error("worker {rank} stopped the group: {message}")]
    PeerFailed {
        /// The rank of the worker that failed.
        rank: usize,
        /// Its error.
        message: String,
    },
    /// The communication engine reported an error.
    #[error(
        "{what} failed in {engine} ({context}): {message}; a worker most likely died or lost its \
         connection (its own log says why)"
    )]
    Engine {
        /// The exchange.
        what: String,
        /// The engine, e.g. "burn-collective" or "NCCL".
        engine: &'static str,
        /// Rank and world size of the reporting worker.
        context: String,
        /// The engine's error.
        message: String,
    },
    /// The workers do not start from the same place (data, step budget or checkpoint).
    #[error("the workers disagree on {what}: {values}; start every worker with the same recipe, data and checkpoint")]
    Diverged {
        /// The quantity.
        what: &'static str,
        /// Each rank's value.
        values: String,
    },
    /// SIGINT or SIGTERM stopped the group's orchestrator.
    #[error("interrupted (SIGINT/SIGTERM): the group's orchestrator stopped")]
    Interrupted,
    /// The group's options are inconsistent.
    #[error("invalid data-parallel setup: {0}")]
    Setup(String),
}
