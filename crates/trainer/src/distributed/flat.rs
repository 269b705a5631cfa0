//! What the workers exchange, packed into one flat f32 vector per exchange: the gradients of a
//! step (with a presence flag per parameter and the step's loss sums), rank 0's parameters at the
//! start, and the numbers every worker must agree on.

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use provence_losses::to_f32;

use super::{Collective, GroupError};

/// One worker's share of a step's losses (summed over the group before logging).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StepSums {
    /// Σ of the micro-batches' total loss, each divided by the step's window length.
    pub window_share: f64,
    /// Σ of the micro-batches' ranking losses.
    pub ranking: f64,
    /// Σ of the micro-batches' pruning losses.
    pub pruning: f64,
    /// Micro-batches counted.
    pub micro_batches: f64,
}

impl StepSums {
    const LEN: usize = 4;

    /// Adds one micro-batch.
    pub(crate) fn add(&mut self, window_share: f64, ranking: f64, pruning: f64) {
        self.window_share += window_share;
        self.ranking += ranking;
        self.pruning += pruning;
        self.micro_batches += 1.0;
    }

    fn to_vec(self) -> [f32; Self::LEN] {
        [self.window_share, self.ranking, self.pruning, self.micro_batches].map(|v| v as f32)
    }

    fn from_slice(v: &[f32]) -> Self {
        let at = |i: usize| v.get(i).copied().unwrap_or_default() as f64;
        Self {
            window_share: at(0),
            ranking: at(1),
            pruning: at(2),
            micro_batches: at(3),
        }
    }
}

/// The group's sum of every worker's accumulated `grads` and loss `sums` for one optimizer step
/// (every worker gets the same). A parameter keeps no gradient only when no worker had one.
pub(crate) fn sync_step<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    group: &mut dyn Collective<AB::InnerBackend>,
    model: &M,
    grads: GradientsParams,
    sums: StepSums,
    what: &str,
    device: &AB::Device,
) -> Result<(GradientsParams, StepSums), GroupError> {
    if group.world_size() == 1 {
        return Ok((grads, sums));
    }
    let mut gather = Gather::<AB::InnerBackend>::new(device.clone(), Source::Grads(&grads));
    model.visit(&mut gather);
    let params = gather.present.len();
    let mut tail = gather.present.clone();
    tail.extend(sums.to_vec());
    let reduced = group.all_reduce_sum(gather.finish(&tail), what)?;
    let tail = read_tail(&reduced, params + StepSums::LEN);
    let mut scatter = Scatter {
        flat: reduced,
        offset: 0,
        present: &tail[..params],
        index: 0,
        grads: GradientsParams::new(),
    };
    model.visit(&mut scatter);
    Ok((scatter.grads, StepSums::from_slice(&tail[params..])))
}

/// `model` with rank 0's parameter values on every worker (what DDP does at start), so the
/// workers start identical whatever their own initialisation drew.
pub(crate) fn broadcast_params<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    group: &mut dyn Collective<AB::InnerBackend>,
    model: M,
    device: &AB::Device,
) -> Result<M, GroupError> {
    if group.world_size() == 1 {
        return Ok(model);
    }
    let is_root = group.rank() == 0;
    let mut gather = Gather::<AB::InnerBackend>::new(device.clone(), Source::Values { root: is_root });
    model.visit(&mut gather);
    let reduced = group.all_reduce_sum(gather.finish(&[]), "rank 0's initial parameters")?;
    Ok(model.map(&mut Overwrite {
        flat: reduced,
        offset: 0,
    }))
}

/// Fails unless every worker passed the same `values` (e.g. the step to start from).
pub(crate) fn check_agreement<B: Backend>(
    group: &mut dyn Collective<B>,
    values: &[(&'static str, f64)],
    device: &B::Device,
) -> Result<(), GroupError> {
    let (world, rank, k) = (group.world_size(), group.rank(), values.len());
    if world == 1 {
        return Ok(());
    }
    let mut slots = vec![0f32; world * k];
    for (i, (_, v)) in values.iter().enumerate() {
        slots[rank * k + i] = *v as f32;
    }
    let reduced = group.all_reduce_sum(
        Tensor::from_data(TensorData::new(slots, [world * k]), device),
        "the start-up check",
    )?;
    let all = read_tail(&reduced, world * k);
    for (i, (what, _)) in values.iter().enumerate() {
        let per_rank: Vec<f32> = (0..world).map(|r| all[r * k + i]).collect();
        if per_rank.iter().any(|v| *v != per_rank[0]) {
            let values = per_rank
                .iter()
                .enumerate()
                .map(|(r, v)| format!("rank {r}: {v}"))
                .collect::<Vec<_>>();
            return Err(GroupError::Diverged {
                what,
                values: values.join(", "),
            });
        }
    }
    Ok(())
}

/// The last `n` values of `flat`.
fn read_tail<B: Backend>(flat: &Tensor<B, 1>, n: usize) -> Vec<f32> {
    let len = flat.dims()[0];
    let data = flat.clone().slice(len - n..len).into_data();
    data.convert::<f32>().to_vec::<f32>().unwrap_or_default()
}

/// What [`Gather`] packs for each parameter.
enum Source<'a> {
    /// Its gradient (zeros and a 0 presence flag when it has none).
    Grads(&'a GradientsParams),
    /// Its value on rank 0, zeros on the other ranks.
    Values {
        /// Whether this worker is rank 0.
        root: bool,
    },
}

/// Visits the parameters in module order, collecting one flat f32 part per parameter, with a
/// presence flag.
struct Gather<'a, B: Backend> {
    device: B::Device,
    source: Source<'a>,
    parts: Vec<Tensor<B, 1>>,
    present: Vec<f32>,
}

impl<'a, B: Backend> Gather<'a, B> {
    fn new(device: B::Device, source: Source<'a>) -> Self {
        Self {
            device,
            source,
            parts: Vec::new(),
            present: Vec::new(),
        }
    }

    /// The parts and `tail` as one vector.
    fn finish(mut self, tail: &[f32]) -> Tensor<B, 1> {
        if !tail.is_empty() {
            self.parts.push(Tensor::from_data(
                TensorData::new(tail.to_vec(), [tail.len()]),
                &self.device,
            ));
        }
        Tensor::cat(self.parts, 0)
    }
}

impl<AB: AutodiffBackend> ModuleVisitor<AB> for Gather<'_, AB::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        let value = param.val().inner();
        let n = value.dims().iter().product::<usize>();
        let part = match self.source {
            Source::Grads(grads) => grads.get::<AB::InnerBackend, D>(param.id),
            Source::Values { root } => root.then_some(value),
        };
        self.present.push(if part.is_some() { 1.0 } else { 0.0 });
        let part = part.map_or_else(|| Tensor::zeros([n], &self.device), |t| t.reshape([n]));
        self.parts.push(to_f32(part));
    }
}

/// Cuts a reduced flat vector back into per-parameter gradients (module order).
struct Scatter<'a, B: Backend> {
    flat: Tensor<B, 1>,
    offset: usize,
    present: &'a [f32],
    index: usize,
    grads: GradientsParams,
}

impl<AB: AutodiffBackend> ModuleVisitor<AB> for Scatter<'_, AB::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
        let shape = param.val().dims();
        let n = shape.iter().product::<usize>();
        let part = self.flat.clone().slice(self.offset..self.offset + n);
        self.offset += n;
        if self.present.get(self.index).is_some_and(|p| *p > 0.0) {
            self.grads.register(param.id, part.reshape(shape));
        }
        self.index += 1;
    }
}

/// Overwrites every parameter with its part of a flat vector (module order), keeping ids, dtype
/// and whether it requires gradients.
struct Overwrite<B: Backend> {
    flat: Tensor<B, 1>,
    offset: usize,
}

impl<AB: AutodiffBackend> ModuleMapper<AB> for Overwrite<AB::InnerBackend> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<AB, D>>) -> Param<Tensor<AB, D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.dims();
        let n = shape.iter().product::<usize>();
        let part = self.flat.clone().slice(self.offset..self.offset + n).reshape(shape);
        self.offset += n;
        let mut value = Tensor::<AB, D>::from_inner(part.cast(tensor.dtype()));
        if tensor.is_require_grad() {
            value = value.require_grad();
        }
        Param::from_mapped_value(id, value, mapper)
    }
}
