//! Python bindings of open-provence-rs: the extension module `open_provence_rs._native` of the
//! `open_provence_rs` package (built by maturin from `pyproject.toml`; the Python half of the
//! package, its LangChain and LlamaIndex adapters and type stubs live in `python/`).
//!
//! * `OpenProvence` (`model`): `from_pretrained`, upstream's `process()`, TEI's `rerank()`;
//! * `args`: upstream's input shapes and titles from Python objects;
//! * `output`: upstream's return dict and TEI's rank list as Python objects;
//! * `interrupt`: model work with the GIL released and Ctrl-C honoured between forward batches;
//! * `errors`: Rust errors and panics as Python exceptions.

mod args;
mod errors;
mod interrupt;
mod model;
mod output;

use pyo3::prelude::*;

/// The compiled half of `open_provence_rs`; import the package, not this module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<model::OpenProvence>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
