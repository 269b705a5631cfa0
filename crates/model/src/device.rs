//! Where a run executes, chosen at run time: `--device cpu|cuda[:N]|wgpu[:N]` names a backend
//! this build has and one of its devices. The CPU backend is always there; CUDA and wgpu come
//! with the `cuda` and `wgpu` features. The layers above dispatch on a [`DeviceChoice`] to their
//! code generic over the backend (`provence_infer::on_device`, `provence_trainer::train_on`).

use std::fmt;
use std::str::FromStr;

use burn::tensor::backend::Backend;

/// A backend and device named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceChoice {
    /// The CPU: Burn's `Flex` backend (every build).
    Cpu,
    /// An NVIDIA GPU by CUDA ordinal (`cuda` feature).
    Cuda(usize),
    /// A wgpu adapter (`wgpu` feature: Vulkan, Metal, DirectX 12): `None` is the best one
    /// (discrete before integrated before software adapters such as Mesa's lavapipe), `Some(n)` the
    /// n-th adapter of the graphics API's list.
    Wgpu(Option<usize>),
}

/// A device that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The text names no device.
    #[error("unknown device {0:?}: expected cpu, cuda[:N] or wgpu[:N]")]
    Unknown(String),
    /// The backend is not compiled into this build.
    #[error("this build has no {backend} backend: rebuild with `--features {backend}` (or choose --device cpu)")]
    NotBuilt {
        /// `cuda` or `wgpu`.
        backend: &'static str,
    },
    /// wgpu finds no adapter at all.
    #[error(
        "no wgpu adapter found: wgpu needs a Vulkan, Metal or DirectX 12 driver (without a GPU on Linux, Mesa's \
         software Vulkan: `apt-get install mesa-vulkan-drivers libvulkan1`); or choose --device cpu"
    )]
    NoAdapter,
    /// `wgpu:N` beyond the adapters there are.
    #[error("wgpu:{index}: this machine has {count} wgpu adapter(s), numbered from 0")]
    NoSuchAdapter {
        /// The index asked for.
        index: usize,
        /// The adapters found.
        count: usize,
    },
}

impl DeviceChoice {
    /// The best backend of this build: CUDA, else wgpu, else the CPU.
    pub fn best() -> Self {
        if cfg!(feature = "cuda") {
            Self::Cuda(0)
        } else if cfg!(feature = "wgpu") {
            Self::Wgpu(None)
        } else {
            Self::Cpu
        }
    }

    /// The same backend's device `ordinal` (the entries of `--devices`); on the CPU every entry
    /// is one more worker on the same cores.
    pub fn with_ordinal(self, ordinal: usize) -> Self {
        match self {
            Self::Cpu => Self::Cpu,
            Self::Cuda(_) => Self::Cuda(ordinal),
            Self::Wgpu(_) => Self::Wgpu(Some(ordinal)),
        }
    }

    /// Whether this is a GPU backend (recipes' `bf16: true` then trains in mixed precision).
    pub fn is_gpu(self) -> bool {
        !matches!(self, Self::Cpu)
    }

    /// The device index given (`cuda:N`, `wgpu:N`), if any.
    pub fn index(self) -> Option<usize> {
        match self {
            Self::Cpu | Self::Wgpu(None) => None,
            Self::Cuda(n) | Self::Wgpu(Some(n)) => Some(n),
        }
    }

    /// The backend's name: `cpu`, `cuda` or `wgpu`.
    pub fn backend(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda(_) => "cuda",
            Self::Wgpu(_) => "wgpu",
        }
    }

    /// An error unless this build has the backend.
    pub fn check_built(self) -> Result<Self, DeviceError> {
        let built = match self {
            Self::Cpu => true,
            Self::Cuda(_) => cfg!(feature = "cuda"),
            Self::Wgpu(_) => cfg!(feature = "wgpu"),
        };
        if built {
            Ok(self)
        } else {
            Err(DeviceError::NotBuilt {
                backend: self.backend(),
            })
        }
    }
}

impl Default for DeviceChoice {
    fn default() -> Self {
        Self::best()
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu | Self::Wgpu(None) => f.write_str(self.backend()),
            Self::Cuda(n) | Self::Wgpu(Some(n)) => write!(f, "{}:{n}", self.backend()),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;

    /// `cpu`, `cuda`, `cuda:N`, `wgpu` or `wgpu:N`, for a backend this build has.
    fn from_str(text: &str) -> Result<Self, DeviceError> {
        let unknown = || DeviceError::Unknown(text.to_owned());
        let (name, index) = match text.trim().split_once(':') {
            Some((name, index)) => (name, Some(index.parse::<usize>().map_err(|_| unknown())?)),
            None => (text.trim(), None),
        };
        let choice = match (name.to_ascii_lowercase().as_str(), index) {
            ("cpu", None) => Self::Cpu,
            ("cuda", index) => Self::Cuda(index.unwrap_or(0)),
            ("wgpu", index) => Self::Wgpu(index),
            _ => return Err(unknown()),
        };
        choice.check_built()
    }
}

/// The Burn backends a [`DeviceChoice`] names, and how an index names their devices.
pub trait SelectableBackend: Backend {
    /// The device of index `index` (`None`: the backend's default), or why it cannot be used.
    fn device(index: Option<usize>) -> Result<Self::Device, DeviceError>;
}

/// The CPU: one device (every index is the same cores).
impl SelectableBackend for burn::backend::Flex {
    fn device(_: Option<usize>) -> Result<Self::Device, DeviceError> {
        Ok(Default::default())
    }
}

/// CUDA ordinals (0 by default).
#[cfg(feature = "cuda")]
impl SelectableBackend for burn::backend::Cuda {
    fn device(index: Option<usize>) -> Result<Self::Device, DeviceError> {
        Ok(burn::backend::cuda::CudaDevice::new(index.unwrap_or(0)))
    }
}

/// wgpu adapters ([`wgpu::device`]).
#[cfg(feature = "wgpu")]
impl SelectableBackend for burn::backend::Wgpu {
    fn device(index: Option<usize>) -> Result<Self::Device, DeviceError> {
        wgpu::device(index)
    }
}

/// The wgpu backend's devices: adapter lists, choice and set-up (once per device and process,
/// logging what wgpu reports about the adapter).
#[cfg(feature = "wgpu")]
pub mod wgpu {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use burn::backend::wgpu::graphics::{AutoGraphicsApi, GraphicsApi};
    use burn::backend::wgpu::{RuntimeOptions, WgpuDevice, WgpuRuntime, init_setup};
    use cubecl::Runtime;

    use super::DeviceError;

    /// `DeviceId` type codes of cubecl-wgpu's adapter list (`enumerate_all_devices`).
    const DISCRETE: u16 = 0;
    const INTEGRATED: u16 = 1;
    const VIRTUAL: u16 = 2;
    const CPU: u16 = 3;

    /// The adapters of the graphics API wgpu uses here (Vulkan on Linux and Windows, Metal on
    /// macOS) as devices, in wgpu's order; empty without a driver. Creates no device.
    pub fn adapters() -> Vec<WgpuDevice> {
        let ids = WgpuRuntime::enumerate_all_devices(&AutoGraphicsApi::backend());
        let mut seen = HashMap::<u16, usize>::new();
        ids.iter()
            .filter_map(|id| {
                let nth = seen.entry(id.type_id).or_insert(0);
                let device = match id.type_id {
                    DISCRETE => WgpuDevice::DiscreteGpu(*nth),
                    INTEGRATED => WgpuDevice::IntegratedGpu(*nth),
                    VIRTUAL => WgpuDevice::VirtualGpu(*nth),
                    CPU => WgpuDevice::Cpu,
                    _ => return None,
                };
                *nth += 1;
                Some(device)
            })
            .collect()
    }

    /// The device of `--device wgpu[:index]` (the best adapter without an index), set up and
    /// described once.
    pub fn device(index: Option<usize>) -> Result<WgpuDevice, DeviceError> {
        let adapters = adapters();
        if adapters.is_empty() {
            return Err(DeviceError::NoAdapter);
        }
        let device = match index {
            None => WgpuDevice::DefaultDevice,
            Some(index) => adapters.get(index).cloned().ok_or(DeviceError::NoSuchAdapter {
                index,
                count: adapters.len(),
            })?,
        };
        describe(&device);
        Ok(device)
    }

    /// What wgpu reports about `device`'s adapter (name, graphics API, type, driver); the first
    /// call for a device sets it up, before anything else uses it, and logs the line.
    pub fn describe(device: &WgpuDevice) -> String {
        static SEEN: Mutex<Vec<(WgpuDevice, String)>> = Mutex::new(Vec::new());
        let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, line)) = seen.iter().find(|(d, _)| d == device) {
            return line.clone();
        }
        let setup = init_setup::<AutoGraphicsApi>(device, RuntimeOptions::default());
        let info = setup.adapter.get_info();
        let line = format!(
            "{} ({:?}, {:?}, {} {})",
            info.name, info.backend, info.device_type, info.driver, info.driver_info
        );
        tracing::info!("wgpu adapter: {line}");
        if format!("{:?}", info.device_type) == "Cpu" {
            tracing::warn!("{} is a software (CPU) adapter: --device cpu is faster", info.name);
        }
        seen.push((device.clone(), line.clone()));
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for text in ["cpu", "cuda:1", "wgpu", "wgpu:2", "cuda:0"] {
            match text.parse::<DeviceChoice>() {
                Ok(choice) => assert_eq!(choice.to_string(), text),
                Err(DeviceError::NotBuilt { backend }) => assert!(text.starts_with(backend), "{text}"),
                Err(other) => panic!("{text}: {other}"),
            }
        }
        for bad in ["gpu", "cpu:1", "cuda:x", "wgpu:-1", ""] {
            assert_eq!(
                bad.parse::<DeviceChoice>(),
                Err(DeviceError::Unknown(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(DeviceChoice::Wgpu(None).with_ordinal(3), DeviceChoice::Wgpu(Some(3)));
        assert_eq!(DeviceChoice::Cpu.with_ordinal(3), DeviceChoice::Cpu);
    }

    #[test]
    fn the_default_is_the_best_backend_built() {
        let best = DeviceChoice::default();
        assert_eq!(best.check_built(), Ok(best));
        assert_eq!(best.is_gpu(), cfg!(any(feature = "cuda", feature = "wgpu")));
    }
}
