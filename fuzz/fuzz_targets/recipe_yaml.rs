//! Recipe YAML (`--config`) → parsed and validated recipe: a recipe or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_config::TrainConfig;
use provence_fuzz::check_error;

fuzz_target!(|data: &[u8]| {
    // `TrainConfig::load` refuses non-UTF-8 files before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match TrainConfig::parse(text, None) {
        Ok(config) => match config.validate() {
            Ok(()) => drop(config.describe()),
            Err(e) => check_error(&e),
        },
        Err(e) => check_error(&e),
    }
});
