//! What the trainer writes into its run directory besides the weights.

use crate::error::{TrainError, io_at};
use provence_config::layout;
use std::path::Path;

pub(crate) fn copy_tokenizer_files(from: &Path, to: &Path) -> Result<(), TrainError> {
    for name in layout::TOKENIZER_FILES {
        let source = from.join(name);
        if source.exists() {
            std::fs::copy(&source, to.join(name)).map_err(io_at(&source))?;
        }
    }
    Ok(())
}
