//! Forward-pass benchmark on the CPU (`Flex`): a tiny config and a base-shaped config
//! (22 layers, H 768, I 1152, 12 heads, window 128, global every 3rd) on a 4×128 batch.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Benchmarks abort on a setup failure.

use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use provence_model::{ModernBertConfig, OpenProvenceConfig, OpenProvenceModel};
use serde_json::json;

type Cpu = burn::backend::Flex;

fn bench_config(c: &mut Criterion, name: &str, cfg: serde_json::Value, batch: usize, len: usize) {
    let device = Default::default();
    <Cpu as Backend>::seed(&device, 0);
    let bb = ModernBertConfig::from_json(cfg).expect("valid bench config");
    let vocab = bb.vocab_size as i32;
    let model = OpenProvenceModel::<Cpu>::from_scratch(OpenProvenceConfig::new(bb, 0.0), &device).expect("model");
    let ids: Vec<i32> = (0..batch * len).map(|i| (i as i32 * 7919) % vocab).collect();
    let ids = Tensor::<Cpu, 2, Int>::from_data(TensorData::new(ids, [batch, len]), &device);
    let mask = Tensor::<Cpu, 2, Int>::ones([batch, len], &device);
    c.bench_function(&format!("forward/{name}/{batch}x{len}"), |b| {
        b.iter(|| {
            let out = model.forward(ids.clone(), mask.clone());
            out.pruning_logits.into_data()
        })
    });
}

fn forward(c: &mut Criterion) {
    bench_config(
        c,
        "tiny",
        json!({"vocab_size": 1000, "hidden_size": 64, "intermediate_size": 96,
               "num_hidden_layers": 4, "num_attention_heads": 4, "local_attention": 16,
               "num_labels": 1}),
        4,
        128,
    );
    bench_config(
        c,
        "base",
        json!({"vocab_size": 50368, "hidden_size": 768, "intermediate_size": 1152,
               "num_hidden_layers": 22, "num_attention_heads": 12, "local_attention": 128,
               "global_attn_every_n_layers": 3, "num_labels": 1}),
        4,
        128,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = forward
}
criterion_main!(benches);
