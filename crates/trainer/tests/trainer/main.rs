//! Integration tests of `crates/trainer`: one test binary (one link instead of one per file), one module
//! per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests unwrap fixtures and known-good values.

mod backbones;
mod distributed;
mod loss_curve_parity;
mod optim_clip_params;
mod optim_fixtures;
mod optim_loop;
mod schedule_anchors;
mod train_faults;
mod train_resume;
