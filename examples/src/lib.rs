//! Examples of using the open-provence-rs libraries from your own program.
//!
//! The code lives in `examples/examples/*.rs`, one cargo example target each (this library is
//! empty: a package needs a target of its own). Run them from the repository root, e.g.
//!
//! ```text
//! cargo run -p provence-examples --example train
//! cargo run -p provence-examples --example prune -- <MODEL_DIR or HUB_ID>
//! ```
//!
//! See `examples/README.md` for the list.
