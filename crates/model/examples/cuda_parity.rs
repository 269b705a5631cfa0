//! Runs the golden fixtures on `Cuda<f32>` and on the CPU (`Flex`) and prints the max abs
//! differences (GPU vs CPU and GPU vs transformers). Needs a GPU:
//! `cargo run -p provence-model --features cuda --example cuda_parity -- tests/fixtures/model`.

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use provence_model::OpenProvenceModel;
use safetensors::SafeTensors;

fn read(path: &Path) -> HashMap<String, (Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).expect("read expected.safetensors");
    let st = SafeTensors::deserialize(&bytes).expect("parse expected.safetensors");
    st.tensors()
        .into_iter()
        .map(|(k, v)| (k, (v.shape().to_vec(), v.data().to_vec())))
        .collect()
}

fn ints<B: Backend>(t: &(Vec<usize>, Vec<u8>), device: &B::Device) -> Tensor<B, 2, Int> {
    let v: Vec<i32> =
        t.1.chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as i32)
            .collect();
    Tensor::from_data(TensorData::new(v, [t.0[0], t.0[1]]), device)
}

fn floats(t: &(Vec<usize>, Vec<u8>)) -> Vec<f32> {
    t.1.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
        .collect()
}

fn run<B: provence_model::ModelBackend>(dir: &Path, device: &B::Device) -> [Vec<f32>; 3] {
    let exp = read(&dir.join("expected.safetensors"));
    let model = OpenProvenceModel::<B>::load(&dir.join("final_model"), device).expect("load");
    let out = model.forward(
        ints::<B>(&exp["input_ids"], device),
        ints::<B>(&exp["attention_mask"], device),
    );
    let v = |d: TensorData| d.convert::<f32>().to_vec::<f32>().unwrap_or_default();
    [
        v(out.ranking_logits.into_data()),
        v(out.hidden_state.into_data()),
        v(out.pruning_logits.into_data()),
    ]
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tests/fixtures/model".to_owned());
    let gpu = burn::backend::cuda::CudaDevice::default();
    for name in ["tiny_cls_window", "tiny_mean_bias", "tiny_global"] {
        let dir = Path::new(&root).join(name);
        let exp = read(&dir.join("expected.safetensors"));
        let cpu_out = run::<burn::backend::Flex>(&dir, &Default::default());
        let gpu_out = run::<burn::backend::Cuda<f32>>(&dir, &gpu);
        for (i, key) in ["ranking_logits", "hidden_last", "pruning_logits"].iter().enumerate() {
            println!(
                "{name:16} {key:15} gpu-vs-cpu {:.3e}  gpu-vs-torch {:.3e}  cpu-vs-torch {:.3e}",
                max_diff(&gpu_out[i], &cpu_out[i]),
                max_diff(&gpu_out[i], &floats(&exp[*key])),
                max_diff(&cpu_out[i], &floats(&exp[*key])),
            );
        }
    }
}
