//! Starting a data-parallel run: the engine, one worker thread per local device, the
//! orchestrator on node 0 when the group spans several processes, and the group's failure
//! handling.

use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn_collective::{AllReduceStrategy, CollectiveConfig};
use provence_config::RunSetup;
use provence_model::ModelBackend;

use super::burn_group::{self, BurnCollective};
use super::native::{GroupBackend, NativeCollective, NativeEngine};
use super::seat::{Abort, Seat};
use super::{Collective, GroupError};
use crate::backend::Precision;
use crate::error::TrainError;
use crate::trainer::TrainOutcome;
use crate::trainer::run_training_in_group;

/// Which communication engine sums the group's gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The backend's native engine (NCCL on CUDA) within one machine, `burn-collective`
    /// otherwise (CPU workers, several machines).
    #[default]
    Auto,
    /// The backend's native engine; one machine only.
    Native,
    /// `burn-collective`, on any backend and across machines.
    BurnCollective,
}

/// How a data-parallel run is laid out, in torchrun's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Machines (processes) in the group.
    pub nnodes: usize,
    /// This process's index, `0..nnodes`; node 0 hosts the orchestrator.
    pub node_rank: usize,
    /// `HOST:PORT` of node 0's orchestrator; required when `nnodes > 1`. Node `r` also listens
    /// on `PORT + 1 + r` for its peers' tensor downloads.
    pub master_addr: Option<String>,
    /// How long a worker waits for the others at any exchange (joining, each step's
    /// gradients) before the group stops with an error.
    pub timeout: Duration,
    /// The communication engine.
    pub engine: Engine,
}

impl Default for GroupSpec {
    /// One machine, 30 minutes of patience (PyTorch's default process-group timeout).
    fn default() -> Self {
        Self {
            nnodes: 1,
            node_rank: 0,
            master_addr: None,
            timeout: Duration::from_secs(30 * 60),
            engine: Engine::Auto,
        }
    }
}

impl GroupSpec {
    /// The orchestrator's host and port, checked.
    fn master(&self) -> Result<Option<(String, u16)>, GroupError> {
        if self.nnodes <= 1 {
            return Ok(None);
        }
        let addr = self
            .master_addr
            .as_deref()
            .ok_or_else(|| GroupError::Setup(format!("--nnodes {} needs --master-addr HOST:PORT", self.nnodes)))?;
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
            .filter(|(h, p)| !h.is_empty() && *p > 0)
            .ok_or_else(|| GroupError::Setup(format!("--master-addr {addr:?}: expected HOST:PORT")))?;
        Ok(Some((host, port)))
    }

    fn check(&self, local_workers: usize) -> Result<(), GroupError> {
        if local_workers == 0 || self.nnodes == 0 {
            return Err(GroupError::Setup("at least one device and one node are needed".into()));
        }
        if self.node_rank >= self.nnodes {
            return Err(GroupError::Setup(format!(
                "--node-rank {} is outside 0..{} (--nnodes {})",
                self.node_rank, self.nnodes, self.nnodes
            )));
        }
        self.master().map(|_| ())
    }

    /// The backend's native engine (`available`) when this group, on `devices` here, uses it;
    /// `None` for `burn-collective`. The native engine needs one process and one worker per
    /// device.
    fn native_engine<B: Backend>(
        &self,
        available: Option<NativeEngine<B>>,
        devices: &[B::Device],
    ) -> Result<Option<NativeEngine<B>>, GroupError> {
        let distinct = devices.iter().enumerate().all(|(i, d)| !devices[..i].contains(d));
        match (self.engine, available) {
            (Engine::BurnCollective, _) => Ok(None),
            (Engine::Auto, native) => Ok(native.filter(|_| self.nnodes == 1 && distinct)),
            (Engine::Native, None) => Err(GroupError::Setup(
                "the native engine needs a backend that has one (NCCL: the CUDA build); this build's \
                 backend sums through burn-collective"
                    .into(),
            )),
            (Engine::Native, Some(engine)) if self.nnodes > 1 => Err(GroupError::Setup(format!(
                "{} works within one machine (Burn 0.21 creates its communicators inside one process); \
                 --nnodes {} needs burn-collective",
                engine.name, self.nnodes
            ))),
            (Engine::Native, Some(engine)) if !distinct => Err(GroupError::Setup(format!(
                "{} needs one worker per device; --devices lists a device twice (burn-collective allows it)",
                engine.name
            ))),
            (Engine::Native, native) => Ok(native),
        }
    }
}

/// How the workers of this process join their group.
enum Membership<B: Backend> {
    /// Through `burn-collective`, configured for this node.
    Burn(CollectiveConfig),
    /// Through the backend's native engine, between these devices.
    Native(NativeEngine<B>, Vec<B::Device>),
}

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
    let membership = match native {
        Some(engine) => Membership::Native(engine, devices.to_vec()),
        None => {
            // A group that failed earlier in this process may have left operations behind.
            burn_collective::reset_collective::<B::InnerBackend>();
            Membership::Burn(collective_config(spec, local, &abort)?)
        }
    };
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

impl<B: Backend> Membership<B> {
    fn engine_name(&self) -> &'static str {
        match self {
            Membership::Burn(_) => burn_group::ENGINE,
            Membership::Native(engine, _) => engine.name,
        }
    }
}

impl<B: Backend> Clone for Membership<B> {
    fn clone(&self) -> Self {
        match self {
            Membership::Burn(config) => Membership::Burn(config.clone()),
            Membership::Native(engine, devices) => Membership::Native(*engine, devices.clone()),
        }
    }
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
    let result = match membership {
        Membership::Native(engine, devices) => train(&mut NativeCollective::new(seat, engine, devices)),
        Membership::Burn(config) => BurnCollective::<B::InnerBackend>::join(seat, device.clone(), config)
            .map_err(TrainError::from)
            .and_then(|mut member| {
                let outcome = train(&mut member);
                if outcome.is_ok() {
                    member.leave();
                }
                outcome
            }),
    };
    if let Err(e) = &result
        && !matches!(e, TrainError::Group(GroupError::PeerFailed { .. }))
    {
        tracing::error!("worker {rank} failed: {e}");
        abort.peer_failed(rank, e.to_string());
    }
    result
}

/// The `burn-collective` configuration of this node; on node 0 of a multi-node group, starts
/// the orchestrator.
fn collective_config(spec: &GroupSpec, local: usize, abort: &Arc<Abort>) -> Result<CollectiveConfig, GroupError> {
    let config = CollectiveConfig::default()
        .with_num_devices(local)
        .with_local_all_reduce_strategy(AllReduceStrategy::Tree(2));
    let Some((host, port)) = spec.master()? else {
        return Ok(config);
    };
    if spec.node_rank == 0 {
        start_orchestrator(port, abort.clone())?;
    }
    let data_port = port
        .checked_add(1 + spec.node_rank as u16)
        .ok_or_else(|| GroupError::Setup(format!("--master-addr port {port} leaves no room for node ports")))?;
    let node_host = advertised_host(&host, port);
    tracing::info!(
        "node {} of {}: orchestrator ws://{host}:{port}, tensors served at ws://{node_host}:{data_port}",
        spec.node_rank,
        spec.nnodes
    );
    let parse = |url: String| url.parse().map_err(|e: String| GroupError::Setup(e));
    Ok(config
        .with_num_nodes(spec.nnodes as u32)
        .with_global_address(parse(format!("ws://{host}:{port}"))?)
        .with_node_address(parse(format!("ws://{node_host}:{data_port}"))?)
        .with_data_service_port(data_port)
        .with_global_all_reduce_strategy(AllReduceStrategy::Ring))
}

/// Starts `burn-collective`'s orchestrator on `port` on its own thread. It stops on SIGINT or
/// SIGTERM (it installs the handlers), which stops this process's workers at their next exchange.
fn start_orchestrator(port: u16, abort: Arc<Abort>) -> Result<(), GroupError> {
    // The orchestrator only logs a failed bind; check the port first to say so.
    TcpListener::bind(("0.0.0.0", port))
        .map_err(|e| GroupError::Setup(format!("cannot listen on port {port} for the orchestrator: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| GroupError::Setup(format!("starting the orchestrator's runtime: {e}")))?;
    std::thread::Builder::new()
        .name("collective-orchestrator".into())
        .spawn(move || {
            runtime.block_on(burn_collective::start_global_orchestrator(port));
            tracing::warn!("the orchestrator stopped (SIGINT/SIGTERM): stopping the workers");
            abort.interrupted();
        })
        .map_err(|e| GroupError::Setup(format!("starting the orchestrator's thread: {e}")))?;
    Ok(())
}

/// The address of this machine that the master can reach: the local end of a route to it
/// (no packet is sent), or the master's host itself when that cannot be found.
fn advertised_host(master_host: &str, port: u16) -> String {
    let local = UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|socket| socket.connect((master_host, port)).map(|()| socket))
        .and_then(|socket| socket.local_addr());
    match local {
        Ok(addr) => addr.ip().to_string(),
        Err(_) => master_host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::Device;
    use burn::tensor::ops::FloatTensor;

    use super::*;

    fn unused(tensor: FloatTensor<Flex>, _: &[Device<Flex>]) -> FloatTensor<Flex> {
        tensor
    }

    const FAKE: NativeEngine<Flex> = NativeEngine {
        name: "FAKE",
        all_reduce_sum: unused,
    };

    fn spec(engine: Engine, nnodes: usize) -> GroupSpec {
        GroupSpec {
            nnodes,
            master_addr: Some("127.0.0.1:29500".into()),
            engine,
            ..GroupSpec::default()
        }
    }

    #[test]
    fn auto_takes_the_native_engine_only_within_one_machine_on_distinct_devices() {
        let (a, b) = (Device::<Flex>::default(), Device::<Flex>::default());
        let chosen = |spec: GroupSpec, devices: &[Device<Flex>]| {
            spec.native_engine(Some(FAKE), devices).unwrap().map(|e| e.name)
        };
        assert_eq!(chosen(spec(Engine::Auto, 1), &[a]), Some("FAKE"));
        assert_eq!(chosen(spec(Engine::Auto, 2), &[a]), None);
        assert_eq!(
            chosen(spec(Engine::Auto, 1), &[a, b]),
            None,
            "Flex's devices are all equal"
        );
        assert_eq!(chosen(spec(Engine::BurnCollective, 1), &[a]), None);
        assert_eq!(
            spec(Engine::Auto, 1)
                .native_engine::<Flex>(None, &[a])
                .unwrap()
                .map(|e| e.name),
            None
        );
    }

    #[test]
    fn an_impossible_native_request_is_refused_with_the_reason() {
        let device = Device::<Flex>::default();
        let refused = |spec: GroupSpec, available: Option<NativeEngine<Flex>>, devices: &[Device<Flex>]| {
            spec.native_engine(available, devices).unwrap_err().to_string()
        };
        assert!(refused(spec(Engine::Native, 1), None, &[device]).contains("CUDA build"));
        assert!(refused(spec(Engine::Native, 2), Some(FAKE), &[device]).contains("--nnodes 2 needs burn-collective"));
        assert!(refused(spec(Engine::Native, 1), Some(FAKE), &[device, device]).contains("a device twice"));
        assert_eq!(
            spec(Engine::Native, 1)
                .native_engine(Some(FAKE), &[device])
                .unwrap()
                .map(|e| e.name),
            Some("FAKE")
        );
    }
}
