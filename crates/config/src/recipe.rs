//! Loading a recipe: YAML → typed sections with the origin of every value, command-line
//! overrides applied only when given, and validation that names the key and its line.

use crate::error::{ConfigError, Location};
use crate::schema::{ACCEPTED_UNUSED_KEYS, DataArgs, FieldInfo, ModelArgs, Section, TrainingArgs};
use crate::value::FieldError;
use crate::yaml::{self, Located, Node};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The schema default.
    Default,
    /// The recipe, at this 1-based line/column.
    Yaml {
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
    },
    /// An explicit command-line flag.
    Cli,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::Yaml { line, .. } => write!(f, "yaml:{line}"),
            Origin::Cli => write!(f, "cli"),
        }
    }
}

/// Key aliases: (section, alias, canonical field). The alias is used only when the canonical key
/// is absent from the same mapping.
const ALIASES: &[(&str, &str, &str)] = &[("training_args", "optim", "optimizer")];

/// A complete training recipe (`model_args`, `data_args`, `training_args`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TrainConfig {
    /// Backbone and model settings.
    pub model_args: ModelArgs,
    /// Datasets and sampling.
    pub data_args: DataArgs,
    /// Optimisation, logging, checkpoints, evaluation.
    pub training_args: TrainingArgs,
    /// The recipe file, if loaded from one.
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// Origin of every value that is not a default, by dotted key.
    #[serde(skip)]
    origins: BTreeMap<String, Origin>,
    /// Recipe keys that no part of the trainer knows (warned about at load time).
    #[serde(skip)]
    pub unknown_keys: Vec<String>,
}

/// A section's place inside a whole recipe (declared here, beside `TrainConfig`, so that the
/// section schema never names the recipe).
trait RecipeSection: Section {
    fn select(config: &mut TrainConfig) -> &mut Self;
}

impl RecipeSection for ModelArgs {
    fn select(config: &mut TrainConfig) -> &mut Self {
        &mut config.model_args
    }
}

impl RecipeSection for DataArgs {
    fn select(config: &mut TrainConfig) -> &mut Self {
        &mut config.data_args
    }
}

impl RecipeSection for TrainingArgs {
    fn select(config: &mut TrainConfig) -> &mut Self {
        &mut config.training_args
    }
}

/// One applied command-line override, printed under `Command line overrides:`.
#[derive(Debug, Clone, PartialEq)]
pub struct OverrideLine {
    /// Dotted key (`training_args.learning_rate`).
    pub key: String,
    /// Rendered previous value.
    pub old: String,
    /// Rendered new value.
    pub new: String,
}

impl std::fmt::Display for OverrideLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "  {}: {} → {}", self.key, self.old, self.new)
    }
}

/// Recipe keys that are not `--<field>` flags: `training_args.checkpoint` is a YAML-only alias,
/// because `--checkpoint` is the trainer's own resume flag with the highest precedence.
const NOT_CLI_FLAGS: &[&str] = &["checkpoint"];

/// Every recipe field that can be set from the command line, in section order.
pub fn cli_fields() -> impl Iterator<Item = &'static FieldInfo> {
    ModelArgs::FIELDS
        .iter()
        .chain(DataArgs::FIELDS)
        .chain(TrainingArgs::FIELDS)
        .filter(|f| !NOT_CLI_FLAGS.contains(&f.name))
}

impl TrainConfig {
    /// Reads and parses a `.yaml`/`.yml` recipe file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ext == "json" {
            return Err(ConfigError::Format {
                path: path.to_path_buf(),
                message:
                    "JSON recipes are not supported; write the recipe as YAML (model_args, data_args, training_args)"
                        .to_string(),
            });
        }
        if ext != "yaml" && ext != "yml" {
            return Err(ConfigError::Format {
                path: path.to_path_buf(),
                message: "expected a recipe file ending in .yaml or .yml".to_string(),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ConfigError::Yaml {
            location: Location::File {
                path: path.to_path_buf(),
                line: 0,
                column: 0,
            },
            message: format!("the file is not UTF-8 text ({e})"),
        })?;
        let mut config = Self::parse(&text, Some(path))?;
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses recipe text; `path` is only used in error messages.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Self, ConfigError> {
        let locate = |line: u64, column: u64| match path {
            Some(p) => Location::File {
                path: p.to_path_buf(),
                line,
                column,
            },
            None => Location::Text { line, column },
        };
        let root = yaml::parse_document(text).map_err(|e| {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
            ConfigError::Yaml {
                location: locate(line, column),
                message: first_line(&e.to_string()),
            }
        })?;
        let mut config = TrainConfig::default();
        let top = match &root.node {
            Node::Null => return Err(ConfigError::Empty { location: locate(0, 0) }),
            Node::Map(entries) if entries.is_empty() => return Err(ConfigError::Empty { location: locate(0, 0) }),
            Node::Map(entries) => entries,
            _ => {
                return Err(ConfigError::Invalid {
                    location: locate(root.line, root.column),
                    key: "(top level)".to_string(),
                    message: format!(
                        "expected a mapping with model_args, data_args and training_args, got {}",
                        root.describe()
                    ),
                });
            }
        };
        for (key, value) in top {
            let name = key.as_key().unwrap_or_default();
            let result = match name.as_str() {
                "model_args" => config.load_section::<ModelArgs>(value, &locate),
                "data_args" => config.load_section::<DataArgs>(value, &locate),
                "training_args" => config.load_section::<TrainingArgs>(value, &locate),
                _ => {
                    config.unknown_keys.push(format!("{name} (line {})", key.line));
                    Ok(())
                }
            };
            result?;
        }
        if !config.unknown_keys.is_empty() {
            tracing::warn!(
                "unknown recipe keys ignored: {} (upstream ignores them silently; check for typos)",
                config.unknown_keys.join(", ")
            );
        }
        Ok(config)
    }

    fn load_section<S: RecipeSection>(
        &mut self,
        node: &Located,
        locate: &dyn Fn(u64, u64) -> Location,
    ) -> Result<(), ConfigError> {
        let entries = match &node.node {
            Node::Null => return Ok(()),
            Node::Map(entries) => entries,
            _ => {
                return Err(ConfigError::Invalid {
                    location: locate(node.line, node.column),
                    key: S::NAME.to_string(),
                    message: format!("expected a mapping of settings, got {}", node.describe()),
                });
            }
        };
        let present: Vec<String> = entries.iter().filter_map(|(k, _)| k.as_key()).collect();
        for (key, value) in entries {
            let Some(raw) = key.as_key() else {
                return Err(ConfigError::Invalid {
                    location: locate(key.line, key.column),
                    key: S::NAME.to_string(),
                    message: format!("expected a string key, got {}", key.describe()),
                });
            };
            let name = match ALIASES.iter().find(|(s, alias, _)| *s == S::NAME && *alias == raw) {
                Some((_, _, canonical)) if present.iter().any(|p| p == canonical) => {
                    tracing::debug!("{}.{raw} is ignored because {canonical} is also set", S::NAME);
                    continue;
                }
                Some((_, _, canonical)) => canonical.to_string(),
                None => raw.clone(),
            };
            let outcome = S::select(self).set_field(&name, value);
            match outcome {
                Some(Ok(())) => {
                    self.origins.insert(
                        format!("{}.{name}", S::NAME),
                        Origin::Yaml {
                            line: key.line,
                            column: key.column,
                        },
                    );
                }
                Some(Err(e)) => return Err(invalid(S::NAME, &name, e, locate)),
                None if ACCEPTED_UNUSED_KEYS.contains(&name.as_str()) => {
                    tracing::debug!(
                        "{}.{name} (line {}) is a Hugging Face TrainingArguments key this trainer does not use",
                        S::NAME,
                        key.line
                    );
                }
                None => self
                    .unknown_keys
                    .push(format!("{}.{name} (line {})", S::NAME, key.line)),
            }
        }
        Ok(())
    }

    /// Applies one explicit command-line override `--<field> <value>` (`field` may be dotted,
    /// `training_args.learning_rate`). A bare boolean flag passes `None` and means `true`.
    pub fn apply_override(&mut self, field: &str, value: Option<&str>) -> Result<OverrideLine, ConfigError> {
        let name = field.rsplit('.').next().unwrap_or(field);
        let info = cli_fields()
            .find(|f| f.name == name && (!field.contains('.') || field == format!("{}.{}", f.section, f.name)))
            .ok_or_else(|| ConfigError::UnknownFlag {
                flag: field.to_string(),
            })?;
        let node = match value {
            Some(text) => yaml::parse_cli_value(text),
            None if info.is_bool => Located::unlocated(Node::Bool(true)),
            None => {
                return Err(ConfigError::Invalid {
                    location: Location::CommandLine,
                    key: format!("--{name}"),
                    message: format!("needs a value ({})", info.expected),
                });
            }
        };
        let key = format!("{}.{}", info.section, info.name);
        let old = self.value_of(&key).unwrap_or_default();
        let result = match info.section {
            "model_args" => ModelArgs::select(self).set_field(name, &node),
            "data_args" => DataArgs::select(self).set_field(name, &node),
            _ => TrainingArgs::select(self).set_field(name, &node),
        };
        match result {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                return Err(ConfigError::Invalid {
                    location: Location::CommandLine,
                    key: format!("--{name}{}", e.sub_key),
                    message: e.message,
                });
            }
            None => {
                return Err(ConfigError::UnknownFlag {
                    flag: field.to_string(),
                });
            }
        }
        self.origins.insert(key.clone(), Origin::Cli);
        let new = self.value_of(&key).unwrap_or_default();
        Ok(OverrideLine { key, old, new })
    }

    /// Whether a fresh run may start over in a directory an earlier run wrote into:
    /// `overwrite_output_dir` given on the command line. The recipe's value has no effect, since
    /// upstream's recipes all set it.
    pub fn overwrite_requested(&self) -> bool {
        self.training_args.overwrite_output_dir && self.origin("training_args.overwrite_output_dir") == Origin::Cli
    }

    /// Where the value of a dotted key came from.
    pub fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin::Default)
    }

    /// The rendered value of a dotted key (`training_args.learning_rate`).
    pub fn value_of(&self, key: &str) -> Option<String> {
        self.fields().into_iter().find(|(k, _, _)| k == key).map(|(_, v, _)| v)
    }

    /// Every field as (dotted key, rendered value, origin), in schema order.
    pub fn fields(&self) -> Vec<(String, String, Origin)> {
        let mut out = Vec::new();
        let mut push = |section: &str, fields: Vec<(&'static str, String)>| {
            for (name, value) in fields {
                let key = format!("{section}.{name}");
                let origin = self.origin(&key);
                out.push((key, value, origin));
            }
        };
        push(ModelArgs::NAME, self.model_args.show_fields());
        push(DataArgs::NAME, self.data_args.show_fields());
        push(TrainingArgs::NAME, self.training_args.show_fields());
        out
    }

    /// The effective configuration, one `key = value  [origin]` line per field.
    pub fn describe(&self) -> String {
        let rows = self.fields();
        let width = rows.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
        rows.iter()
            .map(|(key, value, origin)| {
                if value.starts_with('\n') {
                    // Multi-line values (dataset lists) put the origin on the key line.
                    format!("  {key:<width$} =  [{origin}]{value}\n")
                } else {
                    format!("  {key:<width$} = {value}  [{origin}]\n")
                }
            })
            .collect()
    }

    /// Location of a key for error messages: its recipe line, the command line, or the default.
    pub fn location_of(&self, key: &str) -> Location {
        match (self.origin(key), &self.path) {
            (Origin::Yaml { line, column }, Some(path)) => Location::File {
                path: path.clone(),
                line,
                column,
            },
            (Origin::Yaml { line, column }, None) => Location::Text { line, column },
            (Origin::Cli, _) => Location::CommandLine,
            (Origin::Default, _) => Location::Default,
        }
    }
}

fn invalid(section: &str, name: &str, e: FieldError, locate: &dyn Fn(u64, u64) -> Location) -> ConfigError {
    ConfigError::Invalid {
        location: locate(e.line, e.column),
        key: format!("{section}.{name}{}", e.sub_key),
        message: e.message,
    }
}

/// The parser's message without its own `error: line N column M:` prefix (we print the location).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    let line = line.strip_prefix("error:").unwrap_or(line).trim_start();
    match line.strip_prefix("line ").and_then(|rest| rest.split_once(": ")) {
        Some((position, rest)) if position.split_whitespace().count() == 3 => rest.to_string(),
        _ => line.to_string(),
    }
}
