//! Loads a model directory in any supported layout and writes it as an upstream `final_model/`:
//! `cargo run -p provence-model --example resave -- <in_dir> <out_dir>`.
//! (Tokenizer files are not copied.)

use std::path::PathBuf;

use provence_model::{DEFAULT_HUB_REPO, OpenProvenceModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(PathBuf::from);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: resave <in_dir> <out_dir>".into());
    };
    let model = OpenProvenceModel::<burn::backend::Flex>::load(&input, &Default::default())?;
    model.save_final_model(&output, DEFAULT_HUB_REPO)?;
    Ok(())
}
