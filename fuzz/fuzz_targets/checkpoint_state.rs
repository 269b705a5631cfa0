//! A checkpoint's state files, first byte 0: `trainer_state.json` (parsed, written back and
//! parsed to the same state); else `optimizer.safetensors` restored into AdamW and Adafactor
//! over the demo model's parameters. A state or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_fuzz::{B, check_error, repo, setup};
use provence_model::{BackboneConfig, OpenProvenceConfig, OpenProvenceModel};
use provence_trainer::{Optimizer, OptimizerKind, ParamTable, TrainerState};
use std::cell::RefCell;

thread_local! {
    /// Optimizers of both kinds over the demo model's (named) parameters.
    static OPTIMIZERS: RefCell<Vec<Optimizer<B>>> = {
        let device = Default::default();
        let backbone = setup(BackboneConfig::from_file(&repo("data/demo/model/config.json")), "demo config");
        let config = OpenProvenceConfig::new(backbone, 0.0);
        let model = setup(OpenProvenceModel::<B>::from_scratch(config, &device), "demo model");
        let names = model.named_param_ids().into_iter().collect();
        let kinds = [provence_config::Optimizer::AdamW, provence_config::Optimizer::Adafactor];
        RefCell::new(kinds.map(|k| Optimizer::new(OptimizerKind::from(k), 0.0, ParamTable::from_module(&model, &names))).into())
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    if which == 0 {
        let Ok(state) = serde_json::from_slice::<TrainerState>(bytes) else {
            return;
        };
        let again = serde_json::from_str::<TrainerState>(&state.to_json_pretty());
        assert_eq!(
            again.ok().as_ref(),
            Some(&state),
            "trainer_state.json does not read back as written"
        );
        return;
    }
    OPTIMIZERS.with(|optimizers| {
        for optimizer in optimizers.borrow_mut().iter_mut() {
            if let Err(e) = optimizer.load_state_bytes(bytes, &Default::default()) {
                check_error(&e);
            }
        }
    });
});
