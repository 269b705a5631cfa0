//! [`Collective`] on a backend's own device-to-device all-reduce, for the workers (one per
//! device) of one process: NCCL on CUDA, through Burn's `DistributedBackend`. The vectors never
//! leave the devices, unlike `burn-collective`, whose sums are ordinary tensor ops that move the
//! peers' tensors to one device.

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use super::seat::Seat;
use super::{Collective, GroupError};

/// A backend's device-native all-reduce: its name (for logs and errors) and the element-wise
/// sum of one tensor over every device in the list, each device's worker calling it with its own
/// tensor at the same time.
pub struct NativeEngine<B: Backend> {
    /// The engine's name, e.g. "NCCL".
    pub name: &'static str,
    /// Sums `tensor` over `devices`; returns this device's copy of the sum.
    pub all_reduce_sum: fn(tensor: FloatTensor<B>, devices: &[B::Device]) -> FloatTensor<B>,
}

impl<B: Backend> Clone for NativeEngine<B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B: Backend> Copy for NativeEngine<B> {}

impl<B: Backend> std::fmt::Debug for NativeEngine<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeEngine")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Backends that may bring their own all-reduce between the devices of one process: the
/// extension point for device-native engines (`docs/architecture.md`). Backends without one use
/// `burn-collective`.
pub trait GroupBackend: Backend {
    /// This backend's native engine, if it has one.
    fn native_engine() -> Option<NativeEngine<Self>> {
        None
    }
}

/// The CPU backend: its workers share one memory, `burn-collective` sums them.
impl GroupBackend for burn::backend::Flex {}

/// wgpu: no device-to-device all-reduce of its own; `burn-collective` sums on the device.
#[cfg(feature = "wgpu")]
impl GroupBackend for burn::backend::Wgpu {}

/// CUDA: NCCL, through Burn's `DistributedBackend` (communicators are created on the first
/// all-reduce of a device list and reused after).
#[cfg(feature = "cuda")]
impl GroupBackend for burn::backend::Cuda {
    fn native_engine() -> Option<NativeEngine<Self>> {
        fn nccl_sum(
            tensor: FloatTensor<burn::backend::Cuda>,
            devices: &[burn::backend::cuda::CudaDevice],
        ) -> FloatTensor<burn::backend::Cuda> {
            use burn::tensor::backend::DeviceOps;
            use burn::tensor::backend::distributed::{DistributedBackend, ReduceOperation};
            let ids = devices.iter().map(DeviceOps::id).collect();
            <burn::backend::Cuda as DistributedBackend>::all_reduce(tensor, ReduceOperation::Sum, ids).resolve()
        }
        Some(NativeEngine {
            name: "NCCL",
            all_reduce_sum: nccl_sum,
        })
    }
}

/// One worker's membership of a group summed by its backend's native engine.
pub struct NativeCollective<B: Backend> {
    engine: NativeEngine<B>,
    devices: Vec<B::Device>,
    seat: Seat,
}

impl<B: Backend> NativeCollective<B> {
    /// The worker in `seat`, one of the workers on `devices` (one each, in rank order). There is
    /// no separate join: the first exchange (the start-up agreement check) waits for everyone.
    pub(crate) fn new(seat: Seat, engine: NativeEngine<B>, devices: Vec<B::Device>) -> Self {
        Self { engine, devices, seat }
    }
}

impl<B: Backend> Collective<B> for NativeCollective<B> {
    fn rank(&self) -> usize {
        self.seat.rank
    }

    fn world_size(&self) -> usize {
        self.seat.world
    }

    fn all_reduce_sum(&mut self, values: Tensor<B, 1>, what: &str) -> Result<Tensor<B, 1>, GroupError> {
        let (sum, devices) = (self.engine.all_reduce_sum, self.devices.clone());
        let primitive = values.into_primitive().tensor();
        self.seat.wait(what, self.seat.timeout, self.engine.name, move || {
            let summed = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(sum(primitive, &devices)));
            // The sum is queued on the device; reading one value of it waits for the peers here,
            // within the timeout, rather than at some later read on the worker's own thread.
            let n = summed.dims()[0];
            if n > 0 {
                summed
                    .clone()
                    .slice(n - 1..n)
                    .into_data()
                    .to_vec::<f32>()
                    .map_err(|e| format!("reading the sum: {e:?}"))?;
            }
            Ok(summed)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use burn::backend::Flex;
    use burn::tensor::Device;

    use super::*;
    use crate::distributed::seat::Abort;

    fn seat(timeout: Duration) -> Seat {
        Seat {
            rank: 1,
            world: 2,
            timeout,
            master: None,
            abort: Arc::new(Abort::default()),
        }
    }

    fn doubled(tensor: FloatTensor<Flex>, devices: &[Device<Flex>]) -> FloatTensor<Flex> {
        let t = Tensor::<Flex, 1>::from_primitive(TensorPrimitive::Float(tensor));
        (t * devices.len() as f32).into_primitive().tensor()
    }

    fn never_returns(_: FloatTensor<Flex>, _: &[Device<Flex>]) -> FloatTensor<Flex> {
        loop {
            std::thread::park();
        }
    }

    #[test]
    fn the_engines_sum_comes_back_to_the_worker() {
        let device = Default::default();
        let engine = NativeEngine::<Flex> {
            name: "fake",
            all_reduce_sum: doubled,
        };
        let mut member = NativeCollective::new(seat(Duration::from_secs(10)), engine, vec![device, device]);
        let values = Tensor::<Flex, 1>::from_floats([1.0, -2.5, 3.0], &device);
        let summed = member.all_reduce_sum(values, "a test").unwrap();
        assert_eq!(summed.into_data().to_vec::<f32>().unwrap(), vec![2.0, -5.0, 6.0]);
        assert_eq!((member.rank(), member.world_size()), (1, 2));
    }

    #[test]
    fn a_peer_that_never_arrives_times_out_with_the_engine_and_exchange_named() {
        let device = Default::default();
        let engine = NativeEngine::<Flex> {
            name: "fake-nccl",
            all_reduce_sum: never_returns,
        };
        let mut member = NativeCollective::new(seat(Duration::from_millis(300)), engine, vec![device, device]);
        let start = Instant::now();
        let err = member
            .all_reduce_sum(Tensor::from_floats([1.0], &device), "step 7's gradients")
            .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        assert!(matches!(err, GroupError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("step 7's gradients"), "{err}");
        assert!(err.to_string().contains("rank 1 of 2"), "{err}");
    }

    #[test]
    fn a_failed_sibling_stops_the_wait_before_the_timeout() {
        let device = Default::default();
        let engine = NativeEngine::<Flex> {
            name: "fake-nccl",
            all_reduce_sum: never_returns,
        };
        let seat = seat(Duration::from_secs(600));
        let abort = seat.abort.clone();
        let mut member = NativeCollective::new(seat, engine, vec![device, device]);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            abort.peer_failed(0, "out of memory".into());
        });
        let err = member
            .all_reduce_sum(Tensor::from_floats([1.0], &device), "step 1's gradients")
            .unwrap_err();
        assert!(matches!(err, GroupError::PeerFailed { rank: 0, .. }), "{err}");
    }
}
