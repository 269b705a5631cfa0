//! The end-of-run push to the Hub (`training_args.push_to_hub`), as HF Trainer's
//! `hub_strategy: end`: `final_model/` with a generated model card, one commit "End of training"
//! to `hub_model_id` (default: the run directory's name). The token is checked before training,
//! as HF Trainer's `init_hf_repo` does, so a run without one fails at once, not hours later.

use std::path::Path;

use provence_config::{HubStrategy, TrainingArgs};
use provence_hub::{END_OF_TRAINING, HubClient, HubError, HubOptions, PublishRequest, RepoKind};

use crate::error::TrainError;

/// A push the run will make at its end.
pub(crate) struct HubPush {
    client: HubClient,
    repo_id: String,
    private: Option<bool>,
}

impl HubPush {
    /// The push `args` ask for (none without `push_to_hub`), for a run in `run_dir`; fails without
    /// a token.
    pub(crate) fn prepare(args: &TrainingArgs, run_dir: &Path) -> Result<Option<Self>, TrainError> {
        if !args.push_to_hub {
            return Ok(None);
        }
        let repo_id = match &args.hub_model_id {
            Some(id) => id.clone(),
            None => run_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let options = HubOptions::from_env();
        if options.token.is_none() {
            return Err(HubError::NoToken { repo: repo_id }.into());
        }
        if args.hub_strategy != HubStrategy::End {
            tracing::warn!(
                "hub_strategy {} pushes once, at the end of training, here (as `end`)",
                args.hub_strategy
            );
        }
        tracing::info!("final_model/ will be pushed to {repo_id} on {}", options.endpoint);
        Ok(Some(Self {
            client: HubClient::for_kind(options, RepoKind::Model)?,
            repo_id,
            private: args.hub_private_repo,
        }))
    }

    /// Pushes `final_model` (with its card).
    pub(crate) fn push(&self, final_model: &Path) -> Result<(), TrainError> {
        let info = self.client.publish_model(&PublishRequest {
            model_dir: final_model.to_owned(),
            repo_id: self.repo_id.clone(),
            private: self.private,
            commit_message: END_OF_TRAINING.to_owned(),
        })?;
        tracing::info!("pushed to the Hub: {}", info.url);
        Ok(())
    }
}
