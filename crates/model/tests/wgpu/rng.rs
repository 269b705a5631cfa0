//! A seed gives the same initial model and the same dropout masks on the wgpu device as on the
//! CPU: the draws come from the host generator (`provence_model::seed`) on every backend.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use provence_model::{BackboneConfig, ModelBackend, OpenProvenceConfig, OpenProvenceModel};

use crate::device::{CpuAd, W, WAd, device, rel_diff, say};

/// Every float parameter's values, in visiting order.
struct Values(Vec<Vec<f32>>);

impl<B: Backend> ModuleVisitor<B> for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.val().into_data().convert::<f32>().to_vec().unwrap());
    }
}

/// The demo's tiny ModernBERT from scratch with seed 17, `classifier_dropout` 0.5, on `device`.
fn from_scratch<B: ModelBackend>(device: &B::Device) -> OpenProvenceModel<B> {
    let config = provence_test_support::demo("model").join("config.json");
    let backbone = BackboneConfig::from_file(&config).unwrap();
    provence_model::seed::<B>(device, 17);
    OpenProvenceModel::from_scratch(OpenProvenceConfig::new(backbone, 0.5), device).unwrap()
}

fn values<B: Backend>(model: &OpenProvenceModel<B>) -> Vec<Vec<f32>> {
    let mut values = Values(Vec::new());
    model.visit(&mut values);
    values.0
}

/// Pruning logits of a training-mode forward (dropout on) after seeding with 23.
fn dropped_out<B: ModelBackend>(model: &OpenProvenceModel<B>, device: &B::Device) -> Tensor<B, 3> {
    let ids: Vec<i64> = (0..2 * 24).map(|i| 5 + (i * 37) % 200).collect();
    let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [2, 24]), device);
    provence_model::seed::<B>(device, 23);
    model.forward(ids.clone(), ids.ones_like()).pruning_logits
}

#[test]
fn a_seed_gives_the_cpus_initial_weights_and_dropout_masks() {
    let Some(device) = device() else { return };
    let _turn = crate::model_common::rng_lock(); // the host generator is process-wide
    let cpu_device = Default::default();
    let (gpu, cpu) = (from_scratch::<WAd>(&device), from_scratch::<CpuAd>(&cpu_device));
    let (gpu_values, cpu_values) = (values(&gpu), values(&cpu));
    assert_eq!(gpu_values.len(), cpu_values.len(), "parameters");
    assert!(gpu_values == cpu_values, "initial weights differ from the CPU's");
    // Dropout 0.5 before the pruning head: another mask would move the logits by O(1).
    let (gpu_out, cpu_out) = (dropped_out(&gpu, &device), dropped_out(&cpu, &cpu_device));
    let diff = rel_diff(gpu_out.clone(), cpu_out);
    assert!(
        diff <= 1e-5,
        "training-mode outputs differ by {diff:e}: other dropout masks"
    );
    // And the masks are on: without autodiff (inference) there is no dropout, and other outputs.
    let plain = rel_diff(gpu_out, dropped_out(&from_scratch::<W>(&device), &device));
    assert!(plain > 1e-2, "dropout left the outputs unchanged ({plain:e})");
    say(&format!(
        "wgpu rng: {} initial tensors bit-identical to the CPU's; dropout outputs within {diff:.1e}",
        gpu_values.len()
    ));
}
