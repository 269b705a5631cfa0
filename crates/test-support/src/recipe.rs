//! Training recipes on the demo data, written for a test: the lines every such recipe shares
//! here, the lines a test varies given by the test.

use std::path::{Path, PathBuf};

/// What a test sets in a demo recipe; each section is YAML lines indented by two spaces.
pub struct DemoRecipe<'a> {
    /// The model directory trained from scratch (`model_name_or_path`).
    pub model: &'a Path,
    /// The run's `output_dir`.
    pub output: &'a Path,
    /// `model_args` lines after `model_name_or_path` and `from_scratch: true`.
    pub model_args: &'a str,
    /// `data_args` lines after the dataset (the demo dataset's English subset and its teacher).
    pub data_args: &'a str,
    /// `training_args` lines after `output_dir`.
    pub training_args: &'a str,
}

impl DemoRecipe<'_> {
    /// The recipe's YAML text.
    pub fn text(&self) -> String {
        format!(
            r#"model_args:
  model_name_or_path: "{model}"
  from_scratch: true
{model_args}data_args:
  datasets:
    - dataset_name: "{dataset}"
      subset: "en"
      teacher_column: "teacher_scores.demo-teacher"
{data_args}training_args:
  output_dir: "{output}"
{training_args}"#,
            model = self.model.display(),
            dataset = crate::demo("dataset").display(),
            output = self.output.display(),
            model_args = self.model_args,
            data_args = self.data_args,
            training_args = self.training_args,
        )
    }

    /// Writes the recipe to `path` and returns `path`.
    pub fn write(&self, path: PathBuf) -> PathBuf {
        std::fs::write(&path, self.text()).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}
