//! The device every test runs on, and how the tests report.

use std::io::Write;
use std::sync::OnceLock;

use burn::backend::Autodiff;
use burn::backend::wgpu::WgpuDevice;
use burn::prelude::*;

/// The wgpu backend under test.
pub type W = burn::backend::Wgpu;
/// Its autodiff backend.
pub type WAd = Autodiff<W>;
/// The CPU reference.
pub type Cpu = burn::backend::Flex;
/// The CPU reference with autodiff.
pub type CpuAd = Autodiff<Cpu>;

/// A line on stderr even from a passing test (the harness captures `eprintln!`).
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The wgpu device (the best adapter), set up once; `None`, after one line saying why, when
/// there is none. The first call prints the adapter as wgpu reports it.
pub fn device() -> Option<WgpuDevice> {
    static DEVICE: OnceLock<Option<WgpuDevice>> = OnceLock::new();
    DEVICE
        .get_or_init(|| match provence_model::wgpu::device(None) {
            Ok(device) => {
                say(&format!("wgpu adapter: {}", provence_model::wgpu::describe(&device)));
                Some(device)
            }
            Err(error) => {
                say(&format!("wgpu tests skipped: {error}"));
                None
            }
        })
        .clone()
}

/// max |got − want| / max |want| over two equally shaped tensors (any backends).
pub fn rel_diff<B1: Backend, B2: Backend, const D: usize>(got: Tensor<B1, D>, want: Tensor<B2, D>) -> f32 {
    assert_eq!(got.dims(), want.dims(), "shapes differ");
    let got: Vec<f32> = got.into_data().convert::<f32>().to_vec().unwrap();
    let want: Vec<f32> = want.into_data().convert::<f32>().to_vec().unwrap();
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = got.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(scale > 0.0, "the reference is all zeros");
    diff / scale
}

/// Records a kernel's forward and gradient differences (one line on stderr) and checks them:
/// forward ≤ 1e-5, gradient ≤ 1e-4, relative to the reference's largest value.
pub fn check_kernel(name: &str, forward: f32, gradient: f32) {
    say(&format!(
        "wgpu kernel {name:<34} max rel diff: forward {forward:.1e}, gradient {gradient:.1e}"
    ));
    assert!(forward <= 1e-5, "{name}: forward differs by {forward:e} (relative)");
    assert!(gradient <= 1e-4, "{name}: gradient differs by {gradient:e} (relative)");
}

/// A CPU tensor's values on the wgpu device.
pub fn to_wgpu<B: Backend, const D: usize>(t: &Tensor<B, D>, device: &WgpuDevice) -> Tensor<W, D> {
    Tensor::from_data(t.to_data().convert::<f32>(), device)
}
