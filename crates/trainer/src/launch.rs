//! Starting a data-parallel run: one trainer per local device, each on a worker thread seated in
//! the group [`crate::distributed`] forms, and the group's failure handling (the first worker to
//! fail stops the others).

use std::sync::Arc;

use burn::tensor::backend::AutodiffBackend;
use provence_config::RunSetup;
use provence_model::ModelBackend;

use crate::backend::Precision;
use crate::distributed::{Abort, Collective, GroupBackend, GroupError, GroupSpec, Membership, Seat};
use crate::error::TrainError;
use crate::trainer::{TrainOutcome, run_training_in_group};

/// Trains `setup` data-parallel: one worker per device in `devices` on this node, `spec.nnodes`
/// nodes in all (world size = devices × nodes, ranks node-major). Returns rank 0's outcome on
/// node 0, `None` on the other nodes. With one worker in all this is
/// [`run_training`](crate::run_training).
pub fn train_data_parallel<B>(
    setup: &RunSetup,
    devices: &[B::Device],
    spec: &GroupSpec,
    precision: Precision,
) -> Result<Option<TrainOutcome>, TrainError>
where
    B: AutodiffBackend<InnerBackend: ModelBackend + GroupBackend> + ModelBackend,
{
    spec.check(devices.len())?;
    let native = spec.native_engine(B::InnerBackend::native_engine(), devices)?;
    let local = devices.len();
    let world = local * spec.nnodes;
    if world == 1 {
        return crate::run_training::<B>(setup, &devices[0], precision).map(Some);
    }
    let abort = Arc::new(Abort::default());
    let membership = Membership::form(spec, native, devices, &abort)?;
    tracing::info!(
        "data-parallel on {}: {world} workers ({local} on this node, {} node(s)); effective batch {} rows per \
         optimizer step",
        membership.engine_name(),
        spec.nnodes,
        setup.config.training_args.per_device_train_batch_size
            * setup.config.training_args.gradient_accumulation_steps
            * world
    );
    let outcomes = std::thread::scope(|scope| {
        let workers: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(local_rank, device)| {
                let seat = Seat {
                    rank: spec.node_rank * local + local_rank,
                    world,
                    timeout: spec.timeout,
                    master: spec.master_addr.clone(),
                    abort: abort.clone(),
                };
                let membership = membership.clone();
                scope.spawn(move || run_worker::<B>(setup, device, precision, seat, membership))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(GroupError::Setup("a worker thread panicked".into()).into()))
            })
            .collect::<Vec<_>>()
    });
    // The first error in rank order (a worker stopped by another's failure reports that
    // failure); otherwise rank 0's outcome, if this node has rank 0.
    let mut rank0 = None;
    for outcome in outcomes {
        if let Some(done) = outcome? {
            rank0.get_or_insert(done);
        }
    }
    Ok(rank0)
}
/// One worker thread: join, train, leave; a failure stops this process's other workers.
fn run_worker<B: AutodiffBackend<InnerBackend: ModelBackend> + ModelBackend>(
    setup: &RunSetup,
    device: &B::Device,
    precision: Precision,
    seat: Seat,
    membership: Membership<B::InnerBackend>,
) -> Result<Option<TrainOutcome>, TrainError> {
    let (rank, abort) = (seat.rank, seat.abort.clone());
    let train = |group: &mut dyn Collective<B::InnerBackend>| {
        run_training_in_group::<B>(setup, device, precision, &mut (), group)
    };
    let result = membership.run(seat, device, train);
    if let Err(e) = &result
        && !matches!(e, TrainError::Group(GroupError::PeerFailed { .. }))
    {
        tracing::error!("worker {rank} failed: {e}");
        abort.peer_failed(rank, e.to_string());
    }
    result
}
