//! Learning-rate schedules of the HF Trainer (`transformers.get_scheduler`), as pure functions.
//!
//! The multiplier `λ(s)` applies to the base learning rate for the update with 0-based index `s`
//! (the global step before it is incremented): `lr(s) = learning_rate · λ(s)`. Every formula
//! mirrors `transformers.optimization` (e.g. `get_cosine_schedule_with_warmup`).

use std::f64::consts::PI;

use provence_config::SchedulerType;

/// Number of half-cosine cycles used by HF's cosine schedule (`num_cycles = 0.5`).
pub const COSINE_NUM_CYCLES: f64 = 0.5;

/// HF's warmup length from a ratio: `ceil(max_steps · warmup_ratio)`.
pub fn warmup_steps(max_steps: usize, warmup_ratio: f64) -> usize {
    (max_steps as f64 * warmup_ratio).ceil() as usize
}

/// Linear warmup factor `s / max(1, W)` for `s < W` (`None` once warmup is over).
fn warmup_factor(step: usize, warmup_steps: usize) -> Option<f64> {
    (step < warmup_steps).then(|| step as f64 / warmup_steps.max(1) as f64)
}

/// Fraction of the decay phase done at `step`: `(s - W) / max(1, T - W)`.
fn decay_progress(step: usize, max_steps: usize, warmup_steps: usize) -> f64 {
    (step - warmup_steps) as f64 / max_steps.saturating_sub(warmup_steps).max(1) as f64
}

/// `get_cosine_schedule_with_warmup` (num_cycles 0.5): warmup, then
/// `max(0, 0.5·(1 + cos(π·progress)))`.
pub fn cosine_multiplier(step: usize, max_steps: usize, warmup_steps: usize) -> f64 {
    warmup_factor(step, warmup_steps).unwrap_or_else(|| {
        let progress = decay_progress(step, max_steps, warmup_steps);
        (0.5 * (1.0 + (PI * COSINE_NUM_CYCLES * 2.0 * progress).cos())).max(0.0)
    })
}

/// `get_linear_schedule_with_warmup`: warmup, then `max(0, (T - s) / max(1, T - W))`.
pub fn linear_multiplier(step: usize, max_steps: usize, warmup_steps: usize) -> f64 {
    warmup_factor(step, warmup_steps).unwrap_or_else(|| {
        (max_steps as f64 - step as f64).max(0.0) / max_steps.saturating_sub(warmup_steps).max(1) as f64
    })
}

/// `get_constant_schedule_with_warmup`: warmup, then 1.
pub fn constant_with_warmup_multiplier(step: usize, warmup_steps: usize) -> f64 {
    warmup_factor(step, warmup_steps).unwrap_or(1.0)
}

/// A configured schedule: kind, optimizer-step budget and warmup length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LrSchedule {
    /// Which schedule.
    pub kind: SchedulerType,
    /// Total optimizer steps `T` (HF `max_steps`).
    pub max_steps: usize,
    /// Warmup steps `W`.
    pub warmup_steps: usize,
}

impl LrSchedule {
    /// The multiplier `λ(step)` for the update with 0-based index `step`.
    pub fn multiplier(&self, step: usize) -> f64 {
        match self.kind {
            SchedulerType::Cosine => cosine_multiplier(step, self.max_steps, self.warmup_steps),
            SchedulerType::Linear => linear_multiplier(step, self.max_steps, self.warmup_steps),
            SchedulerType::Constant => 1.0,
            SchedulerType::ConstantWithWarmup => constant_with_warmup_multiplier(step, self.warmup_steps),
        }
    }

    /// The learning rate `base_lr · λ(step)` used by the update with 0-based index `step`.
    pub fn lr(&self, base_lr: f64, step: usize) -> f64 {
        base_lr * self.multiplier(step)
    }
}
