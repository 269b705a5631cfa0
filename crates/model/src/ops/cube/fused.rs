//! [`CubeKernels`] on Burn's fused backend: each call becomes a custom op of the fused stream (a
//! fusion barrier: the element-wise ops around it still fuse among themselves), executed by the
//! inner backend's kernel when the stream runs.

use std::fmt;
use std::marker::PhantomData;

use burn::tensor::DType;
use burn::tensor::Shape;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn_fusion::stream::{Operation, OperationStreams};
use burn_fusion::{Fusion, FusionBackend, FusionRuntime, FusionTensor};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, TensorIr};

use super::{ChunkWindow, CubeKernels, PackedWindow};
use crate::activation::Activation;

/// The inner backend's kernel of a recorded op: its parameters, float inputs and int inputs to
/// its outputs.
type Kernel<B, P> = fn(&P, Vec<FloatTensor<B>>, Vec<IntTensor<B>>) -> Vec<FloatTensor<B>>;

/// One kernel call recorded in the stream.
struct Recorded<B: FusionBackend, P> {
    desc: CustomOpIr,
    /// The first `floats` inputs are float tensors, the rest int tensors.
    floats: usize,
    params: P,
    kernel: Kernel<B, P>,
    _backend: PhantomData<B>,
}

impl<B: FusionBackend, P: fmt::Debug> fmt::Debug for Recorded<B, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorded")
            .field("op", &self.desc.id)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<B: FusionBackend, P: fmt::Debug + Send + Sync> Operation<B::FusionRuntime> for Recorded<B, P> {
    fn execute(&self, handles: &mut HandleContainer<<B::FusionRuntime as FusionRuntime>::FusionHandle>) {
        let (floats, ints) = self.desc.inputs.split_at(self.floats);
        let floats = floats.iter().map(|t| handles.get_float_tensor::<B>(t)).collect();
        let ints = ints.iter().map(|t| handles.get_int_tensor::<B>(t)).collect();
        let outputs = (self.kernel)(&self.params, floats, ints);
        for (ir, tensor) in self.desc.outputs.iter().zip(outputs) {
            handles.register_float_tensor::<B>(&ir.id, tensor);
        }
    }
}

/// Records `kernel` on `floats` then `ints` (all on one device) with outputs of the given shapes
/// and dtypes; returns the outputs.
fn record<B: FusionBackend, P: fmt::Debug + Send + Sync + 'static>(
    name: &'static str,
    floats: Vec<FusionTensor<B::FusionRuntime>>,
    ints: Vec<FusionTensor<B::FusionRuntime>>,
    outputs: Vec<(Shape, DType)>,
    params: P,
    kernel: Kernel<B, P>,
) -> Vec<FusionTensor<B::FusionRuntime>> {
    let client = floats[0].client.clone();
    let streams = OperationStreams::with_inputs(floats.iter().chain(&ints));
    let outputs: Vec<TensorIr> = outputs
        .into_iter()
        .map(|(shape, dtype)| TensorIr::uninit(client.create_empty_handle(), shape, dtype))
        .collect();
    let n_floats = floats.len();
    let inputs: Vec<TensorIr> = floats.into_iter().chain(ints).map(FusionTensor::into_ir).collect();
    let desc = CustomOpIr::new(name, &inputs, &outputs);
    let op = Recorded::<B, P> {
        desc: desc.clone(),
        floats: n_floats,
        params,
        kernel,
        _backend: PhantomData,
    };
    client.register(streams, OperationIr::Custom(desc), op)
}

/// The `N` tensors of a recorded op's inputs or outputs (their count is fixed by the op).
fn take<T, const N: usize>(tensors: Vec<T>) -> [T; N] {
    tensors
        .try_into()
        .unwrap_or_else(|_| unreachable!("a recorded op has {N} tensors here"))
}

/// Shape and dtype of a fused tensor.
fn like<R: FusionRuntime>(t: &FusionTensor<R>) -> (Shape, DType) {
    (t.shape.clone(), t.dtype)
}

impl<B: FusionBackend + CubeKernels> CubeKernels for Fusion<B> {
    fn qkv_rope(
        qkv: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
        heads: usize,
    ) -> FloatTensor<Self> {
        let [b, t, h3] = [0, 1, 2].map(|i| qkv.shape[i]);
        let out = (Shape::from(vec![3, b, heads, t, h3 / 3 / heads]), qkv.dtype);
        let kernel: Kernel<B, usize> = |heads, f, _| {
            let [qkv, cos, sin] = take(f);
            vec![B::qkv_rope(qkv, cos, sin, *heads)]
        };
        let [out] = take(record::<B, _>(
            "provence_qkv_rope",
            vec![qkv, cos, sin],
            vec![],
            vec![out],
            heads,
            kernel,
        ));
        out
    }

    fn qkv_rope_grad(grad: FloatTensor<Self>, cos: FloatTensor<Self>, sin: FloatTensor<Self>) -> FloatTensor<Self> {
        let [_, b, heads, t, d] = [0, 1, 2, 3, 4].map(|i| grad.shape[i]);
        let out = (Shape::from(vec![b, t, 3 * heads * d]), grad.dtype);
        let kernel: Kernel<B, ()> = |(), f, _| {
            let [grad, cos, sin] = take(f);
            vec![B::qkv_rope_grad(grad, cos, sin)]
        };
        let [out] = take(record::<B, _>(
            "provence_qkv_rope_grad",
            vec![grad, cos, sin],
            vec![],
            vec![out],
            (),
            kernel,
        ));
        out
    }

    fn geglu(u: FloatTensor<Self>, act: Activation) -> FloatTensor<Self> {
        let mut dims = u.shape.to_vec();
        if let Some(last) = dims.last_mut() {
            *last /= 2;
        }
        let out = (Shape::from(dims), u.dtype);
        let kernel: Kernel<B, Activation> = |act, f, _| {
            let [u] = take(f);
            vec![B::geglu(u, *act)]
        };
        let [out] = take(record::<B, _>(
            "provence_geglu",
            vec![u],
            vec![],
            vec![out],
            act,
            kernel,
        ));
        out
    }

    fn geglu_grad(u: FloatTensor<Self>, grad: FloatTensor<Self>, act: Activation) -> FloatTensor<Self> {
        let out = like(&u);
        let kernel: Kernel<B, Activation> = |act, f, _| {
            let [u, grad] = take(f);
            vec![B::geglu_grad(u, grad, *act)]
        };
        let [out] = take(record::<B, _>(
            "provence_geglu_grad",
            vec![u, grad],
            vec![],
            vec![out],
            act,
            kernel,
        ));
        out
    }

    fn chunk_softmax(
        scores: FloatTensor<Self>,
        pad: Option<IntTensor<Self>>,
        window: ChunkWindow,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let [b, _, rows, _] = [0, 1, 2, 3].map(|i| scores.shape[i]);
        let mut outputs = vec![like(&scores)];
        if pad.is_some() {
            outputs.push((Shape::from(vec![b * rows]), DType::F32));
        }
        let kernel: Kernel<B, ChunkWindow> = |window, f, pad| {
            let [scores] = take(f);
            let (probs, dead) = B::chunk_softmax(scores, pad.into_iter().next(), *window);
            std::iter::once(probs).chain(dead).collect()
        };
        let pad = pad.into_iter().collect();
        let mut out = record::<B, _>("provence_chunk_softmax", vec![scores], pad, outputs, window, kernel).into_iter();
        let probs = out
            .next()
            .unwrap_or_else(|| unreachable!("the probabilities were recorded"));
        (probs, out.next())
    }

    fn chunk_score_grad(
        probs: FloatTensor<Self>,
        dp: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        out: FloatTensor<Self>,
        scale: f32,
    ) -> FloatTensor<Self> {
        let ds = like(&probs);
        let kernel: Kernel<B, f32> = |scale, f, _| {
            let [probs, dp, grad, out] = take(f);
            vec![B::chunk_score_grad(probs, dp, grad, out, *scale)]
        };
        let inputs = vec![probs, dp, grad, out];
        let [ds] = take(record::<B, _>(
            "provence_chunk_score_grad",
            inputs,
            vec![],
            vec![ds],
            scale,
            kernel,
        ));
        ds
    }

    fn packed_attention(
        qkv: [FloatTensor<Self>; 3],
        bounds: IntTensor<Self>,
        window: PackedWindow,
    ) -> FloatTensor<Self> {
        let out = like(&qkv[2]);
        let kernel: Kernel<B, PackedWindow> = |window, f, i| {
            let [bounds] = take(i);
            vec![B::packed_attention(take(f), bounds, *window)]
        };
        let [out] = take(record::<B, _>(
            "provence_packed_attention",
            qkv.to_vec(),
            vec![bounds],
            vec![out],
            window,
            kernel,
        ));
        out
    }

    fn packed_attention_grad(
        tensors: [FloatTensor<Self>; 5],
        bounds: IntTensor<Self>,
        window: PackedWindow,
    ) -> [FloatTensor<Self>; 3] {
        let outputs = tensors[..3].iter().map(like).collect();
        let kernel: Kernel<B, PackedWindow> = |window, f, i| {
            let [bounds] = take(i);
            B::packed_attention_grad(take(f), bounds, *window).to_vec()
        };
        let inputs = tensors.to_vec();
        take(record::<B, _>(
            "provence_packed_attention_grad",
            inputs,
            vec![bounds],
            outputs,
            window,
            kernel,
        ))
    }
}
