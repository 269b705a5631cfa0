//! [`Collective`] on the `burn-collective` crate: workers of one process are its local peers
//! (summed by its tree strategy), several processes are its nodes (its orchestrator introduces
//! them, its ring strategy sums between them).

use std::time::Duration;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use burn_collective::{CollectiveConfig, PeerId, ReduceOperation};

use super::seat::Seat;
use super::{Collective, GroupError};

/// The engine's name in logs and errors.
pub(super) const ENGINE: &str = "burn-collective";

/// One worker's membership of a `burn-collective` group.
pub struct BurnCollective<B: Backend> {
    peer: PeerId,
    seat: Seat,
    _backend: std::marker::PhantomData<B>,
}

impl<B: Backend> BurnCollective<B> {
    /// Joins the group in `seat` on `device`, waiting up to the seat's timeout for every peer
    /// (`config` says how many are local and, across machines, where the orchestrator is).
    pub(crate) fn join(seat: Seat, device: B::Device, config: CollectiveConfig) -> Result<Self, GroupError> {
        let peer = PeerId::from(seat.rank);
        seat.wait("joining the group", seat.timeout, ENGINE, move || {
            burn_collective::register::<B>(peer, device, config).map_err(|e| format!("{e:?}"))
        })?;
        tracing::info!("worker {} of {} joined the group", seat.rank, seat.world);
        Ok(Self {
            peer,
            seat,
            _backend: std::marker::PhantomData,
        })
    }

    /// Leaves the group (best effort, a few seconds at most: a peer may already be gone).
    pub(crate) fn leave(self) {
        let peer = self.peer;
        let call = move || burn_collective::finish_collective::<B>(peer).map_err(|e| format!("{e:?}"));
        if let Err(e) = self
            .seat
            .wait("leaving the group", Duration::from_secs(5), ENGINE, call)
        {
            tracing::debug!("leaving the group: {e}");
        }
    }
}

impl<B: Backend> Collective<B> for BurnCollective<B> {
    fn rank(&self) -> usize {
        self.seat.rank
    }

    fn world_size(&self) -> usize {
        self.seat.world
    }

    fn all_reduce_sum(&mut self, values: Tensor<B, 1>, what: &str) -> Result<Tensor<B, 1>, GroupError> {
        let peer = self.peer;
        let primitive = values.into_primitive().tensor();
        let summed = self.seat.wait(what, self.seat.timeout, ENGINE, move || {
            burn_collective::all_reduce::<B>(peer, primitive, ReduceOperation::Sum).map_err(|e| format!("{e:?}"))
        })?;
        Ok(Tensor::from_primitive(TensorPrimitive::Float(summed)))
    }
}
