//! The one owner of where the repository's shared test files are: `tests/fixtures/` (golden
//! fixtures made by `scripts/fixtures/`), `data/demo/` and the rest of the checkout.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root, canonical (no `..`, so it can be written into recipes and messages).
pub fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        dir.canonicalize()
            .unwrap_or_else(|e| panic!("repository root {}: {e}", dir.display()))
    })
}

/// `rel` under the repository root (`repo("configs")`, `repo("")` for the root itself).
pub fn repo(rel: &str) -> PathBuf {
    root().join(rel)
}

/// `rel` under `tests/fixtures/` (`fixture("optim/schedule.json")`).
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// `rel` under the demo data, `data/demo/` (`demo("model")`, `demo("dataset")`).
pub fn demo(rel: &str) -> PathBuf {
    root().join("data/demo").join(rel)
}
