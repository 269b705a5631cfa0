//! Typed errors of recipe loading, validation, overrides and resume resolution.

use std::fmt;
use std::path::PathBuf;

/// Where a value or a problem is: a file position, the command line, or nowhere in particular.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A position in a recipe file (line/column 1-based; 0 = unknown).
    File {
        /// The recipe path as given.
        path: PathBuf,
        /// 1-based line, 0 if unknown.
        line: u64,
        /// 1-based column, 0 if unknown.
        column: u64,
    },
    /// A YAML text that did not come from a file.
    Text {
        /// 1-based line, 0 if unknown.
        line: u64,
        /// 1-based column, 0 if unknown.
        column: u64,
    },
    /// The command line.
    CommandLine,
    /// A default value.
    Default,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pos = |f: &mut fmt::Formatter<'_>, line: u64, column: u64| match (line, column) {
            (0, _) => Ok(()),
            (l, 0) => write!(f, "line {l}"),
            (l, c) => write!(f, "line {l}, column {c}"),
        };
        match self {
            Location::File { path, line, column } => {
                write!(f, "{}", path.display())?;
                if *line > 0 {
                    write!(f, ": ")?;
                }
                pos(f, *line, *column)
            }
            Location::Text { line, column } => {
                if *line == 0 {
                    write!(f, "recipe")
                } else {
                    pos(f, *line, *column)
                }
            }
            Location::CommandLine => write!(f, "command line"),
            Location::Default => write!(f, "default"),
        }
    }
}

/// A recipe that cannot be used as given.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The recipe file could not be read.
    #[error("{}: cannot read the recipe: {source}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a YAML recipe (wrong extension or JSON).
    #[error("{}: {message}", path.display())]
    Format {
        /// The path as given.
        path: PathBuf,
        /// What is expected instead.
        message: String,
    },
    /// The YAML text is malformed (syntax, tabs, duplicate keys, ...).
    #[error("{location}: invalid YAML: {message}")]
    Yaml {
        /// Where the parser stopped.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// The recipe holds no settings at all (an empty file, only comments, a bare `null`).
    #[error(
        "{location}: the recipe is empty: expected model_args, data_args and training_args (configs/demo.yaml is a complete example)"
    )]
    Empty {
        /// The recipe.
        location: Location,
    },
    /// A key holds a value of the wrong type or out of range.
    #[error("{location}: {key}: {message}")]
    Invalid {
        /// Where the value came from.
        location: Location,
        /// Dotted key path (`training_args.per_device_train_batch_size`).
        key: String,
        /// What was expected.
        message: String,
    },
    /// A command-line flag names no recipe field.
    #[error("command line: unknown option --{flag} (see --help for the recipe fields)")]
    UnknownFlag {
        /// The flag without dashes.
        flag: String,
    },
}

/// A checkpoint path that cannot be resumed from (the messages of hotchpotch/open_provence's
/// `open_provence/trainer.py::resolve_resume_checkpoint_path`).
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The path does not exist.
    #[error("Checkpoint path '{}' does not exist", .0.display())]
    NotFound(PathBuf),
    /// The path is a file.
    #[error("Checkpoint path '{}' is a file. Please point to a checkpoint directory.", .0.display())]
    IsFile(PathBuf),
    /// A directory without `trainer_state.json` and without `checkpoint-*` children: a run killed
    /// before its first checkpoint, or no run directory at all.
    #[error(
        "Checkpoint path '{}' has no checkpoint saved yet (no checkpoint-* directory with trainer_state.json); \
         to start that run over, train with --output_dir {} --overwrite_output_dir instead of --checkpoint",
        .0.display(), .0.display()
    )]
    NoCheckpoints(PathBuf),
    /// The checkpoint to resume from (the one named, or the newest `checkpoint-*` when none is
    /// complete) lacks files a resume needs.
    #[error("Checkpoint '{}' cannot be resumed: it lacks {}", checkpoint.display(), missing.join(" and "))]
    Incomplete {
        /// The checkpoint directory.
        checkpoint: PathBuf,
        /// The missing files (`trainer_state.json`, `model.safetensors`).
        missing: Vec<&'static str>,
    },
    /// The directory could not be listed.
    #[error("Checkpoint path '{}' cannot be read: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One line for an error and its chain of causes (outermost first): each cause is appended
/// unless its text already appears in the line, since most of this project's errors quote their
/// cause in their own message.
pub fn error_line(messages: impl IntoIterator<Item = String>) -> String {
    let mut line = String::new();
    for message in messages {
        if line.is_empty() {
            line = message;
        } else if !line.contains(&message) {
            line.push_str(": ");
            line.push_str(&message);
        }
    }
    line
}

#[cfg(test)]
mod error_line_tests {
    use super::error_line;

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        let chain = ["/x: No such file (os error 2)", "No such file (os error 2)"].map(String::from);
        assert_eq!(error_line(chain), "/x: No such file (os error 2)");
        let chain = ["loading the model", "bad header"].map(String::from);
        assert_eq!(error_line(chain), "loading the model: bad header");
    }
}
