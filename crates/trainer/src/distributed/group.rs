//! Forming a data-parallel group: its layout in torchrun's vocabulary ([`GroupSpec`]), the
//! communication engine it sums with, and how the workers of this process join it
//! ([`Membership`]; on node 0 of a multi-node group, with the orchestrator).

use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use burn::tensor::backend::Backend;
use burn_collective::{AllReduceStrategy, CollectiveConfig};

use super::burn_group::{self, BurnCollective};
use super::native::{NativeCollective, NativeEngine};
use super::seat::{Abort, Seat};
use super::{Collective, GroupError};

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

    pub(crate) fn check(&self, local_workers: usize) -> Result<(), GroupError> {
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
    pub(crate) fn native_engine<B: Backend>(
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
pub(crate) enum Membership<B: Backend> {
    /// Through `burn-collective`, configured for this node.
    Burn(CollectiveConfig),
    /// Through the backend's native engine, between these devices.
    Native(NativeEngine<B>, Vec<B::Device>),
}

impl<B: Backend> Membership<B> {
    /// The membership of the workers on `devices` in the group `spec` describes: through the
    /// `native` engine when [`GroupSpec::native_engine`] chose one, else through
    /// `burn-collective` (on node 0 of a multi-node group, this starts the orchestrator).
    pub(crate) fn form(
        spec: &GroupSpec,
        native: Option<NativeEngine<B>>,
        devices: &[B::Device],
        abort: &Arc<Abort>,
    ) -> Result<Self, GroupError> {
        Ok(match native {
            Some(engine) => Membership::Native(engine, devices.to_vec()),
            None => {
                // A group that failed earlier in this process may have left operations behind.
                burn_collective::reset_collective::<B>();
                Membership::Burn(collective_config(spec, devices.len(), abort)?)
            }
        })
    }

    /// The engine's name in logs.
    pub(crate) fn engine_name(&self) -> &'static str {
        match self {
            Membership::Burn(_) => burn_group::ENGINE,
            Membership::Native(engine, _) => engine.name,
        }
    }

    /// Joins the group in `seat` on `device` and runs `work` as a member; a `burn-collective`
    /// member leaves the group once `work` succeeded.
    pub(crate) fn run<T, E: From<GroupError>>(
        self,
        seat: Seat,
        device: &B::Device,
        work: impl FnOnce(&mut dyn Collective<B>) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Membership::Native(engine, devices) => work(&mut NativeCollective::new(seat, engine, devices)),
            Membership::Burn(config) => BurnCollective::<B>::join(seat, device.clone(), config)
                .map_err(E::from)
                .and_then(|mut member| {
                    let outcome = work(&mut member);
                    if outcome.is_ok() {
                        member.leave();
                    }
                    outcome
                }),
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
